r"""A user-private metric on the alignment error (ours, beyond the paper; DESIGN.md §3 *User metric*).

User k may weight its error by a Hermitian positive-definite ``M_k`` on its (whitened) packed
latents: ``min ‖M_k(Y_k − G_k(H_k F X + N))‖²`` is exactly the paper's problem for ``Y'_k = M_k Y_k``
and ``G'_k = M_k G_k``. So the user transforms its own pilots and test latents once, runs the
unchanged protocol, and decodes ``ŷ = M_k⁻¹ G'_k r``. ``M_k`` never leaves the user.

The *task* metric comes from the user's linear classifier ``W`` (``[C, d]``): with packed rows
``w̃_j = pack(w_j)`` expressed in the working (whitened) coordinates, ``r_j = Lᴴ w̃_j``,

.. math:: M^2 = \frac{P / s + ε I}{1 + ε},\qquad P = \sum_j r_j r_j^H,\quad s = \operatorname{tr}(P)/h,

so the classifier part has unit mean eigenvalue and ``tr(M²) = h`` (the error keeps its overall
scale, hence ρ keeps its meaning). ``Re(r_jᴴ e_w) = w_j · e`` is user k's logit error; ``ε → ∞``
gives ``M = I``, the paper.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from protocol.config import ConfigError
from protocol.pilots import complex_columns, prepare_side
from protocol.whitening import Whitener
from user_client.classifier import Classifier

__all__ = ["MetricWhitener", "packed_classifier", "task_metric", "prepare_user_side", "USER_METRICS"]

USER_METRICS = ("mse", "task")


def packed_classifier(
    weight: np.ndarray, dtype: torch.dtype, device: torch.device | str = "cpu", processing: str = "linear"
) -> torch.Tensor:
    """Classifier rows ``w_j`` (``[C, d]``) → feature columns ``w̃_j`` (``[⌈d/2⌉, C]`` packed,
    ``[d, C]`` widely linear; DESIGN.md §2)."""
    return complex_columns(np.asarray(weight, dtype=np.float64), dtype, device, processing)


def task_metric(w: torch.Tensor, chol: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    r"""``(M, M⁻¹)`` for packed classifier columns ``w`` ``[..., h, C]`` in coordinates whose
    un-whitening has linear part ``chol`` ``[..., h, h]`` (``I`` without whitening); ``eps > 0``.

    Formed in complex128 by one Hermitian eigendecomposition; returned in ``w``'s dtype.
    """
    if not eps > 0:
        raise ValueError(f"metric eps must be > 0, got {eps}")
    r = chol.to(torch.complex128).mH @ w.to(torch.complex128)
    p = r @ r.mH
    h = p.shape[-1]
    s = torch.diagonal(p, dim1=-2, dim2=-1).real.sum(-1).clamp_min(1e-300) / h
    eye = torch.eye(h, dtype=p.dtype, device=p.device)
    m2 = (p / s[..., None, None] + eps * eye) / (1.0 + eps)
    m2 = (m2 + m2.mH) / 2
    lam, v = torch.linalg.eigh(m2)
    root = lam.clamp_min(eps / (1.0 + eps) / 2).sqrt().to(p.dtype)  # λ ≥ ε/(1+ε) exactly; clamp round-off
    metric = (v * root[..., None, :]) @ v.mH
    inverse = (v / root[..., None, :]) @ v.mH
    return metric.to(w.dtype), inverse.to(w.dtype)


@dataclass(frozen=True)
class MetricWhitener:
    """The user's private coordinates with a metric: ``whiten(y) = M · L⁻¹(y − μ)`` and its exact
    inverse ``unwhiten(y') = L · M⁻¹ y' + μ``. Same interface as :class:`Whitener`."""

    base: Whitener
    metric: torch.Tensor  # [h, h] Hermitian PD
    inverse: torch.Tensor  # [h, h]

    def whiten(self, x: torch.Tensor) -> torch.Tensor:
        return self.metric @ self.base.whiten(x)

    def unwhiten(self, xw: torch.Tensor) -> torch.Tensor:
        return self.base.unwhiten(self.inverse @ xw)


def prepare_user_side(
    train_rows: np.ndarray, test_rows: np.ndarray, whiten: bool, dtype: torch.dtype,
    device: torch.device | str = "cpu", classifier: Classifier | None = None,
    metric: Literal["mse", "task"] = "mse", eps: float = 0.1, user: int | str = "", processing: str = "linear",
) -> tuple[torch.Tensor, torch.Tensor, Whitener | MetricWhitener]:
    """A user's pilots and test latents in its working coordinates (:func:`prepare_side`), then,
    for ``metric="task"``, multiplied by its private task metric ``M`` (DESIGN.md §3 *User metric*)."""
    y, y_test, w = prepare_side(train_rows, test_rows, whiten, dtype, device, processing)
    if metric == "mse":
        return y, y_test, w
    if metric != "task":
        raise ConfigError(f"field 'user_metric': unknown metric {metric!r} (known: {', '.join(USER_METRICS)})")
    if classifier is None:
        raise ConfigError(f"field 'user_metric': 'task' needs a classifier, user {user} has none")
    m, m_inv = task_metric(packed_classifier(classifier.weight, dtype, device, processing), w.chol, eps)
    return m @ y, m @ y_test, MetricWhitener(w, m, m_inv)
