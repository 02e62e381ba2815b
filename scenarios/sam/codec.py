"""The semantic encoder/decoder: a small JSCC-style conv autoencoder (64×64 → C maps at 16×16 and back).

The encoder output is ``C`` real maps, sent as ``C/2`` complex maps (:mod:`scenarios.sam.link`);
the decoder gets the received maps plus the ASC mask (``L`` level maps, 1 = sent), known at the
receiver as side information, and returns an RGB image in [0, 1].
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["SemanticEncoder", "SemanticDecoder"]


class SemanticEncoder(nn.Module):
    """``[B, in_ch, H, W]`` → ``[B, C, H/4, W/4]`` real features."""

    def __init__(self, in_channels: int, channels: int, width: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, width // 2, 5, stride=2, padding=2), nn.PReLU(width // 2),
            nn.Conv2d(width // 2, width, 5, stride=2, padding=2), nn.PReLU(width),
            nn.Conv2d(width, width, 3, padding=1), nn.PReLU(width),
            nn.Conv2d(width, channels, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SemanticDecoder(nn.Module):
    """``[B, C+L, H/4, W/4]`` (received features, mask over ``L`` levels) → ``[B, 3, H, W]`` in [0, 1]."""

    def __init__(self, channels: int, width: int = 32, mask_channels: int = 1) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels + mask_channels, width, 3, padding=1), nn.PReLU(width),
            nn.Conv2d(width, width, 3, padding=1), nn.PReLU(width),
            nn.ConvTranspose2d(width, width // 2, 4, stride=2, padding=1), nn.PReLU(width // 2),
            nn.ConvTranspose2d(width // 2, width // 4, 4, stride=2, padding=1), nn.PReLU(width // 4),
            nn.Conv2d(width // 4, 3, 3, padding=1), nn.Sigmoid(),
        )

    def forward(self, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([y, mask], 1))
