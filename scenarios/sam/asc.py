"""Adaptive semantic compression (ASC, LAM-SC §III-C): a learnable binary mask over the semantic features.

A small conv net scores every feature position from the features and the (downsampled) ASI
importance map; ``p = σ(logit)``, the mask is ``m = 1[p > ½]``. Training uses the straight-through
estimator ``m_ste = m + p − sg(p)`` (forward binary, backward the sigmoid's gradient). The knob is a
loss term on the batch's mean mask, ``λ (mean(1 − m) − r)²`` with target mask ratio ``r``: only the
*average* is pinned, so the ratio of one image adapts to its content. Masked positions are not
transmitted. At inference the mask is exactly binary.

The mask net scores *stopped-gradient* features ``sg(z)`` and ``sg(importance)``: the mask decides what
to send, but its ratio term cannot reshape the encoder's features (the encoder still learns from the
reconstruction through the sent values). Without this, the ratio term's gradient flowed through the mask
net into the encoder and cost ~0.07 validation SSIM at only 10 % masking (measured, docs/sam.md).
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["AdaptiveMask", "mask_ratio_loss"]


class AdaptiveMask(nn.Module):
    """``forward(z [B,C,h,w], importance [B,1,h,w])`` → ``(mask [B,1,h,w] in {0,1}, p [B,1,h,w])``."""

    def __init__(self, channels: int, hidden: int = 16) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels + 1, hidden, 3, padding=1), nn.ReLU(), nn.Conv2d(hidden, 1, 3, padding=1)
        )
        nn.init.constant_(self.net[-1].bias, 2.0)  # start by keeping everything

    def forward(self, z: torch.Tensor, importance: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p = torch.sigmoid(self.net(torch.cat([z.detach(), importance.detach()], 1)))
        hard = (p > 0.5).to(p.dtype)
        return (hard + (p - p.detach()) if self.training else hard), p  # exact 0/1 forward


def mask_ratio_loss(mask: torch.Tensor, target_ratio: float) -> torch.Tensor:
    """``(mean(1 − m) − r)²`` over the batch: the target-ratio knob (the batch mean, not each image)."""
    return ((1 - mask).mean() - target_ratio) ** 2
