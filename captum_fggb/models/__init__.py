"""Face embedding models as torch modules: ``(N, 3, H, W)`` RGB in ``[0, 1]`` → ``(N, D)``.

Every model carries ``verification_threshold`` (cosine) and ``input_size`` (H, W), and is
returned in eval mode with frozen parameters.

Use :func:`available` to list the registered builders and :func:`get` to build one by name.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List

from torch import nn

from ..errors import InvalidInputError
from .adaface import AdaFaceIR, adaface_ir18, adaface_ir50, adaface_ir101
from .checkpoint import load_checkpoint
from .dlib_resnet import DLIB_RESNET_THRESHOLD, DlibResNet, dlib_resnet
from .iresnet import IResNet, iresnet18, iresnet34, iresnet50, iresnet100
from .mobilefacenet import MobileFaceNet, mobilefacenet
from .sface import SFACE_THRESHOLD, SFace, sface

__all__ = ["SFace", "sface", "SFACE_THRESHOLD", "available", "get", "register"]
__all__ += ["DlibResNet", "dlib_resnet", "DLIB_RESNET_THRESHOLD"]
# The paper's backbones (random weights; load users' checkpoints with load_checkpoint).
__all__ += ["IResNet", "iresnet18", "iresnet34", "iresnet50", "iresnet100"]
__all__ += ["AdaFaceIR", "adaface_ir18", "adaface_ir50", "adaface_ir101"]
__all__ += ["MobileFaceNet", "mobilefacenet", "load_checkpoint"]

_BUILDERS: Dict[str, Callable[..., nn.Module]] = {}


def register(name: str, builder: Callable[..., nn.Module]) -> None:
    """Register a model builder under ``name`` (keyword arguments are passed through by
    :func:`get`)."""
    _BUILDERS[name] = builder


def available() -> List[str]:
    """Names accepted by :func:`get`, sorted."""
    return sorted(_BUILDERS)


def get(name: str, **kwargs: Any) -> nn.Module:
    """Build a registered model by name, e.g. ``get("sface")``.

    Raises:
        InvalidInputError: unknown name (the message lists the known ones).
    """
    if name not in _BUILDERS:
        raise InvalidInputError(f"unknown model {name!r}; available models: {', '.join(available())}")
    return _BUILDERS[name](**kwargs)


register("sface", sface)
register("dlib_resnet", dlib_resnet)
for _builder in (iresnet18, iresnet34, iresnet50, iresnet100, adaface_ir18, adaface_ir50, adaface_ir101, mobilefacenet):
    register(_builder.__name__, _builder)
