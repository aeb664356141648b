"""Time per pair of every explanation method on SFace (both images, default settings).

Usage::

    python benchmarks/method_times.py                      # shipped genuine pair, every method
    python benchmarks/method_times.py --methods FGGB xSSAB --repeats 3 --json times.json

Each method is built with its default settings and explains both images of one real pair
(``attribute((probe, reference))``); the time is the wall-clock median over ``--repeats`` runs
(no warm-up: the costs are dominated by the forward/backward passes). The load average is
printed next to the numbers because CPU timings on a shared machine vary with other processes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import torch

import captum_fggb as cf


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--methods", nargs="+", default=cf.methods.available(), help="method names (default: all)")
    parser.add_argument("--pair", nargs=2, default=list(cf.samples.GENUINE_PAIR), metavar=("PROBE", "REFERENCE"),
                        help="shipped sample names (default: the genuine pair)")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per method (median reported)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()

    torch.manual_seed(0)
    pair = cf.FaceVerificationPair(cf.models.sface())
    probe, reference = cf.samples.load_pair(*args.pair)
    with torch.no_grad():
        score = float(pair(probe, reference))
    print(f"SFace, {args.pair[0]} vs {args.pair[1]}: cosine {score:.3f} (threshold {pair.threshold})")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
          f"{platform.processor() or platform.machine()}; load average before: {os.getloadavg()[0]:.2f}")
    print(f"{'method':20s} {'s/pair':>8s}  {'pos. mass A':>11s} {'neg. mass A':>11s}")
    results = {}
    for name in args.methods:
        method = cf.methods.get(name, pair)
        runs = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            signed_a, signed_b = method.attribute((probe, reference))
            runs.append(time.perf_counter() - start)
        seconds = statistics.median(runs)
        pos, neg = float(signed_a[:, 0].clamp(min=0).sum()), float((-signed_a[:, 0]).clamp(min=0).sum())
        results[name] = {"seconds_per_pair": seconds, "runs": runs,
                         "positive_mass_probe": pos, "negative_mass_probe": neg}
        print(f"{name:20s} {seconds:8.2f}  {pos:11.4g} {neg:11.4g}", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"pair": args.pair, "score": score, "threads": torch.get_num_threads(),
                       "load_average_after": os.getloadavg()[0], "methods": results}, handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
