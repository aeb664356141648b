"""Input validation shared by every public entry point.

Images are ``(N, 3, H, W)`` RGB float tensors in ``[0, 1]``. Nothing is coerced silently: a
tensor that does not follow this convention raises :class:`~captum_fggb.errors.InvalidInputError`
with a message that names the argument and the fix.
"""

from __future__ import annotations

import numbers
from typing import Optional, Sequence

import torch
from torch import nn

from .errors import InvalidInputError

#: Largest pixel value accepted for an image in ``[0, 1]``. Small excursions (NoiseTunnel's
#: Gaussian noise, interpolation overshoot) stay allowed; a 0-255 image is far above it.
MAX_PIXEL_VALUE = 3.0
#: Smallest pixel value accepted (same reasoning as :data:`MAX_PIXEL_VALUE`).
MIN_PIXEL_VALUE = -2.0


def check_images(
    images: object,
    name: str,
    *,
    size: Optional[Sequence[int]] = None,
    dtype: Optional[torch.dtype] = None,
) -> torch.Tensor:
    """Validate a batch of face images and return it unchanged.

    Args:
        images: the value to check; must be a ``torch.Tensor`` of shape ``(N, 3, H, W)``.
        name: the argument's name, used in error messages (e.g. ``"probe"``).
        size: the ``(H, W)`` the model expects, or ``None`` to accept any size.
        dtype: the floating dtype the model computes in (default ``torch.float32``).

    Returns:
        ``images`` itself (not a copy).

    Raises:
        TypeError: ``images`` is not a tensor.
        InvalidInputError: wrong rank, channel count, size, dtype, empty batch, NaN/inf values,
            or values outside ``[MIN_PIXEL_VALUE, MAX_PIXEL_VALUE]`` (e.g. a 0-255 image).
    """
    dtype = torch.float32 if dtype is None else dtype
    if not isinstance(images, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of shape (N, 3, H, W) with RGB values in [0, 1], "
            f"got {type(images).__name__}; load images with captum_fggb.samples.load_image "
            "or torchvision.transforms.functional.to_tensor"
        )
    if images.dim() != 4:
        hint = " (a single image: add the batch dimension with .unsqueeze(0))" if images.dim() == 3 else ""
        raise InvalidInputError(
            f"{name} must have shape (N, 3, H, W), got {tuple(images.shape)}{hint}"
        )
    if images.shape[0] == 0:
        raise InvalidInputError(f"{name} is an empty batch (shape {tuple(images.shape)}); pass at least one image")
    channels = images.shape[1]
    if channels != 3:
        fixes = {
            1: "grayscale: repeat the channel with .expand(-1, 3, -1, -1)",
            4: "RGBA: drop the alpha channel with [:, :3]",
        }
        fix = fixes.get(channels, "images must be RGB with the channel dimension second (N, 3, H, W)")
        raise InvalidInputError(f"{name} must have 3 colour channels, got {channels} ({fix})")
    if not torch.is_floating_point(images):
        raise InvalidInputError(
            f"{name} has integer dtype {images.dtype}; convert 0-255 images with "
            f"{name}.float() / 255 so that values lie in [0, 1]"
        )
    if images.dtype != dtype:
        raise InvalidInputError(
            f"{name} has dtype {images.dtype} but the model computes in {dtype}; "
            f"convert with {name}.to({dtype})"
        )
    if size is not None and tuple(images.shape[-2:]) != tuple(size):
        raise InvalidInputError(
            f"{name} has spatial size {tuple(images.shape[-2:])} but the model expects "
            f"{tuple(size)}; align the face to the model's input (captum_fggb.align) or resize it"
        )
    with torch.no_grad():
        finite = torch.isfinite(images).all()
        if not bool(finite):
            raise InvalidInputError(f"{name} contains NaN or infinite values; clean the image first")
        high, low = float(images.max()), float(images.min())
    if high > MAX_PIXEL_VALUE or low < MIN_PIXEL_VALUE:
        raise InvalidInputError(
            f"{name} has values in [{low:.3g}, {high:.3g}], but images must be RGB in [0, 1]"
            + ("; it looks like a 0-255 image: divide it by 255" if high > 5 else "")
        )
    return images


def check_threshold(threshold: object, name: str = "threshold") -> float:
    """Validate a cosine decision threshold and return it as a float.

    Args:
        threshold: a real number in ``[-1, 1]`` (a Python or numpy number, or a one-element
            tensor).
        name: the argument's name for error messages.

    Returns:
        The threshold as a Python float.

    Raises:
        TypeError: not a real number.
        InvalidInputError: outside ``[-1, 1]`` or not finite.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        if isinstance(threshold, torch.Tensor) and threshold.numel() == 1:
            threshold = float(threshold)
        else:
            raise TypeError(f"{name} must be a float in [-1, 1] (a cosine similarity), got {threshold!r}")
    value = float(threshold)
    if not -1.0 <= value <= 1.0:
        raise InvalidInputError(
            f"{name}={value!r} is outside [-1, 1]; it is a cosine-similarity threshold "
            "(SFace: 0.363). A Euclidean-distance threshold must be converted first"
        )
    return value


def check_model_input(model: nn.Module, images: object) -> None:
    """Validate the input of one of the package's embedding models, at the top of its ``forward``.

    The model's ``input_size`` and the dtype of its first parameter set the expected size and
    dtype. Skipped while ``torch.jit`` traces or ``torch.compile`` / ``torch.export`` compiles
    the model (the range check reads the values), and for tensors without data (meta device).

    Raises:
        TypeError, InvalidInputError: as :func:`check_images`; the message starts with
            ``"<Model>.forward:"``.
    """
    if torch.jit.is_tracing() or torch.compiler.is_compiling():
        return
    if isinstance(images, torch.Tensor) and images.device.type == "meta":
        return
    first = next(model.parameters(), None)
    dtype = torch.float32 if first is None else first.dtype
    try:
        check_images(images, "x", size=getattr(model, "input_size", None), dtype=dtype)
    except (TypeError, InvalidInputError) as exc:
        raise type(exc)(f"{type(model).__name__}.forward: {exc}") from None


def check_gradients_available(what: str) -> None:
    """Refuse to run a gradient explanation under ``torch.inference_mode()``, where autograd is
    off for good (``torch.no_grad()`` is fine: explanations re-enable gradients inside).

    Raises:
        InvalidInputError: inference mode is active.
    """
    if torch.is_inference_mode_enabled():
        raise InvalidInputError(
            f"{what} needs gradients but torch.inference_mode() is active; call it outside "
            "inference mode (inside torch.no_grad() is fine)"
        )


def check_pair_batches(probe: torch.Tensor, reference: torch.Tensor) -> int:
    """Check that two image batches can be paired and return the paired batch size.

    Batches pair element-wise when their sizes are equal; a batch of 1 broadcasts against a
    batch of K (one probe against a gallery, or a gallery against one reference).

    Raises:
        InvalidInputError: the sizes differ and neither is 1.
    """
    n_a, n_b = probe.shape[0], reference.shape[0]
    if n_a != n_b and 1 not in (n_a, n_b):
        raise InvalidInputError(
            f"probe has batch size {n_a} but reference has {n_b}; pass equal batch sizes "
            "(one pair per row) or a batch of 1 to compare it against every image of the other"
        )
    if probe.device != reference.device:
        raise InvalidInputError(
            f"probe is on {probe.device} but reference is on {reference.device}; move both to one device"
        )
    return max(n_a, n_b)
