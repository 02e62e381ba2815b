"""The user's least-squares alignment of received features, for the First-K/Top-K baselines (DESIGN.md §5)."""
from __future__ import annotations

import torch

__all__ = ["fit_affine_alignment", "apply_affine_alignment"]


def fit_affine_alignment(x_hat: torch.Tensor, y: torch.Tensor, ridge: float = 1e-3) -> torch.Tensor:
    r"""``Q_k = argmin_Q ‖Y_k − Q [X̂_k; 1]‖² + λ‖Q‖²`` (ridge keeps it stable near ``n ≈ dim``).

    ``x_hat`` ``[K, s, n]`` received pilot features, ``y`` ``[K, p, n]``; ``λ = ridge · n ·
    mean power of X̂``. Output ``Q`` ``[K, p, s+1]`` (last column = intercept).
    """
    n = x_hat.shape[-1]
    ones = torch.ones(*x_hat.shape[:-2], 1, n, dtype=x_hat.dtype, device=x_hat.device)
    xa = torch.cat([x_hat, ones], dim=-2)
    lam = ridge * n * x_hat.abs().pow(2).mean(dim=(-2, -1)).clamp_min(1e-12)
    eye = torch.eye(xa.shape[-2], dtype=xa.dtype, device=xa.device)
    gram = xa @ xa.mH + lam.reshape(-1, 1, 1).to(xa.dtype) * eye
    return torch.linalg.solve(gram, (y @ xa.mH).mH).mH


def apply_affine_alignment(q: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """``Q [X̂; 1]``: ``[K, p, s+1] × [K, s, n] -> [K, p, n]``."""
    return q[..., :-1] @ x_hat + q[..., -1:]
