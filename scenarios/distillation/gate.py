"""CALA's gating network: channel state (SNR, delay spread) -> mixture weights of the rank-1 LoRAs.

.. math:: g(\\gamma, \\tau) = \\operatorname{softmax}(W_2\\,\\mathrm{SiLU}(W_1 [\\gamma/20,\\ \\log_{10}\\tau / 3.5] + b_1) + b_2)

with ``γ`` the SNR in dB and ``τ`` the RMS delay spread in ns (DeKA-g §III-C).
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["ChannelGate", "channel_features"]


def channel_features(snr_db: torch.Tensor, delay_spread_ns: torch.Tensor) -> torch.Tensor:
    """``[B]`` SNRs (dB) and delay spreads (ns) -> normalised gate inputs ``[B, 2]``."""
    snr = torch.as_tensor(snr_db, dtype=torch.float32).reshape(-1)
    ds = torch.as_tensor(delay_spread_ns, dtype=torch.float32).reshape(-1)
    return torch.stack([snr / 20.0, torch.log10(ds.clamp_min(1.0)) / 3.5], 1)


class ChannelGate(nn.Module):
    """``(snr_db [B], delay_spread_ns [B]) -> weights [B, M]`` (non-negative, summing to 1)."""

    def __init__(self, components: int, hidden: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, hidden), nn.SiLU(), nn.Linear(hidden, components))

    def forward(self, snr_db: torch.Tensor, delay_spread_ns: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(channel_features(snr_db, delay_spread_ns)), dim=-1)
