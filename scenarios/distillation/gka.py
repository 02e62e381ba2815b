"""G-KA stage: train cloud and edge, distil with MAKD (and its ablations), score every variant."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import torch

from channel.rng import make_generator, stream_seed
from scenarios.distillation.autoencoder import TinyAutoencoder, train_autoencoder
from scenarios.distillation.checkpoint import load_checkpoint, save_checkpoint
from scenarios.distillation.config import DistillConfig
from scenarios.distillation.data import PromptedImages
from scenarios.distillation.diffusion import LatentDiffusion, sample, train_diffusion
from scenarios.distillation.gka_eval import Generated, generate_images, score_variant
from scenarios.distillation.lora import load_lora_state, lora_state
from scenarios.distillation.makd import train_glora, train_metaword
from scenarios.distillation.metrics import FeatureSpace
from scenarios.distillation.quantize import knowledge_bytes, quantize_dequantize

__all__ = ["GKAResult", "run_gka"]


@dataclass
class GKAResult:
    ae: TinyAutoencoder
    cloud: LatentDiffusion
    edges: dict[str, LatentDiffusion]  # variant -> edge model (LoRA inside where used)
    metawords: dict[str, torch.Tensor | None]
    rows: list[dict]  # one per variant (and per precision)
    generated: dict[str, Generated]  # variant -> eval images (and "cloud")
    eval_tokens: torch.Tensor
    lora_layers: list[str]
    losses: dict[str, list[float]]


def _cached_samples(path: Path, make) -> torch.Tensor:
    state = load_checkpoint(path)
    if state is not None:
        return state["latents"]
    z = make()
    save_checkpoint(path, {"latents": z})
    return z


def run_gka(cfg: DistillConfig, train: PromptedImages, test: PromptedImages, space: FeatureSpace, ckpt: Path,
            progress: bool = True, precisions: tuple[str, ...] = ("fp32", "fp16", "int8", "int2")) -> GKAResult:
    """Autoencoder → cloud and edge → metaword / G-LoRA / MAKD → scores (all resumable)."""
    seed, bs = cfg.seed, cfg.batch_size
    losses: dict[str, list[float]] = {}
    torch.manual_seed(stream_seed(seed, "init-autoencoder"))  # every model's initial weights from its own stream:
    ae = TinyAutoencoder(cfg.latent_channels, cfg.ae_width)    # the global generator's state here depends on the caller
    losses["autoencoder"] = train_autoencoder(ae, train.images, cfg.ae_steps, bs, ckpt / "autoencoder.pt",
                                              make_generator(seed, "ae"), progress)
    ae.eval()
    for p in ae.parameters():
        p.requires_grad_(False)
    with torch.no_grad():
        z = torch.cat([ae.encode(train.images[i:i + 512]) for i in range(0, len(train.images), 512)])

    torch.manual_seed(stream_seed(seed, "init-cloud"))  # (diffusers initialises with the global generator)
    cloud = LatentDiffusion(cfg.latent_channels, cfg.cloud_channels, cfg.embed_dim)
    torch.manual_seed(stream_seed(seed, "init-edge"))
    edge = LatentDiffusion(cfg.latent_channels, cfg.edge_channels, cfg.embed_dim)
    torch.manual_seed(seed)
    losses["cloud"] = train_diffusion("cloud", cloud, z, train.tokens, cfg.cloud_steps, bs, ckpt / "cloud.pt",
                                      make_generator(seed, "cloud"), progress)
    losses["edge"] = train_diffusion("edge", edge, z, train.tokens, cfg.edge_steps, bs, ckpt / "edge.pt",
                                     make_generator(seed, "edge"), progress)
    cloud.eval(), edge.eval()
    for p in cloud.parameters():
        p.requires_grad_(False)

    # distillation set: the cloud's own samples for prompts of the training split
    g = make_generator(seed, "distill-prompts")
    idx = torch.randint(0, len(train.tokens), (cfg.distill_prompts,), generator=g)
    d_tokens = train.tokens[idx]
    d_noise = torch.randn(cfg.distill_prompts, cfg.latent_channels, cloud.latent_size, cloud.latent_size, generator=g)
    x0 = _cached_samples(ckpt / "cloud_samples.pt",
                         lambda: sample(cloud, d_tokens, d_noise, cfg.sample_steps, cfg.guidance))

    half = max(2, bs // 2)
    edge_mw = copy.deepcopy(edge)
    mw = train_metaword(edge_mw, cloud, x0, d_tokens, cfg.metaword_steps, half, ckpt / "metaword.pt",
                        make_generator(seed, "metaword"), progress)
    edge_lora = copy.deepcopy(edge)
    layers = train_glora(edge_lora, cloud, x0, d_tokens, None, cfg.lora_rank, cfg.lora_targets, cfg.lora_steps,
                         half, ckpt / "g_lora_only.pt", make_generator(seed, "g-lora"), progress, "g-lora only")
    edge_makd = copy.deepcopy(edge)
    train_glora(edge_makd, cloud, x0, d_tokens, mw, cfg.lora_rank, cfg.lora_targets, cfg.lora_steps, half,
                ckpt / "makd.pt", make_generator(seed, "makd"), progress, "makd g-lora")
    for m in (edge, edge_mw, edge_lora, edge_makd):
        m.eval()

    # evaluation: test-split prompts, one fixed noise per prompt shared by every model
    g = make_generator(seed, "eval-noise")
    e_tokens = test.tokens[: cfg.eval_prompts]
    e_noise = torch.randn(len(e_tokens), cfg.latent_channels, cloud.latent_size, cloud.latent_size, generator=g)
    gen = lambda m, w=None: generate_images(m, ae, e_tokens, e_noise, cfg.sample_steps, cfg.guidance, space, w)  # noqa: E731
    generated = {"cloud": gen(cloud)}
    edges = {"none": edge, "metaword": edge_mw, "g-lora": edge_lora, "makd": edge_makd}
    metawords = {"none": None, "metaword": mw, "g-lora": None, "makd": mw}
    know = {"none": {}, "metaword": {"metaword": mw}, "g-lora": lora_state(edge_lora.unet),
            "makd": {"metaword": mw, **lora_state(edge_makd.unet)}}
    rows = [score_variant("cloud", generated["cloud"], generated["cloud"], e_tokens, space, 0)]
    for name, m in edges.items():
        generated[name] = gen(m, metawords[name])
        rows.append(score_variant(name, generated[name], generated["cloud"], e_tokens, space,
                                  knowledge_bytes(know[name], "fp32")) | {"precision": "fp32"})
    # MAKD knowledge after transmission at lower precisions
    full = lora_state(edge_makd.unet)
    for prec in precisions:
        if prec == "fp32":
            continue
        q_edge = copy.deepcopy(edge_makd)
        load_lora_state(q_edge.unet, {k: quantize_dequantize(v, prec) for k, v in full.items()})
        q_mw = quantize_dequantize(mw, prec)
        g_q = gen(q_edge, q_mw)
        rows.append(score_variant(f"makd@{prec}", g_q, generated["cloud"], e_tokens, space,
                                  knowledge_bytes(know["makd"], prec)) | {"precision": prec})
        if prec == cfg.precision:
            generated[f"makd@{prec}"] = g_q
    rows[0]["precision"] = ""
    return GKAResult(ae, cloud, edges, metawords, rows, generated, e_tokens, layers, losses)
