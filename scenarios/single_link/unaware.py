r"""Channel-unaware baseline: least-squares alignment designed without the channel, then separate
MIMO equalization (ZF or LMMSE) at the receiver (arXiv 2507.16680 baselines; DESIGN.md §5 style).

With whitened pilots the least-squares alignment is ``T = R_yx R_xx⁻¹``; to send ``M = N_T c``
symbols it is truncated to its best rank-``M`` factorisation (reduced-rank least squares):
``T ≈ D E`` with ``E = V_Mᴴ`` (``M×m``) and ``D = U_M Σ_M`` from the SVD of ``T R_xx^{1/2}``.
The TX sends ``s = α E x`` with ``α`` scaled to ``P_T``, unprecoded (one symbol per antenna and use);
the RX equalizes ``ŝ = W r`` with ZF ``W = H⁺`` or LMMSE (:func:`channel.lmmse_receiver`), then
maps ``ŷ = D ŝ / α``.
"""
from __future__ import annotations

import torch

from channel import add_user_noise, lmmse_receiver
from protocol.config import RunConfig
from scenarios.problem import Problem

__all__ = ["reduced_rank_alignment", "channel_unaware"]


def reduced_rank_alignment(rxx: torch.Tensor, ryx: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(E, D)`` with ``E`` ``[rank, m]`` (rows orthonormal in the ``R_xx`` metric) and ``D``
    ``[p, rank]`` minimising ``E‖y − D E x‖²``; zero rows/columns when ``rank > min(p, m)``."""
    lam, q = torch.linalg.eigh(rxx)
    lam = lam.clamp_min(1e-9 * float(lam.max().clamp_min(1e-30)))
    inv_half = q @ torch.diag(lam.rsqrt()).to(q.dtype) @ q.mH
    t_half = ryx @ inv_half  # T R_xx^{1/2} = R_yx R_xx^{-1/2}
    u, s, vh = torch.linalg.svd(t_half, full_matrices=False)
    k = min(rank, s.shape[0])
    e = torch.zeros(rank, rxx.shape[0], dtype=rxx.dtype, device=rxx.device)
    d = torch.zeros(ryx.shape[0], rank, dtype=rxx.dtype, device=rxx.device)
    e[:k] = vh[:k] @ inv_half
    d[:, :k] = u[:, :k] * s[:k].to(u.dtype)
    return e, d


def channel_unaware(prob: Problem, cfg: RunConfig, receiver: str) -> tuple[torch.Tensor, dict]:
    """Decoded test latents ``[1, p, n_te]`` and ``tr(E Eᴴ)``-style power of the sent symbols."""
    if receiver not in ("zf", "mmse"):
        raise ValueError(f"unknown receiver {receiver!r} (zf, mmse)")
    big_m = prob.h.shape[-1]
    e, d = reduced_rank_alignment(prob.rxx, prob.ryx[0], big_m)
    energy = torch.trace(e @ prob.rxx @ e.mH).real.clamp_min(1e-30)  # E‖E x‖² on the pilots
    alpha = torch.sqrt(cfg.power / energy).to(e.dtype)
    h, h_est = prob.h[0], prob.h_est[0]
    if receiver == "zf":
        w = torch.linalg.pinv(h_est)
    else:
        w = lmmse_receiver(h_est, prob.noise_var[0], cfg.power / big_m)
    rx = add_user_noise((h @ (alpha * e) @ prob.x_test).unsqueeze(0), prob.noise_var, cfg.seed, "eval-noise")
    y_hat = d @ (w @ rx[0]) / alpha
    return y_hat.unsqueeze(0), {"tr_power": float((alpha.abs() ** 2) * energy), "flops": None}
