"""One call per block of pairs to whatever method is evaluated."""

from __future__ import annotations

from typing import Any, List, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from .._pair_inputs import select_map, to_input_shape
from ..errors import InvalidInputError
from ..fggb import FGGB
from ..pair import FaceVerificationPair

__all__ = ["explain_block"]


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
