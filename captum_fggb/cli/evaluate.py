"""``captum-fggb evaluate``: the verification Deletion/Insertion game on a pair list.

Runs :class:`captum_fggb.evaluation.DeletionInsertion` for the chosen methods (the ``Random``
floor is always added) and writes one JSON file, optionally a figure and a markdown table.
Under ``torchrun --nproc_per_node=K`` the pairs are sharded over the K processes and rank 0
writes the same JSON a single process would (apart from the timing fields).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Dict, List

import torch

from ..errors import InvalidInputError

DEFAULT_OUTPUT = "evaluation.json"
#: Crops folder used for a model input size when ``--crops`` is not given.
CROPS_BY_SIZE = {(112, 112): "sface112", (150, 150): "dlib150"}


def add_parser(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    from ..evaluation.protocol import REPLACEMENTS, SIDES

    parser = subparsers.add_parser(
        "evaluate",
        help="Deletion/Insertion evaluation of explanation methods on a pair list (LFW pairs.txt or CSV)",
        description="Scores every method's similarity maps on genuine pairs and dissimilarity maps on "
        "impostor pairs: pixels ranked by the map are deleted from (or inserted into) the probe and the "
        "verification accuracy at the model's threshold is tracked; the normalised area under that "
        "curve is reported (Deletion: lower is better, Insertion: higher is better). The Random map is "
        "always evaluated as the floor. Run under torchrun --nproc_per_node=K to shard the pairs.",
    )
    data = parser.add_argument_group("model and data")
    data.add_argument("--model", default="sface", help="registered model name (default: sface)")
    data.add_argument("--threshold", type=float, default=None, help="decision threshold (default: the model's)")
    data.add_argument("--pairs", required=True, help="LFW pairs.txt, or a CSV with path_a,path_b,same")
    data.add_argument("--root", required=True, help="folder of aligned crops (LFW: the folder holding <crops>/)")
    data.add_argument("--folds", type=int, nargs="+", default=None, help="LFW folds to use (default: all)")
    data.add_argument("--crops", default=None, help="LFW crops sub-folder (default: from the model input size)")
    data.add_argument("--limit", type=int, default=None, help="first N genuine and first N impostor pairs")
    data.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    game = parser.add_argument_group("protocol")
    game.add_argument("--methods", nargs="+", default=None, help="registry method names (default: all)")
    game.add_argument("--steps", type=int, default=21, help="points from 0 to 100%% of the pixels (default: 21)")
    game.add_argument("--replacement", choices=REPLACEMENTS, default="black", help="deleted pixel value (default: black)")
    game.add_argument("--blur-sigma", type=float, default=8.0, help="sigma in pixels for --replacement blur")
    game.add_argument("--side", choices=SIDES, default="probe", help="perturb the probe or both images")
    game.add_argument("--seed", type=int, default=0, help="base seed of random maps and sampling (default: 0)")
    game.add_argument("--block-size", type=int, default=16, help="pairs per unit of work (default: 16)")
    game.add_argument("--batch-size", type=int, default=128, help="perturbed images per forward (default: 128)")
    game.add_argument("--option", action="append", default=[], metavar="METHOD.KEY=VALUE",
                      help="method constructor option, e.g. CorrRISE.n_masks=200 (value parsed as JSON)")
    game.add_argument("--attribute-option", action="append", default=[], metavar="METHOD.KEY=VALUE",
                      help="extra attribute() argument, e.g. FGGB.internal_batch_size=16")
    out = parser.add_argument_group("output")
    out.add_argument("--output", "-o", default=DEFAULT_OUTPUT, help=f"results JSON (default: {DEFAULT_OUTPUT})")
    out.add_argument("--append", action="store_true",
                     help="merge into an existing --output made with the same model, protocol and pairs")
    out.add_argument("--plot", default=None, help="PNG of the accuracy curves")
    out.add_argument("--table", default=None, help="markdown file with the AUC tables (accuracy and score)")
    out.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(run=run)


def parse_options(items: List[str], flag: str) -> Dict[str, Dict[str, Any]]:
    """``["CorrRISE.n_masks=200", ...]`` -> ``{"CorrRISE": {"n_masks": 200}}`` (values as JSON
    when they parse, else strings)."""
    out: Dict[str, Dict[str, Any]] = {}
    for item in items:
        head, sep, value = item.partition("=")
        name, dot, key = head.partition(".")
        if not sep or not dot or not name or not key:
            raise InvalidInputError(f"{flag} {item!r} must look like METHOD.KEY=VALUE, e.g. CorrRISE.n_masks=200")
        try:
            parsed: Any = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        out.setdefault(name, {})[key] = parsed
    return out


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name not in ("cpu", "cuda"):
        raise InvalidInputError(f"--device {name!r} must be cpu, cuda or auto")
    if name == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError("--device cuda: no CUDA device is available")
    return torch.device(name)


def _dataset(args: argparse.Namespace, input_size: Any):
    from ..data import CSVPairs, LFWPairs

    pairs, root = Path(args.pairs), Path(args.root)
    if not pairs.is_file():
        raise FileNotFoundError(f"--pairs {pairs} does not exist")
    if not root.is_dir():
        raise FileNotFoundError(f"--root {root} is not a folder")
    if pairs.suffix.lower() == ".csv":
        if args.folds is not None or args.crops is not None:
            raise InvalidInputError("--folds and --crops apply to LFW pairs.txt files, not to a CSV")
        dataset = CSVPairs(pairs, root, image_size=input_size)
        return dataset, {"type": "CSVPairs", "csv": pairs.name, "pairs": len(dataset)}
    crops = args.crops or CROPS_BY_SIZE.get(tuple(input_size) if input_size else None)
    if crops is None:
        raise InvalidInputError(f"no default crops folder for input size {input_size}; pass --crops")
    dataset = LFWPairs(root, pairs, folds=args.folds, crops=crops)
    return dataset, {"type": "LFWPairs", "pairs_file": pairs.name, "folds": args.folds, "crops": crops,
                     "pairs": len(dataset)}


def run(args: argparse.Namespace) -> int:
    from .. import methods as registry
    from .. import models
    from ..evaluation import FLOOR, DeletionInsertion, Results
    from ..evaluation.distributed import init_from_env, shutdown
    from ..pair import FaceVerificationPair

    device = _device(args.device)
    options = parse_options(args.option, "--option")
    attribute_options = parse_options(args.attribute_option, "--attribute-option")
    names = list(args.methods) if args.methods else registry.available()
    output = Path(args.output)
    previous = Results.from_json(output) if args.append and output.is_file() else None
    for path in filter(None, (output, args.plot, args.table)):
        Path(path).parent.mkdir(parents=True, exist_ok=True)  # fail before the work, not after

    world = init_from_env(device)
    try:
        if device.type == "cuda":
            device = torch.device("cuda", torch.cuda.current_device())
        embedder = models.get(args.model).to(device)
        pair = FaceVerificationPair(embedder, threshold=args.threshold)
        dataset, info = _dataset(args, pair.input_size)
        game = DeletionInsertion(pair, steps=args.steps, replacement=args.replacement, side=args.side,
                                 blur_sigma=args.blur_sigma, seed=args.seed, block_size=args.block_size,
                                 batch_size=args.batch_size, model_name=args.model)
        # the floor is always in the output: run it unless the file appended to already has it
        floor = previous is None or FLOOR not in previous.methods or FLOOR in names
        results = game.evaluate(names, dataset, args.limit, options=options, attribute_options=attribute_options,
                                include_random=floor, show_progress=not args.no_progress, dataset_info=info)
    finally:
        shutdown()
    if not world.is_main:
        return 0
    if previous is not None:
        results = previous.merge(results)
    results.to_json(output)
    if args.plot:
        results.plot().savefig(args.plot, dpi=120)
    table = results.table() + "\n\n" + results.table(kind="score")
    if args.table:
        Path(args.table).write_text(table + "\n")
    print(table)
    print(f"results written to {output.resolve()}")
    return 0
