"""Latent extraction: ``forward_head(forward_features(x), pre_logits=True)`` in batches, float32."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .objectives import pre_logits
from .preprocess import ImageTransform

__all__ = ["extract_latents"]


def extract_latents(
    model: nn.Module,
    images: np.ndarray,
    transform: ImageTransform,
    batch_size: int = 128,
) -> np.ndarray:
    """Latent vectors of ``images`` under a frozen encoder.

    Args:
        model: a timm model (put in eval mode here).
        images: uint8 ``[N, H, W]`` or ``[N, H, W, C]``.
        transform: uint8 images -> normalised model input.
        batch_size: images per forward pass.

    Returns:
        ``[N, d]`` float32 numpy array, ``d`` the model's pre-logits width.
    """
    model.eval()
    chunks: list[np.ndarray] = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            x = transform(images[start : start + batch_size])
            chunks.append(pre_logits(model, x).float().cpu().numpy())
    if not chunks:
        raise ValueError("no images to encode")
    return np.ascontiguousarray(np.concatenate(chunks), dtype=np.float32)
