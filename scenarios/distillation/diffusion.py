"""Conditional latent diffusion: a prompt encoder + ``diffusers`` UNet2DConditionModel + DDPM/DDIM.

Training minimises the DDPM noise-prediction loss (Ho et al. 2020, eq. 14)

.. math:: \\mathbb{E}_{x_0, t, \\epsilon} \\lVert \\epsilon - \\epsilon_\\theta(\\sqrt{\\bar\\alpha_t} x_0
          + \\sqrt{1-\\bar\\alpha_t}\\,\\epsilon, t, c) \\rVert^2

with 10 % of prompts replaced by the null prompt, so sampling can use classifier-free guidance
:math:`\\hat\\epsilon = \\epsilon(\\varnothing) + w(\\epsilon(c) - \\epsilon(\\varnothing))` with DDIM.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
import torch.nn.functional as F

from scenarios.distillation.prompts import NULL_TOKEN, PromptEncoder
from scenarios.distillation.training import run_training

__all__ = ["LatentDiffusion", "make_scheduler", "train_diffusion", "sample"]

NUM_TRAIN_TIMESTEPS = 1000


def make_scheduler():
    """The DDPM training scheduler (linear betas, ε-prediction)."""
    from diffusers import DDPMScheduler

    return DDPMScheduler(num_train_timesteps=NUM_TRAIN_TIMESTEPS, beta_schedule="linear", prediction_type="epsilon")


class LatentDiffusion(nn.Module):
    """A prompt-conditioned ε-predictor on ``[N, C, 8, 8]`` latents (cloud or edge model)."""

    def __init__(self, latent_channels: int, channels: tuple[int, ...], embed_dim: int) -> None:
        super().__init__()
        from diffusers import UNet2DConditionModel

        n = len(channels)
        down = ("CrossAttnDownBlock2D",) + ("DownBlock2D",) * (n - 1)
        up = ("UpBlock2D",) * (n - 1) + ("CrossAttnUpBlock2D",)
        self.prompt = PromptEncoder(embed_dim)
        self.unet = UNet2DConditionModel(
            sample_size=8, in_channels=latent_channels, out_channels=latent_channels, layers_per_block=1,
            block_out_channels=tuple(channels), down_block_types=down, up_block_types=up,
            cross_attention_dim=embed_dim, attention_head_dim=8, norm_num_groups=8,
            use_linear_projection=True, mid_block_type="UNetMidBlock2DCrossAttn",
            class_embed_type="projection", projection_class_embeddings_input_dim=embed_dim,
        )
        self.latent_channels = latent_channels
        self.latent_size = 8

    @property
    def cond_dim(self) -> int:
        """Width of one prompt token (= the metaword's size)."""
        return self.prompt.token.embedding_dim

    def scheduler(self):
        """The training noise schedule (shared by cloud and edge)."""
        return make_scheduler()

    def condition(self, tokens: torch.Tensor, metaword: torch.Tensor | None = None) -> torch.Tensor:
        """Prompt tokens ``[B, 3]`` (+ optional metaword) -> ``encoder_hidden_states``."""
        return self.prompt(tokens, metaword)

    def eps(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """ε̂(x_t, t, c): ``x [B, C, 8, 8]``, ``t [B]`` int, ``cond [B, L, D]``.

        The prompt enters twice: cross-attention over the sequence, and its mean (pooled
        prompt, as SDXL's added conditioning) projected into the time embedding.
        """
        return self.unet(x, t, encoder_hidden_states=cond, class_labels=cond.mean(1)).sample


def null_like(tokens: torch.Tensor) -> torch.Tensor:
    return torch.full_like(tokens, NULL_TOKEN)


def train_diffusion(name: str, model: LatentDiffusion, latents: torch.Tensor, tokens: torch.Tensor, steps: int,
                    batch: int, path: Path, generator: torch.Generator, progress: bool = True, lr: float = 2e-3) -> list[float]:
    """Train ``model`` on standardised ``latents [N, C, 8, 8]`` with prompt ``tokens [N, 3]`` (resumable)."""
    sched = make_scheduler()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)

    def step(_: int, g: torch.Generator) -> torch.Tensor:
        i = torch.randint(0, len(latents), (batch,), generator=g)
        x0, tok = latents[i], tokens[i].clone()
        drop = torch.rand(batch, generator=g) < 0.1
        tok[drop] = NULL_TOKEN
        noise = torch.randn(x0.shape, generator=g)
        t = torch.randint(0, NUM_TRAIN_TIMESTEPS, (batch,), generator=g)
        return F.mse_loss(model.eps(sched.add_noise(x0, noise, t), t, model.condition(tok)), noise)

    return run_training(name, path, {"model": model}, opt, steps, step, generator, progress=progress)


@torch.no_grad()
def sample(model, tokens: torch.Tensor, noise: torch.Tensor, steps: int, guidance: float,
           metaword: torch.Tensor | None = None, batch: int = 256) -> torch.Tensor:
    """DDIM samples ``x_0`` ``[N, C, 8, 8]`` from ``noise`` for prompt ``tokens`` (guidance ``w``)."""
    from diffusers import DDIMScheduler

    ddim = DDIMScheduler.from_config(model.scheduler().config)
    ddim.set_timesteps(steps)
    out = []
    for s in range(0, len(tokens), batch):
        tok, x = tokens[s:s + batch], noise[s:s + batch].clone()
        cond = model.condition(tok, metaword)
        uncond = model.condition(null_like(tok), metaword) if guidance != 1.0 else None
        for t in ddim.timesteps:
            tt = t.expand(len(x))
            if uncond is None:
                e = model.eps(x, tt, cond)
            else:
                e_c, e_u = model.eps(torch.cat([x, x]), torch.cat([tt, tt]), torch.cat([cond, uncond])).chunk(2)
                e = e_u + guidance * (e_c - e_u)
            x = ddim.step(e, t, x).prev_sample
        out.append(x)
    return torch.cat(out)
