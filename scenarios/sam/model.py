"""LAM-SC end to end (Fig. 2 of the paper): SKB segments → ASI → semantic encoder → ASC mask → channel → decoder.

One class covers every variant: ``asi`` ∈ {"attention", "uniform", "none"} and ``asc`` on/off.
``asi="none", asc=False`` is the conventional baseline (the same autoencoder, plain image in).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from scenarios.sam.asc import AdaptiveMask
from scenarios.sam.asi import SemanticIntegration
from scenarios.sam.codec import SemanticDecoder, SemanticEncoder
from scenarios.sam.link import from_symbols, to_symbols

__all__ = ["LamSc", "Forward"]

#: (symbols [B,K,h,w] complex, keep [B,1,h,w]) -> (received symbols, sent count [B])
ChannelFn = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


@dataclass
class Forward:
    """What one pass produced (tensors on the model's device)."""

    recon: torch.Tensor        # [B, 3, H, W] in [0, 1]
    keep: torch.Tensor         # [B, L, h, w] ASC mask over L feature levels (1 = sent); ones without ASC
    sent: torch.Tensor         # [B] complex symbols sent
    weights: torch.Tensor | None     # [B, S] ASI segment importance (None without ASI)
    importance: torch.Tensor | None  # [B, 1, H, W] ASI importance map


class LamSc(nn.Module):
    """``forward(x [B,3,H,W], masks [B,S,H,W], valid [B,S], channel, keep=None)`` → :class:`Forward`.

    ``mask_levels``/``mask_block``: the ASC mask's unit (:mod:`scenarios.sam.asc`); every variant's decoder
    reads ``L`` mask maps (all ones without ASC), so all variants share one architecture. ``keep``
    ``[B, L, h, w]`` overrides the mask (the mask-ratio curriculum of the base models); ``mask_shift`` ``[B, 1, h, w]``
    is added to the mask's keep logits (:class:`scenarios.sam.asc.AdaptiveMask`). ``asi_steer``: the ASI
    importance shifts the mask's keep logits, with gradient (:class:`scenarios.sam.asc.AdaptiveMask`; 0 = off)."""

    def __init__(self, asi: str = "attention", asc: bool = True, latent_channels: int = 8, mask_levels: int = 1,
                 mask_block: int = 1, asi_steer: float = 0.0) -> None:
        super().__init__()
        self.asi_mode, self.use_asc, self.mask_levels = asi, asc, mask_levels
        self.asi = SemanticIntegration(asi) if asi != "none" else None
        self.encoder = SemanticEncoder(4 if self.asi is not None else 3, latent_channels)
        self.asc = AdaptiveMask(latent_channels, levels=mask_levels, block=mask_block, steer=asi_steer) if asc else None
        self.decoder = SemanticDecoder(latent_channels, mask_channels=mask_levels)

    def forward(self, x: torch.Tensor, masks: torch.Tensor, valid: torch.Tensor, channel: ChannelFn,
                keep: torch.Tensor | None = None, mask_shift: torch.Tensor | None = None) -> Forward:
        weights = importance = None
        if self.asi is not None:
            inp, weights, importance = self.asi(x, masks, valid)
        else:
            inp = x
        z = self.encoder(inp)
        small = (torch.nn.functional.avg_pool2d(importance, x.shape[-1] // z.shape[-1]) if importance is not None
                 else torch.ones_like(z[:, :1]))
        if keep is None:
            keep = self.asc(z, small, mask_shift)[0] if self.asc is not None else torch.ones_like(z[:, :1]).expand(-1, self.mask_levels, -1, -1)
        y, sent = channel(to_symbols(z), keep)
        return Forward(self.decoder(from_symbols(y), keep), keep, sent, weights, importance)
