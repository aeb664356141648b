r"""Per-dimension input gradients of an embedder: the cost centre of FGGB.

For a batch of images :math:`x` and the L2-normalised embedding :math:`\hat F = f(x)/\lVert f(x)\rVert`,
:func:`dimension_maps` returns, for every dimension :math:`k`,

.. math:: \tilde G^k = \frac{G^k}{\lVert G^k \rVert_2}, \qquad
          G^k = \operatorname{mean}_{c \in \{R,G,B\}} \left| \frac{\partial \hat F^k}{\partial x_c} \right|

(FGGB Eqs. 1-2). One forward pass is shared by all :math:`D` backward passes.

Strategies (all give the same maps up to float rounding):

``"sequential"``
    one ``torch.autograd.grad(..., retain_graph=True)`` per dimension. On a CPU this is the
    speed floor: the backward kernels are already compute-bound, and every batched variant
    measured slower (see ``benchmarks/``).
``"batched"``
    ``internal_batch_size`` dimensions per backward pass, vectorised with
    ``is_grads_batched=True`` (one ``vmap``-ed backward over a chunk of one-hot output
    gradients, still after a single forward pass). Peak memory grows with the chunk; on a GPU
    this keeps the device busy.
``"auto"``
    ``"sequential"`` on a CPU; on an accelerator ``"batched"`` with chunks of
    :data:`DEFAULT_CHUNK` dimensions. An explicit ``internal_batch_size`` > 1 selects
    ``"batched"`` on any device.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn.functional as F

from ._checks import check_gradients_available
from .errors import InvalidInputError

__all__ = ["STRATEGIES", "DEFAULT_CHUNK", "check_strategy", "resolve_strategy", "dimension_maps"]

#: Accepted values of ``strategy``.
STRATEGIES: Tuple[str, ...] = ("auto", "sequential", "batched")
#: Dimensions per backward pass of ``"batched"`` when ``internal_batch_size`` is not given.
DEFAULT_CHUNK = 32


def check_strategy(strategy: object) -> str:
    """Validate a ``strategy`` argument (one of :data:`STRATEGIES`)."""
    if strategy not in STRATEGIES:
        raise InvalidInputError(f"strategy={strategy!r} is not one of {', '.join(repr(s) for s in STRATEGIES)}")
    return str(strategy)


def resolve_strategy(
    strategy: str, internal_batch_size: Optional[int], device: torch.device, dims: int
) -> int:
    """Dimensions per backward pass for a strategy, a chunk request and a device.

    Args:
        strategy: one of :data:`STRATEGIES`.
        internal_batch_size: the caller's chunk (``None``: the strategy's default).
        device: where the images are (``"auto"`` batches on anything but a CPU).
        dims: embedding length :math:`D`.

    Returns:
        The chunk: 1 means the sequential loop, more means vectorised backward passes.

    Raises:
        InvalidInputError: ``internal_batch_size`` is not a positive int, or is > 1 with
            ``strategy="sequential"``.
    """
    strategy = check_strategy(strategy)
    if internal_batch_size is not None and (
        isinstance(internal_batch_size, bool) or not isinstance(internal_batch_size, int) or internal_batch_size < 1
    ):
        raise InvalidInputError(
            f"internal_batch_size must be a positive int (embedding dimensions per backward pass), "
            f"got {internal_batch_size!r}"
        )
    if strategy == "sequential":
        if internal_batch_size not in (None, 1):
            raise InvalidInputError(
                f"strategy='sequential' computes one dimension per backward pass; drop "
                f"internal_batch_size={internal_batch_size} or use strategy='batched'"
            )
        return 1
    if internal_batch_size is not None:
        return min(internal_batch_size, dims)
    if strategy == "auto" and device.type == "cpu":
        return 1
    return min(DEFAULT_CHUNK, dims)


def _store(maps: torch.Tensor, grad: torch.Tensor) -> None:
    """Eqs. 1-2 for a block of gradients: ``grad`` ``(N, C, 3, H, W)`` → unit-norm
    channel-mean magnitudes written into ``maps`` ``(N, C, H, W)`` (zeros stay zeros)."""
    reduced = grad.abs().mean(dim=2)
    maps.copy_(F.normalize(reduced.flatten(2), dim=2).view_as(reduced))


def dimension_maps(
    pair: "FaceVerificationPair",  # noqa: F821 - avoid an import cycle at run time
    images: torch.Tensor,
    *,
    strategy: str = "auto",
    internal_batch_size: Optional[int] = None,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Normalised per-dimension gradient maps and unit embeddings of a batch of images.

    Args:
        pair: the :class:`~captum_fggb.FaceVerificationPair` whose embedder is differentiated.
        images: ``(N, 3, H, W)`` RGB in ``[0, 1]``, already validated. Not modified (a detached
            alias is differentiated; tensors created under ``torch.inference_mode()`` are copied).
        strategy: ``"auto"``, ``"sequential"`` or ``"batched"`` (see the module docstring).
        internal_batch_size: embedding dimensions per backward pass for ``"batched"`` (and
            for ``"auto"``, where a value > 1 selects batching). Peak memory grows with it.
            Default: ``None`` (1 for sequential, :data:`DEFAULT_CHUNK` for batched).

    Returns:
        ``(maps, unit)``: ``maps`` is ``(N, D, H, W)``, each ``maps[n, k]`` non-negative with unit
        L2 norm (all zeros where the gradient vanishes); ``unit`` is ``(N, D)``, the L2-normalised
        embeddings (detached).

    Raises:
        InvalidInputError: unknown ``strategy``, bad ``internal_batch_size``, or called under
            ``torch.inference_mode()`` (``torch.no_grad()`` is fine).
    """
    check_strategy(strategy)
    check_gradients_available("FGGB")
    x = images.detach()
    x = (x.clone() if x.is_inference() else x).requires_grad_(True)  # never the caller's tensor
    with torch.enable_grad():
        unit = F.normalize(pair._embed(x), dim=1)
        n, dims = unit.shape
        chunk = resolve_strategy(strategy, internal_batch_size, x.device, dims)
        maps = torch.empty((n, dims) + tuple(x.shape[-2:]), dtype=x.dtype, device=x.device)
        if chunk == 1:
            for k in range(dims):
                (grad,) = torch.autograd.grad(unit[:, k].sum(), x, retain_graph=k + 1 < dims)
                _store(maps[:, k : k + 1], grad.unsqueeze(1))
        else:
            picks = torch.arange(chunk, device=x.device)
            for start in range(0, dims, chunk):
                stop = min(start + chunk, dims)
                eye = torch.zeros((stop - start, n, dims), dtype=unit.dtype, device=unit.device)
                eye[picks[: stop - start], :, picks[: stop - start] + start] = 1.0
                (grad,) = torch.autograd.grad(
                    unit, x, grad_outputs=eye, retain_graph=stop < dims, is_grads_batched=True
                )
                _store(maps[:, start:stop], grad.transpose(0, 1))  # (N, chunk, 3, H, W)
    return maps, unit.detach()
