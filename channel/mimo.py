"""Link-level MIMO helpers for the baselines: SVD precoding and LMMSE reception (DESIGN.md §5)."""
from __future__ import annotations

import torch
from sionna.phy.mimo import lmmse_matrix

__all__ = ["svd_precoder", "lmmse_receiver"]


def svd_precoder(h_bar: torch.Tensor) -> torch.Tensor:
    r"""Right singular vectors ``V`` of ``H̄ = U Σ V^H``: precode with ``V``.

    Input ``[..., N_R, N_T]``; output ``[..., N_T, N_T]`` (unitary).
    """
    _, _, vh = torch.linalg.svd(h_bar)
    return vh.mH.resolve_conj()


def lmmse_receiver(h_eff: torch.Tensor, noise_var: torch.Tensor | float, signal_var: float = 1.0) -> torch.Tensor:
    r"""LMMSE receive matrix ``W = H^H (H H^H + (σ²/σ_x²) I)^{-1}`` via Sionna's ``lmmse_matrix``.

    ``h_eff: [..., N_R, S]`` (``S`` streams of variance ``signal_var``), ``noise_var``
    scalar or ``[...]``. Output ``[..., S, N_R]``.
    """
    nr = h_eff.shape[-2]
    precision = "double" if h_eff.dtype == torch.complex128 else "single"
    var = torch.as_tensor(noise_var, dtype=h_eff.real.dtype, device=h_eff.device) / signal_var
    eye = torch.eye(nr, dtype=h_eff.dtype, device=h_eff.device)
    s = var.reshape(*var.shape, 1, 1) * eye if var.dim() else var * eye
    s = s.expand(*h_eff.shape[:-2], nr, nr)
    return lmmse_matrix(h_eff, s=s, precision=precision)
