r"""FGGB: Feature-Guided Gradient Backpropagation (Lu, Xu & Ebrahimi, IEEE FG 2024)."""

from __future__ import annotations

import math
from typing import Optional, Tuple

import torch
from captum.attr import GradientAttribution
from torchvision.transforms.functional import gaussian_blur
from tqdm.auto import tqdm

from ._checks import check_pair_batches, check_threshold
from ._pair_inputs import (
    TensorOrTuple,
    attribution_api,
    check_map,
    parse_pair_inputs,
    select_map,
    to_input_shape,
)
from ._many_pairs import ImageCollection, ImagesLike, check_index_pairs, check_side
from .errors import InvalidInputError
from .jacobian import check_strategy, dimension_maps
from .pair import FaceVerificationPair

__all__ = ["FGGB"]


class FGGB(GradientAttribution):
    r"""Feature-Guided Gradient Backpropagation for face verification.

    Lu, Xu & Ebrahimi, *Explainable Face Verification via Feature-Guided Gradient
    Backpropagation*, IEEE FG 2024, https://arxiv.org/abs/2403.04549.

    For a pair of images :math:`(I_A, I_B)` with embeddings :math:`F_A, F_B \in \mathbb{R}^N`
    and unit embeddings :math:`\hat F = F / \lVert F \rVert`, FGGB computes for every embedding
    dimension :math:`k = 1, \dots, N`

    .. math::

        G_A^k = \operatorname{mean}_{c} \left| \frac{\partial \hat F_A^k}{\partial I_{A,c}} \right|,
        \qquad
        \tilde G_A^k = \frac{G_A^k}{\lVert G_A^k \rVert_2}
        \qquad \text{(Eqs. 1-2)}

    weights every map by that dimension's share of the cosine margin,

    .. math::

        w = \frac{F_A \odot F_B}{\lVert F_A \rVert \, \lVert F_B \rVert}, \qquad
        S_A = \sum_{k=1}^{N} \tilde G_A^k \left( w_k - \frac{t}{N} \right)
        \qquad \text{(Eqs. 3-4)}

    and splits the signed map into the *similarity map* :math:`S_A^+ = \max(S_A, 0)` (regions
    that support Accept) and the *dissimilarity map* :math:`S_A^- = \max(-S_A, 0)` (regions that
    support Reject; Eq. 5, stored as magnitudes). :math:`t` is the verification threshold. Since
    :math:`\sum_k (w_k - t/N) = \cos(F_A, F_B) - t`, the weights sum to the decision margin.
    :math:`S_B` is obtained with the roles swapped (the weights :math:`w` are shared).

    Choices the paper text leaves open (see ``docs/method``): the embedding is L2-normalised before
    differentiation, the absolute gradient is averaged over the colour channels, and each map is
    divided by its L2 (Frobenius) norm, as in the FAME transcription of the authors' script.
    No smoothing is applied unless ``smoothing_sigma`` is set.

    Cost: one forward pass and :math:`N` backward passes per explained image (128 for SFace);
    an image explained against many references, or shared by many pairs
    (:meth:`attribute_pairs`), pays them once.

    Args:
        pair (FaceVerificationPair): the verification model to explain; its embedder is
            borrowed (eval semantics, frozen parameters) and handed back unchanged: a model in
            training mode is explained with eval-mode semantics (BatchNorm running statistics,
            no dropout) and handed back in training mode, with every ``requires_grad``,
            ``.grad``, hook and weight as it was, also when the call raises. The caller's image
            tensors are never modified (values, ``requires_grad``, ``.grad``).
        smoothing_sigma (float, optional): standard deviation in pixels of a Gaussian blur
            applied to the signed map before the split (the FAME scripts use 5 with a 25-pixel
            kernel). Default: ``None`` (no smoothing, the paper's equations).
        strategy (str, optional): how the :math:`N` gradients are computed (see
            :mod:`captum_fggb.jacobian`): ``"sequential"`` (one backward pass per dimension,
            the fastest on a CPU), ``"batched"`` (``internal_batch_size`` dimensions per
            vectorised backward pass) or ``"auto"`` (sequential on a CPU, batched chunks on an
            accelerator). Every strategy gives the same maps. Default: ``"auto"``.

    Examples::

        >>> import captum_fggb as cf
        >>> pair = cf.FaceVerificationPair(cf.models.sface())
        >>> probe, reference = cf.samples.load_pair("macron_1", "macron_2")
        >>> fggb = cf.FGGB(pair)
        >>> signed_a, signed_b = fggb.attribute((probe, reference))
        >>> sim_a, sim_b = fggb.attribute((probe, reference), map="similarity")
        >>> dis_a = fggb.attribute(probe, additional_forward_args=(reference,), map="dissimilarity")
    """

    def __init__(
        self, pair: FaceVerificationPair, *, smoothing_sigma: Optional[float] = None, strategy: str = "auto"
    ) -> None:
        if not isinstance(pair, FaceVerificationPair):
            raise TypeError(
                f"FGGB explains a FaceVerificationPair, got {type(pair).__name__}; wrap your "
                "embedder first: FGGB(FaceVerificationPair(embedder, threshold=...))"
            )
        if smoothing_sigma is not None and not (isinstance(smoothing_sigma, (int, float)) and smoothing_sigma > 0):
            raise InvalidInputError(f"smoothing_sigma must be a positive number of pixels or None, got {smoothing_sigma!r}")
        GradientAttribution.__init__(self, pair)
        self.pair = pair
        self.smoothing_sigma = None if smoothing_sigma is None else float(smoothing_sigma)
        self.strategy = check_strategy(strategy)

    @classmethod
    def get_name(cls) -> str:
        return "FGGB"

    @property
    def multiplies_by_inputs(self) -> bool:
        return False

    def dimension_maps(
        self, images: torch.Tensor, *, internal_batch_size: Optional[int] = None
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Eqs. 1-2 for a batch of images: ``(N, D, H, W)`` normalised maps and ``(N, D)``
        unit embeddings, computed with this instance's ``strategy`` (``internal_batch_size``
        dimensions per backward pass). Reuse them with :meth:`combine` to explain one image
        against many references without recomputing its gradients."""
        self.pair.check_images(images, "images")
        return self._maps(images, internal_batch_size)

    def _maps(self, images: torch.Tensor, internal_batch_size: Optional[int]) -> Tuple[torch.Tensor, torch.Tensor]:
        return dimension_maps(self.pair, images, strategy=self.strategy, internal_batch_size=internal_batch_size)

    def combine(
        self,
        maps: torch.Tensor,
        unit: torch.Tensor,
        unit_other: torch.Tensor,
        threshold: Optional[float] = None,
    ) -> torch.Tensor:
        r"""Eqs. 3-4: the signed map :math:`S = \sum_k \tilde G^k (w_k - t/N)`.

        Args:
            maps: ``(N_a, D, H, W)`` from :meth:`dimension_maps` for the explained images.
            unit: ``(N_a, D)`` unit embeddings of the explained images.
            unit_other: ``(N_b, D)`` unit embeddings of the other images (``N_a``, ``N_b`` equal
                or one of them 1).
            threshold: decision threshold; default ``pair.threshold``.

        Returns:
            ``(max(N_a, N_b), H, W)`` signed map (positive supports Accept).
        """
        t = self.pair.threshold if threshold is None else check_threshold(threshold)
        weights = unit * unit_other - t / unit.shape[1]  # (N, D), sums to cos - t
        if maps.shape[0] == 1 and weights.shape[0] > 1:
            signed = torch.einsum("nd,dhw->nhw", weights, maps[0])
        else:
            signed = torch.einsum("nd,ndhw->nhw", weights, maps)
        if self.smoothing_sigma is not None:
            sigma = self.smoothing_sigma
            size = 2 * math.ceil(2.4 * sigma) + 1  # 25 pixels for sigma 5, as in the FAME scripts
            signed = gaussian_blur(signed.unsqueeze(1), [size, size], [sigma, sigma]).squeeze(1)
        return signed

    @attribution_api
    def attribute(
        self,
        inputs: TensorOrTuple,
        additional_forward_args: object = None,
        map: str = "signed",
        threshold: Optional[float] = None,
        internal_batch_size: Optional[int] = None,
    ) -> TensorOrTuple:
        r"""Explain pairs of faces.

        Args:
            inputs (Tensor or tuple[Tensor, Tensor]): ``(probe, reference)``, each
                ``(N, 3, H, W)`` RGB in ``[0, 1]``, to explain both images; or ``probe`` alone
                with ``additional_forward_args=(reference,)`` to explain the probe only. Batches
                pair row by row; a batch of 1 broadcasts against a batch of K.
            additional_forward_args (tuple[Tensor], optional): ``(reference,)`` when ``inputs``
                is the probe alone. Default: ``None``.
            map (str, optional): ``"signed"`` (positive supports Accept, negative supports
                Reject), ``"similarity"`` (:math:`S^+ \ge 0`) or ``"dissimilarity"``
                (:math:`|S^-| \ge 0`). Default: ``"signed"``.
            threshold (float, optional): decision threshold :math:`t` in ``[-1, 1]``.
                Default: the pair's threshold.
            internal_batch_size (int, optional): embedding dimensions per backward pass (see
                :func:`captum_fggb.jacobian.dimension_maps`); bounds peak memory. Default:
                ``None`` (the strategy's default: one at a time on a CPU).

        Returns:
            *Tensor* or *tuple[Tensor, Tensor]* of **attributions**: one map per explained image,
            ``(max(N_probe, N_reference), 3, H, W)``, the same value in each colour channel, in
            the structure of ``inputs``. Units: a weighted sum of unit-norm gradient maps; the
            map sums are comparable across pairs of the same model, not across models.
        """
        parsed = parse_pair_inputs(inputs, additional_forward_args)
        map_name = check_map(map)
        t = self.pair.threshold if threshold is None else check_threshold(threshold)
        probe = self.pair.check_images(parsed.probe, "probe")
        reference = self.pair.check_images(parsed.reference, "reference")
        check_pair_batches(probe, reference)

        maps_a, unit_a = self._maps(probe, internal_batch_size)  # once, also against K references
        if parsed.both:
            maps_b, unit_b = self._maps(reference, internal_batch_size)
        else:
            with torch.no_grad():
                unit_b = torch.nn.functional.normalize(self.pair._embed(reference.detach()), dim=1)
        outputs = [self.combine(maps_a, unit_a, unit_b, t)]
        if parsed.both:
            outputs.append(self.combine(maps_b, unit_b, unit_a, t))
        return parsed.format(tuple(to_input_shape(select_map(s, map_name)) for s in outputs))

    def attribute_pairs(
        self,
        images: ImagesLike,
        index_pairs: object,
        *,
        map: str = "signed",
        side: str = "probe",
        threshold: Optional[float] = None,
        internal_batch_size: Optional[int] = None,
        show_progress: bool = False,
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        r"""Explain many pairs drawn from one collection of images, each image's gradients once.

        Row ``p`` of the result equals ``attribute((images[i:i+1], images[j:j+1]), map=map)``
        for ``(i, j) = index_pairs[p]`` (up to float rounding: the weights come from one batched
        embedding of the images). The per-dimension maps (Eqs. 1-2, the whole cost) are computed
        once per unique explained image, never once per pair side: images are processed one at a
        time, their maps combined with every pair that explains them and then dropped, so
        memory stays bounded by one image's maps plus the outputs (``P × 3 × H × W`` values per
        side; for very many pairs, call it on groups of pairs that share images).

        Args:
            images: ``(M, 3, H, W)`` RGB in ``[0, 1]``, or a sequence of ``(3, H, W)`` /
                ``(1, 3, H, W)`` tensors. Images no pair refers to are neither read nor checked.
            index_pairs: ``(P, 2)`` integer tensor or sequence of ``(i, j)`` indices into
                ``images``; ``i`` is the probe, ``j`` the reference. Repeats are allowed.
            map: ``"signed"``, ``"similarity"`` or ``"dissimilarity"`` (as in :meth:`attribute`).
            side: ``"probe"`` explains ``images[i]`` against ``images[j]``; ``"both"`` also
                explains ``images[j]`` against ``images[i]``.
            threshold: decision threshold :math:`t` in ``[-1, 1]``. Default: the pair's.
            internal_batch_size: embedding dimensions per backward pass (see :meth:`attribute`).
            show_progress: show a ``tqdm`` bar over the unique explained images.

        Returns:
            ``(maps_probe, maps_reference)``: ``(P, 3, H, W)`` maps of the first images of the
            pairs, and of the second images for ``side="both"`` (``None`` for ``"probe"``).

        Raises:
            InvalidInputError: bad ``map``, ``side``, ``threshold``, images or indices.
            TypeError: ``images`` is neither a tensor nor a sequence of tensors.

        Examples::

            >>> crops = torch.stack([...])                 # (M, 3, 112, 112) unique images
            >>> pairs = torch.tensor([[0, 1], [0, 2], [3, 1]])
            >>> maps_a, maps_b = fggb.attribute_pairs(crops, pairs, side="both")
        """
        map_name = check_map(map)
        side = check_side(side)
        t = self.pair.threshold if threshold is None else check_threshold(threshold)
        collection = ImageCollection(images)
        pairs = check_index_pairs(index_pairs, len(collection))
        columns = (0, 1) if side == "both" else (0,)

        def embed(batch: torch.Tensor) -> torch.Tensor:
            return self.pair._embed(self.pair.check_images(batch, "images"))

        # the weights: every image a pair refers to, embedded once, batched, without gradients
        unit = collection.unit_embeddings(embed, torch.unique(pairs).tolist())
        size = (pairs.shape[0], 3) + tuple(collection.batch([0]).shape[-2:])
        outputs = [unit.new_empty(size) for _ in columns] + [None] * (2 - len(columns))
        pairs_dev = pairs.to(unit.device)
        explained = torch.unique(pairs[:, list(columns)]).tolist()
        for u in tqdm(explained, desc="FGGB", unit="image", disable=not show_progress):
            maps_u, _ = self._maps(collection.batch([u]), internal_batch_size)  # (1, D, H, W): the cost
            for column in columns:
                rows = (pairs_dev[:, column] == u).nonzero().flatten()
                if rows.numel() > 0:  # every pair that explains image u on this side
                    signed = self.combine(maps_u, unit[u : u + 1], unit[pairs_dev[rows, 1 - column]], t)
                    outputs[column][rows] = to_input_shape(select_map(signed, map_name))
            del maps_u  # bounded memory: one image's maps at a time
        return outputs[0], outputs[1]
