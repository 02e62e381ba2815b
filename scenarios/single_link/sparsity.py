r"""Sparsity by proximal gradient descent and the FLOPs it saves (arXiv 2507.16680, sparse model).

After each optimiser step the proximal operator of ``β‖W‖_0`` with step ``lr`` — hard
thresholding — zeroes every weight of magnitude below ``τ = lr·β`` (complex weights: ``|w|``).
Biases and activation offsets are not thresholded.

FLOPs per transmitted latent vector: a complex multiply–accumulate is 4 real multiplications and
4 real additions, so a complex layer costs ``8 · nnz(W)`` real FLOPs — ``2 ·`` the number of real
multiply–accumulates (``4 · nnz``). Biases and activations are not counted (the same for every β).
"""
from __future__ import annotations

import torch
from torch import nn

from scenarios.single_link.complex_nn import ComplexLinear

__all__ = ["threshold", "hard_threshold", "nonzero_weights", "dense_weights", "flops", "FLOPS_PER_COMPLEX_WEIGHT"]

FLOPS_PER_COMPLEX_WEIGHT = 8


def threshold(lr: float, beta: float) -> float:
    """``τ = lr · β``."""
    return float(lr) * float(beta)


def _weights(model: nn.Module) -> list[torch.Tensor]:
    return [m.weight for m in model.modules() if isinstance(m, ComplexLinear)]


@torch.no_grad()
def hard_threshold(model: nn.Module, tau: float) -> int:
    """Set every complex-layer weight with ``|w| < τ`` to zero in place; returns how many are zero after."""
    zero = 0
    for w in _weights(model):
        if tau > 0:
            w.masked_fill_(w.abs() < tau, 0)
        zero += int((w == 0).sum())
    return zero


def nonzero_weights(model: nn.Module) -> int:
    """Non-zero complex weights of the model's complex linear layers."""
    return sum(int((w != 0).sum()) for w in _weights(model))


def dense_weights(model: nn.Module) -> int:
    return sum(w.numel() for w in _weights(model))


def flops(nonzero_complex_weights: int) -> int:
    """Real FLOPs per vector: ``8 · nnz`` (= 2 · real multiply–accumulates, 4 per complex weight)."""
    return FLOPS_PER_COMPLEX_WEIGHT * int(nonzero_complex_weights)
