"""SAM scenario: is the early excursion of the ASI segment weights a fresh-Adam effect? (training batches only)

Every attention job's segment weights move away from uniform in its first ~100 steps and then settle back
(docs/sam.md, "Is the SKB the bottleneck?"), fine-tunes included. For each training seed of a finished
``semalign scenario sam`` run, this re-trains the run's ``no-asc`` fine-tune (from the run's ``base-asi``, on the same
batches and noise) twice, into ``RUN/adam-restart/``:

* ``fresh``: a new Adam optimiser, as the scenario does;
* ``carried``: ``base-asi``'s Adam state (first and second moments, step count) carried over, so the fine-tune
  continues the base's optimisation instead of restarting it.

It prints ``max w·S`` (batch mean of ``max_s w_s · S``, 1 = uniform; the ``asi_max_wS`` column of the training log) at
step 0, at its peak, and over the last five logged steps, for both, with the batch MSE at step 10 and over the last five
logged steps (same batches and noise in both, so the MSEs are paired). The less the carried run's weights move, the more
of the excursion is Adam's restart. Finished re-trains under ``RUN/adam-restart/`` are reused; delete that folder after
re-training the run.

    PYTHONPATH=$PWD python benchmarks/sam_adam_restart.py --out RUN [--seeds 95,96]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from benchmarks.sam_attention_check import path_summary
from protocol.atomic import write_json_atomic
from scenarios.sam.config import SamConfig
from scenarios.sam.dataset import prepare
from scenarios.sam.plan import phase_a
from scenarios.sam.training import train_job


def path_stats(log: list[dict]) -> dict[str, float]:
    """:func:`path_summary` of ``asi_max_wS``, with the batch MSE at step 10 and over the last five logged steps."""
    mse = sorted((e["step"], e["mse"]) for e in log)
    return path_summary([(e["step"], e["asi_max_wS"]) for e in log]) | dict(
        mse_step10=next(m for s, m in mse if s == 10), mse_last5=float(np.mean([m for _, m in mse[-5:]])))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="a finished `semalign scenario sam` output folder")
    p.add_argument("--seeds", help="training seeds of the run to use (default all)")
    a = p.parse_args()
    cfg = SamConfig(**json.loads((a.out / "config.json").read_text()))
    torch.set_num_threads(max(cfg.threads, 1))
    train, _, _, _ = prepare(cfg, a.out, progress=False)
    seeds = [int(s) for s in a.seeds.split(",")] if a.seeds else list(cfg.train_seeds)
    report = {}
    for k in seeds:
        ordered, finals = phase_a(cfg, k)
        job = finals["no-asc"]
        base_job = next(j for j in ordered if j.name == "base-asi")
        base = torch.load(base_job.checkpoint(a.out / "checkpoints"), map_location="cpu", weights_only=False)
        root = a.out / "adam-restart"
        _, fresh = train_job(job, cfg, train, root / "fresh", base["model"], progress=False)
        carried_ckpt = job.checkpoint(root / "carried")
        if not carried_ckpt.is_file():  # a "checkpoint" at step 0 holding the base's weights and optimiser state
            carried_ckpt.parent.mkdir(parents=True, exist_ok=True)
            torch.save(dict(model=base["model"], optimizer=base["optimizer"], step=0, log=[], job=job.__dict__), carried_ckpt)
        _, carried = train_job(job, cfg, train, root / "carried", progress=False)
        report[k] = {name: path_stats(log) for name, log in (("fresh", fresh), ("carried", carried))}
        for name, st in report[k].items():
            print(f"seed {k} no-asc, {name:7s} Adam: max w·S at step 0 {st['first']:.4f}, peak {st['peak']:.4f} at step "
                  f"{st['peak_step']}, last five {st['last5']:.4f}; batch MSE at step 10 {st['mse_step10']:.4f}, last five "
                  f"{st['mse_last5']:.4f}", flush=True)
    write_json_atomic(a.out / "adam-restart" / "summary.json", report)


if __name__ == "__main__":
    main()
