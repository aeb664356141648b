"""Pure-Python reader for dlib's DNN serialisation (``.dat`` files written by ``dlib::serialize``).

Only what dlib's face-recognition ResNet uses is supported: a ``loss_metric`` network built from
``input_rgb_image_sized``, ``con``, ``affine``, ``relu``, ``max_pool``, ``avg_pool``, ``add_prev``
and ``fc`` layers, wrapped in ``tag``/``skip`` layers. Nothing from dlib is needed at run time.

dlib's stream format, as read here:

* integer: one control byte (low nibble = number of little-endian magnitude bytes that follow,
  bit ``0x80`` = negative), then the bytes;
* float: two integers, mantissa ``m`` and exponent ``e``, value ``m * 2**e``;
* string: an integer length, then the bytes; bool: one byte ``b"1"`` or ``b"0"``;
* tensor: version ``2``, four integers ``(n, k, nr, nc)``, then ``n*k*nr*nc`` little-endian float32;
* alias tensor: version ``1`` and four integers (its shape; the offset is implied by order).

A network is written outermost layer first: the loss layer (version ``1`` and its details), then
the version integer of every wrapper down to the input layer (``add_layer`` ``2``, ``tag``/``skip``
``1``, the innermost ``add_layer`` ``2`` or ``3``), then the input layer's details, then each
``add_layer``'s details followed by its state (3 bools, 3 tensors; the innermost one also its
sample-expansion factor with version 3). The layer records therefore come in forward order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Tuple, Union

import numpy as np

from ..errors import ModelFileError

__all__ = ["DatLayer", "DatNetwork", "read_dat"]


@dataclass(frozen=True)
class DatLayer:
    """One layer record of a dlib network.

    Attributes:
        kind: ``"con"``, ``"affine"``, ``"relu"``, ``"max_pool"``, ``"avg_pool"``, ``"add_prev"``
            or ``"fc"``.
        arrays: float32 parameters: ``con``: ``weight`` ``(out, in, kh, kw)``, ``bias`` ``(out,)``;
            ``affine``: ``gamma``, ``beta`` ``(C,)``; ``fc``: ``weight`` ``(in, out)``.
        config: integer settings: ``stride``/``padding`` ``(y, x)`` for ``con`` and pools,
            ``kernel`` ``(nr, nc)`` for pools (``(0, 0)`` = the whole input), ``mode`` for
            ``affine`` (0 = per channel), ``bias`` (bool) for ``fc``.
    """

    kind: str
    arrays: Dict[str, np.ndarray] = field(default_factory=dict)
    config: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DatNetwork:
    """A parsed dlib network.

    Attributes:
        loss: the loss layer's name (``"loss_metric"``) and its settings (``margin``,
            ``distance_threshold``: dlib's Euclidean decision threshold, 0.6 for the face model).
        input_mean: ``(3,)`` RGB means subtracted by the input layer (0..255 pixel units).
        input_size: ``(rows, cols)`` the input layer expects.
        layers: the layer records in forward order.
    """

    loss: Tuple[str, Dict[str, float]]
    input_mean: np.ndarray
    input_size: Tuple[int, int]
    layers: Tuple[DatLayer, ...]


class _Stream:
    """Sequential reader over the bytes of a ``.dat`` file; every read is bounds-checked."""

    def __init__(self, data: bytes, path: str) -> None:
        self.data, self.pos, self.path = data, 0, path

    def fail(self, what: str) -> ModelFileError:
        return ModelFileError(f"{self.path}: {what} at byte {self.pos}; not a dlib face-recognition network file")

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise self.fail(f"truncated data (wanted {n} bytes)")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def int(self) -> int:
        control = self.take(1)[0]
        if control & 0x70 or (control & 0x0F) > 8:
            raise self.fail(f"invalid integer control byte {control:#04x}")
        value = int.from_bytes(self.take(control & 0x0F), "little")
        return -value if control & 0x80 else value

    def float(self) -> float:
        mantissa = self.int()
        return float(mantissa) * 2.0 ** self.int()

    def string(self) -> str:
        length = self.int()
        if not 0 <= length <= 256:
            raise self.fail(f"implausible string length {length}")
        return self.take(length).decode("latin-1")

    def bool(self) -> bool:
        byte = self.take(1)
        if byte not in (b"0", b"1"):
            raise self.fail(f"invalid bool byte {byte!r}")
        return byte == b"1"

    def version(self, expected: Tuple[int, ...], what: str) -> int:
        value = self.int()
        if value not in expected:
            raise self.fail(f"{what} has version {value}, expected {' or '.join(map(str, expected))}")
        return value

    def shape(self) -> Tuple[int, int, int, int]:
        dims = tuple(self.int() for _ in range(4))
        if any(d < 0 for d in dims):
            raise self.fail(f"negative tensor dimension {dims}")
        return dims  # type: ignore[return-value]

    def tensor(self) -> np.ndarray:
        self.version((2,), "tensor")
        dims = self.shape()
        count = int(np.prod(dims))
        return np.frombuffer(self.take(4 * count), dtype="<f4").astype(np.float32).reshape(dims)

    def alias(self) -> Tuple[int, int, int, int]:
        self.version((1,), "alias tensor")
        return self.shape()

    def peek_string(self, prefix: bytes) -> bool:
        """Whether a string starting with ``prefix`` begins at the current position."""
        start = self.pos
        try:
            length = self.int()
            return 0 < length <= 256 and self.data[self.pos : self.pos + len(prefix)] == prefix
        except ModelFileError:
            return False
        finally:
            self.pos = start


def _split(stream: _Stream, params: np.ndarray, shapes: List[Tuple[int, ...]]) -> List[np.ndarray]:
    flat, out, offset = params.reshape(-1), [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        out.append(flat[offset : offset + size].reshape(shape))
        offset += size
    if offset != flat.size:
        raise stream.fail(f"parameter tensor has {flat.size} values, its aliases describe {offset}")
    return out


def _multipliers(stream: _Stream) -> None:
    for _ in range(4):  # learning-rate / weight-decay multipliers: training only
        stream.float()


def _read_layer(stream: _Stream) -> DatLayer:
    name = stream.string()
    if name == "con_4":
        params = stream.tensor()
        n_filters, nr, nc, sy, sx, py, px = (stream.int() for _ in range(7))
        filters, biases = stream.alias(), stream.alias()
        _multipliers(stream)
        if filters[0] != n_filters or filters[2:] != (nr, nc):
            raise stream.fail(f"con_ filters {filters} disagree with {n_filters} filters of {nr}x{nc}")
        weight, bias = _split(stream, params, [filters, (biases[1],)])
        return DatLayer("con", {"weight": weight, "bias": bias}, {"stride": (sy, sx), "padding": (py, px)})
    if name == "affine_":
        params = stream.tensor()
        gamma, beta = stream.alias(), stream.alias()
        mode = stream.int()
        g, b = _split(stream, params, [(int(np.prod(gamma)),), (int(np.prod(beta)),)])
        return DatLayer("affine", {"gamma": g, "beta": b}, {"mode": mode})
    if name in ("max_pool_2", "avg_pool_2"):
        nr, nc, sy, sx, py, px = (stream.int() for _ in range(6))
        return DatLayer(name[:-2], {}, {"kernel": (nr, nc), "stride": (sy, sx), "padding": (py, px)})
    if name in ("relu_", "add_prev_"):
        return DatLayer(name[:-1])
    if name == "fc_2":
        n_out, n_in = stream.int(), stream.int()
        params = stream.tensor()
        weights, biases = stream.alias(), stream.alias()
        has_bias = stream.int() == 0  # dlib: FC_HAS_BIAS = 0, FC_NO_BIAS = 1
        _multipliers(stream)
        if weights[:2] != (n_in, n_out):
            raise stream.fail(f"fc_ weights {weights} disagree with {n_in} inputs x {n_out} outputs")
        shapes: List[Tuple[int, ...]] = [(n_in, n_out)] + ([(n_out,)] if has_bias else [])
        arrays = dict(zip(("weight", "bias"), _split(stream, params, shapes)))
        return DatLayer("fc", arrays, {"bias": has_bias})
    raise stream.fail(f"unsupported layer type {name!r}")


def _read_state(stream: _Stream, input_version: int = 0) -> None:
    """The training state that follows each layer's details (setup flags, cached tensors)."""
    for _ in range(3):
        stream.bool()
    for _ in range(3):
        stream.tensor()
    if input_version == 3:
        stream.int()  # sample expansion factor


def read_dat(path: Union[str, Path]) -> DatNetwork:
    """Parse a dlib ``loss_metric`` network file (e.g. ``dlib_face_recognition_resnet_model_v1.dat``).

    The caller verifies the file's SHA-256 first (see :func:`captum_fggb.models._files.verified_path`).

    Args:
        path: the ``.dat`` file.

    Returns:
        :class:`DatNetwork` with every layer record in forward order.

    Raises:
        ModelFileError: the file is not a dlib network of the supported layer types, or it is
            truncated or has trailing bytes.
    """
    stream = _Stream(Path(path).read_bytes(), str(path))
    stream.version((1,), "loss layer")
    loss_name = stream.string()
    if loss_name != "loss_metric_2":
        raise stream.fail(f"unsupported loss layer {loss_name!r} (expected loss_metric_2)")
    loss = ("loss_metric", {"margin": stream.float(), "distance_threshold": stream.float()})
    versions = []
    while not stream.peek_string(b"input_"):
        versions.append(stream.version((1, 2, 3), "layer wrapper"))
    if not versions or versions[-1] not in (2, 3) or any(v == 3 for v in versions[:-1]):
        raise stream.fail(f"unexpected layer wrapper versions {versions}")
    if stream.string() != "input_rgb_image_sized":
        raise stream.fail("the input layer is not input_rgb_image_sized")
    mean = np.array([stream.float() for _ in range(3)], dtype=np.float32)
    size = (stream.int(), stream.int())
    layers = [_read_layer(stream)]
    _read_state(stream, input_version=versions[-1])
    while stream.pos < len(stream.data):
        layers.append(_read_layer(stream))
        _read_state(stream)
    if len(layers) != sum(v == 2 for v in versions) + (versions[-1] == 3):
        raise stream.fail(f"{len(layers)} layer records for {len(versions)} wrapper headers")
    return DatNetwork(loss=loss, input_mean=mean, input_size=size, layers=tuple(layers))
