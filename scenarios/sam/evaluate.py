"""Evaluation of a trained variant at one channel and SNR: per-image PSNR, SSIM, kept ratio, symbols sent.

The noise of ``(channel, SNR)`` comes from stream ``eval-<channel>-<snr>``, the same for every
variant, so variants are compared on the same draws (paired).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from channel.rng import make_generator
from scenarios.sam.dataset import SegmentedImages
from scenarios.sam.link import transmit
from scenarios.sam.metrics import psnr, region_psnr, region_ssim, ssim
from scenarios.sam.model import LamSc
from scenarios.sam.training import batch

__all__ = ["evaluate", "reconstruct"]


@torch.no_grad()
def reconstruct(model: LamSc, data: SegmentedImages, idx: np.ndarray, channel: str, snr_db: float, seed: int,
                max_segments: int, power: float = 1.0, batch_size: int = 80,
                mask_shift: Callable[[np.ndarray], torch.Tensor] | None = None) -> dict[str, np.ndarray]:
    """Reconstructions ``[N, H, W, 3]``, kept fraction per position ``[N, h, w]``, sent symbols ``[N]``, importance ``[N, H, W]``.
    ``mask_shift(idx)``: optional ASC keep-logit offset ``[B, 1, h, w]`` for the images ``idx`` of each batch."""
    g = make_generator(seed, f"eval-{channel}-{snr_db:g}")
    out: dict[str, list] = {"recon": [], "keep": [], "sent": [], "importance": []}
    for lo in range(0, len(idx), batch_size):
        part = idx[lo : lo + batch_size]
        x, masks, valid = batch(data, part, max_segments)
        snr = torch.full((x.shape[0],), float(snr_db), dtype=torch.float64)
        fwd = model(x, masks, valid, lambda s, k: transmit(s, k, snr, channel, g, power),
                    mask_shift=mask_shift(part) if mask_shift is not None else None)
        out["recon"].append(fwd.recon.permute(0, 2, 3, 1).numpy())
        out["keep"].append(fwd.keep.mean(1).numpy())  # fraction of the levels sent per position
        out["sent"].append(fwd.sent.numpy())
        imp = fwd.importance[:, 0] if fwd.importance is not None else torch.ones_like(x[:, 0])
        out["importance"].append(imp.numpy())
    return {k: np.concatenate(v) for k, v in out.items()}


def evaluate(model: LamSc, data: SegmentedImages, channel: str, snr_db: float, seed: int, max_segments: int,
             power: float = 1.0, mask_shift: Callable[[np.ndarray], torch.Tensor] | None = None) -> dict[str, np.ndarray]:
    """Per-image ``psnr``, ``ssim``, ``keep`` (fraction of feature values sent), ``sent`` (complex symbols) and,
    when the images have ground-truth objects, ``psnr_obj``/``ssim_obj`` inside the object masks (NaN otherwise)."""
    idx = np.arange(len(data))
    r = reconstruct(model, data, idx, channel, snr_db, seed, max_segments, power, mask_shift=mask_shift)
    ref = data.images.astype(np.float64) / 255
    nan = np.full(len(idx), np.nan)
    region = data.truth > 0 if data.truth is not None else None
    return dict(psnr=psnr(ref, r["recon"]), ssim=ssim(ref, r["recon"]), keep=r["keep"].reshape(len(idx), -1).mean(-1),
                sent=r["sent"], psnr_obj=nan if region is None else region_psnr(ref, r["recon"], region),
                ssim_obj=nan if region is None else region_ssim(ref, r["recon"], region))
