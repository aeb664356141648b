"""Weighted linear surrogate for Captum's ``Lime`` and ``KernelShap``, solved with torch.

Captum's defaults (``SkLearnLasso``, ``SkLearnLinearRegression``) need scikit-learn and live in a
private module. This class implements the documented ``interpretable_model`` interface of
:class:`captum.attr.Lime` (``fit(dataloader)`` over batches of ``(interpretable_inputs,
outputs, weights)``, then ``representation()``) with ``torch.linalg``.
"""

from __future__ import annotations

from typing import Dict, Optional

import torch
from torch.utils.data import DataLoader

from ..errors import InvalidInputError

__all__ = ["WeightedLinearSurrogate"]


class WeightedLinearSurrogate:
    r"""Weighted least squares with an intercept and an optional ridge penalty.

    Minimises :math:`\sum_i w_i (y_i - b - x_i^\top \beta)^2 + \lambda \lVert \beta \rVert^2`
    (the intercept :math:`b` is not penalised) in float64. ``ridge=0`` is the weighted linear
    regression KernelSHAP prescribes (Captum's ``SkLearnLinearRegression``); ``ridge=1`` is the
    ridge model of the original LIME implementation.

    Args:
        ridge (float, optional): penalty :math:`\lambda \ge 0`. Default: 0.0.
    """

    def __init__(self, ridge: float = 0.0) -> None:
        if isinstance(ridge, bool) or not isinstance(ridge, (int, float)) or ridge < 0:
            raise InvalidInputError(f"ridge must be a non-negative number, got {ridge!r}")
        self.ridge = float(ridge)
        self.coef: Optional[torch.Tensor] = None
        self.intercept: Optional[torch.Tensor] = None

    def fit(self, train_data: DataLoader, **kwargs: object) -> Dict[str, float]:
        """Fit on every batch of ``train_data`` (``(x, y)`` or ``(x, y, w)``).

        Returns:
            ``{"weighted_mse": ...}`` on the training samples.
        """
        xs, ys, ws = [], [], []
        for batch in train_data:
            x, y = batch[0], batch[1]
            xs.append(x.reshape(x.shape[0], -1))
            ys.append(y.reshape(-1))
            ws.append(batch[2].reshape(-1) if len(batch) > 2 else torch.ones(x.shape[0]))
        x = torch.cat(xs).to(torch.float64)
        y = torch.cat(ys).to(torch.float64)
        w = torch.cat(ws).to(torch.float64).clamp(min=0)
        design = torch.cat([x, torch.ones_like(x[:, :1])], dim=1)
        root = w.sqrt().unsqueeze(1)
        a, b = design * root, y.unsqueeze(1) * root
        if self.ridge > 0:
            penalty = torch.eye(design.shape[1], dtype=torch.float64, device=design.device) * self.ridge
            penalty[-1, -1] = 0.0
            solution = torch.linalg.solve(a.T @ a + penalty, a.T @ b)
        else:
            solution = torch.linalg.lstsq(a.cpu(), b.cpu(), driver="gelsd").solution.to(design.device)
        self.coef, self.intercept = solution[:-1, 0], solution[-1, 0]
        residual = (design @ solution).squeeze(1) - y
        return {"weighted_mse": float((w * residual**2).sum() / w.sum().clamp(min=1e-12))}

    def representation(self) -> torch.Tensor:
        """``(1, F)`` fitted coefficients (float32), the attribution of each feature."""
        if self.coef is None:
            raise RuntimeError("fit() must be called before representation()")
        return self.coef.to(torch.float32).unsqueeze(0)
