"""Shared pieces of the performance benchmarks: the speed floor, timers and LFW pair lists.

Not part of the package: imported by ``benchmarks/run.py``, ``benchmarks/_peak_rss.py`` and
``benchmarks/gpu_check.py`` only.
"""

from __future__ import annotations

import csv
import statistics
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

Timing = Tuple[float, float]  # (wall seconds, process CPU seconds)


def sync(device: torch.device) -> None:
    """Wait for queued kernels (a no-op on a CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def floor_loop(model: nn.Module, image: torch.Tensor, dims: Optional[int] = None) -> None:
    """The speed floor of the issue: one forward, then a plain Python loop of ``D``
    ``torch.autograd.grad(..., retain_graph=True)`` of the unit embedding (results dropped).

    ``model`` must already be in eval mode with frozen parameters (the package's builders are).
    """
    x = image.detach().clone().requires_grad_(True)
    unit = F.normalize(model(x), dim=1)
    for k in range(unit.shape[1] if dims is None else dims):
        torch.autograd.grad(unit[0, k], x, retain_graph=True)


def replicated_maps(model: nn.Module, image: torch.Tensor, chunk: int) -> torch.Tensor:
    """The other batched variant (not used by the package): replicate the image ``chunk`` times,
    one forward per chunk, and backpropagate the sum of the chunk's diagonal
    ``unit[c, start + c]`` (exact in eval mode, where samples do not interact). Returns the
    ``(1, D, H, W)`` normalised maps like :func:`captum_fggb.jacobian.dimension_maps`."""
    with torch.no_grad():
        dims = model(image[:1]).shape[1]
    maps = torch.empty((1, dims) + tuple(image.shape[-2:]), dtype=image.dtype, device=image.device)
    for start in range(0, dims, chunk):
        size = min(chunk, dims - start)
        x = image[:1].detach().expand(size, -1, -1, -1).clone().requires_grad_(True)
        unit = F.normalize(model(x), dim=1)
        picks = torch.arange(size, device=x.device)
        (grad,) = torch.autograd.grad(unit[picks, picks + start].sum(), x)
        reduced = grad.abs().mean(dim=1)  # (size, H, W)
        maps[0, start : start + size] = F.normalize(reduced.flatten(1), dim=1).view_as(reduced)
    return maps


def timed(fn: Callable[[], object], device: torch.device = torch.device("cpu")) -> Timing:
    """Wall and process-CPU seconds of one call."""
    sync(device)
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    sync(device)
    return time.perf_counter() - wall, time.process_time() - cpu


def interleaved(variants: Dict[str, Callable[[], object]], repeats: int, device: torch.device = torch.device("cpu")) -> Dict[str, List[Timing]]:
    """Run every variant once per round, ``repeats`` rounds (drift and contention hit all alike)."""
    out: Dict[str, List[Timing]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            out[name].append(timed(fn, device))
    return out


def ratio(times: Dict[str, List[Timing]], name: str, base: str) -> Tuple[float, float]:
    """Median over rounds of ``name / base``, for wall time and for CPU time."""
    pairs = list(zip(times[name], times[base]))
    return (
        statistics.median(a[0] / b[0] for a, b in pairs),
        statistics.median(a[1] / b[1] for a, b in pairs),
    )


def median_wall(times: Sequence[Timing]) -> float:
    return statistics.median(t[0] for t in times)


def lfw_pairs(lfw: Path, fold: int, genuine: int, impostor: int) -> List[Tuple[Path, Path]]:
    """The first ``genuine`` genuine and ``impostor`` impostor pairs of ``fold`` whose sface112
    crops exist, as crop paths, in ``available_pairs.csv`` order (that of ``pairs.txt``)."""
    def crop(name: str, num: str) -> Path:
        return lfw / "aligned" / "sface112" / name / f"{name}_{int(num):04d}.png"

    chosen: Dict[str, List[Tuple[Path, Path]]] = {"1": [], "0": []}
    wanted = {"1": genuine, "0": impostor}
    with open(lfw / "available_pairs.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["fold"] != str(fold) or row["present"] != "1":
                continue
            a, b = crop(row["name_a"], row["num_a"]), crop(row["name_b"], row["num_b"])
            group = chosen[row["same_identity"]]
            if len(group) < wanted[row["same_identity"]] and a.is_file() and b.is_file():
                group.append((a, b))
    return chosen["1"] + chosen["0"]
