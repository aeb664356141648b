r"""CorrRISE: correlation-based randomized input sampling for face verification (Lu et al., WACV 2024)."""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from captum.attr import PerturbationAttribution
from tqdm.auto import tqdm

from .._pair_inputs import TensorOrTuple, attribution_api
from ..errors import InvalidInputError
from ..pair import FaceVerificationPair
from ._base import PairMethodBase, check_positive_int

__all__ = ["CorrRISE", "REFERENCE_SIZE", "random_patch_masks", "average_ranks", "rank_correlation_map"]

#: Face size (pixels) that ``patch_size`` refers to: the 112×112 ArcFace crop of the paper.
REFERENCE_SIZE = 112


def random_patch_masks(
    n_masks: int,
    size: Tuple[int, int],
    *,
    patches: int = 3,
    patch_size: Tuple[int, int] = (30, 30),
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    """Keep-masks with ``patches`` black rectangles each (1 = pixel kept, 0 = occluded).

    Patch origins are uniform over the positions where the patch fits inside the image
    (``[0, H - h]`` × ``[0, W - w]``); patches may overlap.

    Args:
        n_masks: number of masks ``M``.
        size: ``(H, W)`` of the masks.
        patches: rectangles per mask.
        patch_size: ``(h, w)`` of each rectangle in pixels, at most ``size``.
        generator: random source (default: torch's global generator).

    Returns:
        ``(M, H, W)`` float32 tensor of zeros and ones.
    """
    height, width = size
    ph, pw = patch_size
    if not (1 <= ph <= height and 1 <= pw <= width):
        raise InvalidInputError(f"patch size {patch_size} does not fit in images of size {size}")
    rows = torch.randint(0, height - ph + 1, (n_masks, patches, 1), generator=generator)
    cols = torch.randint(0, width - pw + 1, (n_masks, patches, 1), generator=generator)
    y, x = torch.arange(height), torch.arange(width)
    in_rows = (y >= rows) & (y < rows + ph)  # (M, P, H)
    in_cols = (x >= cols) & (x < cols + pw)  # (M, P, W)
    occluded = (in_rows.unsqueeze(-1) & in_cols.unsqueeze(-2)).any(dim=1)  # (M, H, W)
    return (~occluded).float()


def average_ranks(scores: torch.Tensor) -> torch.Tensor:
    """Ranks ``1..M`` of each row of ``(N, M)`` scores, ties sharing their average rank (as
    :func:`scipy.stats.rankdata`)."""
    ordered = scores.sort(dim=1).values.contiguous()
    below = torch.searchsorted(ordered, scores.contiguous(), right=False)  # values < score
    up_to = torch.searchsorted(ordered, scores.contiguous(), right=True)  # values <= score
    return (below + up_to + 1).to(torch.float64) / 2


def rank_correlation_map(keep: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """Per pixel, the Spearman correlation between "pixel kept" and the score, over the masks.

    Ranking a binary variable is an affine map, so this is the Pearson correlation between the
    keep indicator and the ranks of the scores, computed for all pixels with one matrix product.
    Pixels with no variance over the masks (never or always occluded) and rows with constant
    scores get 0.

    Args:
        keep: ``(M, H, W)`` masks, 1 where the pixel was kept.
        scores: ``(N, M)`` scores of each explained image under each mask.

    Returns:
        ``(N, H, W)`` correlations in ``[-1, 1]`` (float64).
    """
    k = keep.flatten(1).to(torch.float64)
    k = k - k.mean(dim=0)
    r = average_ranks(scores)
    r = r - r.mean(dim=1, keepdim=True)
    covariance = r @ k  # (N, H*W)
    scale = r.norm(dim=1, keepdim=True) * k.norm(dim=0, keepdim=True)
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    correlation = torch.where(scale > 0, covariance / safe, torch.zeros_like(covariance))
    return correlation.view(-1, *keep.shape[1:])


class CorrRISE(PairMethodBase, PerturbationAttribution):
    r"""CorrRISE: per-pixel rank correlation between random occlusion and the verification score.

    Lu, Xu & Ebrahimi, *Towards Visual Saliency Explanations of Face Verification*, WACV 2024,
    https://arxiv.org/abs/2305.08546. The defaults follow the FAME transcription of the authors'
    ``Corrise.py`` (see ``notes/paper.md`` §5.1): 500 masks with three black 30×30 patches each,
    one mask set shared by every pair, Spearman correlation.

    For the explained image :math:`A`, the reference :math:`B` unmasked, and keep-masks
    :math:`M_1, \dots, M_m`:

    .. math::

        s_i = \cos\!\big(f(A \odot M_i), f(B)\big), \qquad
        S_A(p) = \operatorname{corr}_{\text{Spearman}}\big(M_i(p), s_i\big)_{i=1..m}.

    Positive values mark pixels whose presence raises the score (they support Accept), negative
    ones pixels whose presence lowers it. Pixels no mask occludes get 0.

    *Other input sizes.* ``patch_size`` is in pixels of a 112×112 face; for an ``H×W`` model input
    the patches are ``round(patch_size·H/112)`` × ``round(patch_size·W/112)`` pixels, so the
    same fraction of the face is occluded.

    Args:
        pair (FaceVerificationPair): the verification model to explain.
        n_masks (int, optional): number of masks. Default: 500.
        patches (int, optional): black patches per mask. Default: 3.
        patch_size (int, optional): patch side in pixels of a 112×112 face. Default: 30.
        seed (int, optional): seed of the mask set (the masks of each image size are drawn from
            a fresh ``torch.Generator`` seeded with it, so they are reproducible). Default: 0.
        masks (Tensor, optional): a fixed ``(M, H, W)`` (or ``(M, 1, H, W)``) 0/1 keep-mask set
            to use instead of random ones; images must then be ``H×W``. Default: ``None``.
        perturbations_per_eval (int, optional): masks per forward pass (each pass embeds
            ``N × perturbations_per_eval`` images). Default: 50.
        show_progress (bool, optional): tqdm progress bar over the forward passes. Default: False.

    Examples::

        >>> corrrise = cf.CorrRISE(pair, n_masks=500, seed=0)
        >>> signed_a, signed_b = corrrise.attribute((probe, reference))
        >>> keep = corrrise.get_masks((112, 112))      # (500, 112, 112), the set just used
    """

    def __init__(
        self,
        pair: FaceVerificationPair,
        n_masks: int = 500,
        *,
        patches: int = 3,
        patch_size: int = 30,
        seed: int = 0,
        masks: Optional[torch.Tensor] = None,
        perturbations_per_eval: int = 50,
        show_progress: bool = False,
    ) -> None:
        self._init_pair(pair)
        PerturbationAttribution.__init__(self, pair)
        self.n_masks = check_positive_int(n_masks, "n_masks")
        self.patches = check_positive_int(patches, "patches")
        self.patch_size = check_positive_int(patch_size, "patch_size")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise InvalidInputError(f"seed must be an int, got {seed!r}")
        self.seed = seed
        self.perturbations_per_eval = check_positive_int(perturbations_per_eval, "perturbations_per_eval")
        self.show_progress = bool(show_progress)
        self._masks: Dict[Tuple[int, int], torch.Tensor] = {}
        if masks is not None:
            fixed = self._check_masks(masks)
            self.n_masks = fixed.shape[0]
            self._masks[tuple(fixed.shape[1:])] = fixed
        self._fixed = masks is not None

    @staticmethod
    def _check_masks(masks: object) -> torch.Tensor:
        if not isinstance(masks, torch.Tensor):
            raise TypeError(f"masks must be an (M, H, W) tensor of 0/1 keep-masks, got {type(masks).__name__}")
        if masks.dim() == 4 and masks.shape[1] == 1:
            masks = masks[:, 0]
        if masks.dim() != 3 or masks.shape[0] < 2:
            raise InvalidInputError(f"masks must have shape (M, H, W) with M >= 2, got {tuple(masks.shape)}")
        if not bool(((masks == 0) | (masks == 1)).all()):
            raise InvalidInputError("masks must contain only 0 (occluded) and 1 (kept)")
        return masks.detach().to(torch.float32).clone()

    @classmethod
    def get_name(cls) -> str:
        return "CorrRISE"

    def scaled_patch_size(self, size: Tuple[int, int]) -> Tuple[int, int]:
        """Patch ``(h, w)`` in pixels for ``size = (H, W)`` images (``patch_size`` scaled by
        ``H/112`` and ``W/112``, at least 1)."""
        return tuple(max(1, round(self.patch_size * s / REFERENCE_SIZE)) for s in size)  # type: ignore[return-value]

    def get_masks(self, size: Tuple[int, int]) -> torch.Tensor:
        """The ``(M, H, W)`` keep-mask set for ``size = (H, W)`` images (drawn on first use,
        then fixed for this object). Pass it as ``masks=`` to another CorrRISE to reuse it."""
        size = (int(size[0]), int(size[1]))
        if size not in self._masks:
            if self._fixed:
                known = next(iter(self._masks))
                raise InvalidInputError(
                    f"the fixed masks are {known[0]}x{known[1]} but the images are {size[0]}x{size[1]}"
                )
            generator = torch.Generator().manual_seed(self.seed)
            self._masks[size] = random_patch_masks(
                self.n_masks, size, patches=self.patches, patch_size=self.scaled_patch_size(size), generator=generator
            )
        return self._masks[size]

    def scores(
        self,
        images: torch.Tensor,
        other_unit: torch.Tensor,
        keep: torch.Tensor,
        *,
        perturbations_per_eval: int,
        show_progress: bool,
    ) -> torch.Tensor:
        """``(N, M)`` cosine scores of every masked image against its partner's unit embedding."""
        n, m = images.shape[0], keep.shape[0]
        out = torch.empty((n, m), dtype=images.dtype, device=images.device)
        starts = range(0, m, perturbations_per_eval)
        with torch.no_grad():
            for start in tqdm(starts, desc=f"{self.get_name()} attribution", disable=not show_progress):
                chunk = keep[start : start + perturbations_per_eval].to(images)  # (c, H, W)
                masked = (images.unsqueeze(1) * chunk.unsqueeze(1)).flatten(0, 1).contiguous()  # (N*c, 3, H, W)
                unit = F.normalize(self.pair._embed(masked), dim=1).view(n, chunk.shape[0], -1)
                out[:, start : start + chunk.shape[0]] = (unit * other_unit.unsqueeze(1)).sum(dim=2)
        return out

    @attribution_api
    def attribute(
        self,
        inputs: TensorOrTuple,
        additional_forward_args: object = None,
        map: str = "signed",
        perturbations_per_eval: Optional[int] = None,
        show_progress: Optional[bool] = None,
    ) -> TensorOrTuple:
        r"""Explain pairs of faces.

        Args:
            inputs (Tensor or tuple[Tensor, Tensor]): ``(probe, reference)``, each
                ``(N, 3, H, W)`` RGB in ``[0, 1]``, to explain both images; or ``probe`` alone
                with ``additional_forward_args=(reference,)``. A batch of 1 broadcasts against a
                batch of K.
            additional_forward_args (tuple[Tensor], optional): ``(reference,)`` when ``inputs``
                is the probe alone. Default: ``None``.
            map (str, optional): ``"signed"``, ``"similarity"`` or ``"dissimilarity"``.
                Default: ``"signed"``.
            perturbations_per_eval (int, optional): overrides the constructor's value.
            show_progress (bool, optional): overrides the constructor's value.

        Returns:
            *Tensor* or *tuple[Tensor, Tensor]* of **attributions**: one map per explained image,
            ``(max(N_probe, N_reference), 3, H, W)``, Spearman correlations in ``[-1, 1]``, the
            same value in each colour channel.
        """
        ppe = self.perturbations_per_eval if perturbations_per_eval is None else check_positive_int(
            perturbations_per_eval, "perturbations_per_eval"
        )
        progress = self.show_progress if show_progress is None else bool(show_progress)

        def side(images: torch.Tensor, other_unit: Optional[torch.Tensor]) -> torch.Tensor:
            assert other_unit is not None
            keep = self.get_masks(tuple(images.shape[-2:]))  # type: ignore[arg-type]
            scores = self.scores(images, other_unit, keep, perturbations_per_eval=ppe, show_progress=progress)
            return rank_correlation_map(keep.to(images.device), scores).to(images.dtype)

        return self._explain(inputs, additional_forward_args, map, side)
