"""Adaptive semantic compression (ASC, LAM-SC §III-C): a learnable binary mask over the semantic features.

**Unit of masking.** The ``K = C/2`` complex feature maps are split into ``L`` equal *levels* (groups of
maps, in order); the latent grid into square *blocks* of ``b × b`` positions. The mask keeps, in every
block, a prefix of the levels: depth ``d ∈ {0, …, L}`` (levels ``0 … d−1`` are sent, the rest not), so
a smooth block can be sent with one level and a detailed one with all. ``L = 1, b = 1`` is the
per-position on/off mask of the first version (measured in docs/sam.md: dropping whole positions costs
far more SSIM than dropping trailing levels everywhere, because the decoder cannot inpaint a 4×4-pixel
patch of texture, while the trailing levels of a curriculum-trained codec carry refinements).

**Mask net.** A small conv net scores every position and level from ``sg(z)`` and ``sg(importance)``;
scores are averaged over each block, ``p_l = σ(score_l)`` and the *cumulative* product
``P_l = Π_{j ≤ l} p_j`` (non-increasing in ``l``) is the probability that level ``l`` is sent; the mask is
``m_l = 1[P_l > ½]`` — nested by construction. Training uses the straight-through estimator
``m_ste = m + P − sg(P)`` (forward binary, backward the sigmoid's gradient). The knob is a loss term on the
batch's mean mask, ``λ (mean(1 − m) − r)²`` with target ratio ``r`` (fraction of feature *values*
masked): only the average is pinned, so each image's ratio follows its content. At inference the mask is
exactly binary. Stopped gradients: the ratio term cannot reshape the encoder's features (measured: it
cost ~0.07 validation SSIM at 10 % masking when it could).

**Inference budget** (:func:`budget_mask`). The threshold ``P_l > ½`` pins the masked share only on average, so two
mask nets trained to the same target can send different numbers of bits (measured: the uniform-ASI mask net
masked ~6 % more). With ``budget="batch"`` (or ``"image"``) the inference mask instead keeps exactly
``round((1 − r)·N)`` of the ``N`` (level, block) pairs of the batch (of each image) with the highest ``P_l`` —
a threshold calibrated on the mask net's own nested scores, so every variant at ratio ``r`` sends exactly the
same number of symbols. ``"batch"`` keeps each image's share content-dependent (only the batch total is
fixed, like the training knob); ``"image"`` fixes every image's share. Training is unchanged.

**ASI steering** (``steer`` ``β > 0``, off by default). The ASI importance enters the mask net as an input, but
detached, so on its own it never receives a gradient from the mask (measured: the learned segment weights stay
within ~2 % of uniform). With steering the keep logits of every level become ``score_l + β · log Ā_c``, ``Ā`` the
importance averaged over the block and ``log Ā_c`` its log centred over the image's blocks, *with* gradient into
the ASI: the segment weights shift the image's bit budget between blocks (centred, so they move bits, not the
total), and the straight-through gradient of the reconstruction loss reaches them. Caveat: the ratio term's
straight-through gradient reaches them too (``β (g_b − ḡ)``, non-zero where the sigmoid slopes differ between
blocks), and through the ASI it reaches the encoder's input — the coupling the detached inputs otherwise prevent.
Uniform weights (``Ā ≡ 1``) give no shift.

**Side information.** The receiver must know each block's depth: ``⌈log₂(L+1)⌉`` bits per block,
counted in the bits per image (:func:`mask_side_bits`).
"""
from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["AdaptiveMask", "BUDGETS", "budget_mask", "block_log_importance", "mask_ratio_loss", "mask_side_bits", "nested_mask",
           "random_depth_mask", "expand_levels"]


def nested_mask(depth: torch.Tensor, levels: int) -> torch.Tensor:
    """Depth ``[B, 1, h, w]`` (ints ``0 … L``) → binary mask ``[B, L, h, w]``: level ``l`` kept iff ``l < depth``."""
    return (torch.arange(levels, device=depth.device)[None, :, None, None] < depth).to(torch.float32)


def random_depth_mask(batch: int, levels: int, h: int, w: int, prob: float, generator: torch.Generator) -> torch.Tensor:
    """Mask-ratio curriculum: with probability ``prob`` an image keeps a random prefix depth ``d ~ U{1 … L}``
    (the same everywhere in the image), otherwise all levels. ``[B, L, h, w]`` in {0, 1}.

    Training the base codecs on such masks orders their feature levels (a nested-dropout code), so the
    decoder learns to decode any prefix before the mask net picks the depths."""
    d = torch.randint(1, levels + 1, (batch,), generator=generator)
    d = torch.where(torch.rand(batch, generator=generator) < prob, d, torch.full_like(d, levels))
    return nested_mask(d[:, None, None, None], levels).expand(batch, levels, h, w).contiguous()


def expand_levels(keep: torch.Tensor, maps: int) -> torch.Tensor:
    """Mask ``[B, L, h, w]`` over levels → ``[B, K, h, w]`` over the ``K`` complex maps (``K/L`` maps per level)."""
    if maps % keep.shape[1]:
        raise ValueError(f"{maps} feature maps do not split into {keep.shape[1]} levels")
    return keep.repeat_interleave(maps // keep.shape[1], dim=1)


def mask_side_bits(grid: int, levels: int, block: int) -> int:
    """Bits per image to tell the receiver the mask: ``(grid/b)² · ⌈log₂(L+1)⌉`` (one depth per block)."""
    if grid % block:
        raise ValueError(f"mask block {block} does not divide the {grid}×{grid} latent grid")
    return (grid // block) ** 2 * math.ceil(math.log2(levels + 1))


def block_log_importance(importance: torch.Tensor, block: int) -> torch.Tensor:
    """Importance ``[B, 1, h, w]`` → ``log Ā`` per ``b × b`` block, centred over each image's blocks, expanded back to
    ``[B, 1, h, w]`` (differentiable; zero for uniform importance)."""
    a = nn.functional.avg_pool2d(importance, block).clamp_min(1e-6).log()
    a = a - a.mean((2, 3), keepdim=True)
    return a.repeat_interleave(block, 2).repeat_interleave(block, 3)


#: inference mask modes: threshold ``P > ½`` (ratio on average), exact budget per batch or per image
BUDGETS = ("threshold", "batch", "image")


def budget_mask(p: torch.Tensor, keep: float, block: int, per: str = "batch") -> torch.Tensor:
    """Nested, block-constant probabilities ``P [B, L, h, w]`` → binary mask keeping exactly ``round(keep · N)``
    (level, block) pairs with the highest ``P`` (``N`` = pairs in the batch, ``per="batch"``, or per image,
    ``per="image"``). Nested: pairs are ranked by ``P`` descending with ties broken by the lower level
    (``P_l ≥ P_{l+1}`` within a block), so a kept level's predecessors are kept too."""
    if per not in ("batch", "image"):
        raise ValueError(f"budget must be 'batch' or 'image', got {per!r}")
    if not 0 <= keep <= 1:
        raise ValueError(f"kept fraction must lie in [0, 1], got {keep}")
    b, levels = p.shape[:2]
    pb = p[:, :, ::block, ::block]                       # one score per (image, level, block)
    hb, wb = pb.shape[-2:]
    if per == "image":
        flat = pb.reshape(b, -1)                         # level-major within each image
    else:
        flat = pb.transpose(0, 1).reshape(1, -1)         # level-major over the whole batch
    k = round(keep * flat.shape[1])
    order = torch.sort(flat, dim=1, descending=True, stable=True).indices[:, :k]
    sel = torch.zeros_like(flat).scatter_(1, order, 1.0)
    sel = sel.reshape(b, levels, hb, wb) if per == "image" else sel.reshape(levels, b, hb, wb).transpose(0, 1)
    return sel.repeat_interleave(block, 2).repeat_interleave(block, 3).contiguous()


class AdaptiveMask(nn.Module):
    """``forward(z [B,C,h,w], importance [B,1,h,w])`` → ``(mask [B,L,h,w] in {0,1}, P [B,L,h,w])``.

    ``steer`` ``β``: ASI steering of the keep logits (module docstring; 0 = off). ``shift`` ``[B,1,h,w]`` (optional,
    block-constant) is added to every level's keep logit — an external allocation prior (the ground-truth-object
    oracle of ``benchmarks/sam_allocation.py``).

    :meth:`set_budget` chooses the inference mask (eval mode only): ``"threshold"`` (``P > ½``, default) or an
    exact budget at ratio ``r`` (:func:`budget_mask`)."""

    def __init__(self, channels: int, hidden: int = 16, levels: int = 1, block: int = 1, steer: float = 0.0) -> None:
        super().__init__()
        if steer < 0:
            raise ValueError(f"ASI steering must be ≥ 0, got {steer}")
        self.levels, self.block, self.steer = levels, block, float(steer)
        self.net = nn.Sequential(
            nn.Conv2d(channels + 1, hidden, 3, padding=1), nn.ReLU(), nn.Conv2d(hidden, levels, 3, padding=1)
        )
        nn.init.constant_(self.net[-1].bias, 2.0 if levels == 1 else 3.0)  # start by keeping everything (P_L > ½)
        self.budget, self.budget_ratio, self.prior = "threshold", 0.0, 0.0

    def set_budget(self, budget: str, ratio: float = 0.0, prior: float = 0.0) -> "AdaptiveMask":
        """Inference mask: ``"threshold"`` or exactly ``1 − ratio`` kept per ``"batch"``/``"image"``.

        ``prior`` ``β ≥ 0`` (budget modes only): rank the (level, block) pairs by ``P_l · Ā_block^β``, ``Ā`` the ASI
        importance averaged over the block — the segment weights then decide directly which blocks get more
        levels (uniform weights: ``Ā ≡ 1``, no change). Nested order within a block is unchanged."""
        if budget not in BUDGETS:
            raise ValueError(f"budget must be one of {BUDGETS}, got {budget!r}")
        if prior < 0:
            raise ValueError(f"importance prior must be ≥ 0, got {prior}")
        self.budget, self.budget_ratio, self.prior = budget, float(ratio), float(prior)
        return self

    def forward(self, z: torch.Tensor, importance: torch.Tensor,
                shift: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        score = self.net(torch.cat([z.detach(), importance.detach()], 1))
        if self.block > 1:
            score = nn.functional.avg_pool2d(score, self.block).repeat_interleave(self.block, 2).repeat_interleave(self.block, 3)
        if self.steer:
            score = score + self.steer * block_log_importance(importance, self.block)   # with gradient into ASI
        if shift is not None:
            score = score + shift
        p = torch.cumprod(torch.sigmoid(score), 1)
        if self.training:
            hard = (p > 0.5).to(p.dtype)
            return hard + (p - p.detach()), p                   # exact 0/1 forward, sigmoid gradient
        if self.budget == "threshold":
            return (p > 0.5).to(p.dtype), p
        rank = p
        if self.prior:
            a = nn.functional.avg_pool2d(importance.detach(), self.block).clamp_min(1e-6) ** self.prior
            rank = p * a.repeat_interleave(self.block, 2).repeat_interleave(self.block, 3)
        return budget_mask(rank, 1 - self.budget_ratio, self.block, self.budget), p


def mask_ratio_loss(mask: torch.Tensor, target_ratio: float) -> torch.Tensor:
    """``(mean(1 − m) − r)²`` over the batch: the target-ratio knob (the batch mean, not each image)."""
    return ((1 - mask).mean() - target_ratio) ** 2
