"""The training objective's reconstruction term: image MSE, optionally weighted by semantic importance.

LAM-SC's premise is that the receiver cares about the *objects* of a scene more than the background.
With ``object_weight = w`` every pixel inside a ground-truth object mask counts ``w`` times, background
pixels once:

    L = Σ_{b,c,p} ω_b(p) (x̂_{bcp} − x_{bcp})² / Σ_{b,c,p} ω_b(p),   ω_b(p) = w if p ∈ objects(b) else 1,

a weighted mean, so ``w = 1`` is exactly the plain MSE and the loss keeps the MSE's scale for any ``w``.
The same loss trains every variant (conventional, no-asc, lam-sc, uniform-asi, no-asi) alike.
"""
from __future__ import annotations

import torch

__all__ = ["pixel_weights", "weighted_mse"]


def pixel_weights(objects: torch.Tensor, object_weight: float) -> torch.Tensor:
    """``ω``: ``object_weight`` on object pixels, 1 elsewhere; ``objects`` bool/0-1 ``[B, 1, H, W]`` → float, same shape."""
    return 1.0 + (float(object_weight) - 1.0) * objects.to(torch.float32)


def weighted_mse(recon: torch.Tensor, x: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """Weighted mean squared error of ``[B, C, H, W]`` images; ``weights`` ``[B, 1, H, W]`` (None = plain MSE)."""
    err = (recon - x) ** 2
    if weights is None:
        return err.mean()
    w = weights.expand_as(err)
    return (w * err).sum() / w.sum()
