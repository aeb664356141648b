"""Parsing of the pair-attribution call convention shared by FGGB and every baseline.

``attribute((probe, reference))`` explains both images and returns two maps;
``attribute(probe, additional_forward_args=(reference,))`` explains the probe only and returns
one map; a one-element tuple ``(probe,)`` (what ``captum.metrics.sensitivity_max`` passes) returns
a one-element tuple. ``map`` selects the signed map or one of its parts.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable, Literal, Tuple, TypeVar, Union

import torch

from .errors import InvalidInputError

__all__ = ["MAPS", "MapName", "PairInputs", "parse_pair_inputs", "check_map", "select_map", "attribution_api"]

MapName = Literal["signed", "similarity", "dissimilarity"]
#: Accepted values of the ``map=`` argument.
MAPS: Tuple[str, ...] = ("signed", "similarity", "dissimilarity")
TensorOrTuple = Union[torch.Tensor, Tuple[torch.Tensor, ...]]

F = TypeVar("F", bound=Callable[..., Any])


def attribution_api(func: F) -> F:
    """Mark an ``attribute`` method; gives it the ``__wrapped__`` attribute that
    ``captum.attr.NoiseTunnel`` calls (it bypasses the outer decorator)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@dataclass(frozen=True)
class PairInputs:
    """The two images of a call and how to format the result.

    Attributes:
        probe: ``(N_a, 3, H, W)`` explained image batch.
        reference: ``(N_b, 3, H, W)`` other image batch.
        both: whether the reference side is explained too.
        is_tuple: whether the caller passed a tuple (the result is then a tuple).
    """

    probe: torch.Tensor
    reference: torch.Tensor
    both: bool
    is_tuple: bool

    def format(self, maps: Tuple[torch.Tensor, ...]) -> TensorOrTuple:
        """Return ``maps`` in the structure of the caller's ``inputs``."""
        return tuple(maps) if self.is_tuple else maps[0]


def _reference_from(additional_forward_args: object) -> torch.Tensor:
    args = additional_forward_args
    if isinstance(args, (tuple, list)):
        if len(args) != 1:
            raise InvalidInputError(
                f"additional_forward_args must hold exactly the reference images, got {len(args)} items"
            )
        args = args[0]
    if not isinstance(args, torch.Tensor):
        raise TypeError(
            "additional_forward_args must be (reference,) with reference an (N, 3, H, W) tensor, "
            f"got {type(args).__name__}"
        )
    return args


def parse_pair_inputs(inputs: object, additional_forward_args: object = None) -> PairInputs:
    """Split ``inputs``/``additional_forward_args`` into probe and reference.

    Raises:
        TypeError: ``inputs`` is neither a tensor nor a tuple of tensors.
        InvalidInputError: the reference is missing or given twice.
    """
    if isinstance(inputs, (tuple, list)):
        items = tuple(inputs)
        if len(items) == 2 and additional_forward_args is None:
            return PairInputs(items[0], items[1], both=True, is_tuple=True)
        if len(items) == 1 and additional_forward_args is not None:
            return PairInputs(items[0], _reference_from(additional_forward_args), both=False, is_tuple=True)
        if len(items) == 2:
            raise InvalidInputError(
                "inputs=(probe, reference) already holds the reference; drop additional_forward_args"
            )
        raise InvalidInputError(
            f"inputs must be (probe, reference) or probe with additional_forward_args=(reference,), "
            f"got a tuple of {len(items)} items"
        )
    if isinstance(inputs, torch.Tensor):
        if additional_forward_args is None:
            raise InvalidInputError(
                "a single image batch needs its reference: call attribute((probe, reference)) to "
                "explain both faces, or attribute(probe, additional_forward_args=(reference,))"
            )
        return PairInputs(inputs, _reference_from(additional_forward_args), both=False, is_tuple=False)
    raise TypeError(
        f"inputs must be a tensor or a (probe, reference) tuple of tensors, got {type(inputs).__name__}"
    )


def check_map(map: object) -> str:
    """Validate the ``map=`` argument (one of :data:`MAPS`)."""
    if map not in MAPS:
        raise InvalidInputError(f"map={map!r} is not one of {', '.join(repr(m) for m in MAPS)}")
    return str(map)


def select_map(signed: torch.Tensor, map: str) -> torch.Tensor:
    """Signed map, its positive part (similarity) or the magnitude of its negative part
    (dissimilarity). Shapes are unchanged."""
    if map == "similarity":
        return signed.clamp(min=0)
    if map == "dissimilarity":
        return (-signed).clamp(min=0)
    return signed


def to_input_shape(maps: torch.Tensor, channels: int = 3) -> torch.Tensor:
    """``(N, H, W)`` maps to ``(N, channels, H, W)`` with the same value in every channel."""
    return maps.unsqueeze(1).expand(-1, channels, -1, -1).contiguous()
