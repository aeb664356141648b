"""Captum's perturbation methods on face pairs, with FGGB's ``attribute`` contract.

Each class runs one ``captum.attr`` method on :class:`~captum_fggb.baselines._base.SideScore`
(the explained image against the fixed embedding of the other image), without gradients. Removed
features are replaced by **black** (0 in ``[0, 1]`` RGB), like CorrRISE's patches. Features
span all three colour channels, so every channel already holds the same value; the channel
mean is returned in each of them. Positive values: keeping the region raises the cosine score.
"""

from __future__ import annotations

from typing import Optional, Tuple, Union

import torch
from captum.attr import KernelShap, Lime, Occlusion, PerturbationAttribution

from .._pair_inputs import TensorOrTuple, attribution_api
from ..errors import InvalidInputError
from ..pair import FaceVerificationPair
from ._base import PairMethodBase, SideScore, check_positive_int
from .corrrise import REFERENCE_SIZE
from .segments import feature_masks
from .surrogate import WeightedLinearSurrogate

__all__ = ["CaptumPerturbationMethod", "PairOcclusion", "PairLime", "PairKernelShap"]


class CaptumPerturbationMethod(PairMethodBase, PerturbationAttribution):
    """Base class: a Captum perturbation method explaining one image of each pair at a time.

    Args:
        pair (FaceVerificationPair): the verification model to explain.
        perturbations_per_eval (int, optional): perturbed images per forward pass. Default: 50.
        show_progress (bool, optional): Captum's tqdm progress bar. Default: False.
    """

    def __init__(
        self, pair: FaceVerificationPair, *, perturbations_per_eval: int = 50, show_progress: bool = False
    ) -> None:
        self._init_pair(pair)
        PerturbationAttribution.__init__(self, pair)
        self.side = SideScore(pair)
        self.perturbations_per_eval = check_positive_int(perturbations_per_eval, "perturbations_per_eval")
        self.show_progress = bool(show_progress)

    def _captum_attribute(self, x: torch.Tensor, other_unit: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _side(self, images: torch.Tensor, other_unit: Optional[torch.Tensor]) -> torch.Tensor:
        assert other_unit is not None
        with torch.no_grad():
            return self._captum_attribute(images, other_unit).mean(dim=1)

    @attribution_api
    def attribute(
        self,
        inputs: TensorOrTuple,
        additional_forward_args: object = None,
        map: str = "signed",
    ) -> TensorOrTuple:
        """Explain pairs of faces, with :meth:`captum_fggb.FGGB.attribute`'s contract.

        Args:
            inputs (Tensor or tuple[Tensor, Tensor]): ``(probe, reference)``, each
                ``(N, 3, H, W)`` RGB in ``[0, 1]``, to explain both images; or ``probe`` alone
                with ``additional_forward_args=(reference,)``. A batch of 1 broadcasts.
            additional_forward_args (tuple[Tensor], optional): ``(reference,)`` when ``inputs``
                is the probe alone. Default: ``None``.
            map (str, optional): ``"signed"``, ``"similarity"`` or ``"dissimilarity"``.
                Default: ``"signed"``.

        Returns:
            *Tensor* or *tuple[Tensor, Tensor]*: one ``(max(N_probe, N_reference), 3, H, W)`` map
            per explained image, in cosine units, the same value in each colour channel.
        """
        return self._explain(inputs, additional_forward_args, map, self._side)


def _scaled(pixels: int, size: Tuple[int, int]) -> Tuple[int, int]:
    return tuple(max(1, round(pixels * s / REFERENCE_SIZE)) for s in size)  # type: ignore[return-value]


class PairOcclusion(CaptumPerturbationMethod):
    """Captum ``Occlusion``: slide a black square over the explained image; each pixel gets the
    mean score drop ``s(x) - s(occluded)`` of the windows covering it.

    ``window`` and ``stride`` are in pixels of a 112×112 face and scale with the input size (as
    CorrRISE's patches). The defaults, 16 and 8, give 13×13 = 169 forward passes per image.

    Args:
        pair (FaceVerificationPair): the verification model to explain.
        window (int, optional): side of the occluding square. Default: 16.
        stride (int, optional): step between windows. Default: 8.
        perturbations_per_eval (int, optional): occluded images per forward pass. Default: 50.
        show_progress (bool, optional): progress bar. Default: False.
    """

    def __init__(
        self,
        pair: FaceVerificationPair,
        *,
        window: int = 16,
        stride: int = 8,
        perturbations_per_eval: int = 50,
        show_progress: bool = False,
    ) -> None:
        super().__init__(pair, perturbations_per_eval=perturbations_per_eval, show_progress=show_progress)
        self.window = check_positive_int(window, "window")
        self.stride = check_positive_int(stride, "stride")

    @classmethod
    def get_name(cls) -> str:
        return "Occlusion"

    def _captum_attribute(self, x: torch.Tensor, other_unit: torch.Tensor) -> torch.Tensor:
        size = tuple(x.shape[-2:])
        window, stride = _scaled(self.window, size), _scaled(self.stride, size)  # type: ignore[arg-type]
        return Occlusion(self.side).attribute(
            x,
            sliding_window_shapes=(x.shape[1],) + window,
            strides=(x.shape[1],) + stride,
            baselines=0.0,
            additional_forward_args=(other_unit,),
            perturbations_per_eval=self.perturbations_per_eval,
            show_progress=self.show_progress,
        )


class _SurrogateMethod(CaptumPerturbationMethod):
    """Shared by LIME and KernelShap: per-image feature masks, seeded sampling, one surrogate
    fit per explained image."""

    def __init__(
        self,
        pair: FaceVerificationPair,
        *,
        n_samples: int = 500,
        feature_mask: Union[str, torch.Tensor] = "slic",
        n_segments: int = 64,
        seed: int = 0,
        perturbations_per_eval: int = 50,
        show_progress: bool = False,
    ) -> None:
        super().__init__(pair, perturbations_per_eval=perturbations_per_eval, show_progress=show_progress)
        self.n_samples = check_positive_int(n_samples, "n_samples")
        if not isinstance(feature_mask, (str, torch.Tensor)):
            raise InvalidInputError(f"feature_mask must be 'slic', 'grid' or a label tensor, got {feature_mask!r}")
        self.feature_mask = feature_mask
        self.n_segments = check_positive_int(n_segments, "n_segments")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise InvalidInputError(f"seed must be an int, got {seed!r}")
        self.seed = seed

    def _explainer(self) -> Lime:
        raise NotImplementedError

    def _captum_attribute(self, x: torch.Tensor, other_unit: torch.Tensor) -> torch.Tensor:
        masks = feature_masks(self.feature_mask, x, self.n_segments)
        counts = masks.flatten(1).max(dim=1).values + 1
        if bool((counts < 2).any()):
            rows = torch.nonzero(counts < 2).flatten().tolist()
            raise InvalidInputError(
                f"the feature mask of image(s) {rows} has a single feature ({self.feature_mask!r} found "
                "no structure); pass feature_mask='grid' or an integer label tensor"
            )
        explainer = self._explainer()
        devices = [x.device.index or 0] if x.is_cuda else []
        out = []
        for i in range(x.shape[0]):
            with torch.random.fork_rng(devices=devices):  # seeded sampling, caller's RNG untouched
                torch.manual_seed(self.seed)
                out.append(
                    explainer.attribute(
                        x[i : i + 1],
                        baselines=0.0,
                        additional_forward_args=(other_unit[i : i + 1],),
                        feature_mask=masks[i : i + 1],
                        n_samples=self.n_samples,
                        perturbations_per_eval=self.perturbations_per_eval,
                        show_progress=self.show_progress,
                    )
                )
        return torch.cat(out)


class PairLime(_SurrogateMethod):
    """Captum ``Lime`` on superpixels: a weighted ridge model of the score on random subsets of
    kept superpixels (the others black).

    Defaults: SLIC superpixels (scikit-image, ``n_segments=64``, compactness 10) computed per
    image; 500 samples (each superpixel kept with probability 1/2, Captum's default sampler);
    Captum's default weighting (exponential kernel on the cosine distance to the image, width
    1); ridge surrogate with penalty 1 and an intercept (the original LIME's), solved in torch
    (:class:`~captum_fggb.baselines.surrogate.WeightedLinearSurrogate`). The pixels of a
    superpixel all get its coefficient.

    Args:
        pair (FaceVerificationPair): the verification model to explain.
        n_samples (int, optional): perturbed images per explained image. Default: 500.
        feature_mask (str or Tensor, optional): ``"slic"`` (needs scikit-image), ``"grid"``
            (square cells, no dependency) or integer labels ``(H, W)`` / ``(1 or N, 1, H, W)``.
            Default: ``"slic"``.
        n_segments (int, optional): superpixels (or grid cells) per image. Default: 64.
        ridge (float, optional): ridge penalty of the surrogate. Default: 1.0.
        seed (int, optional): seed of the sampling (the global RNG is restored). Default: 0.
        perturbations_per_eval (int, optional): perturbed images per forward pass. Default: 50.
        show_progress (bool, optional): progress bar. Default: False.
    """

    def __init__(
        self,
        pair: FaceVerificationPair,
        *,
        n_samples: int = 500,
        feature_mask: Union[str, torch.Tensor] = "slic",
        n_segments: int = 64,
        ridge: float = 1.0,
        seed: int = 0,
        perturbations_per_eval: int = 50,
        show_progress: bool = False,
    ) -> None:
        super().__init__(
            pair, n_samples=n_samples, feature_mask=feature_mask, n_segments=n_segments, seed=seed,
            perturbations_per_eval=perturbations_per_eval, show_progress=show_progress,
        )
        self.surrogate = WeightedLinearSurrogate(ridge)

    @classmethod
    def get_name(cls) -> str:
        return "LIME"

    def _explainer(self) -> Lime:
        return Lime(self.side, interpretable_model=self.surrogate)


class PairKernelShap(_SurrogateMethod):
    """Captum ``KernelShap`` on superpixels: Shapley values estimated by weighted linear
    regression on coalitions drawn with the Shapley kernel (absent superpixels black).

    Captum's ``KernelShap`` fits scikit-learn's ``LinearRegression``; here its
    ``interpretable_model`` is replaced by the same weighted least squares solved in torch
    (:class:`~captum_fggb.baselines.surrogate.WeightedLinearSurrogate`, ``ridge=0``), so no
    scikit-learn is needed. Feature masks and the other options as in :class:`PairLime`.
    """

    @classmethod
    def get_name(cls) -> str:
        return "KernelShap"

    def _explainer(self) -> Lime:
        explainer = KernelShap(self.side)
        explainer.interpretable_model = WeightedLinearSurrogate(0.0)
        return explainer
