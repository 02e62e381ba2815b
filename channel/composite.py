r"""The real-composite form of a complex MIMO link, for widely-linear processing (DESIGN.md §2).

A complex link ``r = H s + w`` is, on real and imaginary parts, the real link

.. math:: \begin{bmatrix}\Re r\\ \Im r\end{bmatrix} =
          \begin{bmatrix}\Re H & -\Im H\\ \Im H & \Re H\end{bmatrix}
          \begin{bmatrix}\Re s\\ \Im s\end{bmatrix} + \begin{bmatrix}\Re w\\ \Im w\end{bmatrix},
          \qquad \Re w, \Im w \sim \mathcal N(0, \tfrac{σ^2}{2} I).

The same physical channel, symbols and noise; any real-linear (widely-linear) F and G act on it as
ordinary matrices. Tensors stay complex with zero imaginary part, so the math core runs unchanged.
"""
from __future__ import annotations

import torch

from channel.noise import add_noise
from channel.rng import make_generator

__all__ = ["real_composite", "composite_noise_variance", "composite_link", "add_noise_composite", "add_user_noise_composite"]


def real_composite(h: torch.Tensor) -> torch.Tensor:
    """``[..., R, T]`` complex → ``[..., 2R, 2T]`` real-composite matrix (complex dtype, zero imaginary part)."""
    top = torch.cat([h.real, -h.imag], dim=-1)
    bottom = torch.cat([h.imag, h.real], dim=-1)
    real = torch.cat([top, bottom], dim=-2)
    return torch.complex(real, torch.zeros_like(real))


def composite_noise_variance(noise_var: torch.Tensor) -> torch.Tensor:
    """Per real dimension: ``σ²/2`` for complex noise of variance ``σ²``."""
    return noise_var / 2


def composite_link(
    h: torch.Tensor, h_est: torch.Tensor, noise_var: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A link's true channel, its estimate and noise variance in real-composite form."""
    return real_composite(h), real_composite(h_est), composite_noise_variance(noise_var)


def add_noise_composite(x: torch.Tensor, variance: torch.Tensor | float, generator: torch.Generator) -> torch.Tensor:
    """:func:`channel.add_noise` on a real-composite signal ``x`` ``[..., 2R, n]`` with
    per-real-dimension ``variance``: complex noise ``w`` ``[..., R, n]`` of variance ``2·variance``
    is drawn as for the complex link, and ``[Re w; Im w]`` added."""
    rows = x.shape[-2]
    if rows % 2:
        raise ValueError(f"a real-composite signal has an even number of rows, got {rows}")
    zeros = torch.zeros(*x.shape[:-2], rows // 2, x.shape[-1], dtype=x.dtype, device=x.device)
    w = add_noise(zeros, 2 * torch.as_tensor(variance), generator)
    noise = torch.cat([w.real, w.imag], dim=-2)
    return x + torch.complex(noise, torch.zeros_like(noise))


def add_user_noise_composite(x: torch.Tensor, variance: torch.Tensor, seed: int, stream: str) -> torch.Tensor:
    """:func:`add_noise_composite` with user k's noise from stream ``{stream}-k`` (the stream of
    :func:`channel.add_user_noise`): ``x`` ``[K, 2R, n]``, ``variance`` ``[K]``."""
    return torch.stack([
        add_noise_composite(x[k], variance[k], make_generator(seed, f"{stream}-{k}", x.device)) for k in range(x.shape[0])
    ])
