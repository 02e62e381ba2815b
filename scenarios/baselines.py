"""First-K and Top-K baselines: feature selection, SVD-precoded links, LMMSE and LS alignment (DESIGN.md §5)."""
from __future__ import annotations

import torch

from channel import add_user_noise, lmmse_receiver, svd_precoder
from protocol.config import RunConfig
from scenarios.problem import Problem
from user_client.alignment import apply_affine_alignment, fit_affine_alignment

__all__ = ["select_features", "feature_link", "selection_baseline"]


def select_features(xc: torch.Tensor, k: int, kind: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The ``k`` complex features each vector sends: the first ``k`` (``"first-k"``) or the
    ``k`` of largest magnitude per vector (``"top-k"``, with their indices). ``xc`` ``[m, n]``."""
    if kind == "first-k":
        return xc[:k], None
    if kind == "top-k":
        idx = xc.abs().topk(k, dim=0).indices.sort(dim=0).values  # [k, n]
        return torch.gather(xc, 0, idx), idx
    raise ValueError(f"unknown selection {kind!r}")


def feature_link(
    sym: torch.Tensor, h_bar: torch.Tensor, h_bar_est: torch.Tensor, noise_var: torch.Tensor,
    c: int, seed: int, stream: str,
) -> torch.Tensor:
    r"""Send ``M = N_T c`` symbols per vector over each user's link with SVD precoding
    (``H̄ = UΣV^H``, transmit ``V s`` per use) and LMMSE reception (designed on the estimate);
    user k's noise from stream ``{stream}-k``.

    ``sym`` ``[M, n]`` (same for all users), ``h_bar`` ``[K, N_R, N_T]``. Output ``[K, M, n]``.
    """
    nt = h_bar.shape[-1]
    n = sym.shape[-1]
    s = sym.reshape(c, nt, n)  # use u carries symbols u*N_T … u*N_T+N_T-1
    v = svd_precoder(h_bar_est)  # [K, N_T, N_T]
    tx = v[:, None] @ s[None]  # [K, c, N_T, n]
    rx = add_user_noise(h_bar[:, None] @ tx, noise_var, seed, stream)
    sig_var = float(sym.abs().pow(2).mean())
    w = lmmse_receiver(h_bar_est @ v, noise_var, max(sig_var, 1e-12))  # [K, N_T, N_R]
    return (w[:, None] @ rx).reshape(h_bar.shape[0], c * nt, n)


def selection_baseline(prob: Problem, cfg: RunConfig, kind: str) -> torch.Tensor:
    """First-K/Top-K end to end; returns the users' decoded test latents ``[K, p, n_te]``
    (whitened user space), the user's affine LS map fitted on the received pilots. The baselines send
    complex features (DESIGN.md §5): ``prob`` must be built with linear processing."""
    if prob.processing != "linear":
        raise ValueError(f"{kind} sends complex features: build its problem with processing 'linear', "
                         f"not {prob.processing!r}")
    m = prob.x.shape[0]
    big_m = cfg.symbols
    k = min(big_m, m)
    chol = prob.ap_whitener.chol
    outs = {}
    for split, xw, stream in (("pilot", prob.x, "baseline-pilot-noise"), ("test", prob.x_test, "eval-noise")):
        xc = chol @ xw  # centred AP features
        vals, idx = select_features(xc, k, kind)
        if split == "pilot":
            alpha = torch.sqrt(cfg.power / vals.abs().pow(2).sum(0).mean().clamp_min(1e-30))
        sym = torch.nn.functional.pad(alpha * vals, (0, 0, 0, big_m - k))
        rec = feature_link(sym, prob.h_bar, prob.h_est_bar, prob.noise_var, cfg.channel_uses, cfg.seed, stream)[:, :k] / alpha
        if idx is not None:  # scatter back to the known positions (index side information)
            full = torch.zeros(rec.shape[0], m, rec.shape[-1], dtype=rec.dtype, device=rec.device)
            rec = full.scatter(1, idx.expand(rec.shape[0], -1, -1), rec)
        outs[split] = rec
    q = fit_affine_alignment(outs["pilot"], prob.y)
    return apply_affine_alignment(q, outs["test"])
