"""AWGN at the DESIGN.md §2 SNR convention, drawn by Sionna's AWGN block."""
from __future__ import annotations

from typing import Sequence

import torch
from sionna.phy.channel import AWGN

from channel.rng import OwnGenerator, make_generator

__all__ = ["noise_variance", "SeededAWGN", "add_noise", "add_user_noise", "empirical_snr_db"]


def noise_variance(snr_db: float | Sequence[float] | torch.Tensor, power: float, channel_uses: int) -> torch.Tensor:
    r"""``σ² = P_T / (c · 10^{SNR/10})``: per receive antenna, at full budget (DESIGN.md §2).

    Accepts one SNR or one per user; returns a float64 tensor of the same length.
    """
    snr = torch.as_tensor(snr_db, dtype=torch.float64)
    return power / (channel_uses * 10.0 ** (snr / 10.0))


class SeededAWGN(OwnGenerator, AWGN):
    """Sionna's :class:`AWGN` drawing from an explicit generator."""


def add_noise(x: torch.Tensor, variance: torch.Tensor | float, generator: torch.Generator) -> torch.Tensor:
    r"""``y = x + w``, ``w ~ CN(0, σ² I)``.

    ``x: [K, ..., rows, n]`` complex; ``variance`` a scalar or ``[K]`` (one per user). The
    noise is drawn in single precision (and cast for complex128 ``x``), so single- and
    double-precision runs of one seed see the same noise.
    """
    block = SeededAWGN(precision="single", device=str(x.device), generator=generator)
    var = torch.as_tensor(variance, dtype=torch.float32, device=x.device)
    if var.dim() == 1:
        var = var.reshape(-1, *([1] * (x.dim() - 1)))
    if x.dtype == torch.complex64:
        return block(x, var)
    # drawn in single precision and cast: a seed gives the same noise in single and double runs
    return x + block(torch.zeros(x.shape, dtype=torch.complex64, device=x.device), var).to(x.dtype)


def add_user_noise(x: torch.Tensor, variance: torch.Tensor, seed: int, stream: str) -> torch.Tensor:
    """:func:`add_noise` with user k's noise from its own stream ``{stream}-k``:
    ``x`` ``[K, rows, n]``, ``variance`` ``[K]``. The same user sees the same noise
    whether it runs batched with others or alone (the Flower runtime)."""
    return torch.stack([
        add_noise(x[k], variance[k], make_generator(seed, f"{stream}-{k}", x.device)) for k in range(x.shape[0])
    ])


def empirical_snr_db(signal: torch.Tensor, noisy: torch.Tensor, power: float, channel_uses: int) -> float:
    """Measured SNR at the DESIGN.md convention: ``P_T / (c · mean|w|²)`` in dB."""
    w = noisy - signal
    return float(10 * torch.log10(torch.tensor(power / (channel_uses * w.abs().pow(2).mean().item()))))
