r"""The neural single-link model: complex MLP precoder, power normalisation, the MIMO channel in
the loop and a complex MLP decoder (arXiv 2507.16680; notation of DESIGN.md §2).

Pure batched math on rows: ``x`` ``[B, m]`` whitened complex TX latents → symbols ``s`` ``[B, M]``
(``M = N_T c``, symbol ``j`` of use ``u`` at ``u·N_T + j``) → received ``r = s Hᵀ + w`` ``[B, R]``
with ``H = I_c ⊗ H̄`` and ``w ~ CN(0, σ² I)`` from :func:`channel.add_noise` → ``ŷ`` ``[B, p]``
(whitened RX latents).
"""
from __future__ import annotations

import torch
from torch import nn

from channel import add_noise
from scenarios.single_link.complex_nn import ComplexMLP

__all__ = ["NeuralLink", "normalise_power", "batch_power"]


def batch_power(s: torch.Tensor) -> torch.Tensor:
    """Mean energy per transmitted vector of a batch, ``mean_b ‖s_b‖²`` (the ``tr(F Fᴴ)`` analogue)."""
    return s.abs().pow(2).sum(-1).mean()


def normalise_power(s: torch.Tensor, budget: float) -> torch.Tensor:
    r"""Scale a batch of symbol vectors ``[B, M]`` so that ``mean_b ‖s_b‖² = P_T`` (DESIGN.md §2:
    energy per latent vector, spread over its c uses). Differentiable."""
    return s * torch.sqrt(budget / batch_power(s).clamp_min(1e-30))


class NeuralLink(nn.Module):
    """Precoder ``m → hidden → M`` and decoder ``R → hidden → p`` complex MLPs."""

    def __init__(self, m: int, symbols: int, received: int, p: int, hidden: int, activation: str,
                 seed_generator: torch.Generator, dtype: torch.dtype = torch.complex64, budget: float = 1.0):
        super().__init__()
        self.budget = budget
        self.precoder = ComplexMLP([m, hidden, symbols], activation, seed_generator, dtype)
        self.decoder = ComplexMLP([received, hidden, p], activation, seed_generator, dtype)

    def transmit(self, x: torch.Tensor) -> torch.Tensor:
        """Power-normalised symbols ``[B, M]`` of a batch ``x`` ``[B, m]``."""
        return normalise_power(self.precoder(x), self.budget)

    def forward(self, x: torch.Tensor, h: torch.Tensor, noise_var: float, generator: torch.Generator) -> torch.Tensor:
        """``ŷ = G(H F(x) + w)``: ``x`` ``[B, m]``, ``h`` ``[R, M]``; noise from ``generator``."""
        r = add_noise(self.transmit(x) @ h.T, noise_var, generator)
        return self.decoder(r)
