"""Arguments of :meth:`captum_fggb.FGGB.attribute_pairs`: an image collection and index pairs.

Evaluations explain many pairs that share images (LFW fold 1: 1,200 pair sides, 807 unique
images). These helpers turn the caller's collection into batches on demand and group the pairs
by explained image, so that each image's per-dimension maps are computed once and dropped.
"""

from __future__ import annotations

from typing import Callable, List, Sequence, Tuple, Union

import torch
import torch.nn.functional as F

from .errors import InvalidInputError

__all__ = ["ImageCollection", "check_index_pairs", "check_side", "SIDES"]

#: Accepted values of ``side``.
SIDES: Tuple[str, ...] = ("probe", "both")
ImagesLike = Union[torch.Tensor, Sequence[torch.Tensor]]


def check_side(side: object) -> str:
    """Validate ``side`` (``"probe"``: explain the first image of each pair; ``"both"``)."""
    if side not in SIDES:
        raise InvalidInputError(f"side={side!r} is not one of {', '.join(repr(s) for s in SIDES)}")
    return str(side)


class ImageCollection:
    """Read-only view of ``(M, 3, H, W)`` images given as one tensor or a sequence.

    Args:
        images: an ``(M, 3, H, W)`` tensor, or a sequence of ``(3, H, W)`` or ``(1, 3, H, W)``
            tensors of one shape. Nothing is copied until :meth:`batch` is called.

    Raises:
        TypeError: ``images`` is neither a tensor nor a sequence of tensors.
        InvalidInputError: wrong shapes, mixed shapes or an empty collection.
    """

    def __init__(self, images: ImagesLike) -> None:
        if isinstance(images, torch.Tensor):
            if images.dim() != 4:
                raise InvalidInputError(
                    f"images must be an (M, 3, H, W) tensor or a sequence of (3, H, W) tensors, "
                    f"got a tensor of shape {tuple(images.shape)}"
                )
            self._tensor: Union[torch.Tensor, None] = images
            self._items: List[torch.Tensor] = []
        elif isinstance(images, Sequence) and not isinstance(images, (str, bytes)):
            self._tensor = None
            self._items = [self._as_batch_of_one(item, i) for i, item in enumerate(images)]
            shapes = {tuple(item.shape) for item in self._items}
            if len(shapes) > 1:
                raise InvalidInputError(
                    f"images must all have one shape, got {sorted(shapes)}; align/resize them first"
                )
        else:
            raise TypeError(
                f"images must be an (M, 3, H, W) tensor or a sequence of (3, H, W) tensors, got {type(images).__name__}"
            )
        if len(self) == 0:
            raise InvalidInputError("images is empty; pass at least the images the pairs refer to")

    @staticmethod
    def _as_batch_of_one(item: object, index: int) -> torch.Tensor:
        if not isinstance(item, torch.Tensor):
            raise TypeError(f"images[{index}] must be a torch.Tensor, got {type(item).__name__}")
        if item.dim() == 3:
            return item.unsqueeze(0)
        if item.dim() == 4 and item.shape[0] == 1:
            return item
        raise InvalidInputError(
            f"images[{index}] must have shape (3, H, W) or (1, 3, H, W), got {tuple(item.shape)}"
        )

    def __len__(self) -> int:
        return self._tensor.shape[0] if self._tensor is not None else len(self._items)

    def batch(self, indices: Sequence[int]) -> torch.Tensor:
        """The images at ``indices`` as one ``(len(indices), 3, H, W)`` tensor."""
        if self._tensor is not None:
            if len(indices) == 1:
                return self._tensor[indices[0] : indices[0] + 1]
            return self._tensor[torch.as_tensor(list(indices), dtype=torch.long, device=self._tensor.device)]
        return torch.cat([self._items[i] for i in indices])

    def unit_embeddings(
        self, embed: Callable[[torch.Tensor], torch.Tensor], indices: Sequence[int], batch_size: int = 64
    ) -> torch.Tensor:
        """L2-normalised embeddings of the images at ``indices``, in batches, without gradients.

        Args:
            embed: validates and embeds an ``(n, 3, H, W)`` batch into ``(n, D)``.
            indices: the images to embed (unique).
            batch_size: images per forward pass (bounds memory).

        Returns:
            ``(M, D)``: row ``i`` is image ``i``'s unit embedding (zeros where ``i`` is not in
            ``indices``).
        """
        indices = list(indices)
        unit = None
        for start in range(0, len(indices), batch_size):
            chunk = indices[start : start + batch_size]
            with torch.no_grad():
                batch = F.normalize(embed(self.batch(chunk)), dim=1)
            if unit is None:
                unit = batch.new_zeros((len(self), batch.shape[1]))
            unit[torch.as_tensor(chunk, device=unit.device)] = batch
        if unit is None:
            raise InvalidInputError("no image to embed")
        return unit


def check_index_pairs(index_pairs: object, count: int) -> torch.Tensor:
    """Validate pairs of indices into a collection of ``count`` images.

    Args:
        index_pairs: a ``(P, 2)`` integer tensor or a sequence of ``(i, j)`` int pairs.
        count: number of images ``M``.

    Returns:
        A ``(P, 2)`` ``torch.long`` CPU tensor (a copy).

    Raises:
        InvalidInputError: not ``(P, 2)``, non-integer, empty, or an index outside ``[0, M)``.
    """
    if isinstance(index_pairs, torch.Tensor):
        pairs = index_pairs.detach().cpu()
    else:
        try:
            rows = [tuple(row) for row in index_pairs]  # type: ignore[union-attr]
        except TypeError:
            raise InvalidInputError(
                f"index_pairs must be a (P, 2) LongTensor or a sequence of (i, j) pairs, got {type(index_pairs).__name__}"
            ) from None
        if any(isinstance(v, bool) or not isinstance(v, int) for row in rows for v in row):
            raise InvalidInputError("index_pairs must hold Python ints (indices into images)")
        pairs = torch.tensor(rows, dtype=torch.long) if rows else torch.empty((0, 2), dtype=torch.long)
    if pairs.dtype in (torch.bool,) or pairs.is_floating_point() or pairs.is_complex():
        raise InvalidInputError(f"index_pairs must be an integer tensor, got dtype {pairs.dtype}")
    if pairs.dim() != 2 or pairs.shape[1] != 2:
        raise InvalidInputError(f"index_pairs must have shape (P, 2), got {tuple(pairs.shape)}")
    if pairs.shape[0] == 0:
        raise InvalidInputError("index_pairs is empty; pass at least one (i, j) pair")
    pairs = pairs.to(torch.long).clone()
    bad = (pairs < 0) | (pairs >= count)
    if bool(bad.any()):
        row = int(bad.any(dim=1).nonzero()[0])
        raise InvalidInputError(
            f"index_pairs[{row}] = {pairs[row].tolist()} is outside [0, {count}) (images holds {count} images)"
        )
    return pairs
