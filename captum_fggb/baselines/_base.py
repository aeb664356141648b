"""Machinery shared by the baselines: the one-sided score and the pair-attribution contract.

Every baseline explains one image of a pair at a time, with the other image held fixed: the
*explained* batch goes through the method, the *other* image only enters through its unit
embedding, computed once. :class:`SideScore` is that one-sided verification score, a module that
Captum's built-ins (including the hook-based GuidedBackprop and LayerGradCam) can run, and
:class:`PairMethodBase` implements the call contract of :class:`captum_fggb.FGGB` around a
per-side function.
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_pair_batches
from .._pair_inputs import TensorOrTuple, check_map, parse_pair_inputs, select_map, to_input_shape
from ..errors import InvalidInputError
from ..pair import FaceVerificationPair

__all__ = ["SideScore", "PairMethodBase", "SideFunction", "expand_batch", "check_positive_int"]

#: ``side(explained, other_unit) -> signed`` with ``explained`` ``(N, 3, H, W)``, ``other_unit``
#: ``(N, D)`` (or ``None`` for methods that need no embedding) and ``signed`` ``(N, H, W)``.
SideFunction = Callable[[torch.Tensor, Optional[torch.Tensor]], torch.Tensor]


class SideScore(nn.Module):
    r"""One-sided verification score :math:`s(x) = \hat f(x) \cdot \hat e`, the cosine between
    the explained images and a fixed unit embedding of the other image of each pair.

    ``forward(images, other_unit)`` takes ``(N, 3, H, W)`` images and the ``(N, D)`` unit
    embeddings of their partners (passed by Captum as ``additional_forward_args``) and returns
    ``(N,)`` cosine scores. Precomputing the partner's embedding halves the cost of perturbation
    methods and keeps layer hooks from seeing the partner's forward pass.
    """

    def __init__(self, pair: FaceVerificationPair) -> None:
        super().__init__()
        self.pair = pair

    def forward(self, images: torch.Tensor, other_unit: torch.Tensor) -> torch.Tensor:
        """``(N,)`` cosine of ``(N, 3, H, W)`` images against ``(N, D)`` unit embeddings."""
        unit = F.normalize(self.pair._embed(images), dim=1)
        return (unit * other_unit).sum(dim=1)


def expand_batch(images: torch.Tensor, n: int) -> torch.Tensor:
    """``images`` with batch size ``n`` (a batch of 1 is repeated; equal sizes pass through)."""
    if images.shape[0] == n:
        return images
    return images.expand(n, *images.shape[1:])


def check_positive_int(value: object, name: str) -> int:
    """``value`` as an int >= 1, or :class:`~captum_fggb.errors.InvalidInputError` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(f"{name} must be a positive int, got {value!r}")
    return value


class PairMethodBase:
    """Mixin giving a baseline FGGB's ``attribute`` contract (see
    :mod:`captum_fggb._pair_inputs`).

    Subclasses also derive from a Captum base class, set ``self.pair`` through
    :meth:`_init_pair`, and call :meth:`_explain` from their ``attribute`` with a per-side
    function.
    """

    pair: FaceVerificationPair
    #: Whether the per-side function needs the other image's unit embedding.
    needs_other_embedding: bool = True

    def _init_pair(self, pair: object) -> FaceVerificationPair:
        if not isinstance(pair, FaceVerificationPair):
            raise TypeError(
                f"{type(self).__name__} explains a FaceVerificationPair, got {type(pair).__name__}; "
                f"wrap your embedder first: {type(self).__name__}(FaceVerificationPair(embedder, threshold=...))"
            )
        self.pair = pair
        return pair

    def _unit(self, images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return F.normalize(self.pair._embed(images.detach()), dim=1)

    def _explain(
        self,
        inputs: TensorOrTuple,
        additional_forward_args: object,
        map: str,
        side: SideFunction,
    ) -> TensorOrTuple:
        """Parse and validate a call, run ``side`` for the probe (and the reference when
        ``inputs`` is a pair), and return the selected maps shaped like the inputs.

        A batch of 1 is repeated against a batch of K, so every returned map has
        ``max(N_probe, N_reference)`` rows. The explained images are detached copies: the
        caller's tensors are never modified.
        """
        parsed = parse_pair_inputs(inputs, additional_forward_args)
        map_name = check_map(map)
        probe = self.pair.check_images(parsed.probe, "probe")
        reference = self.pair.check_images(parsed.reference, "reference")
        n = check_pair_batches(probe, reference)
        units = {}
        if self.needs_other_embedding:
            units["reference"] = expand_batch(self._unit(reference), n)
            if parsed.both:
                units["probe"] = expand_batch(self._unit(probe), n)
        explained = [(probe, units.get("reference"))]
        if parsed.both:
            explained.append((reference, units.get("probe")))
        outputs = []
        for images, other_unit in explained:
            x = expand_batch(images.detach(), n).clone()
            signed = side(x, other_unit).detach().to(x.dtype)
            outputs.append(to_input_shape(select_map(signed, map_name), images.shape[1]))
        return parsed.format(tuple(outputs))
