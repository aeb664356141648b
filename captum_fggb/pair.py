"""The verification-pair wrapper: one cosine score per pair of faces, for any Captum method."""

from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_images, check_pair_batches, check_threshold
from ._guards import borrowed, parameter_dtype
from .errors import EmbedderOutputError, InvalidInputError

__all__ = ["FaceVerificationPair"]


class FaceVerificationPair(nn.Module):
    r"""Wrap a face embedder into a verification model: ``(probe, reference) -> cosine score``.

    The score of a pair :math:`(A, B)` is the cosine similarity of the embeddings
    :math:`F_A = f(A)` and :math:`F_B = f(B)`,

    .. math:: s(A, B) = \frac{F_A \cdot F_B}{\lVert F_A \rVert \lVert F_B \rVert},

    and the decision is *Accept* when :math:`s \ge t` for the threshold :math:`t`. The forward is
    differentiable in both images and returns one scalar per pair, so every Captum attribution
    method explains it with ``target=None``: pass ``(probe, reference)`` as a tuple to explain
    both faces, or ``probe`` with ``additional_forward_args=(reference,)`` to explain one.

    The embedder is borrowed, never changed: each forward runs it with eval-mode semantics and
    frozen parameters (gradients reach the images, never the weights) and restores its training
    flags and ``requires_grad`` afterwards. The wrapper is for explanation, not for training.

    Args:
        embedder (nn.Module): maps ``(N, 3, H, W)`` RGB images in ``[0, 1]`` to ``(N, D)``
            embeddings. The package's models (:func:`captum_fggb.models.sface`, ...) carry
            ``verification_threshold`` and ``input_size`` attributes, which are used when present.
        threshold (float, optional): cosine decision threshold in ``[-1, 1]``.
            Default: ``embedder.verification_threshold``; without it a threshold is required.

    Examples::

        >>> import captum_fggb as cf
        >>> pair = cf.FaceVerificationPair(cf.models.sface())
        >>> a, b = cf.samples.load_pair("macron_1", "macron_2")
        >>> pair(a, b)                     # tensor([0.6...]) cosine score, shape (1,)
        >>> pair.decide(a, b)              # tensor([True]) Accept at 0.363
    """

    def __init__(self, embedder: nn.Module, threshold: Optional[float] = None) -> None:
        super().__init__()
        if not isinstance(embedder, nn.Module):
            raise TypeError(
                f"embedder must be a torch.nn.Module mapping (N, 3, H, W) images to (N, D) "
                f"embeddings, got {type(embedder).__name__}"
            )
        if threshold is None:
            threshold = getattr(embedder, "verification_threshold", None)
            if threshold is None:
                raise InvalidInputError(
                    f"{type(embedder).__name__} has no verification_threshold attribute; pass "
                    "FaceVerificationPair(embedder, threshold=...) with the model's cosine "
                    "decision threshold (see captum_fggb.calibration to compute one)"
                )
        self.embedder = embedder
        self.threshold: float = check_threshold(threshold)

    @property
    def input_size(self) -> Optional[Tuple[int, int]]:
        """``(H, W)`` the embedder expects, or ``None`` when it does not say."""
        size = getattr(self.embedder, "input_size", None)
        return None if size is None else (int(size[0]), int(size[1]))

    def check_images(self, images: object, name: str) -> torch.Tensor:
        """Validate ``images`` for this embedder (shape, dtype, size, range); see
        :func:`captum_fggb._checks.check_images`."""
        return check_images(images, name, size=self.input_size, dtype=parameter_dtype(self.embedder))

    def embed(self, images: torch.Tensor, name: str = "images") -> torch.Tensor:
        """Raw embeddings of a batch of images.

        Args:
            images: ``(N, 3, H, W)`` RGB in ``[0, 1]``.
            name: argument name used in error messages.

        Returns:
            ``(N, D)`` embeddings, differentiable with respect to ``images``.

        Raises:
            EmbedderOutputError: the embedder returned anything but an ``(N, D)`` tensor, or an
                embedding with zero norm (its cosine is undefined).
        """
        self.check_images(images, name)
        return self._embed(images)

    def _embed(self, images: torch.Tensor) -> torch.Tensor:
        """:meth:`embed` without the image checks (the caller has validated ``images``)."""
        with borrowed(self.embedder):
            out = self.embedder(images)
        return self.check_embeddings(out, images.shape[0])

    def check_embeddings(self, out: object, batch: int) -> torch.Tensor:
        """Check an embedder output: an ``(batch, D)`` floating tensor with no zero rows."""
        kind = type(self.embedder).__name__
        if not isinstance(out, torch.Tensor):
            raise EmbedderOutputError(
                f"{kind} returned a {type(out).__name__}, expected an (N, D) tensor of "
                "embeddings; wrap the model so that forward() returns only the embedding tensor"
            )
        if out.dim() != 2 or out.shape[0] != batch:
            raise EmbedderOutputError(
                f"{kind} returned shape {tuple(out.shape)} for a batch of {batch}, expected "
                f"({batch}, D); flatten or select the embedding inside a wrapper module"
            )
        norms = out.detach().norm(dim=1)
        if not bool(torch.isfinite(out.detach()).all()):
            raise EmbedderOutputError(
                f"{kind} returned NaN or infinite embeddings; check the model's weights (a "
                "checkpoint that diverged) and that the images are RGB in [0, 1]"
            )
        if bool((norms == 0).any()):
            raise EmbedderOutputError(
                f"{kind} returned an all-zero embedding (rows {torch.nonzero(norms == 0).flatten().tolist()}); "
                "the cosine similarity is undefined for it; check these images (a blank or "
                "constant image can embed to zero) and that the embedder's last layer can give "
                "a non-zero vector (e.g. it does not end with a ReLU)"
            )
        return out

    def forward(self, probe: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        """Cosine similarity of each pair.

        Args:
            probe: ``(N, 3, H, W)`` RGB in ``[0, 1]``.
            reference: ``(N, 3, H, W)``, or a batch of 1 against ``N`` probes (and vice versa).

        Returns:
            ``(max(N_probe, N_reference),)`` cosine scores in ``[-1, 1]``.
        """
        self.check_images(probe, "probe")
        self.check_images(reference, "reference")
        check_pair_batches(probe, reference)
        e_a = self._embed(probe)
        e_b = self._embed(reference)
        return (F.normalize(e_a, dim=1) * F.normalize(e_b, dim=1)).sum(dim=1)

    @torch.no_grad()
    def decide(self, probe: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        """Accept decisions, ``score >= threshold``, as an ``(N,)`` bool tensor."""
        return self(probe, reference) >= self.threshold

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}"
