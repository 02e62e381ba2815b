"""The edge's JSCC codec for latents, with CALA's rank-1 LoRA components in every layer.

A :class:`CALALinear` computes, for a per-sample gate ``g ∈ Δ^{M-1}`` (DeKA-g §III-C),

.. math:: y = W x + b + \\sum_{m=1}^{M} g_m\\, u_m (v_m^\\top x)

so the effective weight ``W + Σ_m g_m u_m v_mᵀ`` is a channel-dependent mixture of rank-1
updates; ``gate=None`` is the plain (fixed-SNR) JSCC. The encoder maps a standardised latent
to ``S`` complex symbols of unit average power; the decoder maps equalised symbols back.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

__all__ = ["CALALinear", "JSCC", "power_normalize"]


class CALALinear(nn.Module):
    """``nn.Linear`` plus ``M`` gated rank-1 components (``u`` zero-initialised)."""

    def __init__(self, fan_in: int, fan_out: int, components: int) -> None:
        super().__init__()
        self.base = nn.Linear(fan_in, fan_out)
        self.v = nn.Parameter(torch.randn(components, fan_in) / fan_in ** 0.5)
        self.u = nn.Parameter(torch.zeros(components, fan_out))

    def forward(self, x: torch.Tensor, gate: torch.Tensor | None = None) -> torch.Tensor:
        y = self.base(x)
        if gate is not None:
            y = y + ((x @ self.v.T) * gate) @ self.u
        return y


def power_normalize(x: torch.Tensor) -> torch.Tensor:
    """Scale each row of complex ``x [B, S]`` to average power 1: ``x·√S/‖x‖``."""
    return x * (x.shape[-1] ** 0.5) / x.abs().pow(2).sum(-1, keepdim=True).sqrt().clamp_min(1e-12)


class JSCC(nn.Module):
    """Latent ``[B, n]`` (flattened) <-> ``S`` complex channel symbols; 3 CALA layers each way."""

    def __init__(self, latent_dim: int, symbols: int, hidden: int, components: int) -> None:
        super().__init__()
        self.enc = nn.ModuleList([CALALinear(latent_dim, hidden, components), CALALinear(hidden, hidden, components),
                                  CALALinear(hidden, 2 * symbols, components)])
        self.dec = nn.ModuleList([CALALinear(2 * symbols, hidden, components), CALALinear(hidden, hidden, components),
                                  CALALinear(hidden, latent_dim, components)])
        self.symbols = symbols

    @staticmethod
    def _run(layers: nn.ModuleList, x: torch.Tensor, gate: torch.Tensor | None) -> torch.Tensor:
        for i, layer in enumerate(layers):
            x = layer(x, gate)
            if i < len(layers) - 1:
                x = F.silu(x)
        return x

    def encode(self, z: torch.Tensor, gate: torch.Tensor | None = None) -> torch.Tensor:
        """``z [B, n]`` -> unit-power complex symbols ``[B, S]``."""
        s = self._run(self.enc, z, gate)
        return power_normalize(torch.complex(s[:, : self.symbols], s[:, self.symbols:]))

    def decode(self, y: torch.Tensor, gate: torch.Tensor | None = None) -> torch.Tensor:
        """Equalised symbols ``[B, S]`` complex -> latent ``[B, n]``."""
        return self._run(self.dec, torch.cat([y.real, y.imag], -1), gate)

    def components(self) -> list[nn.Parameter]:
        """The CALA rank-1 factors (what T-KA adds and the cloud sends)."""
        return [p for n, p in self.named_parameters() if n.endswith(".u") or n.endswith(".v")]

    def base_parameters(self) -> list[nn.Parameter]:
        return [p for n, p in self.named_parameters() if ".base." in n]
