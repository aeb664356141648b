"""YuNet face detection through ``cv2.FaceDetectorYN`` and the crop warp of :mod:`captum_fggb.align`."""

from __future__ import annotations

import functools
import threading
from typing import Tuple

import cv2
import numpy as np

from .models._files import YUNET_ONNX, verified_path

__all__ = ["YUNET_SCORE", "YUNET_NMS", "YUNET_TOP_K", "MAX_DETECTION_SIZE", "detect_faces", "largest_face", "warp"]

#: YuNet settings of the project's reference crops: score threshold, NMS threshold, top-k.
YUNET_SCORE, YUNET_NMS, YUNET_TOP_K = 0.6, 0.3, 50
#: Photos are downscaled to at most this many pixels (longer side) before detection.
MAX_DETECTION_SIZE = 800

_LOCK = threading.Lock()


@functools.lru_cache(maxsize=None)
def _yunet(score_threshold: float) -> "cv2.FaceDetectorYN":
    """One YuNet detector per score threshold; its input size is set per image."""
    path = verified_path(YUNET_ONNX.locate(), YUNET_ONNX.sha256)
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # OpenCV 5 warns about targets
    try:
        return cv2.FaceDetectorYN.create(str(path), "", (320, 320), score_threshold, YUNET_NMS, YUNET_TOP_K)
    finally:
        cv2.utils.logging.setLogLevel(level)


def detect_faces(rgb: np.ndarray, score_threshold: float, max_size: int) -> np.ndarray:
    """YuNet faces of ``rgb`` as ``(K, 15)`` rows ``x, y, w, h, 5 × (x, y), score`` in source pixels.

    Args:
        rgb: ``(H, W, 3)`` uint8 RGB photo.
        score_threshold: minimum face score.
        max_size: the photo is downscaled (``INTER_AREA``) to at most this longer side for detection.
    """
    h, w = rgb.shape[:2]
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    scale = min(1.0, max_size / max(h, w))
    if scale < 1.0:
        bgr = cv2.resize(bgr, (max(1, int(w * scale)), max(1, int(h * scale))), interpolation=cv2.INTER_AREA)
    detector = _yunet(float(score_threshold))
    with _LOCK:
        detector.setInputSize((bgr.shape[1], bgr.shape[0]))
        _, faces = detector.detect(bgr)
    if faces is None or len(faces) == 0:
        return np.zeros((0, 15), dtype=np.float64)
    faces = faces.astype(np.float64)
    if scale < 1.0:  # back to source pixels (pixel centres: x_src + 0.5 = (x_small + 0.5) / s)
        sx, sy = bgr.shape[1] / w, bgr.shape[0] / h
        xs, ys = [0, 4, 6, 8, 10, 12], [1, 5, 7, 9, 11, 13]
        faces[:, xs] = (faces[:, xs] + 0.5) / sx - 0.5
        faces[:, ys] = (faces[:, ys] + 0.5) / sy - 0.5
        faces[:, 2] /= sx
        faces[:, 3] /= sy
    return faces


def largest_face(faces: np.ndarray) -> np.ndarray:
    """The row of :func:`detect_faces` with the largest box area."""
    return faces[int(np.argmax(faces[:, 2] * faces[:, 3]))]


def warp(rgb: np.ndarray, matrix: np.ndarray, size: Tuple[int, int], antialias: bool) -> np.ndarray:
    """``cv2.warpAffine`` to ``size`` (W, H); when the warp shrinks by more than 2x and ``antialias``,
    the photo is first area-averaged (``INTER_AREA``) so that the warp itself shrinks by exactly 2x
    (the same rule as dlib's chip extraction, which goes down an image pyramid)."""
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    if antialias and scale < 0.5:
        h, w = rgb.shape[:2]
        new_w, new_h = max(1, round(w * 2 * scale)), max(1, round(h * 2 * scale))
        rgb = cv2.resize(rgb, (new_w, new_h), interpolation=cv2.INTER_AREA)
        kx, ky = new_w / w, new_h / h  # small-image pixel -> source pixel (pixel centres)
        to_source = np.array([[1 / kx, 0, 0.5 / kx - 0.5], [0, 1 / ky, 0.5 / ky - 0.5], [0, 0, 1]])
        matrix = (np.vstack([matrix, [0, 0, 1]]) @ to_source)[:2]
    return cv2.warpAffine(rgb, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
