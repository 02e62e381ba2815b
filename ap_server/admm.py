"""The AP's ADMM state and one AP update from the users' statistics (DESIGN.md §3, steps 2–6).

Both runtimes (in-process engine and Flower ServerApp) call :func:`ap_update`.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from ap_server.consensus import dual_update, global_f, project_power
from ap_server.fstep import local_f_step_closed, local_f_step_sylvester
from ap_server.penalty import PenaltyRule, balance_penalty, consensus_residuals, scaled_penalty

__all__ = [
    "APState", "Residuals", "ap_update", "residuals", "start_state", "PenaltyRule", "real_matrix", "divergence_warning",
]

DIVERGENCE_FACTOR = 100.0  # primal residual this many times its smallest value (and above 1): diverging


@dataclass(frozen=True)
class APState:
    """ADMM iterates at the AP. Shared mode: ``[1, M, m]``; multi-link: ``[K, M, m]``.
    ``rho`` ``[1 or K]`` float64: the penalty for the next round (``None`` before the first)."""

    f: torch.Tensor
    z: torch.Tensor
    u: torch.Tensor
    round: int = 0
    rho: torch.Tensor | None = None

    def transmit(self, which: str) -> torch.Tensor:
        """The pre-equalizer used for transmission: ``Z`` (feasible) or ``F``."""
        return self.z if which == "z" else self.f

    def real_part(self) -> "APState":
        """Widely-linear runs (DESIGN.md §2): every iterate is a real matrix; drop the round-off
        imaginary parts the complex solvers leave, so they cannot build up over rounds."""
        return replace(self, f=real_matrix(self.f), z=real_matrix(self.z), u=real_matrix(self.u))


def real_matrix(t: torch.Tensor) -> torch.Tensor:
    """``Re t`` kept in ``t``'s complex dtype."""
    return torch.complex(t.real, torch.zeros_like(t.real))


@dataclass(frozen=True)
class Residuals:
    """Primal ``‖F − Z‖`` and dual ``‖Z − Z_prev‖`` residuals relative to ``‖Z‖`` (the stopping
    rule of DESIGN.md §3; without the factor ρ, which residual balancing adds in
    :mod:`ap_server.penalty`)."""

    primal: float
    dual: float
    rho: float = 1.0  # the penalty this iteration used (largest over the batch)


def _norms(*ts: torch.Tensor) -> list[float]:
    """Frobenius norms of same-shape tensors in one call, on the real view (complex
    ``vector_norm`` is ~10x slower on CPU) and with one device sync."""
    x = torch.stack(ts)
    x = torch.view_as_real(x) if x.is_complex() else x
    return torch.linalg.vector_norm(x.reshape(len(ts), -1), dim=1).tolist()


def residuals(f: torch.Tensor, z: torch.Tensor, z_prev: torch.Tensor, rho: float = 1.0) -> Residuals:
    """Primal ``‖F − Z‖`` and dual ``‖Z − Z_prev‖`` relative to ``‖Z‖`` (DESIGN.md §3, stopping);
    ``rho``: the penalty the iteration used, reported alongside."""
    nz, primal, dual = _norms(z, f - z, z - z_prev)
    scale = max(nz, 1e-30)
    return Residuals(primal=primal / scale, dual=dual / scale, rho=rho)


def start_state(f0: torch.Tensor, budget: float, users: int, shared: bool, dual: str = "shared") -> APState:
    """``F = F₀``, ``Z = Π(F₀)``, ``U = 0``; multi-link copies ``F₀`` per user. ``dual``
    ``per-user`` (shared mode): one scaled dual ``U_k`` per user, ``[K, M, m]`` (DESIGN.md §3 step 5)."""
    f = f0 if shared else f0.expand(users, *f0.shape[-2:]).clone()
    z = project_power(f, budget)
    u = torch.zeros_like(f) if not (shared and dual == "per-user") else f.new_zeros(users, *f.shape[-2:])
    return APState(f=f, z=z, u=u, round=0)


def ap_update(
    state: APState,
    gram: torch.Tensor,
    cross: torch.Tensor,
    rho: float | PenaltyRule,
    budget: float,
    shared: bool = True,
    rxx: torch.Tensor | None = None,
    weights: torch.Tensor | None = None,
    aggregation: str = "mean",
    trim: float = 0.2,
) -> tuple[APState, Residuals]:
    r"""One AP iteration: local F-steps, global F, Z-step, U-step, ρ-step (DESIGN.md §3, 2–6).

    ``gram = A^H A`` ``[K, M, M]`` and ``cross = A^H R_yx`` ``[K, M, m]`` from the users;
    ``rxx = None`` means whitened pilots (closed-form F-step), else the Sylvester F-step.
    ``weights`` ``[K]`` marks users that answered (shared mode; 0 = left out this round).
    In multi-link mode a user that did not answer keeps its previous ``F_k``.
    ``aggregation``/``trim``: the global F-step (mean, trimmed mean or geometric median).
    ``rho``: a fixed penalty, or a :class:`PenaltyRule` (step 6: scaled start and/or residual
    balancing; the current ρ is carried in ``state.rho``, the scaled dual rescaled with it).
    Shared mode with ``state.u`` ``[K, M, m]`` (see :func:`start_state`) runs the per-user-dual
    (consensus) steps 4–5: ``Z = Π(agg_k(F_k + U_k))``, ``U_k ← U_k + F_k − Z``; a user that did
    not answer keeps its ``U_k``.
    """
    rule = rho if isinstance(rho, PenaltyRule) else PenaltyRule(rho=float(rho))
    batch = state.f.shape[0]
    if state.rho is not None and rule.mode != "fixed":
        pen = state.rho
    elif rule.scaled:
        pen = scaled_penalty(gram, rule.scale, shared, weights, fallback=rule.rho)
    else:
        pen = torch.full((batch,), rule.rho, dtype=torch.float64, device=state.f.device)
    rho_arg = rule.rho if rule.mode == "fixed" else pen  # fixed: the exact float arithmetic of before
    if rxx is None:
        f_local = local_f_step_closed(gram, cross, state.z, state.u, rho_arg)
    else:
        f_local = local_f_step_sylvester(gram, cross, rxx, state.z, state.u, rho_arg)
    if not shared and weights is not None:
        keep = (weights > 0).reshape(-1, 1, 1)
        f_local = torch.where(keep, f_local, state.f)
    f = global_f(f_local, shared, weights if shared else None, aggregation, trim)
    used = rule.rho if rule.mode == "fixed" else float(pen.max())
    if shared and state.u.shape[0] > 1:  # per-user duals (consensus ADMM)
        z = project_power(global_f(f_local + state.u, True, weights, aggregation, trim), budget)
        u = dual_update(state.u, f_local, z)
        if weights is not None:
            u = torch.where((weights > 0).reshape(-1, 1, 1), u, state.u)
        answered = f_local.shape[0] if weights is None else max(int((weights > 0).sum()), 1)
        res = residuals(f, z, state.z, used)
        nz = max(_norms(z)[0], 1e-30)
        primal = float(consensus_residuals(f_local, z, state.z, torch.ones(1, dtype=torch.float64, device=f_local.device), True,
                                           weights)[0]) / answered ** 0.5  # RMS of ‖F_k − Z‖
        res = replace(res, primal=primal / nz)
    else:
        z = project_power(f + state.u, budget)
        u = dual_update(state.u, f, z)
        res = residuals(f, z, state.z, used)
    new_pen = pen
    if rule.adaptive:
        r, s = consensus_residuals(f_local, z, state.z, pen, shared, weights)
        new_pen, u_scale = balance_penalty(pen, r, s, rule.mu, rule.tau, rule.rho / rule.span, rule.rho * rule.span)
        u = u * u_scale.to(device=u.device, dtype=u.real.dtype).reshape(-1, 1, 1)
    return replace(state, f=f, z=z, u=u, round=state.round + 1, rho=new_pen), res


def divergence_warning(history: list[dict]) -> str | None:
    """A one-line warning when the relative primal residual ended far above its best value (ADMM
    diverging, e.g. round-off in single precision with a penalty small against the users' grams)."""
    res = [h["primal_residual"] for h in history if "primal_residual" in h]
    if len(res) < 2:
        return None
    best, last = min(res), res[-1]
    if last > 1.0 and last > DIVERGENCE_FACTOR * best:
        return (f"ADMM diverged: primal residual {last:.3g} at the last iteration vs {best:.3g} at best; "
                "try --precision double, a larger --rho or --dual per-user --rho-mode scaled")
    return None
