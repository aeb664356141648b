"""The sample faces shipped with the package (six public figures, credits in ``assets/CREDITS.md``).

Each sample exists as the original photo (``photos/<name>.jpg``) and as a 112×112 crop aligned to
the ArcFace template (``aligned/<name>.png``), the input of SFace.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Dict, List, Tuple, Union

import torch

from ._image_io import read_rgb
from .errors import InvalidInputError

__all__ = [
    "SAMPLES",
    "GENUINE_PAIR",
    "IMPOSTOR_PAIR",
    "available",
    "aligned_path",
    "photo_path",
    "credits_path",
    "load_image",
    "load_sample",
    "load_pair",
]

#: Sample name → identity.
SAMPLES: Dict[str, str] = {
    "macron_1": "Emmanuel Macron",
    "macron_2": "Emmanuel Macron",
    "ardern_1": "Jacinda Ardern",
    "ardern_2": "Jacinda Ardern",
    "obama_1": "Barack Obama",
    "sunak_1": "Rishi Sunak",
}
#: A pair of two photos of the same person, taken 11 years apart.
GENUINE_PAIR: Tuple[str, str] = ("macron_1", "macron_2")
#: A pair of two different people.
IMPOSTOR_PAIR: Tuple[str, str] = ("ardern_1", "obama_1")

_ASSETS = resources.files("captum_fggb") / "assets"


def available() -> List[str]:
    """Names of the shipped samples."""
    return list(SAMPLES)


def _check_name(name: str) -> str:
    if name not in SAMPLES:
        raise InvalidInputError(f"unknown sample {name!r}; available samples: {', '.join(SAMPLES)}")
    return name


def aligned_path(name: str) -> Path:
    """Path of the 112×112 ArcFace-aligned crop of a sample (PNG)."""
    return Path(str(_ASSETS / "aligned" / f"{_check_name(name)}.png"))


def photo_path(name: str) -> Path:
    """Path of the original, unaligned photo of a sample (JPEG)."""
    return Path(str(_ASSETS / "photos" / f"{_check_name(name)}.jpg"))


def credits_path() -> Path:
    """Path of the credits file (authors and licences of the sample photos)."""
    return Path(str(_ASSETS / "CREDITS.md"))


def load_image(path: Union[str, Path]) -> torch.Tensor:
    """Read an image file as a ``(3, H, W)`` float32 RGB tensor in ``[0, 1]`` (no alignment).

    The file is decoded like ``captum_fggb.align.align_face`` decodes photos: EXIF orientation
    applied, grayscale replicated to RGB, an alpha channel dropped, 16-bit grayscale values ``v``
    read as ``round(v / 257) / 255`` (16-bit RGB files: ``(v // 256) / 255``, Pillow's reading); a
    floating-point image file raises.

    Raises:
        FileNotFoundError: the file does not exist.
        InvalidInputError: the file is not a readable image (corrupt, truncated, not an image).
    """
    rgb, _ = read_rgb(Path(path))
    return torch.tensor(rgb).permute(2, 0, 1).float().div_(255.0)


def load_sample(name: str) -> torch.Tensor:
    """The aligned crop of a sample as a ``(1, 3, 112, 112)`` RGB tensor in ``[0, 1]``."""
    return load_image(aligned_path(name)).unsqueeze(0)


def load_pair(name_a: str, name_b: str) -> Tuple[torch.Tensor, torch.Tensor]:
    """Two aligned samples, each ``(1, 3, 112, 112)``, ready for ``pair(probe, reference)``."""
    return load_sample(name_a), load_sample(name_b)
