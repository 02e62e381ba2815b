"""Features over the air: real maps → complex symbols, power normalisation, AWGN or Rayleigh fading.

Uses the project's channel module (Sionna blocks) and its SNR convention (DESIGN.md §2): an
image's ``n`` sent complex symbols carry total energy ``P_T`` (``P_T/n`` per symbol, i.e. per
channel use), the noise per use is ``σ² = P_T / (n · 10^{SNR/10})`` — so SNR is the per-use
signal-to-noise ratio whatever the mask keeps. Rayleigh: one flat block-fading coefficient
``h ~ CN(0, 1)`` per image (Sionna's ``RayleighBlockFading``, 1×1), perfect CSI at the receiver,
LMMSE equalisation (``channel.mimo.lmmse_receiver``).
"""
from __future__ import annotations

import torch

from channel.fading import SeededRayleighBlockFading
from channel.mimo import lmmse_receiver
from channel.noise import add_noise, noise_variance
from scenarios.sam.asc import expand_levels

__all__ = ["to_symbols", "from_symbols", "normalise_power", "transmit", "CHANNELS"]

CHANNELS = ("awgn", "rayleigh")


def to_symbols(z: torch.Tensor) -> torch.Tensor:
    """Real ``[B, C, h, w]`` → complex ``[B, C/2, h, w]``: first half real parts, second half imaginary (DESIGN.md §2)."""
    c = z.shape[1] // 2
    return torch.complex(z[:, :c], z[:, c:])


def from_symbols(s: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`to_symbols`."""
    return torch.cat([s.real, s.imag], 1)


def normalise_power(s: torch.Tensor, keep: torch.Tensor, power: float) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Scale each image's *sent* symbols to energy ``P_T``: ``s ← s·m·\sqrt{P_T / Σ m|s|²}``.

    ``s: [B, K, h, w]`` complex, ``keep: [B, L, h, w]`` in {0, 1} over ``L`` levels of ``K/L`` maps
    (:mod:`scenarios.sam.asc`; ``L = 1``: one flag per position). Returns the scaled symbols (zero where
    masked) and the number of sent symbols per image ``n: [B]`` (float).
    """
    keep = expand_levels(keep, s.shape[1])
    sent = s * keep
    energy = sent.abs().pow(2).flatten(1).sum(-1)
    n = keep.flatten(1).sum(-1)
    scale = torch.sqrt(power / energy.clamp_min(1e-12))
    return sent * scale[:, None, None, None].to(s.real.dtype), n


def transmit(s: torch.Tensor, keep: torch.Tensor, snr_db: torch.Tensor, kind: str, generator: torch.Generator,
             power: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Send power-normalised symbols; return the receiver's estimate (zero where masked) and ``n`` ``[B]``.

    ``s: [B, K, h, w]`` complex; ``keep: [B, L, h, w]``; ``snr_db: [B]`` (one per image).
    """
    if kind not in CHANNELS:
        raise ValueError(f"channel must be one of {CHANNELS}, got {kind!r}")
    x, n = normalise_power(s, keep, power)
    b = x.shape[0]
    var = noise_variance(snr_db.detach().cpu(), power, 1).to(x.real.dtype).to(x.device) / n.detach().clamp_min(1)
    flat = x.reshape(b, -1)
    if kind == "awgn":
        y = add_noise(flat, var, generator)
    else:
        precision = "double" if x.dtype == torch.complex128 else "single"
        block = SeededRayleighBlockFading(num_rx=1, num_rx_ant=1, num_tx=1, num_tx_ant=1, precision=precision,
                                          device=str(x.device), generator=generator)
        h = block(batch_size=b, num_time_steps=1)[0].reshape(b, 1, 1)  # [B, N_R=1, N_T=1]
        received = add_noise(h[:, :, 0] * flat, var, generator)
        w = lmmse_receiver(h, var / (power / n.detach().clamp_min(1)).to(var.dtype))  # [B, 1, 1]
        y = w[:, :, 0] * received
    return y.reshape(x.shape) * expand_levels(keep, s.shape[1]), n
