"""SAM scenario, ASI → ASC: let the ASI segment importance decide directly which blocks get more feature levels.

With the exact bit budget (``--asc-budget batch|image``) the ASC mask keeps the (level, block) pairs with the
highest nested keep probability ``P_l``. With an *importance prior* ``β`` they are ranked by ``P_l · Ā^β``
(``Ā``: ASI importance averaged over the block, :meth:`scenarios.sam.asc.AdaptiveMask.set_budget`), so
important segments get more levels at the same bits. Uniform segment weights give ``Ā ≡ 1``: ``uniform-asi``
is unchanged, only the attention model gains something to act on. No retraining: an inference rule.

Decision on the **validation** split only (rule fixed in docs/sam.md before this was run): for each ``β`` in
``--betas`` and each training seed of a finished run (``--out RUN``), the gain ``SSIM(lam-sc, β) − SSIM(lam-sc,
β = 0)`` (mean over validation images, channels, SNRs; same noise draws). ``β*`` = the largest seed-mean gain;
adopted only if the lower end of its t 95 % CI over seeds is > 0. Only then is the test split evaluated:
``lam-sc(β*) − uniform-asi`` and ``lam-sc(β*) − no-asc`` per seed, t 95 % CIs, bits. Writes
``RUN/importance_prior.json``.

    PYTHONPATH=$PWD python benchmarks/sam_importance_prior.py --out RUN --betas 0.5,1,2
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from protocol.atomic import write_json_atomic
from scenarios.sam.checks import SSIM_MARGIN, over_seeds, verdict
from scenarios.sam.config import SamConfig
from scenarios.sam.dataset import prepare
from scenarios.sam.evaluate import evaluate
from scenarios.sam.model import LamSc
from scenarios.sam.training import load_trained
from scenarios.sam.plan import phase_a, phase_b, ratio_name


def load(cfg: SamConfig, run: Path, seed: int, variant: str, ratio: float) -> LamSc:
    """A trained variant of ``seed`` from the run's checkpoints (the run's inference budget at ``ratio``)."""
    return load_trained((phase_a(cfg, seed)[1] | phase_b(cfg, seed, ratio))[variant], cfg, run / "checkpoints")


def mean_ssim(model: LamSc, cfg: SamConfig, data) -> tuple[float, float]:
    """Mean SSIM over images × channels × SNRs (the run's paired noise streams) and mean symbols sent."""
    rs = [evaluate(model, data, c, s, cfg.seed, cfg.max_segments, cfg.power) for c in cfg.channels for s in cfg.snrs_db]
    return float(np.mean([r["ssim"].mean() for r in rs])), float(np.mean([r["sent"].mean() for r in rs]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="a finished `semalign scenario sam` output folder")
    p.add_argument("--betas", default="0.5,1,2", help="importance-prior exponents β to try on validation")
    a = p.parse_args()
    cfg = SamConfig(**json.loads((a.out / "config.json").read_text()))
    if cfg.asc_budget == "threshold":
        raise SystemExit("the importance prior needs a run with --asc-budget batch or image")
    torch.set_num_threads(max(cfg.threads, 1))
    betas = [float(b) for b in a.betas.split(",")]
    result = json.loads((a.out / "results.json").read_text())
    r_star = result["checks"]["selection"]["ratio"]
    _, val, test, _ = prepare(cfg, a.out, progress=False)
    lam = ratio_name(r_star)

    gains: dict[float, list[float]] = {b: [] for b in betas}
    for k in cfg.train_seeds:
        model = load(cfg, a.out, k, lam, r_star)
        base, _ = mean_ssim(model, cfg, val)
        for b in betas:
            model.asc.set_budget(cfg.asc_budget, r_star, prior=b)
            gains[b].append(mean_ssim(model, cfg, val)[0] - base)
        print(f"seed {k}: validation gain vs β=0: " + ", ".join(f"β={b:g} {gains[b][-1]:+.4f}" for b in betas), flush=True)
    stats = {b: over_seeds(g) for b, g in gains.items()}
    best = max(betas, key=lambda b: stats[b]["mean"])
    adopted = stats[best]["lo"] > 0
    out = dict(ratio=r_star, betas=betas, val_gain={f"{b:g}": stats[b] for b in betas}, best_beta=best, adopted=bool(adopted),
               rule="adopt argmax seed-mean validation gain iff its lower t 95 % CI end > 0")
    print(f"best β = {best:g}: validation gain {stats[best]['mean']:+.4f} [t CI {stats[best]['lo']:+.4f}, {stats[best]['hi']:+.4f}]"
          f" → {'ADOPTED' if adopted else 'not adopted (test split not evaluated)'}", flush=True)
    if adopted:
        asi, asc, bits = [], [], {}
        for k in cfg.train_seeds:
            model = load(cfg, a.out, k, lam, r_star)
            model.asc.set_budget(cfg.asc_budget, r_star, prior=best)
            s_lam, n_lam = mean_ssim(model, cfg, test)
            s_uni, n_uni = mean_ssim(load(cfg, a.out, k, "uniform-asi", r_star), cfg, test)
            s_no, _ = mean_ssim(load(cfg, a.out, k, "no-asc", r_star), cfg, test)
            asi.append(s_lam - s_uni)
            asc.append(s_lam - s_no)
            bits[k] = dict(symbols_lam_sc=n_lam, symbols_uniform=n_uni)
            print(f"seed {k}: test lam-sc(β={best:g}) − uniform-asi {asi[-1]:+.4f}, − no-asc {asc[-1]:+.4f} "
                  f"(symbols {n_lam:.1f} vs {n_uni:.1f})", flush=True)
        s_asi, s_asc = over_seeds(asi), over_seeds(asc)
        out["test"] = dict(asi=s_asi, asi_verdict=verdict(s_asi, 0.0), asc=s_asc, asc_verdict=verdict(s_asc, -SSIM_MARGIN), symbols=bits)
        print(f"test: ASI vs uniform {s_asi['mean']:+.4f} [{s_asi['lo']:+.4f}, {s_asi['hi']:+.4f}] → {out['test']['asi_verdict']}; "
              f"ASC vs no-asc {s_asc['mean']:+.4f} [{s_asc['lo']:+.4f}, {s_asc['hi']:+.4f}] → {out['test']['asc_verdict']}")
    write_json_atomic(a.out / "importance_prior.json", out)


if __name__ == "__main__":
    main()
