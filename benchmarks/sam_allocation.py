"""SAM scenario: is bit allocation by segment importance a lever, and can the ASI learn it? (validation split only)

Two questions about ASI → ASC on a finished ``semalign scenario sam`` run (``--out RUN``), at the run's ratio r*:

* **Oracle object prior**: ``lam-sc`` fine-tuned from the run's
  ``base-asi`` with the ASC keep logits shifted by ``γ · (o_b − ō)`` — ``o_b`` the ground-truth object share of
  mask block ``b``, ``ō`` its mean over the image — in training and at inference (same exact bit budget).
  Ground truth is not available to a transmitter: this measures what one hand-made object prior (one γ) buys by
  moving bits to the objects — an indication of the lever's size, not a bound on every allocation.
* **ASI steering** (``--asi-steer β``, :class:`scenarios.sam.asc.AdaptiveMask`): the same fine-tune with the ASI
  importance shifting the keep logits by ``β · log Ā`` with gradient into the segment attention — does the
  attention learn to move bits to the objects?

Every fine-tune reuses the run's ``lam-sc`` job (same initialisation, batches and noise; checkpoints in
``RUN/allocation/<variant>/``, resumable), so differences against the run's ``lam-sc`` are paired. Per training
seed: validation SSIM, object-region SSIM and PSNR (mean over the run's channels, SNRs, noise draws), the kept
fraction on object positions (latent positions, 4×4 pixels, > ½ object pixels) and on the other positions, and for steering the attention statistics
of ``benchmarks/sam_attention_check.py``; then each variant minus ``lam-sc`` and minus ``uniform-asi`` with a
Student-t 95 % CI over seeds. Writes ``RUN/allocation.json``. Decides nothing about the test verdicts.

    PYTHONPATH=$PWD python benchmarks/sam_allocation.py --out RUN --oracle 4 --steer 1,3,10 [--seeds 10,11]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from benchmarks.sam_attention_check import asi_outputs, attention_stats
from protocol.atomic import write_json_atomic
from scenarios.sam.checks import over_seeds
from scenarios.sam.config import SamConfig
from scenarios.sam.dataset import SegmentedImages, prepare
from scenarios.sam.evaluate import evaluate, reconstruct
from scenarios.sam.model import LamSc
from scenarios.sam.plan import phase_a, phase_b, ratio_name
from scenarios.sam.training import load_trained, object_region, train_job

METRICS = ("ssim", "ssim_obj", "psnr_obj")


def object_shift(data: SegmentedImages, gamma: float, block: int):
    """``idx -> γ (o_b − ō)`` ``[B, 1, h, w]``: keep-logit offset from the ground-truth object share of each mask block."""
    pixels = 4 * block  # image pixels per mask block side (the latent grid is H/4)

    def shift(idx: np.ndarray) -> torch.Tensor:
        o = nn.functional.avg_pool2d(object_region(data, idx).float(), pixels)
        return (gamma * (o - o.mean((2, 3), keepdim=True))).repeat_interleave(block, 2).repeat_interleave(block, 3)
    return shift


def validation(model: LamSc, cfg: SamConfig, val: SegmentedImages, shift=None) -> dict[str, float]:
    """Mean validation quality over the run's channels/SNRs and the kept fraction on object vs background latent
    positions (4×4 pixels, more than half object pixels or not)."""
    rs = [evaluate(model, val, c, s, cfg.seed, cfg.max_segments, cfg.power, mask_shift=shift)
          for c in cfg.channels for s in cfg.snrs_db]
    res = {key: float(np.mean([r[key].mean() for r in rs])) for key in METRICS}
    keep = reconstruct(model, val, np.arange(len(val)), cfg.channels[0], cfg.snrs_db[0], cfg.seed, cfg.max_segments,
                       cfg.power, mask_shift=shift)["keep"]  # the kept map per position (the noise does not change it)
    obj = nn.functional.avg_pool2d(object_region(val, np.arange(len(val))).float(), 4)[:, 0].numpy() > 0.5
    return res | dict(kept_object=float(keep[obj].mean()), kept_background=float(keep[~obj].mean()))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="a finished `semalign scenario sam` output folder (with object masks)")
    p.add_argument("--oracle", type=float, default=4.0, help="oracle keep-logit gain γ per unit object share (0 = skip)")
    p.add_argument("--steer", default="1,3,10", help="ASI steering gains β to try (comma-separated; empty = skip)")
    p.add_argument("--seeds", help="training seeds of the run to use (default all)")
    a = p.parse_args()
    cfg = SamConfig(**json.loads((a.out / "config.json").read_text()))
    if cfg.asc_budget == "threshold":
        raise SystemExit("needs a run with --asc-budget batch or image (equal bits)")
    torch.set_num_threads(max(cfg.threads, 1))
    r_star = json.loads((a.out / "results.json").read_text())["checks"]["selection"]["ratio"]
    train, val, _, _ = prepare(cfg, a.out, progress=False)
    if val.truth is None:
        raise SystemExit("the run's images have no ground-truth object masks")
    seeds = [int(s) for s in a.seeds.split(",")] if a.seeds else list(cfg.train_seeds)
    steers = [float(b) for b in a.steer.split(",") if b]
    per_seed: dict[str, dict[int, dict]] = {}
    for k in seeds:
        ckpt = a.out / "checkpoints"
        ordered, finals = phase_a(cfg, k)
        lam_job = finals[ratio_name(r_star)]
        base_job = next(j for j in ordered if j.name == "base-asi")
        base = torch.load(base_job.checkpoint(ckpt), map_location="cpu", weights_only=False)["model"]
        per_seed.setdefault("lam-sc", {})[k] = validation(load_trained(lam_job, cfg, ckpt), cfg, val)
        per_seed.setdefault("uniform-asi", {})[k] = validation(load_trained(phase_b(cfg, k, r_star)["uniform-asi"], cfg, ckpt),
                                                               cfg, val)
        if a.oracle:
            name = f"oracle γ={a.oracle:g}"
            model, _ = train_job(lam_job, cfg, train, a.out / "allocation" / f"oracle{a.oracle:g}", base, progress=False,
                                 mask_shift=object_shift(train, a.oracle, cfg.mask_block))
            model.asc.set_budget(cfg.asc_budget, r_star)
            per_seed.setdefault(name, {})[k] = validation(model, cfg, val, object_shift(val, a.oracle, cfg.mask_block))
        for beta in steers:
            scfg = cfg.model_copy(update={"asi_steer": beta})
            model, _ = train_job(lam_job, scfg, train, a.out / "allocation" / f"steer{beta:g}", base, progress=False)
            model.asc.set_budget(cfg.asc_budget, r_star)
            per_seed.setdefault(f"steer β={beta:g}", {})[k] = (validation(model, scfg, val)
                                                               | attention_stats(**asi_outputs(model, val, cfg.max_segments)))
        print(f"seed {k}: " + "; ".join(f"{v} " + ", ".join(f"{m} {r[k][m]:.4f}" for m in (*METRICS, "kept_object", "kept_background"))
                                        for v, r in per_seed.items()), flush=True)
    diffs = {v: {ref: {m: over_seeds([per_seed[v][k][m] - per_seed[ref][k][m] for k in seeds]) for m in METRICS}
                 for ref in ("lam-sc", "uniform-asi")} for v in per_seed if v not in ("lam-sc", "uniform-asi")}
    for v, d in diffs.items():
        for ref, st in d.items():
            print(f"{v} − {ref}: " + ", ".join(f"{m} {s['mean']:+.4f} [{s['lo']:+.4f}, {s['hi']:+.4f}]" for m, s in st.items()))
    write_json_atomic(a.out / "allocation.json", dict(run=str(a.out), ratio=r_star, split="val", images=len(val), seeds=seeds,
                                                      oracle=a.oracle, steer=steers, per_seed=per_seed, diffs=diffs))


if __name__ == "__main__":
    main()
