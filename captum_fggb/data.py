"""Datasets of labelled face pairs, for calibration and evaluation.

Both datasets are map-style ``torch.utils.data.Dataset`` objects whose items are
``(image_a, image_b, same)``: two ``(3, H, W)`` float32 RGB tensors in ``[0, 1]`` (pre-aligned
crops, ready for the model) and a 0-d bool tensor, ``True`` for a genuine pair. They batch with
``torch.utils.data.DataLoader`` and are what :func:`captum_fggb.calibration.calibrate` takes.
Pair metadata (fold, identities, image paths) is in :attr:`PairDataset.pairs`, so an evaluation
can, for example, embed each unique image once (:meth:`PairDataset.image_paths`).
"""

from __future__ import annotations

import csv
import warnings
from pathlib import Path
from typing import Iterable, List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
from torch.utils.data import Dataset

from .errors import InvalidInputError
from .samples import load_image

__all__ = ["PairRecord", "PairDataset", "LFWPairs", "CSVPairs", "CROP_SIZES"]

PathLike = Union[str, Path]

#: Image size ``(H, W)`` of each known crop style, the accepted values of ``crops``. ``sface112``
#: is the ArcFace 5-point template (the input of SFace and the ArcFace/AdaFace backbones),
#: ``dlib150`` the dlib face chip (the input of :func:`captum_fggb.models.dlib_resnet`).
CROP_SIZES = {"sface112": (112, 112), "dlib150": (150, 150)}

_TRUE, _FALSE = {"1", "true", "yes", "same", "genuine"}, {"0", "false", "no", "different", "impostor"}


class PairRecord(NamedTuple):
    """Metadata of one pair.

    Attributes:
        path_a: image file of the first face.
        path_b: image file of the second face.
        same: ``True`` for a genuine pair (same identity).
        fold: 1-based fold of ``pairs.txt`` (``None`` for :class:`CSVPairs`).
        name_a: identity of the first face (``None`` when unknown).
        name_b: identity of the second face (``None`` when unknown).
    """

    path_a: Path
    path_b: Path
    same: bool
    fold: Optional[int] = None
    name_a: Optional[str] = None
    name_b: Optional[str] = None


class PairDataset(Dataset):
    """Base class: a list of :class:`PairRecord` whose images are read on access.

    Attributes:
        pairs (list[PairRecord]): the pairs whose two images exist, in file order.
        missing_pairs (list[PairRecord]): the pairs skipped because an image is missing.
        image_size (tuple[int, int] or None): the ``(H, W)`` every image must have
            (checked on load), or ``None`` for no check.
    """

    def __init__(
        self,
        records: Iterable[PairRecord],
        *,
        image_size: Optional[Tuple[int, int]] = None,
        on_missing: str = "skip",
        source: str = "",
    ) -> None:
        if on_missing not in ("skip", "error"):
            raise InvalidInputError(f"on_missing must be 'skip' or 'error', got {on_missing!r}")
        self.image_size = None if image_size is None else (int(image_size[0]), int(image_size[1]))
        self.pairs: List[PairRecord] = []
        self.missing_pairs: List[PairRecord] = []
        exists = {}
        records = list(records)
        if not records:
            raise InvalidInputError(f"{source} lists no pairs")
        for record in records:
            ok = all(exists.setdefault(p, p.is_file()) for p in (record.path_a, record.path_b))
            (self.pairs if ok else self.missing_pairs).append(record)
        if self.missing_pairs:
            first = self.missing_pairs[0]
            example = first.path_a if not exists[first.path_a] else first.path_b
            message = (
                f"{len(self.missing_pairs)} of {len(self.missing_pairs) + len(self.pairs)} pairs of "
                f"{source} have a missing image (e.g. {example})"
            )
            if on_missing == "error" or not self.pairs:
                raise FileNotFoundError(message + ("" if self.pairs else "; no pair is left"))
            warnings.warn(message + "; they are skipped (see .missing_pairs)", stacklevel=3)

    @property
    def n_missing(self) -> int:
        """Number of pairs skipped because an image is missing."""
        return len(self.missing_pairs)

    @property
    def labels(self) -> torch.Tensor:
        """``(N,)`` bool tensor, ``True`` for genuine pairs."""
        return torch.tensor([p.same for p in self.pairs], dtype=torch.bool)

    @property
    def paths(self) -> List[Tuple[Path, Path]]:
        """The two image paths of every pair."""
        return [(p.path_a, p.path_b) for p in self.pairs]

    def image_paths(self) -> List[Path]:
        """Every distinct image path, in order of first use."""
        return list(dict.fromkeys(path for pair in self.paths for path in pair))

    def load(self, path: PathLike) -> torch.Tensor:
        """Read one image as a ``(3, H, W)`` float32 RGB tensor in ``[0, 1]``, checking its size.

        Raises:
            InvalidInputError: the image does not have :attr:`image_size`.
        """
        image = load_image(path)
        if self.image_size is not None and tuple(image.shape[-2:]) != self.image_size:
            raise InvalidInputError(
                f"{path} is {tuple(image.shape[-2:])} pixels, expected {self.image_size}: the images "
                "must be pre-aligned crops of the model's input size"
            )
        return image

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(image_a, image_b, same)``: two ``(3, H, W)`` images in ``[0, 1]`` and a 0-d bool tensor."""
        record = self.pairs[index]
        return self.load(record.path_a), self.load(record.path_b), torch.tensor(record.same)


def _parse_lfw_pairs(pairs_file: Path) -> Tuple[int, List[Tuple[int, str, int, str, int]]]:
    """(number of folds, [(fold, name_a, num_a, name_b, num_b)]) from an LFW ``pairs.txt``."""
    lines = [(n, line.split()) for n, line in enumerate(pairs_file.read_text().splitlines(), 1) if line.strip()]
    if not lines or not 1 <= len(lines[0][1]) <= 2 or not all(t.isdigit() for t in lines[0][1]):
        raise InvalidInputError(
            f"{pairs_file}: the first line must be '<folds> <pairs per class>' (e.g. '10 300') or "
            "'<pairs per class>'; this is not an LFW pairs file"
        )
    n_folds, per_class = (1, int(lines[0][1][0])) if len(lines[0][1]) == 1 else map(int, lines[0][1])
    body = lines[1:]
    if len(body) != 2 * n_folds * per_class:
        raise InvalidInputError(
            f"{pairs_file}: header says {n_folds} folds x 2 x {per_class} pairs = {2 * n_folds * per_class} "
            f"lines, the file has {len(body)}"
        )
    out = []
    for index, (number, tokens) in enumerate(body):
        fold, genuine = index // (2 * per_class) + 1, index % (2 * per_class) < per_class
        try:
            if genuine and len(tokens) == 3:
                out.append((fold, tokens[0], int(tokens[1]), tokens[0], int(tokens[2])))
                continue
            if not genuine and len(tokens) == 4:
                out.append((fold, tokens[0], int(tokens[1]), tokens[2], int(tokens[3])))
                continue
        except ValueError:
            pass
        expected = "'name n1 n2' (genuine pair)" if genuine else "'name1 n1 name2 n2' (impostor pair)"
        raise InvalidInputError(f"{pairs_file}, line {number}: expected {expected}, got {' '.join(tokens)!r}")
    return n_folds, out


class LFWPairs(PairDataset):
    """Labelled pairs of LFW's official ``pairs.txt`` over a folder of pre-aligned crops.

    ``pairs.txt`` starts with ``<folds> <n>`` (``10 300``); each fold then lists ``n`` genuine
    pairs ``name n1 n2`` followed by ``n`` impostor pairs ``name1 n1 name2 n2`` (a file with a
    single number ``<n>`` in its header, like ``pairsDevTrain.txt``, is read as one fold).
    Image ``n`` of ``Name`` is ``<root>/<crops>/<Name>/<Name>_<nnnn><suffix>``.

    Args:
        root: the folder that holds one sub-folder per crop style (e.g. ``lfw/aligned`` with
            ``sface112/`` and ``dlib150/`` inside).
        pairs_file: the ``pairs.txt`` file.
        folds: 1-based folds to use (e.g. ``[1, 2]``); ``None`` for all.
        crops: the sub-folder of ``root`` to read, which selects the alignment: ``"sface112"``
            (ArcFace 112×112) or ``"dlib150"`` (dlib 150×150 chips) have their size checked on
            load (:data:`CROP_SIZES`); any other name is read unchecked. ``None``: the identity
            folders are directly under ``root``.
        suffix: image file extension (``".png"``; ``".jpg"`` for the original LFW images).
        on_missing: ``"skip"`` pairs with a missing image (counted in :attr:`n_missing`, with a
            warning) or raise (``"error"``).

    Attributes:
        folds (tuple[int, ...]): the folds used.
        pairs (list[PairRecord]): present pairs in file order, with fold and identity names.
        n_missing (int): pairs skipped because an image is missing.

    Raises:
        FileNotFoundError: ``pairs_file`` or the image folder does not exist, or no pair has both
            images (or one is missing and ``on_missing="error"``).
        InvalidInputError: malformed ``pairs.txt``, or folds outside the file's range.
    """

    def __init__(
        self,
        root: PathLike,
        pairs_file: PathLike,
        folds: Optional[Sequence[int]] = None,
        crops: Optional[str] = "sface112",
        *,
        suffix: str = ".png",
        on_missing: str = "skip",
    ) -> None:
        pairs_file, root = Path(pairs_file), Path(root)
        if not pairs_file.is_file():
            raise FileNotFoundError(f"LFW pairs file not found: {pairs_file}")
        image_dir = root if crops is None else root / crops
        if not image_dir.is_dir():
            hint = (
                f"; root must be the folder that contains the {crops!r} sub-folder (e.g. lfw/aligned), "
                "or pass crops=None to read identity folders directly under root"
                if crops is not None
                else ""
            )
            raise FileNotFoundError(f"LFW image folder not found: {image_dir}{hint}")
        n_folds, rows = _parse_lfw_pairs(pairs_file)
        chosen = tuple(range(1, n_folds + 1)) if folds is None else tuple(sorted(set(folds)))
        bad = [f for f in chosen if isinstance(f, bool) or not isinstance(f, int) or not 1 <= f <= n_folds]
        if bad or not chosen:
            raise InvalidInputError(
                f"folds must be ints in 1..{n_folds} (the file has {n_folds} folds), got {folds!r}"
            )
        self.folds: Tuple[int, ...] = chosen
        self.root, self.crops, self.image_dir = root, crops, image_dir

        def path(name: str, number: int) -> Path:
            return image_dir / name / f"{name}_{number:04d}{suffix}"

        records = (
            PairRecord(path(na, a), path(nb, b), na == nb, fold, na, nb)
            for fold, na, a, nb, b in rows
            if fold in chosen
        )
        super().__init__(
            records,
            image_size=CROP_SIZES.get(crops or ""),
            on_missing=on_missing,
            source=f"{pairs_file} under {image_dir}",
        )


def _parse_same(value: str, where: str) -> bool:
    token = value.strip().lower()
    if token in _TRUE or token in _FALSE:
        return token in _TRUE
    raise InvalidInputError(f"{where}: same must be 1/0, true/false or yes/no, got {value!r}")


class CSVPairs(PairDataset):
    """Labelled pairs from a CSV file with the columns ``path_a,path_b,same``.

    ``same`` is ``1``/``0`` (also ``true``/``false``, ``yes``/``no``); other columns are ignored.

    Args:
        csv: the CSV file (with a header row).
        root: folder that relative image paths are resolved against (default: the CSV's folder).
        image_size: ``(H, W)`` every image must have, or ``None`` for no check.
        on_missing: ``"skip"`` pairs with a missing image (with a warning) or raise (``"error"``).

    Raises:
        FileNotFoundError: the CSV is missing, or no pair has both images (or one is missing
            and ``on_missing="error"``).
        InvalidInputError: missing columns or an unreadable ``same`` value (the line is named).
    """

    def __init__(
        self,
        csv: PathLike,
        root: Optional[PathLike] = None,
        *,
        image_size: Optional[Tuple[int, int]] = None,
        on_missing: str = "skip",
    ) -> None:
        csv_path = Path(csv)
        if not csv_path.is_file():
            raise FileNotFoundError(f"pairs CSV not found: {csv_path}")
        base = csv_path.parent if root is None else Path(root)
        self.root = base
        with open(csv_path, newline="") as handle:
            reader = _csv_reader(handle, csv_path)
            records = [_csv_record(row, base, f"{csv_path}, line {reader.line_num}") for row in reader]
        super().__init__(records, image_size=image_size, on_missing=on_missing, source=str(csv_path))


def _csv_record(row: dict, base: Path, where: str) -> PairRecord:
    values = [row.get(key) for key in ("path_a", "path_b", "same")]
    if any(v is None or not v.strip() for v in values):
        raise InvalidInputError(f"{where}: path_a, path_b and same must all be given, got {row!r}")
    path_a, path_b, same = (v.strip() for v in values)  # type: ignore[union-attr]
    return PairRecord(base / path_a, base / path_b, _parse_same(same, where))


def _csv_reader(handle, csv_path: Path) -> "csv.DictReader[str]":  # type: ignore[type-arg]
    reader = csv.DictReader(handle)
    missing = {"path_a", "path_b", "same"} - {c.strip() for c in reader.fieldnames or []}
    if missing:
        raise InvalidInputError(
            f"{csv_path}: missing column(s) {', '.join(sorted(missing))}; the header must name path_a,path_b,same"
        )
    reader.fieldnames = [c.strip() for c in reader.fieldnames or []]
    return reader
