"""Control for the SAM scenario's ASC: does the learned mask beat sending a *fixed* prefix of the feature levels?

For each training seed of a finished ``semalign scenario sam`` run (``--out RUN``), fine-tune that seed's
``base-asi`` for ``finetune_steps`` steps with every image sent at the fixed depth ``d`` (the first ``d`` of
``L`` levels everywhere: masked share ``1 − d/L``, no mask net, no side bits), exactly like the run's
variants (same optimiser, batch, SNR range, data), then score it on the run's test split with the run's
noise streams. Prints SSIM − SSIM(no-asc) per seed (mean over channels × SNRs) next to the learned mask at
the same ratio, and writes ``RUN/fixed_depth.csv``.

    PYTHONPATH=$PWD python benchmarks/sam_fixed_depth.py --out RUN --depth 2
"""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import torch

from channel.rng import make_generator, stream_seed
from scenarios.sam.asc import nested_mask
from scenarios.sam.config import SamConfig
from scenarios.sam.dataset import prepare
from scenarios.sam.link import transmit
from scenarios.sam.metrics import ssim
from scenarios.sam.model import LamSc
from scenarios.sam.plan import phase_a, ratio_name
from scenarios.sam.training import batch


def fixed_keep(n: int, depth: int, cfg: SamConfig) -> torch.Tensor:
    g = cfg.image_size // 4
    return nested_mask(torch.full((n, 1, g, g), depth), cfg.mask_levels)


def finetune(cfg: SamConfig, run: Path, seed: int, depth: int, train) -> LamSc:
    torch.manual_seed(stream_seed(cfg.seed, f"init-fixed-s{seed}-d{depth}"))
    model = LamSc("attention", False, cfg.latent_channels, cfg.mask_levels, cfg.mask_block)
    ckpt = next(j for j in phase_a(cfg, seed)[0] if j.name == "base-asi").checkpoint(run / "checkpoints")
    model.load_state_dict(torch.load(ckpt, map_location="cpu", weights_only=False)["model"])
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    model.train()
    lo, hi = cfg.train_snr_db
    for step in range(cfg.finetune_steps):
        g = make_generator(cfg.seed, f"train-fixed-s{seed}-d{depth}-{step}")
        idx = torch.randint(len(train), (cfg.batch_size,), generator=g).numpy()
        x, masks, valid = batch(train, idx, cfg.max_segments)
        snr = lo + (hi - lo) * torch.rand(cfg.batch_size, generator=g, dtype=torch.float64)
        fwd = model(x, masks, valid, lambda s, k: transmit(s, k, snr, "awgn", g, cfg.power), keep=fixed_keep(len(x), depth, cfg))
        loss = torch.nn.functional.mse_loss(fwd.recon, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()


@torch.no_grad()
def score(model: LamSc, cfg: SamConfig, test, depth: int) -> list[dict]:
    rows, ref = [], test.images.astype(np.float64) / 255
    for channel in cfg.channels:
        for snr_db in cfg.snrs_db:
            g = make_generator(cfg.seed, f"eval-{channel}-{snr_db:g}")  # the run's noise streams (paired)
            recon = []
            for lo in range(0, len(test), 80):
                x, masks, valid = batch(test, np.arange(lo, min(lo + 80, len(test))), cfg.max_segments)
                snr = torch.full((x.shape[0],), float(snr_db), dtype=torch.float64)
                fwd = model(x, masks, valid, lambda s, k: transmit(s, k, snr, channel, g, cfg.power), keep=fixed_keep(len(x), depth, cfg))
                recon.append(fwd.recon.permute(0, 2, 3, 1).numpy())
            rows.append(dict(channel=channel, snr_db=snr_db, ssim=float(ssim(ref, np.concatenate(recon)).mean())))
    return rows


def main() -> None:
    from scipy.stats import t

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="a finished `semalign scenario sam` output folder")
    p.add_argument("--depth", type=int, required=True, help="levels sent everywhere (1 … L−1)")
    a = p.parse_args()
    cfg = SamConfig(**json.loads((a.out / "config.json").read_text()))
    torch.set_num_threads(max(cfg.threads, 1))
    train, _, test, _ = prepare(cfg, a.out, progress=False)
    ratio = 1 - a.depth / cfg.mask_levels
    by_seed = list(csv.DictReader((a.out / "results_by_seed.csv").open()))
    mean_of = lambda k, v: np.mean([float(r["ssim"]) for r in by_seed if int(r["train_seed"]) == k and r["variant"] == v])
    fixed_d, learned_d, out_rows = [], [], []
    learned = ratio_name(ratio)
    chosen = json.loads((a.out / "results.json").read_text())["checks"]["selection"]["ratio"]
    if chosen == ratio:  # the chosen ratio's sweep model is reported as "lam-sc"
        learned = "lam-sc"
    for k in cfg.train_seeds:
        rows = score(finetune(cfg, a.out, k, a.depth, train), cfg, test, a.depth)
        fixed_d.append(np.mean([r["ssim"] for r in rows]) - mean_of(k, "no-asc"))
        learned_d.append(mean_of(k, learned) - mean_of(k, "no-asc") if any(r["variant"] == learned for r in by_seed) else float("nan"))
        out_rows += [dict(train_seed=k, depth=a.depth, ratio=ratio, **r) for r in rows]
        print(f"seed {k}: fixed depth {a.depth} ΔSSIM {fixed_d[-1]:+.4f}   learned {learned} ΔSSIM {learned_d[-1]:+.4f}", flush=True)
    with (a.out / "fixed_depth.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(out_rows[0]))
        w.writeheader()
        w.writerows(out_rows)
    d = np.array(learned_d) - np.array(fixed_d)
    half = t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
    bits = 2 * cfg.quant_bits * (cfg.latent_channels // 2) * (cfg.image_size // 4) ** 2 * a.depth / cfg.mask_levels
    fx = np.array(fixed_d)
    fx_half = t.ppf(0.975, len(fx) - 1) * fx.std(ddof=1) / np.sqrt(len(fx)) if len(fx) > 1 else float("nan")
    print(f"fixed depth {a.depth} ({ratio:.0%} masked, {bits:,.0f} bits, no side bits): ΔSSIM vs no-asc {fx.mean():+.4f} "
          f"[t CI {fx.mean() - fx_half:+.4f}, {fx.mean() + fx_half:+.4f}] over {len(fx)} seeds")
    if np.isfinite(d).all():
        print(f"learned {learned} − fixed: {d.mean():+.4f} [t CI {d.mean() - half:+.4f}, {d.mean() + half:+.4f}]")
    else:
        print(f"the run has no learned {learned} to compare with")


if __name__ == "__main__":
    main()
