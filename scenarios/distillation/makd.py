"""G-KA by MAKD: metaword-aided knowledge distillation from the cloud to the edge (DeKA-g §III-B).

On cloud-generated samples ``x_0 ~ p_cloud(·|c)`` the edge is trained so its noise prediction
matches the cloud's:

.. math:: \\mathcal{L} = \\mathbb{E}_{x_0, t, \\epsilon}\\,\\lVert
          \\epsilon_{edge}(x_t, t, [c; m]) - \\epsilon_{cloud}(x_t, t, c) \\rVert^2,
          \\quad x_t = \\sqrt{\\bar\\alpha_t}x_0 + \\sqrt{1-\\bar\\alpha_t}\\epsilon

first over the metaword ``m`` alone (edge frozen), then over a G-LoRA on the edge UNet with
``m`` fixed, which learns the residual the metaword could not express.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from scenarios.distillation.diffusion import LatentDiffusion
from scenarios.distillation.lora import add_lora, lora_parameters
from scenarios.distillation.training import run_training

__all__ = ["alignment_loss", "train_metaword", "train_glora"]


def alignment_loss(edge: LatentDiffusion, cloud: LatentDiffusion, x0: torch.Tensor, tokens: torch.Tensor,
                   metaword: torch.Tensor | None, g: torch.Generator, sched=None) -> torch.Tensor:
    """The MAKD loss above on one batch ``x0 [B, C, 8, 8]`` of cloud samples with ``tokens [B, 3]``."""
    sched = sched or edge.scheduler()
    noise = torch.randn(x0.shape, generator=g)
    t = torch.randint(0, sched.config.num_train_timesteps, (len(x0),), generator=g)
    xt = sched.add_noise(x0, noise, t)
    with torch.no_grad():
        target = cloud.eps(xt, t, cloud.condition(tokens))
    return F.mse_loss(edge.eps(xt, t, edge.condition(tokens, metaword)), target)


def _batch(x0: torch.Tensor, tokens: torch.Tensor, batch: int, g: torch.Generator):
    i = torch.randint(0, len(x0), (batch,), generator=g)
    return x0[i], tokens[i]


def train_metaword(edge: LatentDiffusion, cloud: LatentDiffusion, x0: torch.Tensor, tokens: torch.Tensor,
                   steps: int, batch: int, path: Path, g: torch.Generator, progress: bool = True) -> torch.Tensor:
    """Optimise the metaword ``m ∈ R^D`` (edge weights frozen); returns ``m``."""
    for p in edge.parameters():
        p.requires_grad_(False)
    dim = edge.cond_dim
    init = torch.Generator().manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=g)))
    metaword = (0.1 * torch.randn(dim, generator=init)).requires_grad_(True)
    sched = edge.scheduler()
    opt = torch.optim.Adam([metaword], lr=2e-2)
    run_training("metaword", path, {"metaword": metaword}, opt, steps,
                 lambda _, gg: alignment_loss(edge, cloud, *_batch(x0, tokens, batch, gg), metaword, gg, sched),
                 g, progress=progress)
    return metaword.detach()


def train_glora(edge: LatentDiffusion, cloud: LatentDiffusion, x0: torch.Tensor, tokens: torch.Tensor,
                metaword: torch.Tensor | None, rank: int, targets: str, steps: int, batch: int, path: Path,
                g: torch.Generator, progress: bool = True, name: str = "g-lora") -> list[str]:
    """Add a G-LoRA to ``edge.unet`` and train it on the MAKD loss (metaword fixed, may be None)."""
    for p in edge.parameters():
        p.requires_grad_(False)
    layers = add_lora(edge.unet, rank, targets)
    sched = edge.scheduler()
    opt = torch.optim.AdamW(lora_parameters(edge.unet), lr=2e-3, weight_decay=0.0)
    run_training(name, path, {"edge": edge}, opt, steps,
                 lambda _, gg: alignment_loss(edge, cloud, *_batch(x0, tokens, batch, gg), metaword, gg, sched),
                 g, progress=progress)
    return layers
