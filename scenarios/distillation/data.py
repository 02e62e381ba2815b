"""Fashion-MNIST for the generative models: images in [0, 1] padded to 32×32 and their prompts."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from scenarios.distillation.prompts import attributes, prompt_tokens
from zoo.datasets import load_dataset

__all__ = ["PromptedImages", "load_prompted", "to_model_images", "to_uint8"]


@dataclass(frozen=True)
class PromptedImages:
    images: torch.Tensor  # float32 [N, 1, 32, 32] in [0, 1]
    tokens: torch.Tensor  # int64 [N, 3] prompt tokens (class, brightness, size)
    labels: torch.Tensor  # int64 [N]


def to_model_images(u8: np.ndarray) -> torch.Tensor:
    """uint8 ``[N, 28, 28]`` -> float32 ``[N, 1, 32, 32]`` in [0, 1], zero-padded by 2."""
    x = torch.from_numpy(np.asarray(u8, dtype=np.float32) / 255.0)
    return torch.nn.functional.pad(x, (2, 2, 2, 2)).unsqueeze(1)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """``[N, 1, 32, 32]`` in [0, 1] -> uint8 ``[N, 28, 28]`` (crop the padding) for the zoo encoders."""
    return (x[:, 0, 2:30, 2:30].clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def load_prompted(split: str, count: int, seed: int, data_root: str | None = None) -> PromptedImages:
    """``count`` images of ``split`` ("train"/"test"), a seeded subset, with their prompts."""
    train, test = load_dataset("fashion-mnist", data_root)
    s = train if split == "train" else test
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.permutation(len(s))[: min(count, len(s))])
    u8 = s.images[idx]
    bright, size = attributes(u8.astype(np.float32) / 255.0)
    labels = s.labels[idx]
    return PromptedImages(to_model_images(u8), prompt_tokens(labels, bright, size), torch.as_tensor(labels))
