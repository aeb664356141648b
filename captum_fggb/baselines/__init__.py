"""Baseline explanation methods for face verification, all with FGGB's ``attribute`` contract.

Public names::

    XSSAB                    xSSAB (Huber et al., WACV 2024), gradient of score arguments
    CorrRISE                 CorrRISE (Lu et al., WACV 2024), rank correlation with random occlusion
    PairSaliency             Captum Saliency (signed gradient)
    PairIntegratedGradients  Captum IntegratedGradients (black baseline)
    PairInputXGradient       Captum InputXGradient
    PairGuidedBackprop       Captum GuidedBackprop (equals the gradient on PReLU networks)
    PairLayerGradCam         Captum LayerGradCam (per-model default layer, upsampled)
    PairOcclusion            Captum Occlusion (black squares)
    PairLime                 Captum Lime (SLIC superpixels)
    PairKernelShap           Captum KernelShap (SLIC superpixels)
    RandomMaps               uniform noise, the chance level

Use :mod:`captum_fggb.methods` to build any of them (and FGGB) by name.
"""

from __future__ import annotations

from .captum_gradient import (
    PairGuidedBackprop,
    PairInputXGradient,
    PairIntegratedGradients,
    PairLayerGradCam,
    PairSaliency,
    default_gradcam_layer,
)
from .captum_perturbation import PairKernelShap, PairLime, PairOcclusion
from .corrrise import CorrRISE
from .random_maps import RandomMaps
from .surrogate import WeightedLinearSurrogate
from .xssab import XSSAB

__all__ = [
    "XSSAB",
    "CorrRISE",
    "PairSaliency",
    "PairIntegratedGradients",
    "PairInputXGradient",
    "PairGuidedBackprop",
    "PairLayerGradCam",
    "PairOcclusion",
    "PairLime",
    "PairKernelShap",
    "RandomMaps",
    "WeightedLinearSurrogate",
    "default_gradcam_layer",
]
