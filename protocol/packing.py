"""Real <-> complex packing of latent vectors (DESIGN.md §2)."""
from __future__ import annotations

import torch

__all__ = ["complex_dim", "pack", "unpack"]


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
