"""Choosing the ASC mask ratio on the validation split (never the test split).

The rule, fixed before measuring: the largest candidate ratio whose validation SSIM, averaged over the
training seeds, is within ``margin`` of the no-ASC model's (``ΔSSIM ≥ −margin``). If no ratio is, the
one with the smallest SSIM loss is returned with ``within = False`` (the ASC claim then fails openly).
"""
from __future__ import annotations

__all__ = ["choose_ratio"]


def choose_ratio(val_diff: dict[float, float], margin: float) -> tuple[float, bool]:
    """``val_diff[r]`` = mean validation SSIM(ASC at ratio r) − SSIM(no-asc); returns ``(ratio, within margin)``."""
    candidates = {r: d for r, d in val_diff.items() if r > 0}
    if not candidates:
        raise ValueError("no ASC ratio > 0 to choose from")
    within = [r for r, d in candidates.items() if d >= -margin]
    if within:
        return max(within), True
    return max(candidates, key=lambda r: (candidates[r], -r)), False
