"""What the paper's backbones (IResNet, AdaFace IR, MobileFaceNet) have in common.

They all take an ArcFace-aligned ``(N, 3, 112, 112)`` RGB face in ``[0, 1]`` and return an
``(N, D)`` embedding; they carry ``verification_threshold``, ``input_size``, ``embedding_dim``
and ``meta`` like :class:`~captum_fggb.models.SFace`; builders return them in eval mode with
frozen parameters. The state-dict keys are exactly those of the official definitions, so the
published checkpoints load with strict key matching (see :mod:`captum_fggb.models.checkpoint`).
"""

from __future__ import annotations

import math
from typing import Any, Dict, Iterable, Optional, Tuple, TypeVar

import torch
from torch import nn

from .._checks import check_threshold

__all__ = ["FaceBackbone", "finish", "init_random"]

M = TypeVar("M", bound=nn.Module)


class FaceBackbone(nn.Module):
    """Base class: ``(N, 3, 112, 112)`` RGB in ``[0, 1]`` → ``(N, embedding_dim)``.

    Attributes:
        verification_threshold (float or None): cosine decision threshold; ``None`` unless
            given (the threshold depends on the checkpoint, so there is no default).
        input_size (tuple[int, int]): ``(112, 112)``.
        embedding_dim (int): length of the embedding.
        meta (dict): architecture, official layout, input convention and weight provenance.
    """

    input_size: Tuple[int, int] = (112, 112)

    def __init__(self, embedding_dim: int, threshold: Optional[float], meta: Dict[str, Any]) -> None:
        super().__init__()
        if isinstance(embedding_dim, bool) or not isinstance(embedding_dim, int) or embedding_dim < 1:
            raise TypeError(f"num_features must be a positive int (embedding length), got {embedding_dim!r}")
        self.embedding_dim = embedding_dim
        self.verification_threshold: Optional[float] = (
            None if threshold is None else check_threshold(threshold, "threshold")
        )
        self.meta: Dict[str, Any] = {"weights": "random initialisation (load a checkpoint)", **meta}


def finish(model: M) -> M:
    """Put ``model`` in eval mode and freeze every parameter; returns it."""
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def init_random(model: nn.Module, branch_ends: Iterable[nn.BatchNorm2d]) -> None:
    """Random weights that keep activations bounded at every depth (the backbones carry no
    pretrained weights; a checkpoint overwrites all of this).

    He-normal (fan-in) convolutions and linear layers, unit BatchNorm, and the BatchNorm that
    closes each residual branch scaled by ``1 / sqrt(number of branches)`` (Fixup-style), so
    that embeddings of a random IResNet-100 stay O(10) instead of overflowing, as the upstream
    training initialisation does on a network that has not been trained.

    Args:
        model: the network to initialise in place.
        branch_ends: the last BatchNorm of every residual branch.
    """
    ends = list(branch_ends)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        for bn in ends:
            bn.weight.fill_(1.0 / math.sqrt(len(ends)))
