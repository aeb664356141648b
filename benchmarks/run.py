"""FGGB performance: every ratio of issue 6, measured in one run, printed as one table.

Usage (from the repository root)::

    python benchmarks/run.py                      # full run (tens of minutes on 2 CPU cores)
    python benchmarks/run.py --quick              # 1 round, 10 + 10 LFW pairs, minutes
    python benchmarks/run.py --write              # also write benchmarks/results/performance.md
    python benchmarks/run.py --lfw /path/to/lfw   # LFW slice with pairs + aligned/sface112 crops

Rows: (1) exact FGGB for one image / the speed floor (one forward, then a Python loop of D
``autograd.grad(retain_graph=True)``), on SFace and on an IResNet-50 with random weights;
(1b) the batched strategies on the CPU / the floor; (2) one probe against K = 20 references / one
pair; (3) many pairs sharing images: ``FGGB.attribute_pairs`` / per-pair ``attribute`` on both
sides; (4) peak RSS per chunk size; (5) GPU (see ``benchmarks/gpu_check.sh``); (6) pairs per
second of every method in ``captum_fggb.methods``. Timings are interleaved rounds; ratios are the
median over rounds of the per-round ratio, for wall time and (in brackets) process CPU time,
which is less sensitive to other processes on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import captum  # noqa: E402
import torch  # noqa: E402

from _standin import iresnet50_builder  # noqa: E402
from _timing import floor_loop, interleaved, lfw_pairs, median_wall, ratio, replicated_maps, timed  # noqa: E402
from captum_fggb import FGGB, FaceVerificationPair, models, samples  # noqa: E402
from captum_fggb.samples import load_image  # noqa: E402

Row = Tuple[str, str, str, str, str]  # number, measurement, result, target, detail
DEFAULT_LFW = Path(os.environ["CAPTUM_FGGB_SHARED"]) / "lfw" if "CAPTUM_FGGB_SHARED" in os.environ else Path("/work/shared/lfw")


def fmt_ratio(wall_cpu: Tuple[float, float]) -> str:
    return f"{wall_cpu[0]:.2f}× (CPU {wall_cpu[1]:.2f}×)"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def row_floor(name: str, pair: FaceVerificationPair, probe: torch.Tensor, ref: torch.Tensor, refs: Optional[torch.Tensor],
              repeats: int, number: str, batched: bool) -> List[Row]:
    """Rows 1, 1b and 2 for one model: interleaved floor / one image / K references / batched."""
    model, dims = pair.embedder, int(pair.embed(probe).shape[1])
    fggb = FGGB(pair, strategy="auto")
    variants = {
        "floor": lambda: floor_loop(model, probe),
        "fggb": lambda: fggb.attribute(probe, additional_forward_args=(ref,)),
    }
    if refs is not None:
        variants["k_refs"] = lambda: fggb.attribute(probe, additional_forward_args=(refs,))
    if batched:
        vmap = FGGB(pair, strategy="batched")
        variants["vmap16"] = lambda: vmap.dimension_maps(probe, internal_batch_size=16)
        variants["rep16"] = lambda: replicated_maps(model, probe, 16)
    log(f"{name}: warm-up, then {repeats} interleaved round(s) of {', '.join(variants)}")
    floor_loop(model, probe, dims=4)
    times = interleaved(variants, repeats)
    floor_s = median_wall(times["floor"])
    rows = [(number, f"exact FGGB / floor, one image, {name} (D = {dims})", fmt_ratio(ratio(times, "fggb", "floor")),
             "≤ 1.15×", f"floor {floor_s:.2f} s, FGGB {median_wall(times['fggb']):.2f} s (median wall, {repeats} round(s))")]
    if batched:
        for key, label in (("vmap16", "batched strategy (vectorised backward, chunk 16)"),
                           ("rep16", "replicated-image variant (chunk 16, not used)")):
            rows.append(("1b", f"{label} / floor, {name}", fmt_ratio(ratio(times, key, "floor")),
                         "info (CPU)", f"{median_wall(times[key]):.2f} s"))
    if refs is not None:
        rows.append(("2", f"one probe vs K = {refs.shape[0]} references / one pair, {name}",
                     fmt_ratio(ratio(times, "k_refs", "fggb")), "≤ 1.3×",
                     f"one pair {median_wall(times['fggb']):.2f} s, K = {refs.shape[0]}: {median_wall(times['k_refs']):.2f} s"))
    return rows


def row_many_pairs(pair: FaceVerificationPair, lfw: Path, per_class: int, repeats: int, n_blocks: int) -> List[Row]:
    """Row 3: planned ``attribute_pairs(side="both")`` against per-pair ``attribute`` on both sides.

    The pairs are split into ``n_blocks`` blocks of whole connected components of the
    pair graph (images shared only within a component, so no reuse is lost), and the two methods
    alternate block by block in ABBA order: a change of machine load hits both alike.
    """
    paths = lfw_pairs(lfw, fold=1, genuine=per_class, impostor=per_class)
    unique = sorted({p for pair_paths in paths for p in pair_paths})
    index = {p: i for i, p in enumerate(unique)}
    images = torch.stack([load_image(p) for p in unique])
    index_pairs = torch.tensor([(index[a], index[b]) for a, b in paths])
    sides, bound = 2 * len(paths), len(unique) / (2 * len(paths))
    blocks = pair_blocks(index_pairs.tolist(), n_blocks)
    fggb = FGGB(pair)
    maps = {"naive": [torch.empty(0)] * 2, "planned": [torch.empty(0)] * 2}
    totals = {"naive": [0.0, 0.0], "planned": [0.0, 0.0]}
    worst = 0.0
    log(f"many pairs: {len(paths)} LFW fold-1 pairs, {sides} sides, {len(unique)} unique images, "
        f"{len(blocks)} blocks of connected pairs x {repeats} round(s), ABBA order")
    for round_ in range(repeats):
        for b, rows in enumerate(blocks):
            sub = index_pairs[rows]

            def naive() -> None:
                out = [fggb.attribute((images[i : i + 1], images[j : j + 1])) for i, j in sub.tolist()]
                maps["naive"] = [torch.cat([m[k] for m in out]) for k in (0, 1)]

            def planned() -> None:
                maps["planned"] = list(fggb.attribute_pairs(images, sub, side="both"))

            order = [("naive", naive), ("planned", planned)]
            for name, fn in order if (b + round_) % 2 == 0 else order[::-1]:
                wall, cpu = timed(fn)
                totals[name][0] += wall
                totals[name][1] += cpu
            err = max(float((maps["planned"][k] - maps["naive"][k]).norm() / maps["naive"][k].norm()) for k in (0, 1))
            worst = max(worst, err)
            log(f"  block {b + 1}/{len(blocks)}: {len(rows)} pairs, max rel. difference {err:.1e}")
    wall_cpu = (totals["planned"][0] / totals["naive"][0], totals["planned"][1] / totals["naive"][1])
    return [("3", f"many pairs: attribute_pairs(side='both') / per-pair attribute on both sides, SFace, first "
             f"{per_class} genuine + {per_class} impostor pairs of LFW fold 1 with both crops present",
             fmt_ratio(wall_cpu), f"≈ {bound:.2f}× ({len(unique)}/{sides})",
             f"naive {totals['naive'][0] / repeats:.0f} s, planned {totals['planned'][0] / repeats:.0f} s (wall per round), "
             f"{len(blocks)} ABBA-interleaved blocks of connected pairs; max rel. difference of the maps {worst:.1e}")]


def pair_blocks(index_pairs: List[List[int]], n_blocks: int) -> List[List[int]]:
    """Split pair rows into about ``n_blocks`` blocks of whole connected components (pairs that
    share an image stay together), balanced by pair count."""
    parent: dict = {}

    def find(i: int) -> int:
        parent.setdefault(i, i)
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in index_pairs:
        parent[find(i)] = find(j)
    components: dict = {}
    for row, (i, _) in enumerate(index_pairs):
        components.setdefault(find(i), []).append(row)
    blocks: List[List[int]] = [[] for _ in range(max(1, n_blocks))]
    for rows in sorted(components.values(), key=len, reverse=True):
        min(blocks, key=len).extend(rows)
    return [sorted(b) for b in blocks if b]


def row_memory(chunks: Sequence[str], threads: Optional[int]) -> List[Row]:
    """Row 4: peak RSS of one image's 128 SFace maps per chunk size, each in a fresh process."""
    cells = []
    for chunk in chunks:
        log(f"peak RSS, chunk {chunk} (subprocess)")
        cmd = [sys.executable, str(REPO / "benchmarks" / "_peak_rss.py"), chunk] + ([str(threads)] if threads else [])
        out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
        extra = out["peak_mib"] - out["baseline_mib"]
        cells.append(f"{chunk}: {out['peak_mib']:.0f} MiB (+{extra:.0f})")
    return [("4", "peak RSS per chunk size (internal_batch_size), SFace, one image",
             "; ".join(cells), "bounded by the chunk", "peak VmHWM of a fresh process (+ above its RSS before the call)")]


def row_gpu() -> List[Row]:
    if not torch.cuda.is_available():
        return [("5", "GPU: batched CUDA path vs CPU / sequential GPU loop", "not measured (no CUDA device)",
                 "rel. err ≤ 1e-4", "run benchmarks/gpu_check.sh on a GPU machine")]
    from gpu_check import check_model  # a GPU is here: run the same check in this process

    rows = []
    for line in check_model("sface", models.sface, chunks=(32,)):
        rows.append(("5", f"GPU {line['what']}", line["speedups"], "rel. err ≤ 1e-4", line["detail"]))
    return rows


def row_methods(pair: FaceVerificationPair, probe: torch.Tensor, ref: torch.Tensor, n_pairs: int) -> List[Row]:
    """Row 6: pairs per second of every method in the registry (issue 4), when importable."""
    try:
        from captum_fggb import methods  # type: ignore[attr-defined]

        names = list(methods.available())
    except (ImportError, AttributeError):
        return [("6", "pairs per second per method (registry)", "n/a (registry not available)", "info", "captum_fggb.methods")]
    cells = []
    for name in names:
        try:
            method = methods.get(name, pair)
            wall, _ = timed(lambda: [method.attribute((probe, ref)) for _ in range(n_pairs)])
            cells.append(f"{name} {n_pairs / wall:.3g}")
        except Exception as error:  # a broken method must not hide the others
            cells.append(f"{name} error ({type(error).__name__})")
    return [("6", "pairs per second per method (registry), SFace, both sides", "; ".join(cells), "info",
             f"{n_pairs} pair(s) each")]


def machine() -> str:
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads), captum {captum.__version__}, Python {platform.python_version()}; "
            f"load average {load}")


def table(rows: List[Row]) -> str:
    lines = ["| # | measurement | result: wall (CPU time) | target | detail |", "|---|---|---|---|---|"]
    lines += [f"| {' | '.join(r)} |" for r in rows]
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lfw", type=Path, default=DEFAULT_LFW, help=f"LFW slice with available_pairs.csv and aligned/sface112 (default {DEFAULT_LFW})")
    parser.add_argument("--quick", action="store_true", help="1 round, 10 + 10 pairs, SFace only in rows 1-2")
    parser.add_argument("--repeats", type=int, default=None, help="interleaved rounds for rows 1-2 (default 3, quick 1)")
    parser.add_argument("--pair-repeats", type=int, default=1, help="rounds for row 3 (each is long)")
    parser.add_argument("--pairs-per-class", type=int, default=None, help="genuine and impostor pairs in row 3 (default 50, quick 10)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--rows", default="1,2,3,4,5,6", help="comma-separated rows to run (1 includes 1b; 2 runs with 1)")
    parser.add_argument("--write", action="store_true", help="write benchmarks/results/performance.md")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    repeats = args.repeats or (1 if args.quick else 3)
    per_class = args.pairs_per_class or (10 if args.quick else 50)
    wanted = set(args.rows.split(","))
    command = "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(__file__, Path.cwd())] + list(sys.argv[1:] if argv is None else argv))
    start_machine = machine()
    started = time.time()

    pair = FaceVerificationPair(models.sface())
    probe, ref = samples.load_pair(*samples.GENUINE_PAIR)
    refs_paths = sorted({p for ab in lfw_pairs(args.lfw, 1, 10, 10) for p in ab})[:20] if args.lfw.is_dir() else []
    refs = torch.stack([load_image(p) for p in refs_paths]) if len(refs_paths) == 20 else samples.load_pair(*samples.IMPOSTOR_PAIR)[1].expand(20, -1, -1, -1).clone()
    rows: List[Row] = []
    if wanted & {"1", "2"}:
        rows += row_floor("SFace", pair, probe, ref, refs if "2" in wanted else None, repeats, "1", batched="1" in wanted)
        build, label = iresnet50_builder()
        if "1" in wanted and not args.quick:
            big = FaceVerificationPair(build(), threshold=0.3)
            rows += row_floor(label, big, probe, ref, None, repeats, "1", batched=False)
            del big
        elif "1" in wanted:
            rows.append(("1", f"exact FGGB / floor, one image, {label}", "skipped (--quick)", "≤ 1.15×", "run without --quick"))
    if "3" in wanted:
        rows += row_many_pairs(pair, args.lfw, per_class, args.pair_repeats, n_blocks=2 if args.quick else 4)
    if "4" in wanted:
        rows += row_memory(["1", "16", "all"], args.threads)
    if "5" in wanted:
        rows += row_gpu()
    if "6" in wanted:
        rows += row_methods(pair, probe, ref, n_pairs=1 if args.quick else 2)

    end_machine = machine()
    minutes = (time.time() - started) / 60
    text = "\n".join([
        f"Command: `{command}`", "",
        f"Machine at start: {start_machine}", f"Machine at end: {end_machine}",
        f"Run time: {minutes:.1f} min", "", table(rows), "",
    ])
    print(text)
    if args.write:
        out = REPO / "benchmarks" / "results" / "performance.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("\n".join([
            "<!-- written by benchmarks/run.py --write; do not edit by hand -->",
            "### FGGB performance", "", text,
            "Ratios are medians over interleaved rounds of per-round ratios; wall time first, process CPU time in",
            "brackets (less sensitive to other processes). The floor is one forward pass followed by a plain",
            "Python loop of D `torch.autograd.grad(..., retain_graph=True)` in the same process.",
            "A load average above the CPU count means the machine was shared while measuring.", "",
        ]))
        print(f"wrote {out.relative_to(REPO)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
