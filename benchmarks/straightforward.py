r"""The straightforward federated ADMM: the speed baseline of ``python -m benchmarks`` (DESIGN.md §3).

A direct reading of DESIGN.md §3 with the paper's message form (§4.2): every message keeps its
``n`` pilot columns and every user is solved on its own, one after the other, on its own
unpadded ``p_k`` rows. Per iteration and user k:

1. AP → user: ``S_k = H_k F X`` ``[R, n]``;
2. user: ``G_k = Y_k S_kᴴ (S_k S_kᴴ + n σ_k² I)⁻¹`` (a linear solve), ``A_k = G_k H_k``;
3. user → AP: ``A_kᴴ A_k`` and ``A_kᴴ Y_k`` ``[M, n]``;
4. AP: local F-step ``F_k = (A_kᴴ A_k + ρ I)⁻¹ (A_kᴴ Y_k Xᴴ / n + ρ (Z − U))`` for whitened
   pilots, else the Sylvester equation ``(A_kᴴ A_k) F_k + F_k ρ R_xx⁻¹ = (A_kᴴ Y_k Xᴴ/n + ρ(Z−U)) R_xx⁻¹``
   by Bartels–Stewart (``scipy.linalg.solve_sylvester``), ``R_xx = X Xᴴ / n`` formed once;
5. AP: ``F = mean_k F_k``, ``Z = Π_𝒫(F + U)``, ``U ← U + F − Z``.

Nothing is cached across iterations except the AP's own ``R_xx`` (what a reasonable direct
implementation would do); the same torch BLAS as the engine is used. It is written
independently of ``user_client``/``ap_server`` on purpose, so that comparing its F with the
engine's also checks the engine.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["DirectUser", "DirectState", "direct_iteration", "direct_solve"]


@dataclass
class DirectUser:
    """One user's own data: channel ``H_k`` ``[R, M]``, pilots ``Y_k`` ``[p_k, n]``, noise ``σ_k²``."""

    h: torch.Tensor
    y: torch.Tensor
    noise_var: float


@dataclass
class DirectState:
    """ADMM iterates ``F``, ``Z``, ``U`` ``[M, m]`` (shared pre-equalizer)."""

    f: torch.Tensor
    z: torch.Tensor
    u: torch.Tensor


def _project(f: torch.Tensor, budget: float) -> torch.Tensor:
    p = float((f.abs() ** 2).sum())
    return f * (budget / p) ** 0.5 if p > budget else f


def direct_iteration(
    state: DirectState, users: list[DirectUser], x: torch.Tensor, rho: float, budget: float,
    rxx: torch.Tensor | None = None,
) -> DirectState:
    """One iteration, user by user, with ``n``-column messages. ``rxx = None``: whitened pilots."""
    n = x.shape[-1]
    m_sym = state.f.shape[0]
    eye_m = torch.eye(m_sym, dtype=x.dtype)
    target = rho * (state.z - state.u)
    f_sum = torch.zeros_like(state.f)
    rxx_inv = None if rxx is None else torch.linalg.inv(rxx)
    for user in users:
        s = user.h @ (state.f @ x)  # downlink message [R, n]
        cov = s @ s.mH + n * user.noise_var * torch.eye(s.shape[0], dtype=x.dtype)
        g = torch.linalg.solve(cov, (user.y @ s.mH).mH).mH  # Y S^H cov^{-1} (cov Hermitian)
        a = g @ user.h
        gram, ay = a.mH @ a, a.mH @ user.y  # uplink message: [M, M], [M, n]
        rhs = ay @ x.mH / n + target
        if rxx_inv is None:
            f_k = torch.linalg.solve(gram + rho * eye_m, rhs)
        else:
            from scipy.linalg import solve_sylvester

            f_k = torch.from_numpy(np.ascontiguousarray(solve_sylvester(
                gram.numpy(), (rho * rxx_inv).numpy(), (rhs @ rxx_inv).numpy()))).to(x.dtype)
        f_sum += f_k
    f = f_sum / len(users)
    z = _project(f + state.u, budget)
    return DirectState(f=f, z=z, u=state.u + f - z)


def direct_solve(
    f0: torch.Tensor, users: list[DirectUser], x: torch.Tensor, rho: float, budget: float, iterations: int,
    rxx: torch.Tensor | None = None,
) -> DirectState:
    """``iterations`` direct iterations from ``F₀`` (``Z₀ = Π(F₀)``, ``U₀ = 0``)."""
    z0 = _project(f0, budget)
    state = DirectState(f=f0, z=z0, u=torch.zeros_like(f0))
    for _ in range(iterations):
        state = direct_iteration(state, users, x, rho, budget, rxx)
    return state
