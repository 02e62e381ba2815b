"""SAM scenario: does the learned ASI attention differ from uniform segment weights? (validation split by default)

For each training seed of finished ``semalign scenario sam`` runs (``--out RUN …``), run the ``lam-sc`` model's
ASI (at the run's chosen ratio r*; the ASI module is what matters, the mask is not used) on the run's
**validation** scenes (train objects; ``--split test`` only for an analysis pre-registered in docs/sam.md) and report:

* ``max_w_times_S``: mean over images of ``max_s w_s · S`` (S = the image's segments; 1 = uniform weights);
* the block-averaged importance ``Ā`` (16×16-pixel blocks = the ASC mask blocks): std, min, max (≡ 1 if uniform);
* ``obj_over_bg``: mean importance ``A`` on ground-truth object pixels / on background pixels (1 = no preference);
* ``corr_w_objfrac``: correlation over all segments of ``w_s · S`` with the segment's object-pixel fraction.

An untrained ASI (fresh initialisation; ``--inits N``: the mean of N, with the range of ``max_w_times_S``) is reported
as the reference. With ``--ablate`` also: the same trained
``lam-sc`` evaluated on validation (the run's channels, SNRs, noise streams and bit budget) with its segment
weights forced to uniform at inference (``w_s = 1/S``, ``A ≡ 1``) — ``d_ssim``/``d_ssim_obj``/``d_psnr_obj`` =
trained weights − forced uniform: does the model *use* the small variation of its weights? Decides nothing about
the test verdicts. With ``--ablate`` and ``--split test`` (the attribution analysis pre-registered for seeds 15–24)
also ``forced − uniform-asi`` per seed — is lam-sc with its weights forced uniform still better than the model
trained with uniform weights? — and both differences with a Student-t 95 % CI over seeds.
With ``--training-path``, from the run's ``training.csv``: each attention job's ``max_w_times_S`` on its training batches
at the first logged step, at its peak and over the last five (the path from its own initialisation). With ``--json PATH`` writes
every run's statistics there.

    PYTHONPATH=$PWD python benchmarks/sam_attention_check.py --out RUN [RUN2 …] [--ablate] [--split val|test] [--inits N] [--training-path] [--path-png PNG] [--json PATH]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from protocol.atomic import write_json_atomic
from scenarios.sam.asi import segment_object_share
from scenarios.sam.config import SamConfig
from scenarios.sam.dataset import prepare
from scenarios.sam.model import LamSc
from scenarios.sam.checks import over_seeds
from scenarios.sam.plan import phase_a, phase_b, ratio_name
from scenarios.sam.training import batch, load_trained, object_region


def attention_stats(weights: torch.Tensor, valid: torch.Tensor, importance: torch.Tensor, masks: torch.Tensor,
                    objects: torch.Tensor, block: int = 16) -> dict[str, float]:
    """The statistics above from ASI outputs ``weights [B,S]``, ``valid [B,S]``, ``importance [B,1,H,W]``,
    segment ``masks [B,S,H,W]`` and ground-truth ``objects`` bool ``[B,1,H,W]``."""
    n = valid.sum(-1).float()
    wmax = (weights.amax(-1) * n).mean()
    blocks = torch.nn.functional.avg_pool2d(importance, block).flatten()
    obj = objects.float()
    a_obj = (importance * obj).flatten(1).sum(-1) / obj.flatten(1).sum(-1).clamp_min(1)
    a_bg = (importance * (1 - obj)).flatten(1).sum(-1) / (1 - obj).flatten(1).sum(-1).clamp_min(1)
    both = (obj.flatten(1).sum(-1) > 0) & ((1 - obj).flatten(1).sum(-1) > 0)
    frac = segment_object_share(masks, obj)
    ws, fs = (weights * n[:, None])[valid], frac[valid]
    corr = float(np.corrcoef(ws.numpy(), fs.numpy())[0, 1]) if ws.std() > 0 and fs.std() > 0 else float("nan")
    return dict(max_w_times_S=float(wmax), block_importance_std=float(blocks.std()), block_importance_min=float(blocks.min()),
                block_importance_max=float(blocks.max()), obj_over_bg=float((a_obj[both] / a_bg[both]).mean()),
                corr_w_objfrac=corr)


@torch.no_grad()
def asi_outputs(model: LamSc, data, max_segments: int, bs: int = 80) -> dict[str, torch.Tensor]:
    out: dict[str, list] = {k: [] for k in ("weights", "valid", "importance", "masks", "objects")}
    for lo in range(0, len(data), bs):
        idx = np.arange(lo, min(lo + bs, len(data)))
        x, masks, valid = batch(data, idx, max_segments)
        _, w, imp = model.asi(x, masks, valid)
        for k, v in zip(out, (w, valid, imp, masks, object_region(data, idx))):
            out[k].append(v)
    return {k: torch.cat(v) for k, v in out.items()}


def quality(model: LamSc, cfg: SamConfig, data) -> dict[str, float]:
    """Mean SSIM, object SSIM and object PSNR over the run's channels, SNRs and noise draws."""
    from scenarios.sam.evaluate import evaluate

    rs = [evaluate(model, data, c, s, cfg.seed, cfg.max_segments, cfg.power) for c in cfg.channels for s in cfg.snrs_db]
    return {key: float(np.mean([r[key].mean() for r in rs])) for key in ("ssim", "ssim_obj", "psnr_obj")}


def forced_uniform_effect(model: LamSc, cfg: SamConfig, val, ratio: float, reference: LamSc | None = None) -> dict[str, float]:
    """Quality of ``model`` with its trained segment weights minus with uniform weights forced at inference
    (``d_*``); with ``reference`` (the run's ``uniform-asi``) also forced minus reference (``forced_minus_uniform_*``)."""
    model.asc.set_budget(cfg.asc_budget, ratio)
    trained = quality(model, cfg, val)
    model.asi.mode = "uniform"
    try:
        forced = quality(model, cfg, val)
    finally:
        model.asi.mode = "attention"
    res = {f"d_{key}": trained[key] - forced[key] for key in trained}
    if reference is not None:
        reference.asc.set_budget(cfg.asc_budget, ratio)
        res |= {f"forced_minus_uniform_{key}": v - ref for (key, v), ref in zip(forced.items(), quality(reference, cfg, val).values())}
    return res


def untrained_stats(cfg: SamConfig, data, inits: int) -> dict[str, float]:
    """The statistics of fresh ASI initialisations (torch seeds ``0 … inits−1``): their mean, and with
    ``inits`` > 1 the range of ``max_w_times_S`` (``…_lo``, ``…_hi``)."""
    runs = []
    for i in range(inits):
        torch.manual_seed(i)
        model = LamSc("attention", True, cfg.latent_channels, cfg.mask_levels, cfg.mask_block)
        runs.append(attention_stats(**asi_outputs(model, data, cfg.max_segments)))
    res = {key: float(np.mean([r[key] for r in runs])) for key in runs[0]}
    if inits > 1:
        res |= dict(max_w_times_S_lo=min(r["max_w_times_S"] for r in runs), max_w_times_S_hi=max(r["max_w_times_S"] for r in runs))
    return res


def _training_rows(run: Path) -> list[dict]:
    """The rows of the run's ``training.csv`` that carry ``asi_max_wS`` (none for runs from before 2026-11-30)."""
    import csv

    with (run / "training.csv").open(newline="") as f:
        return [r for r in csv.DictReader(f) if r.get("asi_max_wS")]


def path_summary(pts: list[tuple[int, float]]) -> dict[str, float]:
    """A logged path ``[(step, value), …]``: its first step and value, its peak and the peak's step, the mean of its
    last five values, and how many were logged."""
    pts = sorted(pts)
    peak = max(pts, key=lambda p: p[1])
    return dict(first_step=pts[0][0], first=pts[0][1], peak=peak[1], peak_step=peak[0],
                last5=float(np.mean([v for _, v in pts[-5:]])), logged=len(pts))


def _paths(rows: list[dict]) -> dict[tuple[str, str], list[tuple[int, float]]]:
    """``(train_seed, job) → [(step, asi_max_wS), …]`` from ``training.csv`` rows."""
    paths: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for r in rows:
        paths.setdefault((r["train_seed"], r["job"]), []).append((int(r["step"]), float(r["asi_max_wS"])))
    return {key: sorted(pts) for key, pts in paths.items()}


def training_path(run: Path) -> dict[str, dict[str, float]]:
    """From the run's ``training.csv``: :func:`path_summary` of ``max_s w_s · S`` for each attention job of each
    training seed (``first_step`` 0 = its initialisation, or the model it was fine-tuned from; later if the job was
    resumed from a checkpoint older than the column)."""
    return {f"seed {seed} {job}": path_summary(pts) for (seed, job), pts in _paths(_training_rows(run)).items()}


def plot_paths(runs: list[Path], path: Path, jobs: tuple[str, ...] = ("base-asi", "no-asc")) -> Path:
    """Each of ``jobs``' ``max_s w_s · S`` over training (``training.csv``), one panel per job, one line per run and
    training seed: colour = training seed, solid = oracle SKB, dashed = any other back-end."""
    from scenarios.sam.plots import _plt

    plt = _plt()
    fig, axes = plt.subplots(1, len(jobs), figsize=(6 * len(jobs), 4), squeeze=False, sharey=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    seeds: dict[str, str] = {}
    drawn = 0
    for run in runs:
        kind = json.loads((run / "config.json").read_text())["segmenter"]
        label = "oracle SKB (object masks)" if kind == "truth" else f"{kind} SKB"
        for (seed, job), pts in _paths(_training_rows(run)).items():
            if job in jobs:
                colour = seeds.setdefault(seed, colours[len(seeds) % len(colours)])
                axes[0, jobs.index(job)].plot(*zip(*pts), lw=1.2, color=colour, ls="-" if kind == "truth" else "--",
                                              label=f"{label}, seed {seed}")
                drawn += 1
    for ax, job in zip(axes[0], jobs):
        ax.axhline(1.0, color="k", lw=0.8, ls=":")
        ax.set_xlabel(f"training step of {job}" + (" (from scratch)" if job.startswith("base") else
                                                   " (fine-tuned from base-asi, fresh optimiser)"))
        ax.grid(alpha=0.3)
    if not drawn:
        raise SystemExit(f"nothing to plot: no {', '.join(jobs)} rows with asi_max_wS in these runs' training.csv "
                         "(runs from before 2026-11-30 do not log it)")
    axes[0, 0].set_ylabel("batch mean of max_s w_s·S (1 = uniform)")
    axes[0, -1].legend(fontsize=7)
    fig.suptitle("ASI segment weights during training (plain image MSE)", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, nargs="+", required=True, help="finished `semalign scenario sam` output folders")
    p.add_argument("--ablate", action="store_true", help="also evaluate lam-sc with uniform segment weights forced at inference")
    p.add_argument("--split", choices=("val", "test"), default="val",
                   help="scenes to use (default val; test only for the pre-registered attribution analysis)")
    p.add_argument("--inits", type=int, default=1, help="untrained reference: mean over this many fresh initialisations "
                   "(and the range of max_w_times_S); default 1")
    p.add_argument("--training-path", action="store_true", help="also print, from training.csv, each attention job's "
                   "max w·S at its first logged step, its peak and over its last five (runs from 2026-11-30 on)")
    p.add_argument("--path-png", type=Path, help="plot base-asi's and no-asc's max w·S over training for every run to this PNG")
    p.add_argument("--json", type=Path, help="write the statistics of every run to this file")
    a = p.parse_args()
    if a.inits < 1:
        p.error("--inits must be at least 1")
    torch.set_num_threads(1)
    report = []
    for run in a.out:
        cfg = SamConfig(**json.loads((run / "config.json").read_text()))
        r_star = json.loads((run / "results.json").read_text())["checks"]["selection"]["ratio"]
        _, val, test, _ = prepare(cfg, run, progress=False)
        data = test if a.split == "test" else val
        res: dict[str, dict] = {}
        res["untrained"] = untrained_stats(cfg, data, a.inits)
        for k in cfg.train_seeds:
            model = load_trained(phase_a(cfg, k)[1][ratio_name(r_star)], cfg, run / "checkpoints")
            res[f"seed {k}"] = attention_stats(**asi_outputs(model, data, cfg.max_segments))
            if a.ablate:
                ref = (load_trained(phase_b(cfg, k, r_star)["uniform-asi"], cfg, run / "checkpoints")
                       if a.split == "test" else None)
                res[f"seed {k}"] |= forced_uniform_effect(model, cfg, data, r_star, ref)
        seeds = [key for key in res if key.startswith("seed ")]
        summary = {key: over_seeds([res[s_][key] for s_ in seeds]) for key in res[seeds[0]]
                   if key.startswith(("d_", "forced_minus"))} if a.ablate and len(seeds) > 1 else {}
        path = training_path(run) if a.training_path else {}
        report.append(dict(run=str(run), object_weight=cfg.object_weight, ratio=r_star, split=a.split, images=len(data),
                           stats=res, over_seeds=summary, training_path=path))
        print(f"{run} (object_weight {cfg.object_weight:g}, lam-sc at {r_star:.1%}, {len(data)} {a.split} scenes)")
        for name, st in res.items():
            print(f"  {name:10s} " + ", ".join(f"{key} {v:.4f}" for key, v in st.items()), flush=True)
        for key, st in summary.items():
            print(f"  {key}: {st['mean']:+.4f} [t 95 % CI over {st['n_seeds']} seeds {st['lo']:+.4f}, {st['hi']:+.4f}]")
        for job, st in path.items():
            print(f"  training  {job:28s} max_w_times_S at step {st['first_step']} {st['first']:.4f}, peak {st['peak']:.4f} "
                  f"at step {st['peak_step']}, last five {st['last5']:.4f} ({st['logged']} logged)")

    if a.path_png:
        print(f"wrote {plot_paths(a.out, a.path_png)}")
    if a.json:
        write_json_atomic(a.json, report)


if __name__ == "__main__":
    main()
