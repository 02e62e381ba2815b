"""Attention-based semantic integration (ASI, LAM-SC §III-B): weigh the SKB's segments, fuse them into a
semantic-aware image.

1. *Per-segment features*: a one-layer conv trunk, masked-average-pooled over each segment, plus the
   segment's mean colour and area fraction: ``f_s ∈ R^{F+4}``.
2. *Channel attention* (segments are the channels, as in squeeze-and-excitation): an MLP scores each
   segment, a softmax over the image's segments gives importance ``w_s`` (``Σ_s w_s = 1``).
3. *Spatial attention* (CBAM-style): the importance map ``A(p) = S · Σ_s w_s 1[p ∈ s]`` (uniform
   weights → ``A ≡ 1``) and channel mean/max of the image give a gate ``g(p) ∈ (0, 1)``; the
   semantic-aware image is ``x_sa = x ⊙ (½ + g)`` stacked with ``A`` (4 channels).

``mode="uniform"`` is the ablation: ``w_s = 1/S`` with the same spatial attention.

*Human-guided importance* (optional, :func:`importance_target`, :func:`supervision_loss`): in training, a loss
``KL(t ‖ w)`` pulls the segment weights towards ``t_s ∝ o_s + ε``, ``o_s`` the share of segment ``s``'s pixels inside
the ground-truth object masks. At inference the weights come from the segment features alone (no labels).
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["SemanticIntegration", "importance_target", "segment_object_share", "segments_onehot", "supervision_loss"]


def segments_onehot(labels: torch.Tensor, max_segments: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Label maps ``[B, H, W]`` (ints ``0 … S−1``) → masks float ``[B, S, H, W]`` and ``valid`` bool ``[B, S]``."""
    masks = torch.nn.functional.one_hot(labels.long(), max_segments).permute(0, 3, 1, 2).to(torch.float32)
    return masks, masks.flatten(2).sum(-1) > 0


def segment_object_share(masks: torch.Tensor, objects: torch.Tensor) -> torch.Tensor:
    """``o_s [B, S]``: the share of each segment's pixels inside the ground-truth objects (``masks [B,S,H,W]``,
    ``objects`` bool/0-1 ``[B,1,H,W]``; 0 for empty segments)."""
    area = masks.flatten(2).sum(-1)
    return torch.einsum("bshw,bhw->bs", masks, objects[:, 0].to(masks.dtype)) / area.clamp_min(1)


def importance_target(masks: torch.Tensor, objects: torch.Tensor, valid: torch.Tensor, eps: float = 0.05) -> torch.Tensor:
    """Human-guided target ``t [B, S]``: each valid segment's object-pixel share ``o_s`` plus ``eps``, normalised over
    the image's segments (``masks [B,S,H,W]``, ``objects`` bool/0-1 ``[B,1,H,W]``, ``valid [B,S]``)."""
    t = (segment_object_share(masks, objects) + eps) * valid
    return t / t.sum(-1, keepdim=True).clamp_min(1e-12)


def supervision_loss(weights: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """``KL(t ‖ w)`` over the valid segments, mean over the batch (0 when ``w = t``)."""
    t, w = target.clamp_min(1e-12), weights.clamp_min(1e-12)
    return ((target * (t.log() - w.log())) * valid).sum(-1).mean()


class SemanticIntegration(nn.Module):
    """ASI. ``forward(x [B,3,H,W], masks [B,S,H,W], valid [B,S])`` →
    ``(x_sa [B,4,H,W], weights [B,S], importance [B,1,H,W])``."""

    def __init__(self, mode: str = "attention", trunk: int = 8, hidden: int = 32) -> None:
        super().__init__()
        if mode not in ("attention", "uniform"):
            raise ValueError(f"ASI mode must be attention or uniform, got {mode!r}")
        self.mode = mode
        self.trunk = nn.Sequential(nn.Conv2d(3, trunk, 3, padding=1), nn.ReLU())
        self.score = nn.Sequential(nn.Linear(trunk + 4, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        self.spatial = nn.Conv2d(3, 1, 7, padding=3)

    def segment_features(self, x: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """``f_s``: ``[B, S, F+4]`` (pooled trunk features, mean RGB, area fraction)."""
        area = masks.flatten(2).sum(-1)  # [B, S]
        pooled = torch.einsum("bshw,bchw->bsc", masks, torch.cat([self.trunk(x), x], 1)) / area.clamp_min(1)[..., None]
        return torch.cat([pooled, (area / masks[0, 0].numel())[..., None]], -1)

    def forward(self, x: torch.Tensor, masks: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n_valid = valid.sum(-1, keepdim=True).clamp_min(1)
        if self.mode == "uniform":
            weights = valid.float() / n_valid
        else:
            logits = self.score(self.segment_features(x, masks)).squeeze(-1)
            weights = torch.softmax(logits.masked_fill(~valid, float("-inf")), -1)
        importance = torch.einsum("bs,bshw->bhw", weights * n_valid, masks)[:, None]
        pooled = torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True), importance], 1)
        gate = torch.sigmoid(self.spatial(pooled))
        return torch.cat([x * (0.5 + gate), importance], 1), weights, importance
