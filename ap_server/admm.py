"""The AP's ADMM state and one AP update from the users' statistics (DESIGN.md §3, steps 2–5).

Both runtimes (in-process engine and Flower ServerApp) call :func:`ap_update`.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from ap_server.consensus import dual_update, global_f, project_power
from ap_server.fstep import local_f_step_closed, local_f_step_sylvester

__all__ = ["APState", "Residuals", "ap_update", "residuals", "start_state"]


@dataclass(frozen=True)
class APState:
    """ADMM iterates at the AP. Shared mode: ``[1, M, m]``; multi-link: ``[K, M, m]``."""

    f: torch.Tensor
    z: torch.Tensor
    u: torch.Tensor
    round: int = 0

    def transmit(self, which: str) -> torch.Tensor:
        """The pre-equalizer used for transmission: ``Z`` (feasible) or ``F``."""
        return self.z if which == "z" else self.f


@dataclass(frozen=True)
class Residuals:
    """Primal ``‖F − Z‖`` and dual ``ρ‖Z − Z_prev‖`` residuals, relative (DESIGN.md §3)."""

    primal: float
    dual: float


def _norms(*ts: torch.Tensor) -> list[float]:
    """Frobenius norms of same-shape tensors in one call, on the real view (complex
    ``vector_norm`` is ~10x slower on CPU) and with one device sync."""
    x = torch.stack(ts)
    x = torch.view_as_real(x) if x.is_complex() else x
    return torch.linalg.vector_norm(x.reshape(len(ts), -1), dim=1).tolist()


def residuals(f: torch.Tensor, z: torch.Tensor, z_prev: torch.Tensor) -> Residuals:
    """Primal ``‖F − Z‖`` and dual ``‖Z − Z_prev‖`` relative to ``‖Z‖`` (DESIGN.md §3, stopping)."""
    nz, primal, dual = _norms(z, f - z, z - z_prev)
    scale = max(nz, 1e-30)
    return Residuals(primal=primal / scale, dual=dual / scale)


def start_state(f0: torch.Tensor, budget: float, users: int, shared: bool) -> APState:
    """``F = F₀``, ``Z = Π(F₀)``, ``U = 0``; multi-link copies ``F₀`` per user."""
    f = f0 if shared else f0.expand(users, *f0.shape[-2:]).clone()
    z = project_power(f, budget)
    return APState(f=f, z=z, u=torch.zeros_like(f), round=0)


def ap_update(
    state: APState,
    gram: torch.Tensor,
    cross: torch.Tensor,
    rho: float,
    budget: float,
    shared: bool = True,
    rxx: torch.Tensor | None = None,
    weights: torch.Tensor | None = None,
    aggregation: str = "mean",
    trim: float = 0.2,
) -> tuple[APState, Residuals]:
    r"""One AP iteration: local F-steps, global F, Z-step, U-step (DESIGN.md §3, 2–5).

    ``gram = A^H A`` ``[K, M, M]`` and ``cross = A^H R_yx`` ``[K, M, m]`` from the users;
    ``rxx = None`` means whitened pilots (closed-form F-step), else the Sylvester F-step.
    ``weights`` ``[K]`` marks users that answered (shared mode; 0 = left out this round).
    In multi-link mode a user that did not answer keeps its previous ``F_k``.
    ``aggregation``/``trim``: the global F-step (mean, trimmed mean or geometric median).
    """
    if rxx is None:
        f_local = local_f_step_closed(gram, cross, state.z, state.u, rho)
    else:
        f_local = local_f_step_sylvester(gram, cross, rxx, state.z, state.u, rho)
    if not shared and weights is not None:
        keep = (weights > 0).reshape(-1, 1, 1)
        f_local = torch.where(keep, f_local, state.f)
    f = global_f(f_local, shared, weights if shared else None, aggregation, trim)
    z = project_power(f + state.u, budget)
    u = dual_update(state.u, f, z)
    return replace(state, f=f, z=z, u=u, round=state.round + 1), residuals(f, z, state.z)
