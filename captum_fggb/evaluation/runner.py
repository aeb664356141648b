"""``DeletionInsertion``: the verification Deletion/Insertion game for any pair-attribution method."""

from __future__ import annotations

import contextlib
import datetime
import random
import time
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .._checks import check_threshold
from ..errors import InvalidInputError
from ..pair import FaceVerificationPair
from . import perturbation as P
from ._methods import FLOOR, MethodSpec, explain_block, resolve_method
from .distributed import World, all_gather, current_world
from .pairs import PairRecord, load_pair, pair_records, select_pairs
from .protocol import Protocol
from .results import MapResult, MethodResult, Results

__all__ = ["DeletionInsertion", "FLOOR"]

_MAP_IDS = {"similarity": 0, "dissimilarity": 1}


@dataclass
class _Block:
    index: np.ndarray
    deletion: np.ndarray
    insertion: np.ndarray
    explain_seconds: float
    perturb_seconds: float


def _block_seed(seed: int, map_number: int, block: int) -> int:
    """Seed of one block: depends on the base seed, the map and the block, not on the process."""
    return int(np.random.SeedSequence([seed, map_number, block]).generate_state(1)[0])


@contextlib.contextmanager
def _seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch, numpy and ``random`` for the block, and restore the caller's RNG states."""
    devices = [device.index or 0] if device.type == "cuda" else []
    np_state, py_state = np.random.get_state(), random.getstate()
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        np.random.seed(seed)
        random.seed(seed)
        try:
            yield
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)


def _describe(dataset: Any) -> Dict[str, Any]:
    info: Dict[str, Any] = {"type": type(dataset).__name__, "pairs": len(dataset)}
    for key in ("root", "pairs_file", "csv", "folds", "crops"):
        value = getattr(dataset, key, None)
        if value is not None:
            info[key] = list(value) if isinstance(value, (list, tuple)) else (value if isinstance(value, (int, float, str)) else str(value))
    return info


class DeletionInsertion:
    r"""Deletion and Insertion measured as verification accuracy (Lu et al., CorrRISE/FGGB).

    For each pair, the explained image's pixels are ranked by its map. *Deletion* replaces the
    top :math:`p` % by the replacement canvas, *Insertion* starts from the canvas and restores the
    top :math:`p` %, for :math:`p = 0, 5, \dots, 100` (``steps=21``). At each step the pair is
    scored by the model and decided at its fixed threshold (Accept iff cosine :math:`\ge t`).
    Similarity maps are evaluated on genuine pairs (correct = accepted) and dissimilarity maps on
    impostor pairs (correct = rejected); the normalised trapezoid area under the accuracy curve,
    in %, is the metric (Deletion: lower is better, Insertion: higher is better).

    Each explanation is computed once per pair and reused by both games; methods with
    ``attribute_pairs`` (FGGB) compute per-image work once per unique image of a block.

    Args:
        pair (FaceVerificationPair): the verification model; its ``threshold`` decides.
        steps (int): points from 0 to 100 % of the pixels. Default: 21 (5 % steps).
        replacement (str): ``"black"`` (default), ``"mean"`` or ``"blur"``; see :class:`Protocol`.
        side (str): ``"probe"`` (default) perturbs the first image of each pair, ``"both"``
            perturbs both images, each by its own map.
        blur_sigma (float): Gaussian sigma in pixels for ``replacement="blur"``. Default: 8.
        subsets (dict, optional): map -> pair subset; default similarity -> genuine,
            dissimilarity -> impostor. Pass e.g. ``{"similarity": "genuine"}`` to skip a map.
        seed (int): base seed of random maps and random method internals. Default: 0.
        block_size (int): pairs explained together; also the unit of sharding. Default: 16.
        batch_size (int): perturbed images per forward. Default: 128.
        model_name (str, optional): recorded in the results; default the embedder's class name.

    Examples::

        >>> import captum_fggb as cf
        >>> from captum_fggb.data import LFWPairs
        >>> pair = cf.FaceVerificationPair(cf.models.sface())
        >>> game = cf.evaluation.DeletionInsertion(pair, model_name="sface")
        >>> data = LFWPairs("lfw/aligned", "lfw/pairs.txt", folds=[1, 2])
        >>> results = game.evaluate(["FGGB", "Saliency"], data, limit=50)   # + Random
        >>> print(results.table())
        >>> results.plot().savefig("curves.png")
    """

    def __init__(
        self,
        pair: FaceVerificationPair,
        *,
        steps: int = 21,
        replacement: str = "black",
        side: str = "probe",
        blur_sigma: float = 8.0,
        subsets: Optional[Mapping[str, str]] = None,
        seed: int = 0,
        block_size: int = 16,
        batch_size: int = 128,
        model_name: Optional[str] = None,
    ) -> None:
        if not isinstance(pair, FaceVerificationPair):
            raise TypeError(
                f"DeletionInsertion needs a FaceVerificationPair, got {type(pair).__name__}; wrap "
                "your embedder: DeletionInsertion(FaceVerificationPair(embedder, threshold=...))"
            )
        kwargs = {} if subsets is None else {"subsets": subsets}
        self.protocol = Protocol(steps=steps, replacement=replacement, side=side, blur_sigma=blur_sigma,
                                 seed=seed, block_size=block_size, batch_size=batch_size, **kwargs)
        self.pair = pair
        self.threshold = check_threshold(pair.threshold)
        self.model_name = type(pair.embedder).__name__ if model_name is None else str(model_name)
        param = next(iter(pair.embedder.parameters()), None)
        self.device = param.device if param is not None else torch.device("cpu")

    # ------------------------------------------------------------- the game
    def _embed_units(self, images: torch.Tensor) -> torch.Tensor:
        """``(N, D)`` unit embeddings, in chunks of ``batch_size``, under inference mode."""
        out = []
        with torch.inference_mode():
            for chunk in images.split(self.protocol.batch_size):
                # channels-last input: ~1.5x faster convolutions on CPU, same values to ~1e-6
                chunk = chunk.contiguous(memory_format=torch.channels_last)
                out.append(F.normalize(self.pair._embed(chunk), dim=1))
        return torch.cat(out)

    def _stacks(self, images: torch.Tensor, maps: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        proto = self.protocol
        h, w = images.shape[-2:]
        if maps.shape[0] != images.shape[0] or tuple(maps.shape[-2:]) != (h, w):
            raise InvalidInputError(
                f"maps of shape {tuple(maps.shape)} do not match the explained images {tuple(images.shape)}"
            )
        masks = P.top_k_masks(P.pixel_ranks(maps.to(images.device)), proto.pixel_counts(h * w), (h, w))
        canvas = P.replacement_canvas(images, proto.replacement, proto.blur_sigma)
        return P.deletion_stack(images, canvas, masks), P.insertion_stack(images, canvas, masks)

    def game_scores(
        self,
        probe: torch.Tensor,
        reference: torch.Tensor,
        maps_probe: torch.Tensor,
        maps_reference: Optional[torch.Tensor] = None,
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Cosine scores of ``P`` pairs along the Deletion and Insertion games.

        Args:
            probe: ``(P, 3, H, W)`` first images in ``[0, 1]``.
            reference: ``(P, 3, H, W)`` second images.
            maps_probe: ``(P, C, H, W)`` maps of the probes (ranked by the mean over ``C``).
            maps_reference: ``(P, C, H, W)`` maps of the references; required for
                ``side="both"``, ignored for ``side="probe"``.

        Returns:
            ``(deletion, insertion)``, each ``(P, steps)`` float tensors of cosine scores.
        """
        steps = self.protocol.steps
        n = probe.shape[0]
        del_a, ins_a = self._stacks(probe, maps_probe)
        units_a = self._embed_units(torch.cat([del_a.flatten(0, 1), ins_a.flatten(0, 1)]))
        if self.protocol.side == "probe":
            unit_b = self._embed_units(reference).repeat(2, 1).repeat_interleave(steps, dim=0)
        else:
            if maps_reference is None:
                raise InvalidInputError("side='both' needs maps_reference")
            del_b, ins_b = self._stacks(reference, maps_reference)
            unit_b = self._embed_units(torch.cat([del_b.flatten(0, 1), ins_b.flatten(0, 1)]))
        scores = (units_a * unit_b).sum(dim=1).view(2, n, steps)
        return scores[0], scores[1]

    def _block(self, method: Any, attr_opts: Mapping[str, Any], dataset: Any, block: Sequence[PairRecord],
               map_name: str) -> _Block:
        keys: Dict[str, int] = {}
        images: List[torch.Tensor] = []
        index_pairs = []
        for record in block:
            a, b, _ = load_pair(dataset, record.index)
            ids = []
            for key, image in ((record.a, a), (record.b, b)):
                if key not in keys:
                    keys[key] = len(images)
                    images.append(image)
                ids.append(keys[key])
            index_pairs.append(tuple(ids))
        stack = self.pair.check_images(torch.stack(images).to(self.device), "dataset images")
        start = time.perf_counter()
        first, second = explain_block(method, self.pair, stack, index_pairs, map_name, self.protocol.side, attr_opts)
        middle = time.perf_counter()
        idx = torch.tensor(index_pairs, device=stack.device)
        deletion, insertion = self.game_scores(stack[idx[:, 0]], stack[idx[:, 1]], first, second)
        end = time.perf_counter()
        return _Block(np.array([r.index for r in block], dtype=np.int64),
                      deletion.double().cpu().numpy(), insertion.double().cpu().numpy(), middle - start, end - middle)

    # --------------------------------------------------------------- public
    def evaluate(
        self,
        methods: Union[MethodSpec, Sequence[MethodSpec]],
        dataset: Any,
        limit: Optional[int] = None,
        *,
        options: Optional[Mapping[str, Mapping[str, Any]]] = None,
        attribute_options: Optional[Mapping[str, Mapping[str, Any]]] = None,
        include_random: bool = True,
        show_progress: bool = False,
        dataset_info: Optional[Mapping[str, Any]] = None,
    ) -> Results:
        """Play both games for every method on the selected pairs.

        Args:
            methods: a registry name (``"FGGB"``, ``"CorrRISE"``, ...), a method object with the
                pair ``attribute`` contract, a ``(name, method)`` tuple, or a list of these.
            dataset: map-style pairs, ``dataset[i] -> (image_a, image_b, same)``
                (``captum_fggb.data.LFWPairs``, ``CSVPairs``). Images are identified by the
                dataset's ``pairs[i].path_a`` / ``path_b`` when present, else by a hash of
                their pixels.
            limit: evaluate the first ``limit`` genuine and first ``limit`` impostor pairs in
                dataset order; ``None`` evaluates every pair.
            options: registry name -> keyword arguments of ``methods.get`` (constructor).
            attribute_options: method name -> extra keyword arguments of ``attribute``
                (e.g. ``{"LIME": {"n_samples": 200}}``).
            include_random: add the registry's ``"Random"`` map as the floor when absent.
            show_progress: one tqdm bar per method (on rank 0).
            dataset_info: description recorded in ``protocol["dataset"]``.

        Returns:
            :class:`Results` with every method's per-pair scores, curves and AUCs. Under
            ``torchrun`` (an initialised process group) the pairs are sharded by block and every
            rank returns the same, complete results.
        """
        started = time.perf_counter()
        select_pairs([], limit)  # a bad limit fails before any method is built (or warns)
        single = isinstance(methods, str) or not isinstance(methods, Sequence) or (
            isinstance(methods, tuple) and len(methods) == 2 and isinstance(methods[0], str)
            and not isinstance(methods[1], str))
        specs = [methods] if single else list(methods)
        options, attribute_options = dict(options or {}), dict(attribute_options or {})
        resolved = [resolve_method(spec, self.pair, options) for spec in specs]
        names = [m.name for m in resolved]
        if len(set(names)) != len(names):
            raise InvalidInputError(f"methods are listed twice: {names}")
        if include_random and FLOOR not in names:
            resolved.append(resolve_method(FLOOR, self.pair, options))
        selected = select_pairs(pair_records(dataset, limit), limit)
        if not selected:
            raise InvalidInputError("the dataset has no pairs to evaluate")
        world = current_world()
        protocol = self.protocol.to_dict()
        protocol["limit"] = limit
        protocol["dataset"] = dict(dataset_info) if dataset_info is not None else _describe(dataset)
        results = Results(self.model_name, self.threshold, protocol, [r.to_dict() for r in selected])
        subsets = {"genuine": [r for r in selected if r.same], "impostor": [r for r in selected if not r.same],
                   "all": selected}
        labels = {r.index: r.same for r in selected}
        fractions = np.asarray(self.protocol.fractions)
        size = self.protocol.block_size
        for method in resolved:
            name = method.name
            attr_opts = dict(attribute_options.get(name, {}))
            entry = MethodResult(name, {"init": method.init, "attribute": attr_opts})
            if method.ranked_map is not None:
                entry.options["ranked_map"] = method.ranked_map
            plan = {m: [subsets[s][i:i + size] for i in range(0, len(subsets[s]), size)]
                    for m, s in self.protocol.subsets.items()}
            mine = sum(len(b) for blocks in plan.values() for k, b in enumerate(blocks) if world.owns(k))
            bar = tqdm(total=mine, desc=name, unit="pair", disable=not (show_progress and world.is_main))
            for map_name, blocks in plan.items():
                begin, done = time.perf_counter(), []
                for k, block in enumerate(blocks):
                    if world.owns(k) and block:
                        seed = _block_seed(self.protocol.seed, _MAP_IDS[map_name], k)
                        with _seeded(seed, self.device):
                            done.append(self._block(method.for_block(seed), attr_opts, dataset, block,
                                                    method.ranked_map or map_name))
                        bar.update(len(block))
                entry.maps[map_name] = self._gather(map_name, self.protocol.subsets[map_name], done,
                                                    time.perf_counter() - begin, fractions, labels, world)
            bar.close()
            results.methods[name] = entry
        results.run = {
            "world_size": world.size,
            "device": str(self.device),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "wall_seconds": time.perf_counter() - started,
        }
        return results

    def _gather(self, map_name: str, subset: str, blocks: List[_Block], seconds: float,
                fractions: np.ndarray, labels: Mapping[int, bool], world: World) -> MapResult:
        parts = all_gather((blocks, seconds), world)
        every = [b for rank_blocks, _ in parts for b in rank_blocks]
        steps = fractions.shape[0]
        if every:
            index = np.concatenate([b.index for b in every])
            order = np.argsort(index, kind="stable")
            deletion = np.concatenate([b.deletion for b in every])[order]
            insertion = np.concatenate([b.insertion for b in every])[order]
            index = index[order]
        else:
            index, deletion, insertion = np.zeros(0, np.int64), np.zeros((0, steps)), np.zeros((0, steps))
        return MapResult(
            map=map_name, subset=subset, threshold=self.threshold, fractions=fractions, pair_index=index,
            same=np.array([labels[int(i)] for i in index], dtype=bool).reshape(index.shape),
            deletion_scores=deletion, insertion_scores=insertion,
            seconds=max(s for _, s in parts),
            explain_seconds=float(sum(b.explain_seconds for b in every)),
            perturb_seconds=float(sum(b.perturb_seconds for b in every)),
        )
