"""The whole scenario: G-KA (MAKD) then T-KA (CALA), tables, figures, image grids and summary.md."""
from __future__ import annotations

import json
import os
import resource
import time
from pathlib import Path

import torch

from protocol.atomic import write_json_atomic
from scenarios.distillation import figures
from scenarios.distillation.config import DistillConfig
from scenarios.distillation.data import load_prompted
from scenarios.distillation.gka import run_gka
from scenarios.distillation.metrics import load_feature_space
from scenarios.distillation.prompts import prompt_texts
from scenarios.distillation.summary import write_summary
from scenarios.distillation.tka import reconstruct
from scenarios.distillation.tka_stage import run_tka
from scenarios.sweep_runner import write_tidy_csv

__all__ = ["run_scenario", "resume_differences", "ResumeMismatch", "EVALUATION_ONLY"]

#: settings that change only the evaluation, not a trained model: a resume may change them
EVALUATION_ONLY = frozenset({"threads", "precision", "eval_snr_db", "eval_delay_spread_ns", "users", "eval_prompts"})


class ResumeMismatch(ValueError):
    """``out`` holds checkpoints trained with other settings."""


def _has_checkpoints(ckpt: Path) -> bool:
    return ckpt.is_dir() and any(p.suffix == ".pt" and not p.name.startswith(".") for p in ckpt.iterdir())


def resume_differences(out: Path, cfg: DistillConfig) -> list[str]:
    """The training settings in which ``out``'s checkpoints differ from ``cfg`` (empty: nothing to resume, or same)."""
    saved = out / "config.json"
    if not _has_checkpoints(out / "checkpoints") or not saved.is_file():
        return []
    old, new = json.loads(saved.read_text()), cfg.model_dump(mode="json")
    return [k for k in new if k not in EVALUATION_ONLY and old.get(k) != new[k]]


def _csv(rows: list[dict], path: Path) -> None:
    cols = tuple(dict.fromkeys(k for r in rows for k in r))
    write_tidy_csv(rows, path, cols)


def _cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_scenario(cfg: DistillConfig, out: Path, feature_encoder: str = "resnet-simclr", cache_dir: str | None = None,
                 data_dir: str | None = None, progress: bool = True, preset: str = "full") -> dict:
    """Run (or resume) everything into ``out``; returns the headline numbers."""
    t0, c0 = time.perf_counter(), _cpu_seconds()
    load0 = os.getloadavg()
    if diff := resume_differences(out, cfg):
        raise ResumeMismatch(f"{out} holds checkpoints trained with other settings ({', '.join(diff)}); "
                             "use the same settings to resume, or another --out to start afresh")
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / "checkpoints"
    ckpt.mkdir(exist_ok=True)
    resumed = _has_checkpoints(ckpt)  # then the timing below is this invocation's, not the training's
    write_json_atomic(out / "config.json", {"preset": preset, "feature_encoder": feature_encoder,
                                            **cfg.model_dump(mode="json")})
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    space = load_feature_space(feature_encoder, cache_dir)
    train = load_prompted("train", cfg.train_images, cfg.seed, data_dir)
    test = load_prompted("test", max(cfg.eval_prompts, 16), cfg.seed + 1, data_dir)

    # ---- G-KA -----------------------------------------------------------------------------
    gka = run_gka(cfg, train, test, space, ckpt, progress)
    _csv(gka.rows, out / "gka.csv")
    figures.plot_consistency([r for r in gka.rows if "@" not in r["variant"]], out / "consistency.png")
    cols = {"cloud": gka.generated["cloud"].images, "edge (unaligned)": gka.generated["none"].images,
            "edge + metaword": gka.generated["metaword"].images, "edge + G-LoRA": gka.generated["g-lora"].images,
            "edge + MAKD": gka.generated["makd"].images}
    figures.image_grid(cols, prompt_texts(gka.eval_tokens[:8]), out / "grid_cloud_vs_edge.png")

    # ---- T-KA on latents of the aligned (MAKD) edge ------------------------------------------
    decode = gka.ae.decode
    tka = run_tka(cfg, gka.edges["makd"], gka.metawords["makd"], decode, train.tokens, ckpt, progress)
    _csv(tka.rows, out / "tka.csv")
    _csv(tka.users, out / "users.csv")
    _csv(tka.gate_rows, out / "gate.csv")
    figures.plot_psnr_vs_snr(tka.rows, cfg.train_snr_db, out / "psnr_vs_snr.png")
    figures.plot_gate(tka.gate_rows, out / "gate.png")
    figures.plot_losses(gka.losses | {f"t-ka {k}": v for k, v in tka.losses.items()}, out / "losses.png")
    _received_grid(cfg, tka, decode, out / "grid_received.png")

    wall, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
    timing = {"wall_s": wall, "cpu_s": cpu, "load_start": load0, "load_end": os.getloadavg(),
              "threads": torch.get_num_threads(), "resumed": resumed}
    write_json_atomic(out / "timing.json", timing)
    headline = write_summary(cfg, gka, tka, timing, out / "summary.md", feature_encoder, preset)
    write_json_atomic(out / "headline.json", headline)
    return headline


@torch.no_grad()
def _received_grid(cfg: DistillConfig, tka, decode, path: Path) -> None:
    from channel.rng import make_generator

    z = tka.test_latents[:6]
    ds = max(cfg.eval_delay_spread_ns)
    received = {}
    for snr in (min(cfg.eval_snr_db), cfg.train_snr_db, max(cfg.eval_snr_db)):
        for method in ("fixed-snr", "cala"):
            jscc, gate = tka.codecs[method]
            g = make_generator(cfg.seed, f"grid-{snr}")
            h = tka.eval_bank.sample(torch.full((len(z),), float(ds)), g)
            n = torch.full((len(z),), float(snr))
            received[(method, snr)] = decode(reconstruct(jscc, gate, z, h, n, torch.full((len(z),), float(ds)), g))
    figures.received_grid(decode(z), received, path)
