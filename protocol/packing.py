"""Real latents <-> the complex features the math core works on (DESIGN.md §2).

Two forms: *packing* (the paper's; two real features per complex one, complex-linear processing)
and the *real embedding* of widely-linear processing (each real feature is one complex feature
with zero imaginary part, so every map the math core builds from them is real).
"""
from __future__ import annotations

import torch

__all__ = ["PROCESSING", "complex_dim", "pack", "unpack", "feature_dim", "to_features", "from_features"]

PROCESSING = ("linear", "widely-linear")


def complex_dim(d: int) -> int:
    """Number of complex features ``⌈d/2⌉`` for a real latent of dimension ``d``."""
    if d < 1:
        raise ValueError(f"latent dimension must be >= 1, got {d}")
    return (d + 1) // 2


def pack(z: torch.Tensor, dtype: torch.dtype = torch.complex64) -> torch.Tensor:
    r"""Pack real latents into complex features (DESIGN.md §2).

    .. math:: \tilde x = z_{1:h} + i\, z_{h+1:2h},\quad h = \lceil d/2 \rceil

    with ``z`` zero-padded to even length.

    Input ``z``: ``[..., d]`` real. Output: ``[..., ⌈d/2⌉]`` complex (``dtype``).
    """
    if z.is_complex():
        raise TypeError("pack expects real latents")
    d = z.shape[-1]
    h = complex_dim(d)
    if 2 * h != d:
        z = torch.nn.functional.pad(z, (0, 2 * h - d))
    real_dtype = torch.float64 if dtype == torch.complex128 else torch.float32
    z = z.to(real_dtype)
    return torch.complex(z[..., :h], z[..., h:]).to(dtype)


def unpack(x: torch.Tensor, d: int) -> torch.Tensor:
    """Exact inverse of :func:`pack`: ``[..., ⌈d/2⌉]`` complex -> ``[..., d]`` real."""
    if not x.is_complex():
        raise TypeError("unpack expects complex features")
    if x.shape[-1] != complex_dim(d):
        raise ValueError(f"expected {complex_dim(d)} complex features for d={d}, got {x.shape[-1]}")
    return torch.cat([x.real, x.imag], dim=-1)[..., :d]


def _check_processing(processing: str) -> None:
    if processing not in PROCESSING:
        raise ValueError(f"unknown processing {processing!r} (known: {', '.join(PROCESSING)})")


def feature_dim(d: int, processing: str = "linear") -> int:
    """Features of a real latent of dimension ``d``: ``⌈d/2⌉`` packed, or ``d`` embedded (widely linear)."""
    _check_processing(processing)
    h = complex_dim(d)  # also validates d
    return h if processing == "linear" else d


def to_features(z: torch.Tensor, dtype: torch.dtype = torch.complex64, processing: str = "linear") -> torch.Tensor:
    """Real latents ``[..., d]`` → features ``[..., feature_dim(d)]``: :func:`pack`, or
    ``z + 0i`` for widely-linear processing (DESIGN.md §2)."""
    _check_processing(processing)
    if processing == "linear":
        return pack(z, dtype)
    if z.is_complex():
        raise TypeError("to_features expects real latents")
    return torch.complex(z, torch.zeros_like(z)).to(dtype)


def from_features(x: torch.Tensor, d: int, processing: str = "linear") -> torch.Tensor:
    """Inverse of :func:`to_features`: :func:`unpack`, or the real part (widely linear)."""
    _check_processing(processing)
    if processing == "linear":
        return unpack(x, d)
    if not x.is_complex():
        raise TypeError("from_features expects complex features")
    if x.shape[-1] != d:
        raise ValueError(f"expected {d} features for d={d}, got {x.shape[-1]}")
    return x.real
