"""One SAM-scenario experiment: data + SKB, training every variant, evaluation over channels and SNRs, outputs."""
from __future__ import annotations

import json
import os
import resource
import time
from pathlib import Path

import numpy as np
import torch

from protocol.atomic import write_json_atomic
from scenarios.sam.checks import must_hold
from scenarios.sam.config import SamConfig
from scenarios.sam.dataset import prepare
from scenarios.sam.evaluate import evaluate
from scenarios.sam.metrics import bits_per_image, raw_bits, raw_values, values_per_image
from scenarios.sam.plan import plan
from scenarios.sam.training import train_job

__all__ = ["run_experiment", "RESULT_COLUMNS", "ResumeMismatch"]

RESULT_COLUMNS = (
    "variant", "asi", "asc", "target_ratio", "channel", "snr_db", "psnr_db", "psnr_ci95", "ssim", "ssim_ci95",
    "kept_fraction", "kept_fraction_std", "symbols_per_image", "values_per_image", "bits_per_image",
    "raw_bits_per_image", "segmenter", "images",
)


def _ci(a: np.ndarray) -> float:
    return float(1.96 * a.std(ddof=1) / np.sqrt(len(a))) if len(a) > 1 else float("nan")


def _cpu_seconds() -> float:
    r, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime + c.ru_utime + c.ru_stime


def run_experiment(cfg: SamConfig, out: Path, progress: bool = True, segmenter=None) -> dict:
    """Run (or resume) everything into ``out``; returns the summary dict also written to ``results.json``."""
    from scenarios.sam.plots import plot_grid, plot_quality_vs_snr, plot_ssim_vs_bits, plot_training
    from scenarios.sam.report import write_summary
    from scenarios.sweep_runner import write_tidy_csv

    t0, cpu0, load0 = time.perf_counter(), _cpu_seconds(), os.getloadavg()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    out.mkdir(parents=True, exist_ok=True)
    (out / "checkpoints").mkdir(exist_ok=True)
    _check_same_training(cfg, out)
    write_json_atomic(out / "config.json", json.loads(cfg.model_dump_json()))
    train, test, seg_name = prepare(cfg, out, segmenter, progress)
    t_data = time.perf_counter() - t0

    jobs, finals = plan(cfg)
    states: dict[str, dict] = {}
    models, logs = {}, []
    for job in jobs:
        init = states.get(job.init_from) if job.init_from else None
        model, log = train_job(job, cfg, train, out / "checkpoints", init, progress)
        states[job.name] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        logs.extend(log)
        if job.name in finals:
            models[job.name] = model
    t_train = time.perf_counter() - t0 - t_data

    positions = (cfg.image_size // 4) ** 2
    rows, per_image, bits = [], {}, {}
    for name, job in finals.items():
        for channel in cfg.channels:
            for snr in cfg.snrs_db:
                r = evaluate(models[name], test, channel, snr, cfg.seed, cfg.max_segments, cfg.power)
                per_image[(name, channel, snr)] = r
                b = float(bits_per_image(r["sent"], positions, job.asc, cfg.quant_bits).mean())
                bits[name] = b  # the mask does not depend on the noise: same at every point
                rows.append(dict(
                    variant=name, asi=job.asi, asc=job.asc, target_ratio=job.target_ratio, channel=channel, snr_db=snr,
                    psnr_db=round(float(r["psnr"].mean()), 4), psnr_ci95=round(_ci(r["psnr"]), 4),
                    ssim=round(float(r["ssim"].mean()), 5), ssim_ci95=round(_ci(r["ssim"]), 5),
                    kept_fraction=round(float(r["keep"].mean()), 4), kept_fraction_std=round(float(r["keep"].std()), 4),
                    symbols_per_image=round(float(r["sent"].mean()), 2),
                    values_per_image=round(float(values_per_image(r["sent"]).mean()), 2),
                    bits_per_image=round(b, 1), raw_bits_per_image=raw_bits(cfg.image_size),
                    segmenter=seg_name, images=len(test),
                ))
    write_tidy_csv(rows, out / "results.csv", RESULT_COLUMNS)
    write_tidy_csv(logs, out / "training.csv", ("job", "step", "loss", "mse", "keep"))
    checks = must_hold(per_image, bits, {n: j.target_ratio for n, j in finals.items() if j.asi == "attention" and j.asc})
    adapt = _adaptivity(per_image, test, cfg)

    figures = [
        plot_quality_vs_snr(rows, "psnr_db", "PSNR [dB]", out / "psnr_vs_snr.png", seg_name),
        plot_quality_vs_snr(rows, "ssim", "SSIM", out / "ssim_vs_snr.png", seg_name),
        plot_ssim_vs_bits(rows, out / "ssim_vs_bits.png", raw_bits(cfg.image_size)),
        plot_training(logs, out / "training_loss.png"),
        plot_grid(models, test, cfg, out / "grid.png", seg_name),
    ]
    timing = dict(wall_s=round(time.perf_counter() - t0, 1), data_s=round(t_data, 1), train_s=round(t_train, 1),
                  cpu_s=round(_cpu_seconds() - cpu0, 1), load_start=[round(v, 2) for v in load0],
                  load_end=[round(v, 2) for v in os.getloadavg()], threads=torch.get_num_threads(), cores=os.cpu_count())
    result = dict(config=json.loads(cfg.model_dump_json()), segmenter=seg_name, checks=checks, adaptivity=adapt,
                  bits=bits, raw_bits=raw_bits(cfg.image_size), raw_values=raw_values(cfg.image_size),
                  positions=positions, timing=timing, figures=[str(f.name) for f in figures])
    write_json_atomic(out / "results.json", result)
    write_summary(result, rows, out / "summary.md")
    return result


#: settings that do not change what is trained (may differ when resuming into the same --out)
_EVAL_ONLY = {"test_images", "snrs_db", "channels", "ratios", "threads", "checkpoint_every", "quant_bits"}


class ResumeMismatch(ValueError):
    """``--out`` holds checkpoints trained with different settings."""


def _check_same_training(cfg: SamConfig, out: Path) -> None:
    old_path = out / "config.json"
    if not old_path.is_file() or not any((out / "checkpoints").glob("*.pt")):
        return
    old, new = json.loads(old_path.read_text()), json.loads(cfg.model_dump_json())
    diff = sorted(k for k in new if k not in _EVAL_ONLY and old.get(k) != new[k])
    if diff:
        raise ResumeMismatch(f"{out} holds checkpoints trained with other settings ({', '.join(diff)}); "
                             "use a new --out or delete its checkpoints/")


def _adaptivity(per_image: dict, test, cfg: SamConfig) -> dict:
    """Does the ASC ratio follow content? Spread of lam-sc's kept fraction and its correlation with object area."""
    r = per_image[("lam-sc", cfg.channels[0], cfg.snrs_db[0])]
    res = dict(kept_mean=float(r["keep"].mean()), kept_std=float(r["keep"].std()),
               kept_min=float(r["keep"].min()), kept_max=float(r["keep"].max()))
    if test.truth is not None:
        obj = (test.truth > 0).reshape(len(test), -1).mean(-1)
        res["corr_kept_object_area"] = float(np.corrcoef(obj, r["keep"])[0, 1]) if r["keep"].std() > 0 else float("nan")
    return res
