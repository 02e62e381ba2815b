"""The tiny autoencoder whose latent space both diffusion models share (the SD-VAE stand-in).

``E: [N, 1, 32, 32] -> [N, C, 8, 8]`` and ``D`` back, trained on MSE; latents are standardised
by one scale (like Stable Diffusion's ``scaling_factor``) so the diffusion prior sees unit variance.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
import torch.nn.functional as F

from scenarios.distillation.training import run_training

__all__ = ["TinyAutoencoder", "train_autoencoder"]


def _block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.GroupNorm(4 if cout % 4 == 0 else 1, cout), nn.SiLU())


class TinyAutoencoder(nn.Module):
    """Conv autoencoder, 4× spatial downsampling; ``encode``/``decode`` use standardised latents."""

    def __init__(self, latent_channels: int = 4, width: int = 32) -> None:
        super().__init__()
        w = width
        self.enc = nn.Sequential(_block(1, w, 2), _block(w, 2 * w, 2), _block(2 * w, 2 * w),
                                 nn.Conv2d(2 * w, latent_channels, 1))
        self.dec = nn.Sequential(nn.Conv2d(latent_channels, 2 * w, 3, 1, 1), nn.SiLU(), _block(2 * w, 2 * w),
                                 nn.Upsample(scale_factor=2), _block(2 * w, w), nn.Upsample(scale_factor=2),
                                 nn.Conv2d(w, w, 3, 1, 1), nn.SiLU(), nn.Conv2d(w, 1, 3, 1, 1))
        self.register_buffer("shift", torch.zeros(()))
        self.register_buffer("scale", torch.ones(()))
        self.latent_channels = latent_channels

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] ``[N, 1, 32, 32]`` -> standardised latents ``[N, C, 8, 8]``."""
        return (self.enc(x) - self.shift) / self.scale

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Standardised latents -> images in [0, 1]."""
        return torch.sigmoid(self.dec(z * self.scale + self.shift))


def train_autoencoder(ae: TinyAutoencoder, images: torch.Tensor, steps: int, batch: int, path: Path,
                      generator: torch.Generator, progress: bool = True) -> list[float]:
    """Fit ``ae`` on ``images`` by MSE (resumable), then set the latent shift/scale."""
    opt = torch.optim.AdamW(ae.parameters(), lr=2e-3, weight_decay=1e-4)

    def step(_: int, g: torch.Generator) -> torch.Tensor:
        x = images[torch.randint(0, len(images), (batch,), generator=g)]
        return F.mse_loss(torch.sigmoid(ae.dec(ae.enc(x))), x)

    losses = run_training("autoencoder", path, {"ae": ae}, opt, steps, step, generator, progress=progress)
    with torch.no_grad():
        z = torch.cat([ae.enc(images[i:i + 512]) for i in range(0, min(len(images), 4096), 512)])
        ae.shift.fill_(float(z.mean()))
        ae.scale.fill_(float(z.std()))
    return losses
