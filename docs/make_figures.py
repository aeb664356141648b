"""Make the figures of the documentation with the package itself.

Run from the repository root (a few seconds to a minute on CPU)::

    python docs/make_figures.py            # writes docs/_static/overview.png and regions.png

``overview.png`` is the figure of ``captum-fggb demo``: SFace + FGGB on the genuine and the
impostor sample pair. ``regions.png`` shows the face regions of an ArcFace crop and the region
summary of the genuine pair. The script also prints the numbers quoted in the docs (scores,
masses, region sentences), so that the text can be checked against them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from matplotlib.figure import Figure

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import captum_fggb as cf  # noqa: E402
from captum_fggb import viz  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "_static", help="output folder")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)

    pair = cf.FaceVerificationPair(cf.models.sface())
    fggb = cf.FGGB(pair)
    rows, summaries = [], []
    for kind, names in (("genuine", cf.samples.GENUINE_PAIR), ("impostor", cf.samples.IMPOSTOR_PAIR)):
        probe, reference = cf.samples.load_pair(*names)
        with torch.no_grad():
            score = float(pair(probe, reference))
        signed_a, signed_b = fggb.attribute((probe, reference))
        row = viz.PairRow(probe[0], reference[0], signed_a[0], signed_b[0], score, pair.threshold,
                          label=f"{kind}: {names[0]} vs {names[1]}")
        rows.append(row)
        summary = viz.region_summary((signed_a, signed_b), decision=row.decision)
        summaries.append(summary)
        print(f"{kind}: {names[0]} vs {names[1]} cosine {score:.3f} -> {row.decision}")
        for side, signed in (("probe", signed_a), ("reference", signed_b)):
            s = viz.region_summary(signed)
            print(f"  {side}: similarity mass {s.similarity_mass:.4g}, dissimilarity mass "
                  f"{s.dissimilarity_mass:.4g}")
        print(f"  both faces: {summary}")
    viz.pair_figure(rows, args.out / "overview.png", dpi=100)

    fig = Figure(figsize=(10.5, 3.6), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[1, 1.45])
    viz.draw_regions(cf.samples.load_sample(cf.samples.GENUINE_PAIR[0]), ax=left.add_subplot())
    viz.region_bar_chart(summaries[0], kinds=("similarity",), ax=right.add_subplot(),
                         title="FGGB, genuine sample pair (both faces): similarity mass")
    fig.savefig(args.out / "regions.png", dpi=100)
    print(f"figures written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
