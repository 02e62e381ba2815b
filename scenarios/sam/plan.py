"""Which models an experiment trains, and from what: equal budgets for every compared variant.

Per training seed, three base models are trained ``steps`` steps without ASC (plain image, ASI with
attention, ASI with uniform weights). Every final variant then trains ``finetune_steps`` more steps
from one of them (with a fresh ASC mask net where ASC is on), so all variants get ``steps + finetune_steps``.

Two phases, because the ASC ratio may be chosen on the validation split between them:

* phase A: the bases, ``no-asc``, ``conventional`` and the ASC sweep ``lam-sc@R%`` (attention);
* phase B, at the chosen ratio ``r*``: ``uniform-asi`` and ``no-asi`` (ASC at ``r*``); ``lam-sc`` is
  the sweep model at ``r*``.

The first training seed (``cfg.seed_offset``, 0 by default) trains every variant; further seeds train only what the must-hold checks compare
(``base-asi``, ``base-uniform``, ``no-asc``, the sweep, ``uniform-asi``).
"""
from __future__ import annotations

from scenarios.sam.config import SamConfig
from scenarios.sam.training import Job

__all__ = ["phase_a", "phase_b", "ratio_name", "sweep_ratios", "CHECKED"]

_BASE_OF = {"none": "base-plain", "attention": "base-asi", "uniform": "base-uniform"}
#: the variants the must-hold checks compare, trained for every seed
CHECKED = ("no-asc", "lam-sc", "uniform-asi")


def ratio_name(r: float) -> str:
    return f"lam-sc@{round(100 * r)}%"


def sweep_ratios(cfg: SamConfig) -> list[float]:
    """The ASC ratios trained with attention: ``ratios`` plus an explicit ``target_ratio``."""
    rs = set(cfg.ratios) | ({cfg.target_ratio} if cfg.target_ratio is not None else set())
    return sorted(rs)


def phase_a(cfg: SamConfig, seed: int) -> tuple[list[Job], dict[str, Job]]:
    """``(jobs in training order, variant name → job)`` before the ratio is chosen."""
    everything = seed == cfg.seed_offset
    bases = [Job(name, asi, False, 0.0, cfg.steps, None, seed) for asi, name in _BASE_OF.items()
             if everything or asi != "none"]
    finals = {"no-asc": Job("no-asc", "attention", False, 0.0, cfg.finetune_steps, _BASE_OF["attention"], seed)}
    if everything:
        finals["conventional"] = Job("conventional", "none", False, 0.0, cfg.finetune_steps, _BASE_OF["none"], seed)
    for r in sweep_ratios(cfg):
        finals[ratio_name(r)] = Job(ratio_name(r), "attention", True, r, cfg.finetune_steps, _BASE_OF["attention"], seed)
    return bases + list(finals.values()), finals


def phase_b(cfg: SamConfig, seed: int, ratio: float) -> dict[str, Job]:
    """Variant name → job of the comparisons at the chosen ASC ratio (checkpoint names carry the ratio)."""
    pct = f"@{round(100 * ratio)}%"
    jobs = {"uniform-asi": Job("uniform-asi" + pct, "uniform", True, ratio, cfg.finetune_steps, _BASE_OF["uniform"], seed)}
    if seed == cfg.seed_offset:
        jobs["no-asi"] = Job("no-asi" + pct, "none", True, ratio, cfg.finetune_steps, _BASE_OF["none"], seed)
    return jobs
