"""Batched tensor augmentations for contrastive training, driven by an explicit ``torch.Generator``.

All functions take normalised images ``x: [B, C, H, W], float`` and return the same shape; the
``background`` value (a black pixel after normalisation) fills regions moved in from outside.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["random_resized_crop", "random_flip", "random_jitter", "simclr_view"]


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def random_resized_crop(
    x: torch.Tensor,
    generator: torch.Generator,
    scale: tuple[float, float] = (0.35, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    background: float = 0.0,
) -> torch.Tensor:
    """Crop a random box of relative area in ``scale`` and aspect in ``ratio``; resize it back.

    Implemented as one affine ``grid_sample`` per batch: the box half-widths are
    :math:`(\\sqrt{s r}, \\sqrt{s / r})` and its centre is uniform among positions that keep
    the box inside the image.
    """
    b = x.shape[0]
    area = _uniform(b, *scale, generator)
    log_r = _uniform(b, math.log(ratio[0]), math.log(ratio[1]), generator)
    aspect = torch.exp(log_r)
    sx = torch.sqrt(area * aspect).clamp(max=1.0)
    sy = torch.sqrt(area / aspect).clamp(max=1.0)
    tx = (1 - sx) * (2 * torch.rand(b, generator=generator) - 1)
    ty = (1 - sy) * (2 * torch.rand(b, generator=generator) - 1)
    theta = torch.zeros(b, 2, 3, dtype=x.dtype)
    theta[:, 0, 0], theta[:, 0, 2] = sx, tx
    theta[:, 1, 1], theta[:, 1, 2] = sy, ty
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x - background, grid, mode="bilinear", padding_mode="zeros",
                        align_corners=False)
    return out + background


def random_flip(x: torch.Tensor, generator: torch.Generator, p: float = 0.5) -> torch.Tensor:
    """Mirror each image left-right with probability ``p``."""
    flip = torch.rand(x.shape[0], generator=generator) < p
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)


def random_jitter(
    x: torch.Tensor,
    generator: torch.Generator,
    contrast: float = 0.4,
    brightness: float = 0.4,
    noise_std: float = 0.1,
) -> torch.Tensor:
    """Random per-image contrast gain, brightness offset and additive Gaussian noise."""
    b = x.shape[0]
    gain = _uniform(b, 1 - contrast, 1 + contrast, generator).view(-1, 1, 1, 1).to(x.dtype)
    shift = _uniform(b, -brightness, brightness, generator).view(-1, 1, 1, 1).to(x.dtype)
    noise = noise_std * torch.randn(x.shape, generator=generator, dtype=x.dtype)
    return gain * x + shift + noise


def simclr_view(x: torch.Tensor, generator: torch.Generator, background: float = 0.0) -> torch.Tensor:
    """One SimCLR view: random resized crop, flip, then contrast/brightness/noise jitter."""
    v = random_resized_crop(x, generator, background=background)
    v = random_flip(v, generator)
    return random_jitter(v, generator)
