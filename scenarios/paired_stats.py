"""Paired comparisons and their verdicts, shared by the special scenarios' must-hold checks.

A claim "A beats B" is tested on paired results (same test items, same noise draws): one mean difference
per training seed, a Student-t 95 % CI over the seeds, and a three-way verdict. With one seed only the
per-item CI (sampling of the test items, not of training) is available, and it is flagged so.
"""
from __future__ import annotations

import numpy as np

__all__ = ["paired", "over_seeds", "verdict"]


def paired(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Mean of ``a − b`` with a normal 95 % CI (per-item pairs)."""
    d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    half = 1.96 * d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
    return dict(mean=float(d.mean()), lo=float(d.mean() - half), hi=float(d.mean() + half), n=int(len(d)))


def over_seeds(per_seed: list[float], per_image: dict[str, float] | None = None) -> dict:
    """Mean of per-seed differences with a Student-t 95 % CI over seeds (``n − 1`` degrees of freedom).

    With a single seed the CI falls back to ``per_image`` (test-item sampling only), flagged ``ci="images"``."""
    from scipy.stats import t

    d = np.asarray(per_seed, np.float64)
    if len(d) > 1:
        half = float(t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d)))
        lo, hi, ci = float(d.mean()) - half, float(d.mean()) + half, "seeds"
    else:
        lo, hi, ci = (per_image or {}).get("lo", float("nan")), (per_image or {}).get("hi", float("nan")), "images"
    return dict(mean=float(d.mean()), lo=lo, hi=hi, n_seeds=int(len(d)), per_seed=[float(v) for v in d], ci=ci)


def verdict(stat: dict, threshold: float) -> str:
    """'holds' / 'does NOT hold' / 'undecided' for the claim ``difference > threshold`` (≥ for a margin)."""
    if stat["lo"] >= threshold:
        return "holds"
    if stat["hi"] < threshold:
        return "does NOT hold"
    return "undecided"
