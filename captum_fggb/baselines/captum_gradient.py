"""Captum's gradient methods on face pairs, with FGGB's ``attribute`` contract.

Each class runs one ``captum.attr`` method on :class:`~captum_fggb.baselines._base.SideScore`,
the cosine score of the explained image against the fixed embedding of the other image, once per
explained image. Colour channels are reduced by their **mean** and the result is repeated in the
three channels, so the total of a returned map equals the total of Captum's attribution (for
IntegratedGradients, completeness still holds: the map sums to ``s(x) - s(baseline)``). Positive
values raise the cosine score (towards Accept), negative values lower it.
"""

from __future__ import annotations

import warnings
from typing import Callable, Dict, Optional, Union

import torch
from captum.attr import (
    GradientAttribution,
    GuidedBackprop,
    InputXGradient,
    IntegratedGradients,
    LayerAttribution,
    LayerGradCam,
    Saliency,
)
from torch import nn

from .._pair_inputs import TensorOrTuple, attribution_api
from ..errors import InvalidInputError
from ..models import AdaFaceIR, DlibResNet, IResNet, MobileFaceNet, SFace
from ..pair import FaceVerificationPair
from ._base import PairMethodBase, SideScore, check_positive_int

__all__ = [
    "CaptumGradientMethod",
    "PairSaliency",
    "PairIntegratedGradients",
    "PairInputXGradient",
    "PairGuidedBackprop",
    "PairLayerGradCam",
    "default_gradcam_layer",
    "GRADCAM_LAYERS",
]


class CaptumGradientMethod(PairMethodBase, GradientAttribution):
    """Base class: a Captum gradient method explaining one image of each pair at a time.

    Subclasses implement ``_captum_attribute(x, other_unit)``, which returns Captum's ``(N, C, H, W)``
    attribution of the explained images ``x`` for the score ``self.side(x, other_unit)``.
    """

    def __init__(self, pair: FaceVerificationPair) -> None:
        self._init_pair(pair)
        GradientAttribution.__init__(self, pair)
        self.side = SideScore(pair)

    @property
    def multiplies_by_inputs(self) -> bool:
        return False

    def _captum_attribute(self, x: torch.Tensor, other_unit: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _side(self, images: torch.Tensor, other_unit: Optional[torch.Tensor]) -> torch.Tensor:
        assert other_unit is not None
        with torch.enable_grad():
            raw = self._captum_attribute(images.requires_grad_(True), other_unit)
        return raw.detach().mean(dim=1)

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
            map (str, optional): ``"signed"``, ``"similarity"`` (positive part) or
                ``"dissimilarity"`` (magnitude of the negative part). Default: ``"signed"``.

        Returns:
            *Tensor* or *tuple[Tensor, Tensor]*: one ``(max(N_probe, N_reference), 3, H, W)`` map
            per explained image, the channel mean of Captum's attribution in every channel.
        """
        return self._explain(inputs, additional_forward_args, map, self._side)


class PairSaliency(CaptumGradientMethod):
    """Captum ``Saliency`` with ``abs=False``: the signed gradient of the cosine score (the
    plain gradient, not its magnitude, so that the sign says Accept or Reject)."""

    @classmethod
    def get_name(cls) -> str:
        return "Saliency"

    def _captum_attribute(self, x: torch.Tensor, other_unit: torch.Tensor) -> torch.Tensor:
        return Saliency(self.side).attribute(x, additional_forward_args=(other_unit,), abs=False)


class PairInputXGradient(CaptumGradientMethod):
    """Captum ``InputXGradient``: image × gradient of the cosine score (image in ``[0, 1]``)."""

    @classmethod
    def get_name(cls) -> str:
        return "InputXGradient"

    @property
    def multiplies_by_inputs(self) -> bool:
        return True

    def _captum_attribute(self, x: torch.Tensor, other_unit: torch.Tensor) -> torch.Tensor:
        return InputXGradient(self.side).attribute(x, additional_forward_args=(other_unit,))


class PairIntegratedGradients(CaptumGradientMethod):
    """Captum ``IntegratedGradients`` from a baseline image to the explained image, the other
    image of the pair unchanged.

    The default baseline is the **black image** (0 in ``[0, 1]`` RGB), the usual choice for
    images and the fill value of the occlusion baselines (CorrRISE, Occlusion); the map then
    sums to ``s(x) - s(black)``. Pass a fill value or an image to change it.

    Args:
        pair (FaceVerificationPair): the verification model to explain.
        baseline (float or Tensor, optional): constant fill value, or a ``(1 or N, 3, H, W)``
            baseline image. Default: 0.0 (black).
        n_steps (int, optional): integration steps. Default: 50 (Captum's).
        method (str, optional): Captum's integration rule. Default: ``"gausslegendre"``.
        internal_batch_size (int, optional): path points per forward/backward pass (``None``:
            all ``n_steps × N`` at once). Default: ``None``.
    """

    def __init__(
        self,
        pair: FaceVerificationPair,
        *,
        baseline: Union[float, torch.Tensor] = 0.0,
        n_steps: int = 50,
        method: str = "gausslegendre",
        internal_batch_size: Optional[int] = None,
    ) -> None:
        super().__init__(pair)
        if not isinstance(baseline, (int, float, torch.Tensor)) or isinstance(baseline, bool):
            raise InvalidInputError(f"baseline must be a fill value or a (1, 3, H, W) image tensor, got {baseline!r}")
        self.baseline = baseline
        self.n_steps = check_positive_int(n_steps, "n_steps")
        self.method = method
        self.internal_batch_size = None if internal_batch_size is None else check_positive_int(
            internal_batch_size, "internal_batch_size"
        )

    @classmethod
    def get_name(cls) -> str:
        return "IntegratedGradients"

    @property
    def multiplies_by_inputs(self) -> bool:
        return True

    def _captum_attribute(self, x: torch.Tensor, other_unit: torch.Tensor) -> torch.Tensor:
        baseline = self.baseline.to(x) if isinstance(self.baseline, torch.Tensor) else float(self.baseline)
        return IntegratedGradients(self.side).attribute(
            x,
            baselines=baseline,
            additional_forward_args=(other_unit,),
            n_steps=self.n_steps,
            method=self.method,
            internal_batch_size=self.internal_batch_size,
        )


class PairGuidedBackprop(CaptumGradientMethod):
    """Captum ``GuidedBackprop`` (gradients with negative values clipped at every ``nn.ReLU``).

    Captum only overrides ``nn.ReLU`` modules. Face backbones built on PReLU (SFace, ArcFace
    IResNet) have none, so there it equals the plain gradient (:class:`PairSaliency`); a
    ``UserWarning`` says so at construction.
    """

    def __init__(self, pair: FaceVerificationPair) -> None:
        super().__init__(pair)
        modules = list(pair.embedder.modules())
        if any(isinstance(m, nn.PReLU) for m in modules) and not any(isinstance(m, nn.ReLU) for m in modules):
            warnings.warn(
                f"{type(pair.embedder).__name__} uses PReLU and has no nn.ReLU module: Captum's "
                "GuidedBackprop only modifies nn.ReLU, so on this model it equals the plain "
                "gradient (Saliency)",
                UserWarning,
                stacklevel=2,
            )

    @classmethod
    def get_name(cls) -> str:
        return "GuidedBackprop"

    def _captum_attribute(self, x: torch.Tensor, other_unit: torch.Tensor) -> torch.Tensor:
        with warnings.catch_warnings():  # Captum announces its (temporary) ReLU hooks on every call
            warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU", category=UserWarning)
            return GuidedBackprop(self.side).attribute(x, additional_forward_args=(other_unit,))


def _adaface_layer(model: AdaFaceIR) -> nn.Module:
    return [block for block in model.body if block.res_layer[1].out_channels == 256][-1]


#: Default GradCAM layer per model class: the output of the last block at about 1/8 of the input
#: resolution, a late layer whose map still resolves the eyes, nose and mouth (14×14 for the
#: 112×112 models; the 7×7 blocks after it are too coarse).
GRADCAM_LAYERS: Dict[type, Callable[[nn.Module], nn.Module]] = {
    SFace: lambda m: m.features.conv_12,  # 14×14, 512 channels
    IResNet: lambda m: m.layer3,  # 14×14, 256 channels
    AdaFaceIR: _adaface_layer,  # last 14×14 block of the body, 256 channels
    MobileFaceNet: lambda m: m.layers[5],  # 14×14, 256 channels
    DlibResNet: lambda m: m.units[6],  # 17×17 at 150×150, 128 channels
}


def default_gradcam_layer(embedder: nn.Module) -> nn.Module:
    """The layer :class:`PairLayerGradCam` uses by default for ``embedder``.

    In order: the embedder's ``gradcam_layer`` attribute (a module or a dotted submodule name),
    the entry of :data:`~captum_fggb.baselines.captum_gradient.GRADCAM_LAYERS` for its class, else its last ``nn.Conv2d``.

    Raises:
        InvalidInputError: the embedder has no convolution (pass ``layer=``).
    """
    declared = getattr(embedder, "gradcam_layer", None)
    if declared is not None:
        return _resolve_layer(embedder, declared)
    for cls, pick in GRADCAM_LAYERS.items():
        if isinstance(embedder, cls):
            return pick(embedder)
    convs = [m for m in embedder.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise InvalidInputError(
            f"{type(embedder).__name__} has no nn.Conv2d; pass LayerGradCam a layer=... with a spatial output"
        )
    return convs[-1]


def _resolve_layer(embedder: nn.Module, layer: Union[str, nn.Module]) -> nn.Module:
    if isinstance(layer, str):
        try:
            return embedder.get_submodule(layer)
        except AttributeError as exc:
            raise InvalidInputError(f"{type(embedder).__name__} has no submodule {layer!r} ({exc})") from exc
    if isinstance(layer, nn.Module) and any(layer is m for m in embedder.modules()):
        return layer
    raise InvalidInputError("layer must be a submodule of the embedder, or its dotted name (e.g. 'features.conv_12')")


class PairLayerGradCam(CaptumGradientMethod):
    """Captum ``LayerGradCam`` on a late convolutional layer, upsampled to the image.

    The channel weights are the spatial means of the score's gradient; the map is the weighted
    channel sum, kept **signed** (``relu_attributions=False``) so that negative regions lower
    the score, then resized with ``LayerAttribution.interpolate`` (bilinear).

    Args:
        pair (FaceVerificationPair): the verification model to explain.
        layer (str or nn.Module, optional): the layer; default
            :func:`default_gradcam_layer` (SFace: ``"features.conv_12"``, 14×14; see
            :data:`~captum_fggb.baselines.captum_gradient.GRADCAM_LAYERS` for the other models).
        interpolate_mode (str, optional): upsampling mode. Default: ``"bilinear"``.
    """

    def __init__(
        self,
        pair: FaceVerificationPair,
        *,
        layer: Optional[Union[str, nn.Module]] = None,
        interpolate_mode: str = "bilinear",
    ) -> None:
        super().__init__(pair)
        self.layer = default_gradcam_layer(pair.embedder) if layer is None else _resolve_layer(pair.embedder, layer)
        self.interpolate_mode = interpolate_mode

    @classmethod
    def get_name(cls) -> str:
        return "LayerGradCam"

    def _captum_attribute(self, x: torch.Tensor, other_unit: torch.Tensor) -> torch.Tensor:
        cam = LayerGradCam(self.side, self.layer).attribute(
            x, additional_forward_args=(other_unit,), relu_attributions=False
        )
        return LayerAttribution.interpolate(cam, tuple(x.shape[-2:]), interpolate_mode=self.interpolate_mode)
