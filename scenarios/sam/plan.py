"""Which models an experiment trains, and from what: equal budgets for every compared variant.

Three base models are trained ``steps`` steps without ASC (plain image, ASI with attention, ASI
with uniform weights). Every final variant then trains ``finetune_steps`` more steps from one of
them (with a fresh ASC mask net where ASC is on), so all variants get ``steps + finetune_steps``.
"""
from __future__ import annotations

from scenarios.sam.config import VARIANTS, SamConfig
from scenarios.sam.training import Job

__all__ = ["plan", "ratio_name"]

_BASE_OF = {"none": "base-plain", "attention": "base-asi", "uniform": "base-uniform"}


def ratio_name(r: float) -> str:
    return f"lam-sc@{round(100 * r)}%"


def plan(cfg: SamConfig) -> tuple[list[Job], dict[str, Job]]:
    """``(every job in training order, final variant name → its job)``."""
    bases = [Job(name, asi, False, 0.0, cfg.steps) for asi, name in _BASE_OF.items()]
    finals: dict[str, Job] = {}
    for name, (asi, asc) in VARIANTS.items():
        finals[name] = Job(name, asi, asc, cfg.target_ratio if asc else 0.0, cfg.finetune_steps, _BASE_OF[asi])
    for r in cfg.ratios:
        if abs(r - cfg.target_ratio) > 1e-9:
            finals[ratio_name(r)] = Job(ratio_name(r), "attention", True, r, cfg.finetune_steps, _BASE_OF["attention"])
    return bases + list(finals.values()), finals
