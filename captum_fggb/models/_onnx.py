"""Reading weights out of an ONNX file with the ``onnx`` package (no onnx2torch).

Handles ``DequantizeLinear`` with per-axis and blocked scales (opset 21) and constant
``Reshape`` nodes, which is what the int8 block-quantised OpenCV Zoo models use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Union

import numpy as np

__all__ = ["dequantize", "onnx_tensors"]


def dequantize(x: np.ndarray, scale: np.ndarray, zero_point: np.ndarray, axis: int, block_size: int) -> np.ndarray:
    """ONNX ``DequantizeLinear``: ``(x - zero_point) * scale`` in float32.

    Args:
        x: quantised integer tensor.
        scale: float scales: a scalar, one per slice along ``axis``, or (``block_size > 0``) one
            per block of ``block_size`` elements along ``axis`` (same rank as ``x``).
        zero_point: integer zero points, same shape as ``scale``.
        axis: quantisation axis.
        block_size: block length along ``axis``, or 0 for per-tensor / per-axis scales.
    """
    xf = x.astype(np.float32)
    scale = scale.astype(np.float32)
    zp = zero_point.astype(np.float32)
    axis = axis % x.ndim
    if block_size > 0 and scale.ndim == x.ndim:
        scale = np.repeat(scale, block_size, axis=axis)
        zp = np.repeat(zp, block_size, axis=axis)
        index = [slice(None)] * x.ndim
        index[axis] = slice(0, x.shape[axis])
        scale, zp = scale[tuple(index)], zp[tuple(index)]
    elif scale.ndim == 1 and scale.size > 1:
        shape = [1] * x.ndim
        shape[axis] = scale.size
        scale, zp = scale.reshape(shape), zp.reshape(shape)
    return ((xf - zp) * scale).astype(np.float32)


def onnx_tensors(path: Union[str, Path]) -> Dict[str, np.ndarray]:
    """All constant tensors of an ONNX graph, with dequantised and reshaped weights resolved.

    Returns:
        Mapping from tensor name (initialisers and outputs of constant-foldable
        ``DequantizeLinear``/``Reshape`` nodes) to a numpy array.
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    tensors = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    for node in model.graph.node:
        if not all(name in tensors for name in node.input if name):
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "DequantizeLinear":
            x, scale, zp = (tensors[name] for name in node.input)
            tensors[node.output[0]] = dequantize(x, scale, zp, attrs.get("axis", 1), attrs.get("block_size", 0))
        elif node.op_type == "Reshape":
            tensors[node.output[0]] = tensors[node.input[0]].reshape(tensors[node.input[1]])
    return tensors
