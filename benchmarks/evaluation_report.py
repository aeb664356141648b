"""One summary of the committed LFW Deletion/Insertion runs (benchmarks/evaluate_lfw.sh).

Usage (from the repository root, after the runs)::

    python benchmarks/evaluation_report.py            # writes benchmarks/results/deletion_insertion_summary.md

Reads ``benchmarks/results/deletion_insertion_{sface,sface_perturbation50,dlib}.json`` (any that
exist, plus ``..._sface_gradients50``) and writes one markdown file with, per run, the accuracy-AUC table and the score-AUC
table, plus a same-pairs table for SFace: the expensive perturbation methods were run on the
first 50 + 50 pairs only, and the other methods' results on exactly those pairs are re-derived
from their 150 + 150 run with :meth:`Results.first` (``--limit`` selects a prefix in file order).
The docs include the file (``docs/evaluation.rst``). Curve figures go beside it as PNG.

Why the split: on 2 CPU cores one SFace forward of a 112×112 face costs ~25 ms and the game needs
42 per pair and method, so every method on 150 + 150 pairs did not fit in the time available; dlib
(~3 ms a forward) runs every method on 150 + 150.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import matplotlib  # noqa: E402

matplotlib.use("Agg")

from captum_fggb.evaluation import Results  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"


def _load(folder: Path, name: str) -> Optional[Results]:
    path = folder / f"{name}.json"
    return Results.from_json(path) if path.is_file() else None


def _options(results: Results) -> str:
    parts = []
    for name, method in results.methods.items():
        init = method.options.get("init") if isinstance(method.options, dict) else None
        if init:
            parts.append(f"{name} " + ", ".join(f"`{k}={v}`" for k, v in sorted(init.items())))
    return "; ".join(parts) if parts else "registry defaults"


def _per_pair_seconds(results: Results) -> str:
    rows = []
    for name, method in results.methods.items():
        n = sum(m.n_pairs for m in method.maps.values())
        rows.append(f"{name} {method.seconds / max(n, 1):.2f}")
    return ", ".join(rows)


def _section(folder: Path, title: str, results: Results, figure: str, notes: List[str]) -> List[str]:
    results.plot().savefig(folder / figure, dpi=110, bbox_inches="tight")
    out = [f"### {title}", ""]
    out += notes
    out += [f"Method settings: {_options(results)}. Curves: `benchmarks/results/{figure}`.", ""]
    out += [results.table(), "", results.table(kind="score"), ""]
    return out


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=str(RESULTS), help="folder of the JSON files (figures go there too)")
    parser.add_argument("--output", default=None, help="default: RESULTS/deletion_insertion_summary.md")
    args = parser.parse_args(argv)
    folder = Path(args.results)
    args.output = args.output or str(folder / "deletion_insertion_summary.md")
    sface, dlib = _load(folder, "deletion_insertion_sface"), _load(folder, "deletion_insertion_dlib")
    baselines = _load(folder, "deletion_insertion_sface_baselines150")  # run beside FGGB, same pairs
    if sface is not None and baselines is not None:
        sface = sface.merge(baselines)
    sface50 = None
    for name in ("deletion_insertion_sface_gradients50", "deletion_insertion_sface_perturbation50"):
        part = _load(folder, name)
        sface50 = part if sface50 is None or part is None else sface50.merge(part)
    lines = ["<!-- written by benchmarks/evaluation_report.py; do not edit by hand -->",
             "## Deletion/Insertion on LFW folds 1-2", "",
             "Commands: `benchmarks/evaluate_lfw.sh sface benchmarks/results/deletion_insertion_sface` "
             "with LIMIT=150 for FGGB and xSSAB (`..._sface_baselines150`); LIMIT=50 for the other gradient methods "
             "(`..._sface_gradients50`) and for CorrRISE, Occlusion, LIME and KernelShap "
             "(`..._sface_perturbation50`); `benchmarks/evaluate_lfw.sh dlib_resnet "
             "benchmarks/results/deletion_insertion_dlib` (LIMIT=150, every method), then "
             "`python benchmarks/evaluation_report.py`.", "",
             "Protocol: similarity maps on genuine pairs, dissimilarity maps on impostor pairs, accuracy "
             "within that subset at the model's threshold; the probe is perturbed, black replacement, "
             "21 steps of 5 %; Deletion AUC lower is better, Insertion AUC higher is better; the score "
             "tables give the area under the mean cosine curve. Seconds are wall time on a shared 2-core "
             "CPU (other jobs running), explanation plus perturbed forwards, for both maps.", ""]
    if sface is not None:
        lines += _section(folder, f"SFace, {sface.n_genuine} genuine + {sface.n_impostor} impostor pairs", sface,
                          "deletion_insertion_sface.png",
                          [f"Seconds per pair: {_per_pair_seconds(sface)}.", ""])
    if sface is not None and sface50 is not None:
        n = min(sface50.n_genuine, sface50.n_impostor)
        same = sface.first(n).merge(sface50)
        lines += _section(folder, f"SFace, every method on the same first {n} genuine + {n} impostor pairs", same,
                          "deletion_insertion_sface_all_methods.png",
                          [f"Rows with seconds were run on these pairs ({_per_pair_seconds(sface50)} s per pair); "
                           "rows with — are the 150 + 150 run restricted to them.", ""])
    if dlib is not None:
        lines += _section(folder, f"dlib ResNet, {dlib.n_genuine} genuine + {dlib.n_impostor} impostor pairs", dlib,
                          "deletion_insertion_dlib.png",
                          [f"Seconds per pair: {_per_pair_seconds(dlib)}.", ""])
    Path(args.output).write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    print(f"written {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
