"""Which pairs of a dataset are evaluated, and which images they share.

A dataset is map-style: ``len(dataset)`` pairs, ``dataset[i] -> (image_a, image_b, same)`` with
``(3, H, W)`` images in ``[0, 1]`` (``captum_fggb.data.LFWPairs``, ``CSVPairs``, or any
object that behaves the same). When it also describes its pairs without loading the images
(``dataset.pairs[i]`` with ``path_a``, ``path_b`` and ``same`` attributes or keys, or a
``(path_a, path_b, same)`` tuple), images are identified by path; otherwise by a SHA-1 of their
pixels, which needs every pair loaded once.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple

import torch

from ..errors import InvalidInputError

__all__ = ["PairRecord", "pair_records", "select_pairs", "load_pair"]


@dataclass(frozen=True)
class PairRecord:
    """One pair of the dataset.

    Attributes:
        index: position in the dataset (``dataset[index]``).
        a: identifier of the first (probe) image: a path (relative to ``dataset.root`` when it
            lies below it) or ``"sha1:<hex>"`` of its pixels.
        b: identifier of the second (reference) image.
        same: ``True`` for a genuine pair (same identity).
    """

    index: int
    a: str
    b: str
    same: bool

    def to_dict(self) -> dict:
        return {"index": self.index, "a": self.a, "b": self.b, "same": self.same}


def _field(item: Any, names: Sequence[str]) -> Any:
    for name in names:
        if isinstance(item, dict) and name in item:
            return item[name]
        if hasattr(item, name):
            return getattr(item, name)
    return None


def _relative(path: Any, root: Optional[str]) -> str:
    text = os.fspath(path) if isinstance(path, (str, os.PathLike)) else str(path)
    if root is not None:
        try:
            rel = os.path.relpath(text, root)
        except ValueError:  # different drive
            return text
        if not rel.startswith(".."):
            return rel.replace(os.sep, "/")
    return text


def _from_metadata(dataset: Any) -> Optional[List[PairRecord]]:
    pairs = getattr(dataset, "pairs", None)
    if pairs is None or not hasattr(pairs, "__len__") or len(pairs) != len(dataset):
        return None
    root = getattr(dataset, "root", None)
    root = os.fspath(root) if isinstance(root, (str, os.PathLike)) else None
    records = []
    for index, item in enumerate(pairs):
        a = _field(item, ("path_a", "a"))
        b = _field(item, ("path_b", "b"))
        same = _field(item, ("same", "same_identity", "label"))
        if (a is None or b is None or same is None) and isinstance(item, (tuple, list)) and len(item) >= 3:
            a, b, same = item[0], item[1], item[2]
        if a is None or b is None or same is None:
            return None
        records.append(PairRecord(index, _relative(a, root), _relative(b, root), bool(same)))
    return records


def _digest(image: torch.Tensor) -> str:
    data = image.detach().cpu().contiguous().numpy().tobytes()
    return "sha1:" + hashlib.sha1(data).hexdigest()


def load_pair(dataset: Any, index: int) -> Tuple[torch.Tensor, torch.Tensor, bool]:
    """``dataset[index]`` checked: two ``(3, H, W)`` float tensors and a label."""
    item = dataset[index]
    if not isinstance(item, (tuple, list)) or len(item) < 3:
        raise InvalidInputError(
            f"dataset[{index}] must be (image_a, image_b, same), got {type(item).__name__}"
        )
    a, b, same = item[0], item[1], item[2]
    for name, image in (("image_a", a), ("image_b", b)):
        if not isinstance(image, torch.Tensor) or image.dim() != 3:
            shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
            raise InvalidInputError(f"dataset[{index}] {name} must be a (3, H, W) tensor, got {shape}")
    return a, b, bool(same.item() if isinstance(same, torch.Tensor) else same)


def pair_records(dataset: Any, limit: Optional[int] = None) -> List[PairRecord]:
    """Describe the pairs of ``dataset`` (all of them, or enough for :func:`select_pairs`).

    Uses the dataset's metadata when it has some; otherwise loads the pairs in order and
    identifies images by pixel hash, stopping once ``limit`` genuine and ``limit`` impostor
    pairs are found.
    """
    if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
        raise TypeError(
            f"dataset must be map-style (len() and [i] -> (image_a, image_b, same)), got {type(dataset).__name__}"
        )
    records = _from_metadata(dataset)
    if records is not None:
        return records
    records, counts = [], {True: 0, False: 0}
    for index in range(len(dataset)):
        a, b, same = load_pair(dataset, index)
        records.append(PairRecord(index, _digest(a), _digest(b), same))
        counts[same] += 1
        if limit is not None and min(counts.values()) >= limit:
            break
    return records


def select_pairs(records: Sequence[PairRecord], limit: Optional[int] = None) -> List[PairRecord]:
    """The first ``limit`` genuine and first ``limit`` impostor pairs, in dataset order.

    Args:
        records: from :func:`pair_records`.
        limit: pairs per label; ``None`` keeps every pair.

    Returns:
        The selected records, in dataset order.
    """
    if limit is None:
        return list(records)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidInputError(f"limit must be a positive int (pairs per label) or None, got {limit!r}")
    taken = {True: 0, False: 0}
    selected = []
    for record in records:
        if taken[record.same] < limit:
            taken[record.same] += 1
            selected.append(record)
    return selected
