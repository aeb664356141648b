r"""Per-dimension input gradients of an embedder: the cost centre of FGGB.

For a batch of images :math:`x` and the L2-normalised embedding :math:`\hat F = f(x)/\lVert f(x)\rVert`,
:func:`dimension_maps` returns, for every dimension :math:`k`,

.. math:: \tilde G^k = \frac{G^k}{\lVert G^k \rVert_2}, \qquad
          G^k = \operatorname{mean}_{c \in \{R,G,B\}} \left| \frac{\partial \hat F^k}{\partial x_c} \right|

(FGGB Eqs. 1-2). One forward pass is shared by all :math:`D` backward passes.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn.functional as F

from ._checks import check_gradients_available
from .errors import InvalidInputError

__all__ = ["dimension_maps"]


def _check_chunk(internal_batch_size: Optional[int], dims: int) -> int:
    if internal_batch_size is None:
        return 1
    if isinstance(internal_batch_size, bool) or not isinstance(internal_batch_size, int) or internal_batch_size < 1:
        raise InvalidInputError(
            f"internal_batch_size must be a positive int (embedding dimensions per backward pass), "
            f"got {internal_batch_size!r}"
        )
    return min(internal_batch_size, dims)


def dimension_maps(
    pair: "FaceVerificationPair",  # noqa: F821 - avoid an import cycle at run time
    images: torch.Tensor,
    *,
    internal_batch_size: Optional[int] = None,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Normalised per-dimension gradient maps and unit embeddings of a batch of images.

    Args:
        pair: the :class:`~captum_fggb.FaceVerificationPair` whose embedder is differentiated.
        images: ``(N, 3, H, W)`` RGB in ``[0, 1]``, already validated. Not modified (a detached
            alias is differentiated; tensors created under ``torch.inference_mode()`` are copied).
        internal_batch_size: embedding dimensions per backward pass. ``None`` or 1 loops over the
            dimensions with one ``autograd.grad`` each (fastest on CPU); larger values batch that
            many dimensions into one vectorised backward (``is_grads_batched``), trading memory
            for speed on accelerators.

    Returns:
        ``(maps, unit)``: ``maps`` is ``(N, D, H, W)``, each ``maps[n, k]`` non-negative with unit
        L2 norm (all zeros where the gradient vanishes); ``unit`` is ``(N, D)``, the L2-normalised
        embeddings (detached).

    Raises:
        InvalidInputError: called under ``torch.inference_mode()`` (``torch.no_grad()`` is fine).
    """
    check_gradients_available("FGGB")
    x = images.detach()
    x = (x.clone() if x.is_inference() else x).requires_grad_(True)  # never the caller's tensor
    with torch.enable_grad():
        unit = F.normalize(pair._embed(x), dim=1)
        n, dims = unit.shape
        chunk = _check_chunk(internal_batch_size, dims)
        maps = torch.empty((n, dims) + tuple(x.shape[-2:]), dtype=x.dtype, device=x.device)
        for start in range(0, dims, chunk):
            stop = min(start + chunk, dims)
            last = stop == dims
            if chunk == 1:
                (grad,) = torch.autograd.grad(unit[:, start].sum(), x, retain_graph=not last)
                grad = grad.unsqueeze(1)  # (N, 1, 3, H, W)
            else:
                eye = torch.zeros((stop - start, n, dims), dtype=unit.dtype, device=unit.device)
                eye[torch.arange(stop - start), :, torch.arange(start, stop)] = 1.0
                (grad,) = torch.autograd.grad(unit, x, grad_outputs=eye, retain_graph=not last, is_grads_batched=True)
                grad = grad.transpose(0, 1)  # (N, chunk, 3, H, W)
            reduced = grad.abs().mean(dim=2)  # (N, chunk, H, W)
            maps[:, start:stop] = F.normalize(reduced.flatten(2), dim=2).view_as(reduced)
    return maps, unit.detach()
