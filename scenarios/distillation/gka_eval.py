"""G-KA evaluation: generate the same prompts with the same noise on cloud and edge variants, compare.

Variants (DeKA-g Table ablation): ``none`` (unaligned edge), ``metaword`` (metaword only),
``g-lora`` (G-LoRA only, no metaword), ``makd`` (metaword then G-LoRA), plus ``makd@<precision>``
— MAKD after the knowledge went through the chosen transmit precision.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from scenarios.distillation.autoencoder import TinyAutoencoder
from scenarios.distillation.diffusion import LatentDiffusion, sample
from scenarios.distillation.metrics import FeatureSpace, cosine_consistency
from scenarios.distillation.prompts import attributes

__all__ = ["Generated", "generate_images", "score_variant"]


@dataclass
class Generated:
    latents: torch.Tensor  # [N, C, 8, 8]
    images: torch.Tensor  # [N, 1, 32, 32] in [0, 1]
    features: np.ndarray  # [N, d]


def generate_images(model: LatentDiffusion, ae: TinyAutoencoder, tokens: torch.Tensor, noise: torch.Tensor,
                    steps: int, guidance: float, space: FeatureSpace, metaword: torch.Tensor | None = None) -> Generated:
    """Sample latents, decode them and take their features."""
    z = sample(model, tokens, noise, steps, guidance, metaword)
    with torch.no_grad():
        x = ae.decode(z)
    return Generated(z, x, space.features(x))


def score_variant(name: str, gen: Generated, cloud: Generated, tokens: torch.Tensor, space: FeatureSpace,
                  knowledge_bytes: int) -> dict:
    """One row of the G-KA table: consistency with the cloud, class/attribute fidelity, bytes sent."""
    cos = cosine_consistency(gen.features, cloud.features)
    labels = tokens[:, 0].numpy()
    bright, size = attributes(gen.images[:, 0, 2:30, 2:30].numpy())
    want_b = tokens[:, 1].numpy() - 10
    want_s = tokens[:, 2].numpy() - 13
    pix = (gen.images - cloud.images).pow(2).reshape(len(gen.images), -1).mean(1)
    return {
        "variant": name,
        "consistency": float(cos.mean()),
        "consistency_std": float(cos.std()),
        "class_accuracy": space.class_accuracy(gen.features, labels),
        "brightness_accuracy": float(np.mean(bright == want_b)),
        "size_accuracy": float(np.mean(size == want_s)),
        "pixel_mse_to_cloud": float(pix.mean()),
        "knowledge_bytes": int(knowledge_bytes),
        "prompts": int(len(tokens)),
    }
