"""The issue's "must hold" claims, evaluated on paired per-image results (same images, same noise draws).

* ASC: ``lam-sc`` sends fewer bits than ``no-asc`` and its SSIM stays within ``SSIM_MARGIN`` of it
  (mean paired difference over every channel and SNR point).
* ASI: ``lam-sc`` (attention weights) has a higher SSIM than ``uniform-asi`` (uniform segment weights),
  mean paired difference > 0; the 95 % CI says whether that is beyond the noise of the test set.
"""
from __future__ import annotations

import numpy as np

__all__ = ["SSIM_MARGIN", "paired", "must_hold"]

#: allowed mean SSIM loss of ASC against the no-ASC model (fixed before any run)
SSIM_MARGIN = 0.03


def paired(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Mean of ``a − b`` with a normal 95 % CI (per-image pairs)."""
    d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    half = 1.96 * d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
    return dict(mean=float(d.mean()), lo=float(d.mean() - half), hi=float(d.mean() + half), n=int(len(d)))


def must_hold(per_image: dict[tuple[str, str, float], dict[str, np.ndarray]], bits: dict[str, float],
              ratios: dict[str, float] | None = None) -> dict:
    """``per_image[(variant, channel, snr)]`` holds arrays ``ssim``, ``psnr``…; ``bits[variant]`` mean bits/image."""
    points = sorted({(c, s) for (_, c, s) in per_image})

    def stacked(variant: str, key: str) -> np.ndarray:
        return np.concatenate([per_image[(variant, c, s)][key] for c, s in points])

    asc = paired(stacked("lam-sc", "ssim"), stacked("no-asc", "ssim"))
    asi = paired(stacked("lam-sc", "ssim"), stacked("uniform-asi", "ssim"))
    asi_plain = paired(stacked("lam-sc", "ssim"), stacked("no-asi", "ssim"))
    sweep = {v: dict(ratio=r, bits=bits[v], ssim_diff=paired(stacked(v, "ssim"), stacked("no-asc", "ssim")))
             for v, r in sorted((ratios or {}).items(), key=lambda kv: kv[1])}
    return {
        "asc": dict(bits_lam_sc=bits["lam-sc"], bits_no_asc=bits["no-asc"], ssim_diff=asc, margin=SSIM_MARGIN,
                    holds=bool(bits["lam-sc"] < bits["no-asc"] and asc["mean"] >= -SSIM_MARGIN), sweep=sweep),
        "asi": dict(ssim_diff_vs_uniform=asi, ssim_diff_vs_no_asi=asi_plain, holds=bool(asi["mean"] > 0),
                    significant=bool(asi["lo"] > 0)),
    }
