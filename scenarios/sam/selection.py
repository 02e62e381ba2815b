"""Choosing the ASC mask ratio on the validation split (never the test split).

Two rules; ``ratio_rule`` in the config says which one a run used.

* ``"ci"`` (margin-safe; pre-registered 2026-11-30, after the runs documented in docs/sam.md with the
  old rule, and therefore tested on fresh training seeds): the largest candidate ratio whose validation
  paired difference ``ΔSSIM = SSIM(ASC at r) − SSIM(no-asc)`` has the **lower end of its Student-t 95 % CI
  over training seeds** ``≥ −margin`` (one value per seed: the mean over validation images, channels and
  SNRs). With one seed the per-image 95 % CI stands in. A ratio picked this way is inside the margin on
  validation with the same confidence that the test verdict asks for, instead of sitting on its edge.
* ``"mean"`` (the rule until 2026-11-30): the largest ratio whose seed-*mean* ``ΔSSIM ≥ −margin``.

If no ratio qualifies, the one with the best criterion (highest lower end / mean) is returned with
``within = False`` — flagged, and the ASC claim then fails or stays undecided openly.
"""
from __future__ import annotations

import math

__all__ = ["choose_ratio", "choose_ratio_ci", "lower_bounds"]


def choose_ratio(val_diff: dict[float, float], margin: float) -> tuple[float, bool]:
    """``val_diff[r]`` = validation criterion of ratio ``r`` (seed-mean ΔSSIM, or a CI's lower end);
    returns ``(the largest r > 0 with val_diff[r] ≥ −margin, True)``, else ``(best r, False)``. NaN never qualifies."""
    candidates = {r: d for r, d in val_diff.items() if r > 0}
    if not candidates:
        raise ValueError("no ASC ratio > 0 to choose from")
    within = [r for r, d in candidates.items() if d >= -margin]  # NaN compares False
    if within:
        return max(within), True
    best = {r: (d if not math.isnan(d) else -math.inf) for r, d in candidates.items()}
    return max(best, key=lambda r: (best[r], -r)), False


def lower_bounds(per_seed: dict[float, list[float]], per_image_lo: dict[float, float] | None = None) -> dict[float, float]:
    """Lower end of the t 95 % CI over seeds of each ratio's per-seed differences; with one seed
    ``per_image_lo[r]`` (the per-image CI's lower end), NaN if that is missing."""
    from scenarios.sam.checks import over_seeds

    out = {}
    for r, d in per_seed.items():
        img = None if per_image_lo is None or r not in per_image_lo else dict(lo=per_image_lo[r], hi=math.nan)
        out[r] = over_seeds(list(d), img)["lo"] if d else math.nan
    return out


def choose_ratio_ci(per_seed: dict[float, list[float]], margin: float,
                    per_image_lo: dict[float, float] | None = None) -> tuple[float, bool, dict[float, float]]:
    """The margin-safe rule: ``(ratio, within, lower ends)`` — the largest ratio whose lower CI end ≥ −margin."""
    lo = lower_bounds(per_seed, per_image_lo)
    ratio, within = choose_ratio(lo, margin)
    return ratio, within, lo
