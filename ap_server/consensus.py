"""The AP's consensus steps: global F, Z projection and U update (DESIGN.md §3, steps 3–5)."""
from __future__ import annotations

import math

import torch

from ap_server.robust import geometric_median, trimmed_mean

__all__ = ["global_f", "project_power", "dual_update", "power"]


def power(f: torch.Tensor) -> torch.Tensor:
    """``tr(F F^H)`` per leading batch element: ``[..., M, m] -> [...]``."""
    if f.is_complex():  # on the real view: one pass, no complex abs
        return torch.view_as_real(f.resolve_conj()).square().sum(dim=(-3, -2, -1))
    return f.square().sum(dim=(-2, -1))


def global_f(f_local: torch.Tensor, shared: bool, weights: torch.Tensor | None = None,
             aggregation: str = "mean", trim: float = 0.2) -> torch.Tensor:
    r"""Step 3. Shared mode: ``F = mean_k F_k`` over the users that answered (``weights``
    ``[K]``, 0 for a dropped user), output ``[1, M, m]``; ``aggregation`` ``trimmed-mean`` or
    ``geomedian`` combine them robustly instead (:mod:`ap_server.robust`). Multi-link: each
    user keeps its own ``F_k`` (``[K, M, m]``, unchanged)."""
    if not shared:
        return f_local
    if aggregation == "trimmed-mean":
        return trimmed_mean(f_local, trim, weights)
    if aggregation == "geomedian":
        return geometric_median(f_local, weights)
    if aggregation != "mean":
        raise ValueError(f"unknown aggregation {aggregation!r}")
    if weights is None:
        return f_local.mean(dim=0, keepdim=True)
    w = weights.to(f_local.real.dtype)
    total = w.sum()
    if float(total) <= 0:
        raise ValueError("no user answered this round")
    return (w.reshape(-1, 1, 1).to(f_local.dtype) * f_local).sum(dim=0, keepdim=True) / total


def project_power(f: torch.Tensor, budget: float) -> torch.Tensor:
    r"""Step 4: ``Π_𝒫`` onto ``{Z : tr(Z Z^H) ≤ P_T}``: unchanged inside, else scaled by
    ``sqrt(P_T / tr(Z Z^H))``. Per leading batch element; always a new tensor."""
    if f.shape[:-2].numel() == 1:  # one F (shared mode): the scale as a Python number, 3 ops fewer
        x = torch.view_as_real(f.resolve_conj()) if f.is_complex() else f
        tr = float(torch.linalg.vector_norm(x)) ** 2
        return f * math.sqrt(budget / tr) if tr > budget else f.clone()
    scale = (budget / power(f)).clamp(max=1.0).sqrt()  # min(1, sqrt(P_T / tr)); tr = 0 -> 1
    return f * scale[..., None, None]


def dual_update(u: torch.Tensor, f: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Step 5: ``U ← U + F − Z`` (scaled dual)."""
    return u + f - z
