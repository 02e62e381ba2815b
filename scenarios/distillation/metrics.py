"""Metrics: edge–cloud consistency in an encoder's feature space, class fidelity, PSNR and SSIM.

Consistency (DeKA-g §IV, there with DINO/CLIP) is the mean cosine similarity between the
features of the edge image and the cloud image generated for the same prompt and the same
initial noise: :math:`\\frac1N\\sum_i \\cos(f(x^{edge}_i), f(x^{cloud}_i))`. Here ``f`` is a zoo
encoder (default ``resnet-simclr``, self-supervised like DINO) or raw pixels (``pixels``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from scenarios.distillation.data import to_uint8

__all__ = ["FeatureSpace", "load_feature_space", "cosine_consistency", "psnr_db", "ssim"]


@dataclass
class FeatureSpace:
    """Images ``[N, 1, 32, 32]`` in [0, 1] -> features ``[N, d]``; optional class probe."""

    name: str
    encoder: torch.nn.Module | None
    transform: object | None
    probe: object | None

    def features(self, images: torch.Tensor) -> np.ndarray:
        if self.encoder is None:
            return images.reshape(len(images), -1).numpy().astype(np.float32)
        from zoo.latents import extract_latents

        return extract_latents(self.encoder, to_uint8(images), self.transform)

    def class_accuracy(self, feats: np.ndarray, labels: np.ndarray) -> float:
        """Fraction of images the probe assigns to the class their prompt asked for (NaN without probe)."""
        return float("nan") if self.probe is None else self.probe.accuracy(feats, labels)


def load_feature_space(name: str, cache_dir: str | None = None) -> FeatureSpace:
    """A built zoo encoder with its probe, or ``"pixels"``. Raises ``FileNotFoundError`` if not built."""
    if name == "pixels":
        return FeatureSpace("pixels", None, None, None)
    from zoo.cache import load_encoder, load_latents
    from zoo.preprocess import make_transform
    from zoo.registry import get_spec

    latents = load_latents(name, cache_dir, build=False)
    spec = get_spec(name)
    transform = make_transform("fashion-mnist", in_chans=int(latents.meta.get("in_chans", 1)), image_size=spec.image_size)
    return FeatureSpace(name, load_encoder(name, cache_dir), transform, latents.probe)


def cosine_consistency(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-pair cosine similarity of feature rows ``[N, d]`` -> ``[N]``."""
    a = a / np.linalg.norm(a, axis=1, keepdims=True).clip(1e-12)
    b = b / np.linalg.norm(b, axis=1, keepdims=True).clip(1e-12)
    return (a * b).sum(1)


def psnr_db(x: torch.Tensor, ref: torch.Tensor) -> np.ndarray:
    """Per-image PSNR (peak 1) between images ``[N, 1, H, W]`` in [0, 1]."""
    mse = (x.clamp(0, 1) - ref.clamp(0, 1)).pow(2).reshape(len(x), -1).mean(1).clamp_min(1e-10)
    return (10 * torch.log10(1.0 / mse)).numpy()


def ssim(x: torch.Tensor, ref: torch.Tensor) -> np.ndarray:
    """Per-image SSIM (``skimage.metrics.structural_similarity``, 7×7 window, data range 1)."""
    from skimage.metrics import structural_similarity

    a, b = x.clamp(0, 1)[:, 0].numpy(), ref.clamp(0, 1)[:, 0].numpy()
    return np.array([structural_similarity(p, q, data_range=1.0) for p, q in zip(a, b)])
