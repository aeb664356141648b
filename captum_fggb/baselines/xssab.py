r"""xSSAB: explainable similarity score argument backpropagation (Huber et al., WACV 2024)."""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from captum.attr import GradientAttribution

from .._checks import check_threshold
from .._pair_inputs import TensorOrTuple, attribution_api
from ..pair import FaceVerificationPair
from ._base import PairMethodBase

__all__ = ["XSSAB"]


class XSSAB(PairMethodBase, GradientAttribution):
    r"""xSSAB for face verification: gradients of the positive and the negative arguments of
    the cosine score.

    Huber, Luu, Terhörst & Damer, *Efficient Explainable Face Verification based on Similarity
    Score Argument Backpropagation*, WACV 2024, https://arxiv.org/abs/2304.13409 (official code:
    https://github.com/marcohuber/xSSAB).

    With unit embeddings :math:`\hat e_A, \hat e_B \in \mathbb{R}^N` the cosine score is a sum of
    per-dimension *arguments* :math:`\hat e_{A,k} \hat e_{B,k}`. Dimensions whose argument reaches
    the bound :math:`t / N` (:math:`t` the decision threshold) are the positive arguments
    :math:`P`, the others the negative arguments :math:`Q`:

    .. math::

        s^+ = \sum_{k \in P} \hat e_{A,k} \hat e_{B,k}, \qquad
        s^- = \sum_{k \in Q} \hat e_{A,k} \hat e_{B,k}.

    Both are backpropagated separately to image :math:`A` (with :math:`\hat e_B` and the split
    held fixed), and the signed map is

    .. math::

        S_A = \operatorname{mean}_c \left| \frac{\partial s^+}{\partial A_c} \right|
            - \operatorname{mean}_c \left| \frac{\partial s^-}{\partial A_c} \right|,

    positive where the image supports Accept (the official ``save_combined_map``). :math:`S_B`
    swaps the roles. Gradients are taken with respect to the ``[0, 1]`` image; the official code
    differentiates the ``[-1, 1]`` tensor, which scales the map by a constant factor only.

    Cost: one forward pass and two backward passes per explained image.

    Args:
        pair (FaceVerificationPair): the verification model to explain (borrowed, unchanged).

    Examples::

        >>> import captum_fggb as cf
        >>> pair = cf.FaceVerificationPair(cf.models.sface())
        >>> probe, reference = cf.samples.load_pair("macron_1", "macron_2")
        >>> signed_a, signed_b = cf.XSSAB(pair).attribute((probe, reference))
    """

    def __init__(self, pair: FaceVerificationPair) -> None:
        self._init_pair(pair)
        GradientAttribution.__init__(self, pair)

    @classmethod
    def get_name(cls) -> str:
        return "xSSAB"

    @property
    def multiplies_by_inputs(self) -> bool:
        return False

    def _side(self, images: torch.Tensor, other_unit: Optional[torch.Tensor], threshold: float) -> torch.Tensor:
        assert other_unit is not None
        with torch.enable_grad():
            x = images.requires_grad_(True)
            unit = F.normalize(self.pair._embed(x), dim=1)
            arguments = unit * other_unit  # (N, D), sums to the cosine of each pair
            positive = arguments.detach() >= threshold / unit.shape[1]
            (grad_pos,) = torch.autograd.grad(arguments[positive].sum(), x, retain_graph=True)
            (grad_neg,) = torch.autograd.grad(arguments[~positive].sum(), x)
        return grad_pos.abs().mean(dim=1) - grad_neg.abs().mean(dim=1)

    @attribution_api
    def attribute(
        self,
        inputs: TensorOrTuple,
        additional_forward_args: object = None,
        map: str = "signed",
        threshold: Optional[float] = None,
    ) -> TensorOrTuple:
        r"""Explain pairs of faces.

        Args:
            inputs (Tensor or tuple[Tensor, Tensor]): ``(probe, reference)``, each
                ``(N, 3, H, W)`` RGB in ``[0, 1]``, to explain both images; or ``probe`` alone
                with ``additional_forward_args=(reference,)``. A batch of 1 broadcasts against a
                batch of K.
            additional_forward_args (tuple[Tensor], optional): ``(reference,)`` when ``inputs``
                is the probe alone. Default: ``None``.
            map (str, optional): ``"signed"``, ``"similarity"`` (positive part) or
                ``"dissimilarity"`` (magnitude of the negative part). Default: ``"signed"``.
            threshold (float, optional): decision threshold :math:`t` that sets the bound
                :math:`t/N`. Default: the pair's threshold.

        Returns:
            *Tensor* or *tuple[Tensor, Tensor]* of **attributions**: one map per explained image,
            ``(max(N_probe, N_reference), 3, H, W)``, the same value in each colour channel.
            Units: cosine per unit of pixel intensity.
        """
        t = self.pair.threshold if threshold is None else check_threshold(threshold)
        return self._explain(inputs, additional_forward_args, map, lambda x, other: self._side(x, other, t))
