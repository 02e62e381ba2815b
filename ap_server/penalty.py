r"""The ADMM penalty ρ at the AP: fixed, scaled to the users' statistics, or adapted by
residual balancing (DESIGN.md §3, step 6). Pure batched functions plus the rule's settings.

ρ lives at the AP only (users never use it), so no message changes. A batch element ``b`` is
one ADMM problem: shared mode has one (``[1]``), multi-link one per user (``[K]``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

__all__ = ["PenaltyRule", "RHO_MODES", "scaled_penalty", "consensus_residuals", "balance_penalty"]

RhoMode = Literal["fixed", "scaled", "adaptive", "scaled-adaptive"]
RHO_MODES: tuple[str, ...] = ("fixed", "scaled", "adaptive", "scaled-adaptive")


@dataclass(frozen=True)
class PenaltyRule:
    """How ρ is set (DESIGN.md §3 step 6). ``rho``: the fixed ρ (also the start of residual
    balancing); ``scale``: the multiplier of the mean gram eigenvalue in the scaled modes;
    ``mu``/``tau``: residual-balancing threshold and factor."""

    mode: RhoMode = "fixed"
    rho: float = 1.0
    scale: float = 0.3
    mu: float = 10.0
    tau: float = 2.0
    span: float = 1e6  # residual balancing keeps ρ within [rho/span, rho·span]


    @classmethod
    def from_config(cls, cfg) -> "PenaltyRule":
        """From a :class:`protocol.config.RunConfig` (``rho``, ``rho_mode``, ``rho_scale``, ``rho_mu``, ``rho_tau``)."""
        return cls(mode=cfg.rho_mode, rho=cfg.rho, scale=cfg.rho_scale, mu=cfg.rho_mu, tau=cfg.rho_tau)

    @property
    def scaled(self) -> bool:
        return self.mode in ("scaled", "scaled-adaptive")

    @property
    def adaptive(self) -> bool:
        return self.mode in ("adaptive", "scaled-adaptive")


def _batch_weights(gram: torch.Tensor, weights: torch.Tensor | None, shared: bool) -> torch.Tensor:
    """``[B, K]`` 0/1 membership of user k in batch element b (answering users only)."""
    k = gram.shape[0]
    w = torch.ones(k, dtype=torch.float64, device=gram.device) if weights is None else weights.to(torch.float64)
    w = (w > 0).to(torch.float64)
    return w.unsqueeze(0) if shared else torch.diag(w)


def scaled_penalty(gram: torch.Tensor, scale: float, shared: bool, weights: torch.Tensor | None = None,
                   fallback: float = 1.0) -> torch.Tensor:
    r"""Scale-aware ρ (DESIGN.md §3 step 6): ``ρ_b = scale · tr(Σ_{k∈b} A_kᴴA_k) / (K_b M)``, the
    mean eigenvalue of the answering users' gram terms (``gram`` ``[K, M, M]``) times ``scale``.

    Returns ``[B]`` float64 (``B = 1`` shared, ``K`` multi-link); a batch element with no
    answering user or a zero gram gets ``fallback``.
    """
    tr = gram.diagonal(dim1=-2, dim2=-1).real.sum(-1).to(torch.float64)  # [K]
    member = _batch_weights(gram, weights, shared)  # [B, K]
    count = member.sum(-1) * gram.shape[-1]
    mean_eig = (member @ tr) / count.clamp(min=1)
    ok = (count > 0) & (mean_eig > 0) & torch.isfinite(mean_eig)
    return torch.where(ok, scale * mean_eig, torch.full_like(mean_eig, fallback))


def consensus_residuals(
    f_local: torch.Tensor, z: torch.Tensor, z_prev: torch.Tensor, rho: torch.Tensor, shared: bool,
    weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Consensus primal and dual residuals per batch element (Boyd et al. 2011, §7.1; DESIGN.md §3
    step 6): ``r_b = (Σ_{k∈b} ‖F_k − Z_b‖²)^{1/2}`` over the answering users' *local* F-steps and
    ``s_b = ρ_b √K_b ‖Z_b − Z_b^{prev}‖``. With one user ``r = ‖F − Z‖``.

    ``f_local`` ``[K, M, m]``; ``z``, ``z_prev`` ``[B, M, m]``; ``rho`` ``[B]``. Returns ``(r, s)`` ``[B]``.
    """
    member = _batch_weights(f_local, weights, shared)  # [B, K]
    zk = z if not shared else z.expand_as(f_local)
    d = torch.view_as_real(f_local - zk) if f_local.is_complex() else f_local - zk
    sq = d.to(torch.float64).square().reshape(f_local.shape[0], -1).sum(-1)  # [K]
    r = (member @ sq).sqrt()
    dz = torch.view_as_real(z - z_prev) if z.is_complex() else z - z_prev
    s = rho * member.sum(-1).sqrt() * dz.to(torch.float64).reshape(z.shape[0], -1).norm(dim=-1)
    return r, s


def balance_penalty(
    rho: torch.Tensor, primal: torch.Tensor, dual: torch.Tensor, mu: float = 10.0, tau: float = 2.0,
    lo: float = 0.0, hi: float = float("inf"),
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Residual balancing (Boyd et al. 2011, §3.4.1; DESIGN.md §3 step 6), batched over ``[B]``:
    ``ρ ← τρ`` if ``r > μ s``, ``ρ ← ρ/τ`` if ``s > μ r``, else unchanged; kept in ``[lo, hi]``
    (a bounded ρ cannot overflow, and stops changing once it sits at a bound).

    Returns the new ``ρ`` and the factor ``ρ_old/ρ_new`` by which the *scaled* dual ``U = Y/ρ``
    must be multiplied so that the unscaled dual ``Y`` is unchanged.
    """
    up = primal > mu * dual
    down = dual > mu * primal
    factor = torch.where(up, torch.full_like(rho, tau), torch.where(down, torch.full_like(rho, 1.0 / tau),
                                                                      torch.ones_like(rho)))
    new = (rho * factor).clamp(min=lo, max=hi)
    return new, rho / new
