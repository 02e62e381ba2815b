"""Prompts from Fashion-MNIST: class name plus brightness and size attributes measured on the image.

A prompt is three tokens ``(class, brightness, size)``; its text (for a real text encoder) is
e.g. ``"a bright, large photo of a Sneaker"``. Each generative model owns a
:class:`PromptEncoder` (its "text encoder"): token embeddings plus position embeddings, giving
the ``encoder_hidden_states`` sequence its UNet cross-attends to.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from zoo.datasets import FASHION_MNIST_CLASSES

__all__ = ["BRIGHTNESS", "SIZES", "NULL_TOKEN", "VOCAB_SIZE", "attributes", "prompt_tokens",
           "prompt_texts", "PromptEncoder"]

BRIGHTNESS = ("dark", "medium", "bright")
SIZES = ("small", "large")
_N_CLS = len(FASHION_MNIST_CLASSES)
#: token ids: classes 0..9, brightness 10..12, size 13..14, null 15
NULL_TOKEN = _N_CLS + len(BRIGHTNESS) + len(SIZES)
VOCAB_SIZE = NULL_TOKEN + 1

# bucket edges on the mean intensity of the item's pixels and on the fraction of lit pixels,
# measured on the Fashion-MNIST train split (terciles / median)
_BRIGHT_EDGES = (0.565, 0.72)
_SIZE_EDGE = 0.46


def attributes(images01: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Brightness bucket (0 dark, 1 medium, 2 bright) and size bucket (0 small, 1 large).

    ``images01``: float ``[N, H, W]`` in [0, 1]. Brightness = mean over lit pixels (> 0.1);
    size = fraction of lit pixels of the 28×28 frame.
    """
    lit = images01 > 0.1
    n_lit = lit.reshape(len(lit), -1).sum(1).clip(min=1)
    mean_lit = (images01 * lit).reshape(len(lit), -1).sum(1) / n_lit
    frac = n_lit / (28 * 28)
    bright = np.digitize(mean_lit, _BRIGHT_EDGES).astype(np.int64)
    size = (frac > _SIZE_EDGE).astype(np.int64)
    return bright, size


def prompt_tokens(labels: np.ndarray, bright: np.ndarray, size: np.ndarray) -> torch.Tensor:
    """Token ids ``[N, 3]`` int64 for ``(class, brightness, size)``."""
    return torch.as_tensor(np.stack([labels, _N_CLS + bright, _N_CLS + len(BRIGHTNESS) + size], 1),
                           dtype=torch.int64)


def prompt_texts(tokens: torch.Tensor) -> list[str]:
    """Human-readable prompts (used by the real-model path's text encoders and in figures)."""
    out = []
    for c, b, s in tokens.tolist():
        out.append(f"a {BRIGHTNESS[b - _N_CLS]}, {SIZES[s - _N_CLS - len(BRIGHTNESS)]} photo of a "
                   f"{FASHION_MNIST_CLASSES[c]}")
    return out


class PromptEncoder(nn.Module):
    """Token ids ``[B, L]`` -> ``encoder_hidden_states`` ``[B, L (+1 with metaword), D]``.

    The metaword (G-KA, DeKA-g §III-B) is a learned vector appended to the sequence; it is a
    separate tensor passed in, so the encoder's own weights stay frozen during alignment.
    """

    def __init__(self, dim: int, max_len: int = 8) -> None:
        super().__init__()
        self.token = nn.Embedding(VOCAB_SIZE, dim)
        self.position = nn.Embedding(max_len, dim)
        self.norm = nn.LayerNorm(dim)

    def forward(self, tokens: torch.Tensor, metaword: torch.Tensor | None = None) -> torch.Tensor:
        pos = torch.arange(tokens.shape[1], device=tokens.device)
        h = self.norm(self.token(tokens) + self.position(pos))
        if metaword is not None:
            h = torch.cat([h, metaword.reshape(1, 1, -1).expand(h.shape[0], 1, -1).to(h.dtype)], 1)
        return h
