"""Frequency-selective block fading: Sionna 3GPP TDL multipath seen on OFDM subcarriers.

.. math:: h[f_k] = \\sum_p a_p\\, e^{-j 2\\pi f_k \\tau_p}, \\qquad y_k = h[f_k] x_k + w_k,
          \\quad w_k \\sim \\mathcal{CN}(0, \\sigma^2)

The taps ``a_p`` are Rayleigh-faded (TDL-A, NLOS) and held fixed over one block (one
transmitted latent); their delays ``τ_p`` scale with the RMS delay spread, so 30 ns gives a
nearly flat channel over the band and 3000 ns a strongly frequency-selective one. Normalised to
``E|h|² = 1``, so the SNR is ``1/σ²`` for unit-power symbols (the DESIGN.md §2 convention with
``P_T = 1``, ``c = 1``).
"""
from __future__ import annotations

import torch
from sionna.phy.channel import cir_to_ofdm_channel, subcarrier_frequencies
from sionna.phy.channel.tr38901 import TDL

from channel.rng import OwnGenerator

__all__ = ["SeededTDL", "tdl_frequency_response"]


class SeededTDL(OwnGenerator, TDL):
    """Sionna's :class:`TDL` drawing from an explicit generator (reproducible per run stream)."""


def tdl_frequency_response(
    delay_spread_ns: torch.Tensor,
    subcarriers: int,
    generator: torch.Generator,
    subcarrier_spacing_hz: float = 30e3,
    carrier_frequency_hz: float = 3.5e9,
    model: str = "A",
) -> torch.Tensor:
    """One TDL block-fading draw per entry of ``delay_spread_ns`` ``[B]`` (float, ns).

    Returns ``h: [B, subcarriers]`` complex64, the channel on each subcarrier, ``E|h|² = 1``.
    Draws are grouped by distinct delay spread (one Sionna block each) and scattered back.

    >>> g = torch.Generator().manual_seed(0)
    >>> tdl_frequency_response(torch.tensor([30., 3000.]), 64, g).shape
    torch.Size([2, 64])
    """
    ds = torch.as_tensor(delay_spread_ns, dtype=torch.float64).reshape(-1)
    freqs = subcarrier_frequencies(subcarriers, subcarrier_spacing_hz)
    out = torch.empty(len(ds), subcarriers, dtype=torch.complex64)
    for value in torch.unique(ds).tolist():
        idx = (ds == value).nonzero().reshape(-1)
        block = SeededTDL(model, delay_spread=value * 1e-9, carrier_frequency=carrier_frequency_hz,
                          precision="single", device="cpu", generator=generator)
        a, tau = block(batch_size=len(idx), num_time_steps=1, sampling_frequency=1.0)
        h = cir_to_ofdm_channel(freqs, a, tau, normalize=False)  # [b, 1, 1, 1, 1, 1, K]
        out[idx] = h.reshape(len(idx), subcarriers).to(torch.complex64)
    return out
