"""Random maps: the floor every explanation method should beat in an evaluation."""

from __future__ import annotations

from typing import Optional

import torch
from captum.attr import Attribution

from .._pair_inputs import TensorOrTuple, attribution_api
from ..errors import InvalidInputError
from ..pair import FaceVerificationPair
from ._base import PairMethodBase

__all__ = ["RandomMaps"]


class RandomMaps(PairMethodBase, Attribution):
    """Signed maps of independent uniform noise in ``[-1, 1]``, one value per pixel.

    It ignores the model (no forward pass): deletion/insertion curves of these maps are the
    chance level. The noise comes from a private ``torch.Generator`` seeded at construction, so
    two objects with the same seed produce the same sequence of maps and the global random state
    is untouched; successive calls on one object draw fresh noise.

    Args:
        pair (FaceVerificationPair): the verification model (used for input validation only).
        seed (int, optional): seed of the noise. Default: 0.
    """

    needs_other_embedding = False

    def __init__(self, pair: FaceVerificationPair, *, seed: int = 0) -> None:
        self._init_pair(pair)
        Attribution.__init__(self, pair)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise InvalidInputError(f"seed must be an int, got {seed!r}")
        self.seed = seed
        self._generator = torch.Generator().manual_seed(seed)

    @classmethod
    def get_name(cls) -> str:
        return "Random"

    def _side(self, images: torch.Tensor, other_unit: Optional[torch.Tensor]) -> torch.Tensor:
        n, _, height, width = images.shape
        noise = torch.rand((n, height, width), generator=self._generator, dtype=images.dtype)
        return (2 * noise - 1).to(images.device)

    @attribution_api
    def attribute(
        self,
        inputs: TensorOrTuple,
        additional_forward_args: object = None,
        map: str = "signed",
    ) -> TensorOrTuple:
        """Random signed maps with FGGB's contract (see :meth:`captum_fggb.FGGB.attribute`).

        Returns:
            *Tensor* or *tuple[Tensor, Tensor]*: one ``(max(N_probe, N_reference), 3, H, W)`` map
            per explained image, uniform in ``[-1, 1]``, the same value in each colour channel.
        """
        return self._explain(inputs, additional_forward_args, map, self._side)
