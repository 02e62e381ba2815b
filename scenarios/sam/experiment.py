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
from scenarios.sam.asc import mask_side_bits
from scenarios.sam.checks import SSIM_MARGIN, must_hold, paired
from scenarios.sam.config import SamConfig
from scenarios.sam.dataset import prepare
from scenarios.sam.evaluate import evaluate
from scenarios.sam.metrics import bits_per_image, raw_bits, raw_values, values_per_image
from scenarios.sam.plan import phase_a, phase_b, ratio_name, sweep_ratios
from scenarios.sam.selection import choose_ratio, choose_ratio_ci
from scenarios.sam.training import Job, train_job

__all__ = ["run_experiment", "RESULT_COLUMNS", "ResumeMismatch", "NoGroundTruth"]

RESULT_COLUMNS = (
    "variant", "asi", "asc", "target_ratio", "channel", "snr_db", "psnr_db", "psnr_ci95", "ssim", "ssim_ci95",
    "ssim_obj", "ssim_obj_ci95", "psnr_obj_db", "psnr_obj_ci95",
    "kept_fraction", "kept_fraction_std", "symbols_per_image", "values_per_image", "bits_per_image",
    "raw_bits_per_image", "segmenter", "images", "train_seeds",
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
    train, val, test, seg_name = prepare(cfg, out, segmenter, progress)
    if cfg.object_weight != 1 and train.truth is None:
        raise NoGroundTruth(f"object_weight {cfg.object_weight:g} needs ground-truth object masks; these training images have none")
    if cfg.asi_supervision and train.truth is None:
        raise NoGroundTruth(f"asi_supervision {cfg.asi_supervision:g} needs ground-truth object masks; these training images have none")
    t_data = time.perf_counter() - t0
    positions = (cfg.image_size // 4) ** 2
    side_bits = mask_side_bits(cfg.image_size // 4, cfg.mask_levels, cfg.mask_block)  # ASC mask side information
    states: dict[tuple[int, str], dict] = {}
    models: dict[tuple[int, str], object] = {}
    finals: dict[tuple[int, str], Job] = {}
    logs: list[dict] = []

    def run(jobs: list[Job]) -> None:
        for job in jobs:
            init = states.get((job.train_seed, job.init_from)) if job.init_from else None
            model, log = train_job(job, cfg, train, out / "checkpoints", init, progress)
            if model.asc is not None:  # the inference mask: exact bit budget at the job's ratio, or the ½ threshold
                model.asc.set_budget(cfg.asc_budget, job.target_ratio)
            states[(job.train_seed, job.name)] = {k: v.detach().clone() for k, v in model.state_dict().items()}
            logs.extend(dict(train_seed=job.train_seed) | e for e in log)
            models[(job.train_seed, job.name)] = model

    first = cfg.seed_offset
    for k in cfg.train_seeds:                                    # phase A: bases, no-asc, conventional, sweep
        jobs, fin = phase_a(cfg, k)
        run(jobs)
        finals.update({(k, v): j for v, j in fin.items()})
    selection = _choose_ratio(cfg, models, val)                  # on the validation split only
    r_star = selection["ratio"]
    for k in cfg.train_seeds:                                    # phase B: the comparisons at r*
        fin = phase_b(cfg, k, r_star)
        run(list(fin.values()))
        finals.update({(k, v): j for v, j in fin.items()})
        finals[(k, "lam-sc")] = finals.pop((k, ratio_name(r_star)))
    t_train = time.perf_counter() - t0 - t_data

    per_image, seed_bits, seed_rows = {}, {}, []
    for (k, name), job in finals.items():
        model = models[(k, job.name)]
        for channel in cfg.channels:
            for snr in cfg.snrs_db:
                r = evaluate(model, test, channel, snr, cfg.seed, cfg.max_segments, cfg.power)
                per_image[(k, name, channel, snr)] = r
                seed_bits[(k, name)] = float(bits_per_image(r["sent"], side_bits, job.asc, cfg.quant_bits).mean())
                seed_rows.append(dict(train_seed=k, variant=name, channel=channel, snr_db=snr, ssim=round(float(r["ssim"].mean()), 5),
                                      psnr_db=round(float(r["psnr"].mean()), 4), ssim_obj=round(float(r["ssim_obj"].mean()), 5),
                                      psnr_obj_db=round(float(r["psnr_obj"].mean()), 4), bits_per_image=round(seed_bits[(k, name)], 1),
                                      kept_fraction=round(float(r["keep"].mean()), 4)))
    variants = list(dict.fromkeys(name for (_, name) in finals))
    rows, bits = [], {}
    for name in variants:
        ks = [k for k in cfg.train_seeds if (k, name) in finals]
        job = finals[(ks[0], name)]
        bits[name] = float(np.mean([seed_bits[(k, name)] for k in ks]))  # the mask does not depend on the noise
        for channel in cfg.channels:
            for snr in cfg.snrs_db:
                cat = {key: np.concatenate([per_image[(k, name, channel, snr)][key] for k in ks]) for key in ("psnr", "ssim", "keep", "sent", "psnr_obj", "ssim_obj")}
                rows.append(dict(
                    variant=name, asi=job.asi, asc=job.asc, target_ratio=job.target_ratio, channel=channel, snr_db=snr,
                    psnr_db=round(float(cat["psnr"].mean()), 4), psnr_ci95=round(_ci(cat["psnr"]), 4),
                    ssim=round(float(cat["ssim"].mean()), 5), ssim_ci95=round(_ci(cat["ssim"]), 5),
                    ssim_obj=round(float(cat["ssim_obj"].mean()), 5), ssim_obj_ci95=round(_ci(cat["ssim_obj"]), 5),
                    psnr_obj_db=round(float(cat["psnr_obj"].mean()), 4), psnr_obj_ci95=round(_ci(cat["psnr_obj"]), 4),
                    kept_fraction=round(float(cat["keep"].mean()), 4), kept_fraction_std=round(float(cat["keep"].std()), 4),
                    symbols_per_image=round(float(cat["sent"].mean()), 2),
                    values_per_image=round(float(values_per_image(cat["sent"]).mean()), 2),
                    bits_per_image=round(bits[name], 1), raw_bits_per_image=raw_bits(cfg.image_size),
                    segmenter=seg_name, images=len(test), train_seeds=len(ks),
                ))
    write_tidy_csv(rows, out / "results.csv", RESULT_COLUMNS)
    write_tidy_csv(seed_rows, out / "results_by_seed.csv", ("train_seed", "variant", "channel", "snr_db", "ssim", "psnr_db", "ssim_obj", "psnr_obj_db", "bits_per_image", "kept_fraction"))
    write_tidy_csv(logs, out / "training.csv", ("train_seed", "job", "step", "loss", "mse", "keep", "asi_max_wS"))
    sweep = {v: j.target_ratio for (k, v), j in finals.items() if k == first and j.asi == "attention" and j.asc}
    checks = must_hold(per_image, bits, sweep)
    checks["selection"] = selection
    adapt = _adaptivity(per_image, test, cfg)
    seed0 = {name: models[(first, j.name)] for (k, name), j in finals.items() if k == first}

    figures = [
        plot_quality_vs_snr(rows, "psnr_db", "PSNR [dB]", out / "psnr_vs_snr.png", seg_name),
        plot_quality_vs_snr(rows, "ssim", "SSIM", out / "ssim_vs_snr.png", seg_name),
        plot_ssim_vs_bits(rows, out / "ssim_vs_bits.png", raw_bits(cfg.image_size)),
        plot_training(logs, out / "training_loss.png"),
        plot_grid(seed0, test, cfg, out / "grid.png", seg_name),
    ]
    timing = dict(wall_s=round(time.perf_counter() - t0, 1), data_s=round(t_data, 1), train_s=round(t_train, 1),
                  cpu_s=round(_cpu_seconds() - cpu0, 1), load_start=[round(v, 2) for v in load0],
                  load_end=[round(v, 2) for v in os.getloadavg()], threads=torch.get_num_threads(), cores=os.cpu_count())
    result = dict(config=json.loads(cfg.model_dump_json()), segmenter=seg_name, checks=checks, adaptivity=adapt,
                  bits=bits, raw_bits=raw_bits(cfg.image_size), raw_values=raw_values(cfg.image_size),
                  positions=positions, mask_side_bits=side_bits, timing=timing, figures=[str(f.name) for f in figures])
    write_json_atomic(out / "results.json", result)
    write_summary(result, rows, out / "summary.md")
    return result


#: settings that do not change what is trained (may differ when resuming into the same --out)
_EVAL_ONLY = {"test_images", "val_images", "seeds", "seed_offset", "ratio_rule", "asc_budget", "ratios", "target_ratio", "snrs_db", "channels", "ratios", "threads", "checkpoint_every", "quant_bits"}


#: training settings added later, at the value that reproduces runs written before they existed (first ASC design)
_LEGACY = {"mask_levels": 1, "mask_block": 1, "curriculum": 0.0, "object_weight": 1.0, "asi_steer": 0.0, "asi_supervision": 0.0,
           "sam_points_per_side": 32, "sam_pred_iou_thresh": 0.88, "sam_stability_thresh": 0.95}


class ResumeMismatch(ValueError):
    """``--out`` holds checkpoints trained with different settings."""


class NoGroundTruth(ValueError):
    """``object_weight`` > 1 on images without ground-truth object masks."""


def _check_same_training(cfg: SamConfig, out: Path) -> None:
    old_path = out / "config.json"
    if not old_path.is_file() or not any((out / "checkpoints").rglob("*.pt")):  # s<k>/ too (--seed-offset runs)
        return
    old, new = json.loads(old_path.read_text()), json.loads(cfg.model_dump_json())
    ignore = _EVAL_ONLY | ({k for k in new if k.startswith("sam_")}
                           if "sam" not in (old.get("segmenter", "superpixel"), new["segmenter"]) else set())
    diff = sorted(k for k in new if k not in ignore and old.get(k, _LEGACY.get(k)) != new[k])
    if diff:
        raise ResumeMismatch(f"{out} holds checkpoints trained with other settings ({', '.join(diff)}); "
                             "use a new --out or delete its checkpoints/")


def _adaptivity(per_image: dict, test, cfg: SamConfig) -> dict:
    """Does the ASC ratio follow content? Spread of lam-sc's kept fraction and its correlation with object area."""
    r = per_image[(cfg.seed_offset, "lam-sc", cfg.channels[0], cfg.snrs_db[0])]
    res = dict(kept_mean=float(r["keep"].mean()), kept_std=float(r["keep"].std()),
               kept_min=float(r["keep"].min()), kept_max=float(r["keep"].max()))
    if test.truth is not None:
        obj = (test.truth > 0).reshape(len(test), -1).mean(-1)
        res["corr_kept_object_area"] = float(np.corrcoef(obj, r["keep"])[0, 1]) if r["keep"].std() > 0 else float("nan")
    return res


def _choose_ratio(cfg: SamConfig, models: dict, val) -> dict:
    """The ASC ratio: ``target_ratio`` if given, else chosen on the validation split by ``cfg.ratio_rule``
    (:mod:`scenarios.sam.selection`). Models are evaluated with the run's inference mask (``asc_budget``)."""
    ratios = sweep_ratios(cfg)
    diffs: dict[float, list[float]] = {r: [] for r in ratios}
    pooled: dict[float, list[np.ndarray]] = {r: [] for r in ratios}
    for k in cfg.train_seeds:
        base = {(c, s): evaluate(models[(k, "no-asc")], val, c, s, cfg.seed, cfg.max_segments, cfg.power)["ssim"]
                for c in cfg.channels for s in cfg.snrs_db}
        for r in ratios:
            d = np.concatenate([evaluate(models[(k, ratio_name(r))], val, c, s, cfg.seed, cfg.max_segments, cfg.power)["ssim"]
                                - base[(c, s)] for c in cfg.channels for s in cfg.snrs_db])
            diffs[r].append(float(d.mean()))
            pooled[r].append(d)
    val_diff = {r: float(np.mean(v)) for r, v in diffs.items()}
    img_lo = {r: paired(np.concatenate(v), np.zeros(sum(map(len, v))))["lo"] for r, v in pooled.items()}
    _, _, val_lo = choose_ratio_ci(diffs, SSIM_MARGIN, img_lo)
    if cfg.target_ratio is not None:
        ratio, rule = cfg.target_ratio, "fixed target_ratio"
        within = (val_lo if cfg.ratio_rule == "ci" else val_diff)[cfg.target_ratio] >= -SSIM_MARGIN
    elif cfg.ratio_rule == "ci":
        ratio, within, _ = choose_ratio_ci(diffs, SSIM_MARGIN, img_lo)
        rule = "largest ratio whose validation ΔSSIM lower 95 % CI end (t over training seeds) ≥ −margin"
    else:
        (ratio, within), rule = choose_ratio(val_diff, SSIM_MARGIN), "largest ratio with validation seed-mean ΔSSIM ≥ −margin"
    return dict(ratio=ratio, within_margin_on_val=bool(within), rule=rule, ratio_rule=cfg.ratio_rule, margin=SSIM_MARGIN,
                asc_budget=cfg.asc_budget, val_ssim_diff={f"{r:g}": val_diff[r] for r in ratios},
                val_ssim_diff_lo={f"{r:g}": val_lo[r] for r in ratios},
                val_ssim_diff_per_seed={f"{r:g}": diffs[r] for r in ratios}, val_images=len(val))
