"""One transmission over the edge→user link: OFDM symbols through TDL block fading, AWGN, MMSE.

.. math:: y_k = h_k x_k + w_k,\\ w_k \\sim \\mathcal{CN}(0, \\sigma^2),\\ \\sigma^2 = 10^{-\\mathrm{SNR}/10};
          \\qquad \\hat x_k = \\frac{h_k^* y_k}{|h_k|^2 + \\sigma^2}

(unit-power symbols, ``E|h|² = 1``; the receiver knows ``h``). The noise is drawn by the
project's Sionna AWGN block (``channel.noise``); the channel comes from
:mod:`channel.multipath` (a :class:`ChannelBank` of pre-drawn TDL blocks per delay spread).
"""
from __future__ import annotations

import torch

from channel.multipath import tdl_frequency_response
from channel.noise import add_noise, noise_variance

__all__ = ["ChannelBank", "transmit"]


class ChannelBank:
    """Pre-drawn TDL frequency responses per delay spread, sampled per transmitted block."""

    def __init__(self, delay_spreads_ns: tuple[float, ...], subcarriers: int, draws: int, generator: torch.Generator,
                 subcarrier_spacing_hz: float = 30e3, carrier_frequency_hz: float = 3.5e9) -> None:
        self.delay_spreads = tuple(sorted(set(float(d) for d in delay_spreads_ns)))
        ds = torch.tensor(self.delay_spreads).repeat_interleave(draws)
        h = tdl_frequency_response(ds, subcarriers, generator, subcarrier_spacing_hz, carrier_frequency_hz)
        self.h = {d: h[i * draws:(i + 1) * draws] for i, d in enumerate(self.delay_spreads)}
        self.draws = draws

    def sample(self, delay_spread_ns: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """One block per entry of ``delay_spread_ns [B]`` -> ``h [B, S]`` complex."""
        ds = delay_spread_ns.reshape(-1).tolist()
        idx = torch.randint(0, self.draws, (len(ds),), generator=generator).tolist()
        return torch.stack([self.h[float(d)][i] for d, i in zip(ds, idx)])


def transmit(x: torch.Tensor, h: torch.Tensor, snr_db: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Send unit-power ``x [B, S]`` over ``h [B, S]`` at per-block ``snr_db [B]``; return MMSE-equalised ``x̂``."""
    var = noise_variance(snr_db.reshape(-1), power=1.0, channel_uses=1).to(torch.float32)
    y = add_noise(h * x, var, generator)
    v = var.reshape(-1, 1).to(x.real.dtype)
    return h.conj() * y / (h.abs().pow(2) + v)
