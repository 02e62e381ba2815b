"""The user's private steps: the G-step and the uplink statistics (DESIGN.md §3.1, §4.2).

All functions are pure and batched over a leading users dimension ``K``; dtype and
device come from the inputs. ``m`` = AP complex features, ``p`` = user complex features
(users of smaller dimension are zero-padded to a common ``p``: zero rows of ``Y`` give
zero rows of ``G`` and contribute nothing), ``M = N_T c``, ``R = N_R c``.
"""
from __future__ import annotations

import torch

__all__ = [
    "g_step", "g_step_from_pilots", "uplink_stats", "uplink_stats_from_pilots", "hermitian_solve_right",
    "ryx_gram", "uplink_stats_fused", "hermitian_inverse",
]


def hermitian_inverse(a: torch.Tensor) -> torch.Tensor:
    """``A⁻¹`` of small Hermitian positive-definite matrices ``[..., r, r]`` via Cholesky.

    For the ``R × R`` / ``M × M`` systems of a round (R, M = 16 typically) forming the inverse
    and multiplying is several times faster on CPU than ``torch.cholesky_solve`` with a wide
    right-hand side (measured in ``python -m benchmarks``); ``A`` is regularised (``σ² I``,
    ``ρ I``), so the inverse is well conditioned. Falls back to an LU inverse when Cholesky fails.
    """
    try:
        return torch.cholesky_inverse(torch.linalg.cholesky(a))
    except torch.linalg.LinAlgError:  # not numerically positive definite
        return torch.linalg.inv(a)


def hermitian_solve_right(b: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """``B A⁻¹`` for Hermitian positive-definite ``A`` (:func:`hermitian_inverse`)."""
    return b @ hermitian_inverse(a)


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


def ryx_gram(ryx: torch.Tensor) -> torch.Tensor:
    r"""The user's one-off statistic ``T_k = R_yx,kᴴ R_yx,k`` ``[K, m, m]`` (Hermitian PSD).

    With it a round no longer touches the ``p_k`` feature rows (:func:`uplink_stats_fused`);
    zero-padded rows add nothing, so padding costs nothing either.
    """
    return ryx.mH @ ryx


def uplink_stats_fused(
    f: torch.Tensor, h: torch.Tensor, rxx: torch.Tensor | None, tyy: torch.Tensor, noise_var: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""G-step and compact uplink in one pass, in ``M``-dimensional form (DESIGN.md §3 step 1, §4.4).

    With ``C = H F R_xx Fᴴ Hᴴ + σ² I`` the G-step is ``G = R_yx (H F)ᴴ C⁻¹``, so with
    ``T = R_yxᴴ R_yx`` (:func:`ryx_gram`), ``P = F T`` and ``D = Hᴴ C⁻¹ H``:

    .. math:: A^H R_{yx} = H^H G^H R_{yx} = D P,\qquad A^H A = H^H G^H G H = D (P F^H) D,

    the same numbers as :func:`g_step` + :func:`uplink_stats` at ``O(M m²)`` per user instead
    of ``O(R m p)`` (``p`` never appears), and ``F R_xx Fᴴ`` is formed once for a shared F.
    ``rxx = None`` means whitened pilots (``R_xx = I``).

    Inputs: ``f`` ``[1 or K, M, m]``, ``h`` ``[K, R, M]``, ``rxx`` ``[m, m]``/None, ``tyy``
    ``[K, m, m]``, ``noise_var`` ``[K]``. Outputs ``[K, M, M]``, ``[K, M, m]``.
    """
    w = f @ f.mH if rxx is None else f @ rxx @ f.mH  # [1 or K, M, M]
    hh = h.mH
    cov = h @ w @ hh
    cov.diagonal(dim1=-2, dim2=-1).add_(noise_var.to(cov.dtype).unsqueeze(-1))  # + sigma^2 I (fresh tensor)
    d = hh @ hermitian_inverse(cov) @ h  # H^H C^-1 H   [K, M, M]
    p = f @ tyy  # F T   [K, M, m]
    return d @ (p @ f.mH) @ d, d @ p
