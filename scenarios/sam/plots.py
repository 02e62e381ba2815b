"""Figures of the SAM scenario: quality vs SNR per variant, SSIM vs bits, training loss, an image grid."""
from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["plot_quality_vs_snr", "plot_ssim_vs_bits", "plot_training", "plot_grid"]

_MAIN = ("conventional", "lam-sc", "no-asc", "no-asi", "uniform-asi")


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_quality_vs_snr(rows: list[dict], key: str, label: str, path: Path, segmenter: str) -> Path:
    """One panel per channel; one line per main variant (with 95 % CI bars)."""
    plt = _plt()
    channels = sorted({r["channel"] for r in rows})
    fig, axes = plt.subplots(1, len(channels), figsize=(5.2 * len(channels), 4), squeeze=False, sharey=True)
    for ax, ch in zip(axes[0], channels):
        for v in _MAIN:
            pts = sorted((r["snr_db"], r[key], r[f"{key.split('_')[0]}_ci95"]) for r in rows if r["variant"] == v and r["channel"] == ch)
            if pts:
                x, y, e = map(np.array, zip(*pts))
                ax.errorbar(x, y, yerr=e, marker="o", capsize=3, label=v)
        ax.set_title(f"{ch.upper()} channel")
        ax.set_xlabel("SNR [dB]")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(label)
    axes[0][-1].legend(fontsize=8)
    fig.suptitle(f"{label} vs SNR (SKB: {segmenter})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _thousands_log_x(ax) -> None:
    """A log x axis labelled 20k, 50k, 100k, … (matplotlib's default minor labels overlap on a short range)."""
    from matplotlib.ticker import FuncFormatter, LogLocator

    ax.set_xscale("log")
    label = FuncFormatter(lambda v, _: f"{v / 1000:g}k" if v >= 1000 else f"{v:g}")
    ax.xaxis.set_major_locator(LogLocator(base=10))
    ax.xaxis.set_minor_locator(LogLocator(base=10, subs=(2, 5)))
    ax.xaxis.set_major_formatter(label)
    ax.xaxis.set_minor_formatter(label)


def plot_ssim_vs_bits(rows: list[dict], path: Path, raw_bits: int) -> Path:
    """SSIM against bits per image (AWGN, one panel per SNR): the mask-ratio sweep as a line, variants as points."""
    plt = _plt()
    sel = [r for r in rows if r["channel"] == rows[0]["channel"]]
    snrs = sorted({r["snr_db"] for r in sel})
    fig, axes = plt.subplots(1, len(snrs), figsize=(4.4 * len(snrs), 4), squeeze=False, sharey=True)
    for ax, snr in zip(axes[0], snrs):
        pts = [r for r in sel if r["snr_db"] == snr]
        sweep = sorted((r["bits_per_image"], r["ssim"]) for r in pts if r["variant"] == "lam-sc" or r["variant"].startswith("lam-sc@"))
        ax.plot(*zip(*sweep), "-", color="0.6", label="LAM-SC mask-ratio sweep")
        for r in pts:
            ax.scatter(r["bits_per_image"], r["ssim"], marker="o" if r["variant"] in _MAIN else "x", zorder=3)
            ax.annotate(r["variant"], (r["bits_per_image"], r["ssim"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.axvline(raw_bits, color="k", ls=":", label=f"raw image ({raw_bits:,} bits)")
        _thousands_log_x(ax)
        ax.set_xlabel("bits per image (8-bit values + mask bits)")
        ax.set_title(f"{rows[0]['channel'].upper()}, SNR {snr:g} dB")
        ax.grid(alpha=0.3, which="both")
    axes[0][0].set_ylabel("SSIM")
    axes[0][0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_training(logs: list[dict], path: Path) -> Path:
    """Image MSE per job over training (first training seed); beside it, when the log has it, how far each
    attention model's segment weights are from uniform (``max_s w_s · S``, 1 = uniform)."""
    plt = _plt()
    first = min((r.get("train_seed", 0) for r in logs), default=0)  # the first training seed
    rows = [r for r in logs if r.get("train_seed", 0) == first]
    attention = [r for r in rows if r.get("asi_max_wS") is not None]
    fig, axes = plt.subplots(1, 2 if attention else 1, figsize=(11 if attention else 6, 4), squeeze=False)
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    colour = {job: cycle[i % len(cycle)] for i, job in enumerate(dict.fromkeys(r["job"] for r in rows))}  # same in both panels
    ax = axes[0, 0]
    for job in colour:
        ax.plot(*zip(*[(r["step"], r["mse"]) for r in rows if r["job"] == job]), label=job, color=colour[job])
    ax.set_title(f"training seed {first}", fontsize=9)
    ax.set_yscale("log")
    ax.set_xlabel("training step (of that job)")
    ax.set_ylabel("image MSE (AWGN, random training SNR)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    if attention:
        ax = axes[0, 1]
        for job in dict.fromkeys(r["job"] for r in attention):
            ax.plot(*zip(*[(r["step"], r["asi_max_wS"]) for r in attention if r["job"] == job]), label=job, color=colour[job])
        ax.axhline(1.0, color="k", lw=0.8, ls=":")
        ax.set_title("ASI segment weights: mean over the batch of max_s w_s·S (1 = uniform)", fontsize=9)
        ax.set_xlabel("training step (of that job)")
        ax.set_ylabel("max w·S")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_grid(models: dict, test, cfg, path: Path, segmenter: str, n: int = 6) -> Path:
    """Rows = test images; columns: image, SKB segments, ASI importance, ASC mask, LAM-SC and conventional reconstructions."""
    from skimage.segmentation import mark_boundaries

    from scenarios.sam.evaluate import reconstruct

    plt = _plt()
    snr = cfg.snrs_db[len(cfg.snrs_db) // 2]
    idx = np.arange(min(n, len(test)))
    lam = reconstruct(models["lam-sc"], test, idx, "awgn", snr, cfg.seed, cfg.max_segments, cfg.power)
    conv = reconstruct(models["conventional"], test, idx, "awgn", snr, cfg.seed, cfg.max_segments, cfg.power)
    cols = ["image", "SKB segments", "ASI importance (0–2, 1 = uniform)", "ASC kept fraction (white = all levels)", f"LAM-SC @ {snr:g} dB", f"conventional @ {snr:g} dB"]
    fig, axes = plt.subplots(len(idx), len(cols), figsize=(2.1 * len(cols), 2.1 * len(idx)), squeeze=False)
    for i in idx:
        img = test.images[i]
        seg = mark_boundaries(img, test.segments[i].astype(np.int64), color=(1, 0, 0))
        kept = lam["keep"][i].mean()
        panels = [img, seg, lam["importance"][i], lam["keep"][i], lam["recon"][i], conv["recon"][i]]
        scale = {2: (0, 2), 3: (0, 1)}  # fixed scales: a nearly uniform importance must look uniform
        for j, (ax, p) in enumerate(zip(axes[i], panels)):
            lo, hi = scale.get(j, (None, None))
            ax.imshow(p, cmap="magma" if j == 2 else "gray" if j == 3 else None, vmin=lo, vmax=hi, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(cols[j], fontsize=8)
        axes[i][2].set_xlabel(f"A in [{lam['importance'][i].min():.2f}, {lam['importance'][i].max():.2f}]", fontsize=7)
        axes[i][3].set_xlabel(f"kept {kept:.0%}", fontsize=7)
    fig.suptitle(f"SKB: {segmenter}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
