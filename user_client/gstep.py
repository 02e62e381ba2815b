"""The user's private steps: the G-step and the uplink statistics (DESIGN.md §3.1, §4.2).

All functions are pure and batched over a leading users dimension ``K``; dtype and
device come from the inputs. ``m`` = AP complex features, ``p`` = user complex features
(users of smaller dimension are zero-padded to a common ``p``: zero rows of ``Y`` give
zero rows of ``G`` and contribute nothing), ``M = N_T c``, ``R = N_R c``.
"""
from __future__ import annotations

import torch

__all__ = ["g_step", "g_step_from_pilots", "uplink_stats", "uplink_stats_from_pilots", "hermitian_solve_right"]


def hermitian_solve_right(b: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """``B A⁻¹`` for Hermitian positive-definite ``A`` (Cholesky; a solve, not an inverse)."""
    chol, info = torch.linalg.cholesky_ex(a)
    if bool((info != 0).any()):
        return torch.linalg.solve(a, b.mH).mH.resolve_conj()
    return torch.cholesky_solve(b.mH, chol).mH.resolve_conj()


def g_step(
    hf: torch.Tensor, rxx: torch.Tensor, ryx: torch.Tensor, noise_var: torch.Tensor
) -> torch.Tensor:
    r"""G-step in sufficient-statistics form (DESIGN.md §3, step 1, divided by n).

    .. math:: G_k = R_{yx,k} (H_k F)^H \big(H_k F R_{xx} (H_k F)^H + σ_k^2 I\big)^{-1}

    with ``R_xx = X X^H / n`` and ``R_yx,k = Y_k X^H / n``.

    Inputs: ``hf = H_k F`` ``[K, R, m]``; ``rxx`` ``[m, m]`` or ``[K, m, m]``;
    ``ryx`` ``[K, p, m]``; ``noise_var`` ``[K]`` (real). Output ``G`` ``[K, p, R]``.
    """
    r = hf.shape[-2]
    eye = torch.eye(r, dtype=hf.dtype, device=hf.device)
    cov = hf @ rxx @ hf.mH + noise_var.to(hf.real.dtype).reshape(-1, 1, 1) * eye
    return hermitian_solve_right(ryx @ hf.mH, cov)


def g_step_from_pilots(s: torch.Tensor, y: torch.Tensor, noise_var: torch.Tensor) -> torch.Tensor:
    r"""G-step in the paper's message form (DESIGN.md §3, step 1).

    .. math:: G_k = Y_k S_k^H (S_k S_k^H + n σ_k^2 I)^{-1},\quad S_k = H_k F X

    Inputs: ``s`` ``[K, R, n]``, ``y`` ``[K, p, n]``, ``noise_var`` ``[K]``. Output ``[K, p, R]``.
    """
    n = s.shape[-1]
    eye = torch.eye(s.shape[-2], dtype=s.dtype, device=s.device)
    cov = s @ s.mH + (n * noise_var.to(s.real.dtype)).reshape(-1, 1, 1) * eye
    return hermitian_solve_right(y @ s.mH, cov)


def uplink_stats(g: torch.Tensor, h: torch.Tensor, ryx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Compact-mode uplink (DESIGN.md §4.4): ``A^H A`` ``[K, M, M]`` and ``A^H R_yx`` ``[K, M, m]``.

    ``A_k = G_k H_k``; ``g`` ``[K, p, R]``, ``h`` ``[K, R, M]``, ``ryx`` ``[K, p, m]``.
    """
    a = g @ h
    return a.mH @ a, a.mH @ ryx


def uplink_stats_from_pilots(g: torch.Tensor, h: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Paper-mode uplink (DESIGN.md §4.2): ``A^H A`` ``[K, M, M]`` and ``A^H Y`` ``[K, M, n]``."""
    a = g @ h
    return a.mH @ a, a.mH @ y
