"""``captum-fggb explain A.jpg B.jpg``: align two photos, score the pair, explain it with FGGB."""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Dict, Optional, Tuple

import torch
from torch import nn

from ..errors import InvalidInputError
from ._output import prepare_output

DEFAULT_OUTPUT = "captum-fggb-explain.png"
#: ``--model`` names → registry names of pretrained models.
PRETRAINED: Dict[str, str] = {"sface": "sface", "dlib": "dlib_resnet", "dlib_resnet": "dlib_resnet"}
_CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".tar")


def add_parser(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "explain",
        help="explain why a face model accepts or rejects two photos (FGGB)",
        description="Detects and aligns the largest face of each photo, scores the pair with the "
        "model (cosine similarity of the embeddings), prints the score and the decision, and writes "
        "a PNG figure: probe | similarity and dissimilarity maps of both faces | reference.",
    )
    parser.add_argument("probe", help="first photo (JPEG, PNG, ...)")
    parser.add_argument("reference", help="second photo")
    parser.add_argument(
        "--model", "-m", default="sface",
        help="sface (default), dlib (needs captum-fggb[dlib]), or the path of a checkpoint file "
        "(ArcFace/AdaFace/MobileFaceNet, with --arch)",
    )
    parser.add_argument("--arch", help="architecture of a checkpoint given to --model, e.g. iresnet50, adaface_ir50")
    parser.add_argument(
        "--threshold", "-t", default=None,
        help="cosine decision threshold in [-1, 1] (default: the model's own, e.g. 0.363 for SFace; "
        "required with a checkpoint)",
    )
    parser.add_argument("--output", "-o", default=DEFAULT_OUTPUT, help=f"PNG figure to write (default: {DEFAULT_OUTPUT})")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.set_defaults(run=run)


def _threshold(text: Optional[str]) -> Optional[float]:
    if text is None:
        return None
    try:
        value = float(str(text))
    except ValueError:
        raise InvalidInputError(f"--threshold {text!r} is not a number; pass a cosine threshold in [-1, 1]") from None
    if not math.isfinite(value) or not -1.0 <= value <= 1.0:
        raise InvalidInputError(f"--threshold {text} is outside [-1, 1]; it is a cosine-similarity threshold")
    return value


def load_model(name: str, arch: Optional[str] = None, threshold: Optional[float] = None) -> Tuple[nn.Module, str]:
    """Build the model named on the command line; returns ``(model, label)``.

    Args:
        name: ``"sface"``, ``"dlib"`` or a checkpoint path.
        arch: architecture of a checkpoint (``--arch``).
        threshold: passed to ``load_checkpoint`` for checkpoints (required for them).

    Raises:
        InvalidInputError: unknown name, or a checkpoint without ``--arch`` or ``--threshold``.
        FileNotFoundError: a checkpoint path that does not exist.
        MissingDependencyError: the model needs an optional extra.
    """
    from .. import models

    if name in PRETRAINED:
        if arch is not None:
            raise InvalidInputError(f"--arch is only for checkpoint files, not for --model {name}")
        if PRETRAINED[name] not in models.available():
            raise InvalidInputError(f"--model {name} is not available in this version of captum-fggb; use sface")
        return models.get(PRETRAINED[name]), name
    path = Path(name)
    if not path.exists():
        if path.suffix.lower() in _CHECKPOINT_SUFFIXES or "/" in name or "\\" in name:
            raise FileNotFoundError(f"checkpoint file not found: {name}")
        raise InvalidInputError(
            f"unknown model {name!r}; use sface, dlib, or the path of a checkpoint file with --arch"
        )
    if not path.is_file():
        raise InvalidInputError(f"--model {name} is a directory; pass a checkpoint file")
    if arch is None:
        raise InvalidInputError(f"--model {name} is a checkpoint: say its architecture with --arch (e.g. iresnet50)")
    if threshold is None:
        raise InvalidInputError(
            f"--model {name} is a checkpoint, whose decision threshold depends on its training: pass "
            "--threshold (calibrate one with captum_fggb.calibration)"
        )
    load_checkpoint = getattr(models, "load_checkpoint", None)
    if load_checkpoint is None:
        raise InvalidInputError("this version of captum-fggb cannot load checkpoints; use --model sface or dlib")
    return load_checkpoint(path, arch=arch, threshold=threshold), f"{arch}:{path}"


def run(args: argparse.Namespace) -> int:
    from .. import FGGB, FaceVerificationPair
    from ..align import align_face, model_input_for
    from ..viz import PairRow, pair_figure, region_summary

    threshold = _threshold(args.threshold)
    output = prepare_output(args.output)  # fail before the work, not after
    for photo in (args.probe, args.reference):
        if not Path(photo).is_file():
            raise FileNotFoundError(f"image file not found: {photo}")
    model, label = load_model(args.model, args.arch, threshold)
    model_input = model_input_for(model)
    faces = [align_face(photo, model_input=model_input) for photo in (args.probe, args.reference)]
    pair = FaceVerificationPair(model, threshold=threshold)
    probe, reference = (face.image.unsqueeze(0) for face in faces)

    torch.manual_seed(0)
    start = time.perf_counter()
    with torch.no_grad():
        score = float(pair(probe, reference))
    signed_probe, signed_reference = FGGB(pair).attribute((probe, reference))
    seconds = time.perf_counter() - start

    row = PairRow(probe[0], reference[0], signed_probe[0], signed_reference[0], score, pair.threshold,
                  label=f"{Path(args.probe).name} vs {Path(args.reference).name} ({label})")
    pair_figure([row], output)
    written = str(output.resolve())
    # the crops are aligned to the model's template, so the template landmarks place the regions
    regions = region_summary((signed_probe[0], signed_reference[0]), decision=row.decision)
    if args.json:
        print(json.dumps({
            "probe": args.probe,
            "reference": args.reference,
            "model": label,
            "model_input": model_input,
            "score": score,
            "threshold": pair.threshold,
            "decision": row.decision,
            "faces": [{"file": photo, "box": list(face.box), "score": face.score, "detector": face.detector,
                       "faces_found": face.faces_found} for photo, face in zip((args.probe, args.reference), faces)],
            "regions": regions.to_dict(),
            "written": [written],
        }))
    else:
        print(f"{args.probe} vs {args.reference} ({label}): cosine {score:.3f} "
              f"(threshold {pair.threshold:.3f}) -> {row.decision}   [FGGB {seconds:.1f} s]")
        print(f"regions (both faces): {regions.sentence()}")
        print(f"figure written to {written}")
    return 0
