"""T-KA stage: latents from the aligned edge, fixed-SNR JSCC vs CALA (and a mixed-SNR JSCC) over the channel."""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from channel.rng import make_generator
from scenarios.distillation.checkpoint import load_checkpoint, save_checkpoint
from scenarios.distillation.config import DistillConfig
from scenarios.distillation.diffusion import LatentDiffusion, sample
from scenarios.distillation.gate import ChannelGate
from scenarios.distillation.jscc import JSCC
from scenarios.distillation.link import ChannelBank
from scenarios.distillation.metrics import psnr_db, ssim
from scenarios.distillation.quantize import knowledge_bytes
from scenarios.distillation.tka import reconstruct, train_cala, train_jscc

__all__ = ["TKAResult", "run_tka", "user_conditions"]


@dataclass
class TKAResult:
    codecs: dict[str, tuple[JSCC, ChannelGate | None]]  # method -> (jscc, gate)
    rows: list[dict]  # method × SNR × delay spread
    users: list[dict]  # multi-user table
    gate_rows: list[dict]  # gate weights over the SNR grid
    test_latents: torch.Tensor
    eval_bank: ChannelBank
    losses: dict[str, list[float]]
    cala_bytes: dict[str, int]


def user_conditions(users: int, seed: int) -> list[tuple[float, float]]:
    """``K`` users' (SNR dB, delay spread ns): SNR uniform in [0, 20], delay spread log-uniform in [30, 3000]."""
    g = make_generator(seed, "users")
    snr = torch.rand(users, generator=g) * 20
    ds = 10 ** (math.log10(30) + torch.rand(users, generator=g) * 2)
    return [(round(float(s), 1), round(float(d), 0)) for s, d in zip(snr, ds)]


def run_tka(cfg: DistillConfig, edge: LatentDiffusion, metaword: torch.Tensor | None, decode, train_tokens: torch.Tensor,
            ckpt: Path, progress: bool = True) -> TKAResult:
    seed, bs = cfg.seed, cfg.batch_size
    g = make_generator(seed, "tka-prompts")
    tok = train_tokens[torch.randint(0, len(train_tokens), (cfg.tka_latents,), generator=g)]
    noise = torch.randn(cfg.tka_latents, cfg.latent_channels, 8, 8, generator=g)
    state = load_checkpoint(ckpt / "edge_latents.pt")
    if state is None:
        state = {"latents": sample(edge, tok, noise, cfg.sample_steps, cfg.guidance, metaword)}
        save_checkpoint(ckpt / "edge_latents.pt", state)
    z = state["latents"]
    n_test = max(8, len(z) // 5)
    z_train, z_test = z[n_test:], z[:n_test]

    users = user_conditions(cfg.users, seed)
    spacing, carrier = cfg.subcarrier_spacing_khz * 1e3, cfg.carrier_ghz * 1e9
    train_bank = ChannelBank(cfg.cala_delay_spread_ns, cfg.symbols, 512, make_generator(seed, "train-channels"),
                             spacing, carrier)
    eval_bank = ChannelBank((*cfg.eval_delay_spread_ns, *[d for _, d in users]), cfg.symbols, 256,
                            make_generator(seed, "eval-channels"), spacing, carrier)
    latent_dim = cfg.latent_channels * 64
    torch.manual_seed(seed)
    fixed = JSCC(latent_dim, cfg.symbols, cfg.jscc_hidden, cfg.cala_components)
    losses = {"jscc": train_jscc(fixed, decode, z_train, train_bank, (cfg.train_snr_db,), cfg.cala_delay_spread_ns,
                                 cfg.jscc_steps, bs, ckpt / "jscc_fixed.pt", make_generator(seed, "jscc"), progress,
                                 "jscc fixed-SNR")}
    fixed_long = copy.deepcopy(fixed)  # control: the fixed-SNR JSCC given CALA's extra steps (all weights, same SNR)
    losses["fixed-long"] = train_jscc(fixed_long, decode, z_train, train_bank, (cfg.train_snr_db,),
                                      cfg.cala_delay_spread_ns, cfg.cala_steps, bs, ckpt / "jscc_fixed_long.pt",
                                      make_generator(seed, "jscc-fixed-long"), progress, "jscc fixed-SNR, longer")
    mixed = copy.deepcopy(fixed)
    losses["mixed"] = train_jscc(mixed, decode, z_train, train_bank, cfg.cala_snr_db, cfg.cala_delay_spread_ns,
                                 cfg.cala_steps, bs, ckpt / "jscc_mixed.pt", make_generator(seed, "mixed"), progress,
                                 "jscc mixed-SNR")
    cala = copy.deepcopy(fixed)
    gate = ChannelGate(cfg.cala_components)
    losses["cala"] = train_cala(cala, gate, decode, z_train, train_bank, cfg.cala_snr_db, cfg.cala_delay_spread_ns,
                                cfg.cala_steps, bs, ckpt / "cala.pt", make_generator(seed, "cala"), progress)
    cala_fixed = copy.deepcopy(fixed)  # control: CALA's capacity and steps, but only the fixed SNR
    gate_fixed = ChannelGate(cfg.cala_components)
    losses["cala-fixed-snr"] = train_cala(cala_fixed, gate_fixed, decode, z_train, train_bank, (cfg.train_snr_db,),
                                          cfg.cala_delay_spread_ns, cfg.cala_steps, bs, ckpt / "cala_fixed_snr.pt",
                                          make_generator(seed, "cala-fixed-snr"), progress, "cala fixed-SNR")
    codecs = {"fixed-snr": (fixed, None), "fixed-snr-long": (fixed_long, None), "mixed-snr": (mixed, None),
              "cala-fixed-snr": (cala_fixed, gate_fixed), "cala": (cala, gate)}
    for jscc, _ in codecs.values():
        jscc.eval()

    with torch.no_grad():
        ref = decode(z_test)
    rows = []
    seen_snr, seen_ds = set(cfg.cala_snr_db), set(cfg.cala_delay_spread_ns)
    for ds in cfg.eval_delay_spread_ns:
        for snr in cfg.eval_snr_db:
            rows += _evaluate(codecs, decode, z_test, ref, eval_bank, snr, ds, seed,
                              {"seen_snr": snr in seen_snr, "seen_delay_spread": ds in seen_ds})
    user_rows = []
    for k, (snr, ds) in enumerate(users):
        for r in _evaluate(codecs, decode, z_test, ref, eval_bank, snr, ds, seed, {"user": k}):
            if r["method"] == "cala":
                w = gate(torch.tensor([snr]), torch.tensor([ds]))[0].detach()
                r |= {f"gate_{m}": float(v) for m, v in enumerate(w)}
            user_rows.append(r)
    gate_rows = []
    with torch.no_grad():
        for ds in cfg.eval_delay_spread_ns:
            grid = torch.linspace(-5, 25, 31)
            w = gate(grid, torch.full_like(grid, ds))
            gate_rows += [{"snr_db": float(s), "delay_spread_ns": ds, **{f"gate_{m}": float(v) for m, v in enumerate(row)}}
                          for s, row in zip(grid, w)]
    comp = {n: p.detach() for n, p in cala.named_parameters() if n.endswith((".u", ".v"))}
    comp |= {f"gate.{n}": p.detach() for n, p in gate.named_parameters()}
    cala_bytes = {prec: knowledge_bytes(comp, prec) for prec in ("fp32", "fp16", "int8", "int2")}
    return TKAResult(codecs, rows, user_rows, gate_rows, z_test, eval_bank, losses, cala_bytes)


@torch.no_grad()
def _evaluate(codecs, decode, z, ref, bank: ChannelBank, snr: float, ds: float, seed: int, extra: dict) -> list[dict]:
    """Every codec on the same channel draws and noise at one (SNR, delay spread)."""
    out = []
    for method, (jscc, gate) in codecs.items():
        g = make_generator(seed, f"eval-{snr}-{ds}")  # identical draws for every method
        h = bank.sample(torch.full((len(z),), float(ds)), g)
        x = decode(reconstruct(jscc, gate, z, h, torch.full((len(z),), float(snr)), torch.full((len(z),), float(ds)), g))
        p, s = psnr_db(x, ref), ssim(x, ref)
        out.append({"method": method, "snr_db": snr, "delay_spread_ns": ds, "psnr_db": float(np.mean(p)),
                    "psnr_std": float(np.std(p)), "ssim": float(np.mean(s)), "images": len(z), **extra})
    return out
