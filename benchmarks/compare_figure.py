"""Draw the method-comparison figure on a shipped sample pair with SFace.

Usage::

    python benchmarks/compare_figure.py                                    # genuine pair, all methods
    python benchmarks/compare_figure.py --pair ardern_1 obama_1 --output impostor.png
    python benchmarks/compare_figure.py --methods FGGB xSSAB CorrRISE LayerGradCam

Every method runs with its default settings and explains both images; the row titles carry each
method's run time.
"""

from __future__ import annotations

import argparse

import captum_fggb as cf
from captum_fggb.viz.compare import DEFAULT_METHODS


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pair", nargs=2, default=list(cf.samples.GENUINE_PAIR), metavar=("PROBE", "REFERENCE"))
    parser.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS))
    parser.add_argument("--output", default="compare-methods.png")
    args = parser.parse_args()
    pair = cf.FaceVerificationPair(cf.models.sface())
    probe, reference = cf.samples.load_pair(*args.pair)
    cf.viz.compare(pair, probe, reference, args.methods, args.output, label=f"{args.pair[0]} vs {args.pair[1]}")
    print(f"figure written to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
