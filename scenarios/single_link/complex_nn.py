"""Complex-valued layers: linear maps and the phase–amplitude activation (arXiv 2507.16680, neural model).

All layers work on rows: input ``[B, features]`` complex, output ``[B, features']`` complex.
"""
from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["ComplexLinear", "PhaseAmplitude", "ComplexMLP", "ACTIVATIONS"]

ACTIVATIONS = ("gelu", "relu")


class ComplexLinear(nn.Module):
    r"""``z ↦ z W^T + b`` with complex ``W`` ``[out, in]`` and ``b`` ``[out]``.

    Initialisation: real and imaginary parts i.i.d. ``N(0, 1/(2·fan_in))`` (complex Glorot-like:
    ``E|W_ij|² = 1/fan_in``), drawn from ``generator``.
    """

    def __init__(self, fan_in: int, fan_out: int, generator: torch.Generator, dtype: torch.dtype = torch.complex64):
        super().__init__()
        real = torch.float64 if dtype == torch.complex128 else torch.float32
        std = 1.0 / math.sqrt(2 * fan_in)
        re = torch.randn(fan_out, fan_in, generator=generator, dtype=real) * std
        im = torch.randn(fan_out, fan_in, generator=generator, dtype=real) * std
        self.weight = nn.Parameter(torch.complex(re, im))
        self.bias = nn.Parameter(torch.zeros(fan_out, dtype=dtype))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z @ self.weight.T + self.bias


class PhaseAmplitude(nn.Module):
    r"""``act(z) = g(|z| + b) · e^{i∠z}`` with ``g`` = GELU or ReLU on the magnitude and a learned
    per-feature magnitude offset ``b`` (initially 0). The phase of ``z`` is kept (for GELU a negative
    ``g`` — at most 0.17 in size — points the output along ``-z``); ``act(0) = 0``.
    """

    def __init__(self, features: int, kind: str = "gelu"):
        super().__init__()
        if kind not in ACTIVATIONS:
            raise ValueError(f"unknown activation {kind!r} ({', '.join(ACTIVATIONS)})")
        self.kind = kind
        self.offset = nn.Parameter(torch.zeros(features))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        mag = z.abs()
        g = nn.functional.gelu(mag + self.offset) if self.kind == "gelu" else torch.relu(mag + self.offset)
        unit = z / mag.clamp_min(1e-12)  # e^{i∠z}; 0 where z = 0
        return g.to(unit.real.dtype) * unit


class ComplexMLP(nn.Sequential):
    """``widths[0] → … → widths[-1]``: complex linear layers with the phase–amplitude activation
    between them (none after the last)."""

    def __init__(self, widths: list[int], activation: str, generator: torch.Generator,
                 dtype: torch.dtype = torch.complex64):
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            layers.append(ComplexLinear(a, b, generator, dtype))
            if i < len(widths) - 2:
                layers.append(PhaseAmplitude(b, activation))
        super().__init__(*layers)
