"""Read what users call "an image" (a file, a PIL image, a numpy array, a tensor) as one layout:
an upright ``(H, W, 3)`` ``uint8`` RGB numpy array.

Conversion rules (documented in :func:`captum_fggb.align.align_face`):

* EXIF orientation is applied (``PIL.ImageOps.exif_transpose``) for files and PIL images.
* Grayscale is replicated to three channels; an alpha channel is dropped (the colour values are
  used as stored, as OpenCV's ``imread`` and ``face_recognition`` do); palette, CMYK and YCbCr
  images are converted to RGB by Pillow.
* 16-bit values ``v`` in ``[0, 65535]`` become ``round(v / 257)`` in ``[0, 255]`` (full range kept).
* Floating-point images are accepted only as tensors, with values in ``[0, 1]`` (the package's
  convention); they become ``round(255 x)``. Float numpy arrays and float image files raise, since
  their range is ambiguous.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Tuple, Union

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import InvalidInputError

__all__ = ["ImageLike", "read_rgb"]

#: Everything :func:`read_rgb` accepts.
ImageLike = Union[str, "os.PathLike[str]", Image.Image, np.ndarray, torch.Tensor]

_SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N"}


def _from_16bit(values: np.ndarray) -> np.ndarray:
    return np.rint(values.astype(np.float64) / 257.0).astype(np.uint8)


def _to_three_channels(array: np.ndarray, label: str) -> np.ndarray:
    """``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)`` uint8 → C-contiguous ``(H, W, 3)``."""
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise InvalidInputError(
            f"{label} has shape {array.shape}; expected (H, W) grayscale, (H, W, 3) RGB or (H, W, 4) RGBA"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise InvalidInputError(f"{label} is empty (shape {array.shape})")
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    return np.ascontiguousarray(array[:, :, :3])


def _from_pil(img: Image.Image, label: str) -> np.ndarray:
    try:
        img = ImageOps.exif_transpose(img)
    except (OSError, ValueError, TypeError, SyntaxError) as exc:  # malformed EXIF block
        raise InvalidInputError(f"cannot read the EXIF orientation of {label} ({exc})") from exc
    if img.mode in _SIXTEEN_BIT_MODES:
        return _to_three_channels(_from_16bit(np.asarray(img)), label)
    if img.mode == "I":  # 32-bit integer mode: Pillow's reading of some 16-bit files
        values = np.asarray(img)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise InvalidInputError(
                f"{label} is a 32-bit integer image with values outside [0, 65535]; convert it to 8-bit RGB first"
            )
        return _to_three_channels(_from_16bit(values), label)
    if img.mode == "F":
        raise InvalidInputError(
            f"{label} is a 32-bit floating-point image, whose range is ambiguous; convert it to 8-bit RGB first"
        )
    try:
        rgb = img.convert("RGB")
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"cannot convert {label} (mode {img.mode}) to RGB ({exc})") from exc
    return _to_three_channels(np.asarray(rgb, dtype=np.uint8), label)


def _from_file(path: Path) -> np.ndarray:
    if not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}")
    try:
        with Image.open(path) as img:
            img.load()  # decode now: truncated and corrupt files fail here, not later
            return _from_pil(img, str(path))
    except InvalidInputError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise InvalidInputError(
            f"cannot read {path} as an image ({exc}); pass a readable JPEG, PNG or other Pillow-supported file"
        ) from exc


def _from_numpy(array: np.ndarray, label: str) -> np.ndarray:
    if array.dtype == np.uint16:
        array = _from_16bit(array)
    elif array.dtype != np.uint8:
        raise InvalidInputError(
            f"{label} has dtype {array.dtype}; numpy images must be uint8 (or uint16) RGB in (H, W, 3) "
            "layout; convert a [0, 1] float array with (x * 255).round().astype(np.uint8)"
        )
    return _to_three_channels(array, label)


def _from_tensor(tensor: torch.Tensor, label: str) -> np.ndarray:
    t = tensor.detach().cpu()
    if t.dim() == 4:
        raise InvalidInputError(
            f"{label} has shape {tuple(t.shape)}; pass one image (C, H, W), e.g. {label}[0], "
            "or use align_faces for several"
        )
    if t.dim() not in (2, 3) or (t.dim() == 3 and t.shape[0] not in (1, 3, 4)):
        raise InvalidInputError(f"{label} has shape {tuple(t.shape)}; expected a (3, H, W) RGB tensor (or (1, H, W))")
    if t.dtype == torch.uint8:
        values = t.numpy()
    elif t.is_floating_point():
        if not bool(torch.isfinite(t).all()) or float(t.min()) < 0.0 or float(t.max()) > 1.0:
            raise InvalidInputError(
                f"{label} is a float tensor with values outside [0, 1] (or NaN); float images must be RGB in "
                "[0, 1]; pass a 0-255 image as a uint8 tensor"
            )
        values = (t.double() * 255.0).round().to(torch.uint8).numpy()
    else:
        raise InvalidInputError(f"{label} has dtype {t.dtype}; pass a uint8 (0-255) or float ([0, 1]) tensor")
    if values.ndim == 3:
        values = values.transpose(1, 2, 0)
    return _to_three_channels(values, label)


def read_rgb(image: object, name: str = "image") -> Tuple[np.ndarray, str]:
    """Read ``image`` as an upright ``(H, W, 3)`` ``uint8`` RGB numpy array (a new array).

    Args:
        image: a file path (``str`` / ``os.PathLike``), a ``PIL.Image.Image``, a numpy array
            ``(H, W, 3)`` RGB / ``(H, W, 4)`` RGBA / ``(H, W)`` gray (``uint8`` or ``uint16``),
            or a tensor ``(3, H, W)`` / ``(1, H, W)`` / ``(4, H, W)`` (``uint8`` 0-255, or float in
            ``[0, 1]``).
        name: the argument's name for error messages when ``image`` is not a file.

    Returns:
        ``(rgb, label)``: the array and a label naming the source for messages (the path for files).

    Raises:
        FileNotFoundError: the path does not exist.
        InvalidInputError: the file is not a readable image, or the array/tensor layout, dtype or
            range is not one of the accepted ones.
        TypeError: ``image`` is none of the accepted types.
    """
    if isinstance(image, (str, os.PathLike)):
        path = Path(image)
        return _from_file(path), str(path)
    if isinstance(image, Image.Image):
        label = f"{name} (PIL image {image.size[0]}x{image.size[1]}, mode {image.mode})"
        return _from_pil(image, label), label
    if isinstance(image, np.ndarray):
        label = f"{name} (numpy array {image.shape}, {image.dtype})"
        return _from_numpy(image, label), label
    if isinstance(image, torch.Tensor):
        label = f"{name} (tensor {tuple(image.shape)}, {image.dtype})"
        return _from_tensor(image, label), label
    raise TypeError(
        f"{name} must be a file path, a PIL image, a numpy array (H, W, 3) RGB or a tensor (3, H, W), "
        f"got {type(image).__name__}"
    )
