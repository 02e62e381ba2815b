"""The centralised solution: the same objective with all data in one place (DESIGN.md §5).

Block-coordinate descent: the exact G-step per user, then the exact power-constrained
F-step ``min_F Σ_k ‖Y_k − A_k F X‖² s.t. tr(FF^H) ≤ P_T``, whose KKT condition is
``(Σ_k A_k^H A_k) F R_xx + μ F = Σ_k A_k^H R_yx,k`` with ``μ ≥ 0`` found by bisection.
"""
from __future__ import annotations

import torch

__all__ = ["constrained_f_step"]


def constrained_f_step(
    gram_sum: torch.Tensor, cross_sum: torch.Tensor, rxx: torch.Tensor, budget: float, iters: int = 100
) -> torch.Tensor:
    r"""Exact F-step under ``tr(FF^H) ≤ P_T`` (``gram_sum`` ``[M, M]``, ``cross_sum`` ``[M, m]``,
    ``rxx`` ``[m, m]``). In the eigenbases ``F̃_ij = C̃_ij / (λ_i μ_j + μ)``; ``tr`` falls with ``μ``."""
    lam, p = torch.linalg.eigh(gram_sum)
    nu, q = torch.linalg.eigh(rxx)
    ct = p.mH @ cross_sum @ q
    mag = ct.abs().pow(2).to(torch.float64)
    prod = (lam[:, None] * nu[None, :]).to(torch.float64).clamp_min(0)

    def trace(mu: float) -> float:
        return float((mag / (prod + mu).pow(2)).sum())

    floor = 1e-12 * float(prod.max().clamp_min(1e-30))
    if trace(floor) <= budget:
        mu = floor
    else:
        lo, hi = floor, max(1.0, float(prod.max()))
        while trace(hi) > budget:
            hi *= 4
        for _ in range(iters):
            mid = (lo * hi) ** 0.5 if lo > 0 else hi / 2
            if trace(mid) > budget:
                lo = mid
            else:
                hi = mid
        mu = hi
    denom = (prod + mu).to(ct.real.dtype).to(ct.dtype)
    return p @ (ct / denom) @ q.mH
