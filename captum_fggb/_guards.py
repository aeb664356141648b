"""Context managers that borrow a caller's model and hand it back exactly as it was.

Explanations run the embedder with eval-mode semantics (BatchNorm running statistics, no
dropout) and with frozen parameters (gradients flow only to the image, which is also faster).
These helpers switch both temporarily and restore every module's ``training`` flag and every
parameter's ``requires_grad`` on exit, also when the body raises.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn


@contextlib.contextmanager
def eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    """Run the body with every submodule of ``module`` in eval mode, then restore the flags.

    Args:
        module: any ``nn.Module``; it is modified in place only for the duration of the block.

    Yields:
        ``module`` itself.
    """
    flags = [(m, m.training) for m in module.modules()]
    if not any(training for _, training in flags):
        yield module
        return
    try:
        module.eval()
        yield module
    finally:
        for m, training in flags:
            m.training = training


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[nn.Module]:
    """Run the body with ``requires_grad=False`` on every parameter, then restore the flags.

    Parameter ``.grad`` fields are never touched: explanations differentiate with
    ``torch.autograd.grad`` with respect to the images only.
    """
    params = [(p, p.requires_grad) for p in module.parameters()]
    if not any(flag for _, flag in params):
        yield module
        return
    try:
        for p, _ in params:
            p.requires_grad_(False)
        yield module
    finally:
        for p, flag in params:
            p.requires_grad_(flag)


@contextlib.contextmanager
def borrowed(module: nn.Module) -> Iterator[nn.Module]:
    """:func:`eval_mode` and :func:`frozen` together: the state every explanation runs in."""
    with eval_mode(module), frozen(module):
        yield module


def parameter_dtype(module: nn.Module) -> torch.dtype:
    """The floating dtype of ``module``'s first floating parameter or buffer (float32 if none)."""
    for tensor in list(module.parameters()) + list(module.buffers()):
        if torch.is_floating_point(tensor):
            return tensor.dtype
    return torch.float32
