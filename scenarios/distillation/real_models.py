"""The real-model path: G-KA (MAKD) between two local Stable Diffusion pipelines (diffusers format).

The paper aligns SD 2.1 (edge) to PixArt-Σ (cloud). Any two local pipelines whose UNets share a
latent space (same VAE family, e.g. SD 1.5 → SD 2.1 base) plug into the same MAKD code as the
tiny models: :class:`PipelineDiffusion` offers ``condition`` (CLIP text encoder + metaword
appended to the hidden states), ``eps`` (always ε, converting v-prediction) and ``decode``
(VAE → grey 32×32 for the feature space). Nothing is downloaded (``local_files_only=True``).
T-KA is not run on this path (see docs/distillation.md).
"""
from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch import nn
import torch.nn.functional as F

from channel.rng import make_generator
from scenarios.distillation.prompts import NULL_TOKEN, prompt_texts

__all__ = ["PipelineDiffusion", "run_real_gka"]


class PipelineDiffusion(nn.Module):
    """A local diffusers Stable Diffusion pipeline seen through the scenario's model interface."""

    def __init__(self, pipe, resolution: int) -> None:
        super().__init__()
        self.unet, self.text_encoder, self.vae = pipe.unet, pipe.text_encoder, pipe.vae
        self.tokenizer = pipe.tokenizer
        self._sched_config = pipe.scheduler.config
        self.latent_channels = int(self.unet.config.in_channels)
        self.latent_size = resolution // 2 ** (len(self.vae.config.block_out_channels) - 1)
        for p in (*self.text_encoder.parameters(), *self.vae.parameters()):
            p.requires_grad_(False)
        self._text_cache: dict[str, torch.Tensor] = {}

    @classmethod
    def load(cls, folder: Path, resolution: int = 256) -> "PipelineDiffusion":
        from diffusers import StableDiffusionPipeline

        pipe = StableDiffusionPipeline.from_pretrained(str(folder), local_files_only=True, safety_checker=None)
        return cls(pipe, resolution)

    @property
    def cond_dim(self) -> int:
        return int(self.unet.config.cross_attention_dim)

    def scheduler(self):
        from diffusers import DDPMScheduler

        return DDPMScheduler.from_config(self._sched_config)

    @torch.no_grad()
    def _encode_texts(self, texts: list[str]) -> torch.Tensor:
        missing = [t for t in dict.fromkeys(texts) if t not in self._text_cache]
        if missing:
            ids = self.tokenizer(missing, padding="max_length", max_length=self.tokenizer.model_max_length,
                                 truncation=True, return_tensors="pt").input_ids
            for t, h in zip(missing, self.text_encoder(ids)[0]):
                self._text_cache[t] = h
        return torch.stack([self._text_cache[t] for t in texts])

    def condition(self, tokens: torch.Tensor, metaword: torch.Tensor | None = None) -> torch.Tensor:
        null = (tokens == NULL_TOKEN).all(1)
        texts = [""] * len(tokens)
        if (~null).any():
            for i, text in zip((~null).nonzero().reshape(-1).tolist(), prompt_texts(tokens[~null])):
                texts[i] = text
        h = self._encode_texts(texts)
        if metaword is not None:
            h = torch.cat([h, metaword.reshape(1, 1, -1).expand(len(h), 1, -1).to(h.dtype)], 1)
        return h

    def eps(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        out = self.unet(x, t, encoder_hidden_states=cond).sample
        if self._sched_config.get("prediction_type", "epsilon") == "v_prediction":
            ab = self.scheduler().alphas_cumprod.to(x.dtype)[t].reshape(-1, 1, 1, 1)
            out = ab.sqrt() * out + (1 - ab).sqrt() * x
        return out

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latents -> grey images ``[N, 1, 32, 32]`` in [0, 1] (for the shared feature space)."""
        x = self.vae.decode(z / self.vae.config.scaling_factor).sample
        grey = ((x.clamp(-1, 1) + 1) / 2).mean(1, keepdim=True)
        return F.interpolate(grey, size=(32, 32), mode="area")


def run_real_gka(cfg, cloud_dir: Path, edge_dir: Path, out: Path, progress: bool = True,
                 resolution: int = 256, feature_encoder: str = "pixels") -> dict:
    """MAKD between two local pipelines: none / metaword / MAKD consistency, bytes, image grid."""
    from scenarios.distillation import figures
    from scenarios.distillation.data import load_prompted
    from scenarios.distillation.diffusion import sample
    from scenarios.distillation.gka_eval import Generated, score_variant
    from scenarios.distillation.lora import lora_state
    from scenarios.distillation.makd import train_glora, train_metaword
    from scenarios.distillation.metrics import load_feature_space
    from scenarios.distillation.pipeline import _csv
    from scenarios.distillation.quantize import knowledge_bytes

    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / "checkpoints"
    ckpt.mkdir(exist_ok=True)
    space = load_feature_space(feature_encoder)
    cloud, edge = PipelineDiffusion.load(cloud_dir, resolution), PipelineDiffusion.load(edge_dir, resolution)
    if cloud.latent_channels != edge.latent_channels:
        raise ValueError("cloud and edge latents differ in channels: they must share a VAE latent space")
    shape = (edge.latent_channels, edge.latent_size, edge.latent_size)
    prompts = load_prompted("test", cfg.distill_prompts + cfg.eval_prompts, cfg.seed).tokens
    d_tok, e_tok = prompts[: cfg.distill_prompts], prompts[cfg.distill_prompts:]
    g = make_generator(cfg.seed, "real-noise")
    d_noise, e_noise = torch.randn(len(d_tok), *shape, generator=g), torch.randn(len(e_tok), *shape, generator=g)
    x0 = sample(cloud, d_tok, d_noise, cfg.sample_steps, cfg.guidance, batch=4)
    mw = train_metaword(copy.deepcopy(edge), cloud, x0, d_tok, cfg.metaword_steps, 2, ckpt / "metaword.pt",
                        make_generator(cfg.seed, "metaword"), progress)
    makd = edge
    train_glora(makd, cloud, x0, d_tok, mw, cfg.lora_rank, "attention", cfg.lora_steps, 2, ckpt / "makd.pt",
                make_generator(cfg.seed, "makd"), progress)

    def gen(m, w=None, adapters: bool = True) -> Generated:
        if not adapters:
            m.unet.disable_adapters()
        z = sample(m, e_tok, e_noise, cfg.sample_steps, cfg.guidance, w, batch=4)
        if not adapters:
            m.unet.enable_adapters()
        x = m.decode(z)
        return Generated(z, x, space.features(x))

    ref = gen(cloud)
    variants = {"none": gen(makd, None, False), "metaword": gen(makd, mw, False), "makd": gen(makd, mw)}
    know = {"none": {}, "metaword": {"metaword": mw}, "makd": {"metaword": mw, **lora_state(makd.unet)}}
    rows = [score_variant(n, v, ref, e_tok, space, knowledge_bytes(know[n], cfg.precision)) for n, v in variants.items()]
    _csv(rows, out / "gka_real.csv")
    figures.image_grid({"cloud": ref.images, **{f"edge {n}": v.images for n, v in variants.items()}},
                       prompt_texts(e_tok[:8]), out / "grid_real.png")
    return {r["variant"]: r["consistency"] for r in rows}
