"""The evaluated methods: resolving names and objects, and one call per block of pairs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F

from .._pair_inputs import select_map, to_input_shape
from ..errors import InvalidInputError
from ..fggb import FGGB
from ..pair import FaceVerificationPair

__all__ = ["FLOOR", "MethodSpec", "resolve_method", "explain_block"]

#: The method always evaluated as the floor (a map of random pixel order).
FLOOR = "Random"
#: Registry methods whose random state advances with every call: rebuilt for each block with
#: the block's seed, so their maps do not depend on which process evaluates which block. The
#: floor ranks pixels by its signed noise (a uniformly random order of all pixels); the
#: positive or negative part would tie half of the pixels at 0, ranked in raster order.
_REBUILT_PER_BLOCK = ("Random",)
MethodSpec = Union[str, Any, Tuple[str, Any]]


@dataclass
class _Method:
    """A method to evaluate: one object, or a factory called with each block's seed."""

    name: str
    init: Dict[str, Any]
    fixed: Any = None
    factory: Optional[Callable[[int], Any]] = None
    #: map ranked instead of the evaluated one (the floor ranks its signed noise)
    ranked_map: Optional[str] = None

    def for_block(self, seed: int) -> Any:
        return self.fixed if self.factory is None else self.factory(seed)


def resolve_method(spec: MethodSpec, pair: FaceVerificationPair, options: Mapping[str, Mapping[str, Any]]) -> _Method:
    """A registry name, a method object or a ``(name, method)`` tuple as a :class:`_Method`.

    Raises:
        TypeError: the object has no ``attribute`` method.
        InvalidInputError: the object explains another pair, or a seed option is given for a
            method seeded per block.
    """
    if isinstance(spec, str):
        from .. import methods as registry  # the baselines' registry

        init = dict(options.get(spec, {}))
        if spec in _REBUILT_PER_BLOCK:
            if "seed" in init:
                raise InvalidInputError(
                    f"{spec} is seeded per block from the protocol seed; set seed= on DeletionInsertion "
                    "(--seed) instead of a method option"
                )
            return _Method(spec, {**init, "seed": "per block (protocol seed, map, block)"},
                           factory=lambda seed: registry.get(spec, pair, **init, seed=seed),
                           ranked_map="signed")
        return _Method(spec, init, fixed=registry.get(spec, pair, **init))
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str):
        name, method = spec
    else:
        method = spec
        get_name = getattr(method, "get_name", None)
        name = get_name() if callable(get_name) else type(method).__name__
    if not callable(getattr(method, "attribute", None)):
        raise TypeError(f"method {name!r} has no attribute() method; pass a registry name or an attribution object")
    model = getattr(method, "pair", getattr(method, "forward_func", None))
    if isinstance(model, FaceVerificationPair) and model is not pair:
        raise InvalidInputError(
            f"method {name!r} explains a different FaceVerificationPair than the one evaluated; "
            "build it on the same pair object"
        )
    return _Method(str(name), {}, fixed=method)


def _fggb_pairs(fggb: FGGB, pair: FaceVerificationPair, images: torch.Tensor, index_pairs: Sequence[Tuple[int, int]],
                map_name: str, side: str, internal_batch_size: Optional[int] = None
                ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """FGGB maps of many pairs with the per-dimension maps computed once per unique image."""
    idx = torch.tensor(index_pairs, device=images.device)
    explained = sorted(set(idx[:, 0].tolist()) | (set(idx[:, 1].tolist()) if side == "both" else set()))
    maps, unit = fggb.dimension_maps(images[explained], internal_batch_size=internal_batch_size)
    units = torch.empty((images.shape[0], unit.shape[1]), dtype=unit.dtype, device=unit.device)
    units[explained] = unit
    others = sorted(set(range(images.shape[0])) - set(explained))
    if others:
        with torch.no_grad():
            units[others] = F.normalize(pair._embed(images[others]), dim=1)
    row = {image: n for n, image in enumerate(explained)}

    def side_maps(mine: torch.Tensor, theirs: torch.Tensor) -> torch.Tensor:
        rows = torch.tensor([row[i] for i in mine.tolist()], device=maps.device)
        signed = fggb.combine(maps[rows], units[mine], units[theirs])
        return to_input_shape(select_map(signed, map_name), images.shape[1])

    first = side_maps(idx[:, 0], idx[:, 1])
    second = side_maps(idx[:, 1], idx[:, 0]) if side == "both" else None
    return first, second


def _check(maps: object, images: torch.Tensor, count: int, what: str) -> torch.Tensor:
    if not isinstance(maps, torch.Tensor) or maps.dim() != 4 or maps.shape[0] != count \
            or tuple(maps.shape[-2:]) != tuple(images.shape[-2:]):
        shape = tuple(maps.shape) if isinstance(maps, torch.Tensor) else type(maps).__name__
        raise InvalidInputError(
            f"{what} returned {shape}, expected ({count}, C, {images.shape[-2]}, {images.shape[-1]}) maps"
        )
    return maps.detach()


def explain_block(
    method: Any,
    pair: FaceVerificationPair,
    images: torch.Tensor,
    index_pairs: Sequence[Tuple[int, int]],
    map_name: str,
    side: str,
    attribute_options: Mapping[str, Any],
) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """Maps of the explained images of a block of pairs.

    Args:
        method: an object with the pair ``attribute`` contract; ``attribute_pairs`` is used when
            it exists (per-image work done once per unique image).
        pair: the evaluated verification model.
        images: ``(U, 3, H, W)`` the unique images of the block.
        index_pairs: ``P`` pairs ``(i, j)`` of rows of ``images``: probe ``i``, reference ``j``.
        map_name: ``"similarity"`` or ``"dissimilarity"``.
        side: ``"probe"`` or ``"both"``.
        attribute_options: extra keyword arguments for the method.

    Returns:
        ``(maps_probe, maps_reference)``: ``(P, C, H, W)`` each; ``maps_reference`` is ``None``
        for ``side="probe"``.
    """
    count = len(index_pairs)
    what = f"{type(method).__name__}.attribute"
    if hasattr(method, "attribute_pairs"):
        what = f"{type(method).__name__}.attribute_pairs"
        first, second = method.attribute_pairs(images, [tuple(p) for p in index_pairs], map=map_name, side=side,
                                                **attribute_options)
    elif isinstance(method, FGGB):
        first, second = _fggb_pairs(method, pair, images, index_pairs, map_name, side, **attribute_options)
    else:
        idx = torch.tensor(index_pairs, device=images.device)
        probe, reference = images[idx[:, 0]], images[idx[:, 1]]
        if side == "probe":
            first = method.attribute(probe, additional_forward_args=(reference,), map=map_name, **attribute_options)
            second = None
        else:
            out = method.attribute((probe, reference), map=map_name, **attribute_options)
            if not isinstance(out, tuple) or len(out) != 2:
                raise InvalidInputError(f"{what}((probe, reference)) must return 2 maps, got {type(out).__name__}")
            first, second = out
    first = _check(first, images, count, what)
    if side == "both":
        second = _check(second, images, count, what)
    return first, (second if side == "both" else None)
