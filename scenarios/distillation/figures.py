"""PNG figures and image grids of the distillation scenario (matplotlib, Agg)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

__all__ = ["plot_consistency", "plot_psnr_vs_snr", "plot_gate", "image_grid", "received_grid", "plot_losses"]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_consistency(rows: list[dict], path: Path) -> None:
    """Bar chart: edge–cloud consistency per G-KA variant."""
    plt = _plt()
    rows = [r for r in rows if r["variant"] != "cloud"]
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    names = [r["variant"] for r in rows]
    ax.bar(names, [r["consistency"] for r in rows], yerr=[r["consistency_std"] for r in rows], capsize=3,
           color=["#999999" if n == "none" else "#3b75af" for n in names])
    ax.set_ylabel("edge–cloud consistency (cosine)")
    ax.set_xlabel("G-KA variant")
    lo = min(r["consistency"] - r["consistency_std"] for r in rows)
    ax.set_ylim(max(0.0, lo - 0.05), 1.0)
    ax.set_title("Generation alignment (same prompt, same noise)")
    plt.setp(ax.get_xticklabels(), rotation=20)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_psnr_vs_snr(rows: list[dict], train_snr: float, path: Path) -> None:
    """PSNR after transmission vs SNR, one panel per delay spread, one line per codec."""
    plt = _plt()
    dss = sorted({r["delay_spread_ns"] for r in rows})
    fig, axes = plt.subplots(1, len(dss), figsize=(3.2 * len(dss), 3.2), sharey=True, squeeze=False)
    styles = {"fixed-snr": ("#999999", "o"), "fixed-snr-long": ("#555555", "D"), "mixed-snr": ("#e08b2c", "s"),
              "cala-fixed-snr": ("#6aa56a", "v"), "cala": ("#3b75af", "^")}
    for ax, ds in zip(axes[0], dss):
        for method, (c, m) in styles.items():
            pts = sorted((r["snr_db"], r["psnr_db"]) for r in rows if r["method"] == method and r["delay_spread_ns"] == ds)
            if pts:
                ax.plot(*zip(*pts), marker=m, color=c, label=method, ms=4)
        ax.axvline(train_snr, color="k", ls=":", lw=0.8)
        ax.set_title(f"delay spread {ds:g} ns")
        ax.set_xlabel("SNR (dB)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("PSNR (dB)")
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_gate(rows: list[dict], path: Path) -> None:
    """CALA gate weights vs SNR (solid: shortest delay spread, dashed: longest)."""
    plt = _plt()
    dss = sorted({r["delay_spread_ns"] for r in rows})
    keys = sorted(k for k in rows[0] if k.startswith("gate_"))
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for ds, ls in ((dss[0], "-"), (dss[-1], "--")):
        pts = sorted((r for r in rows if r["delay_spread_ns"] == ds), key=lambda r: r["snr_db"])
        for i, k in enumerate(keys):
            ax.plot([r["snr_db"] for r in pts], [r[k] for r in pts], ls=ls, color=f"C{i}",
                    label=f"component {i} ({ds:g} ns)")
    ax.set_xlabel("SNR (dB)")
    ax.set_ylabel("gate weight")
    ax.set_title("CALA gating network")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_losses(losses: dict[str, list[float]], path: Path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for name, ls in losses.items():
        if ls:
            v = np.asarray(ls)
            k = max(1, len(v) // 50)
            ax.plot(np.convolve(v, np.ones(k) / k, mode="valid"), label=name)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (MSE, moving average)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def image_grid(columns: dict[str, torch.Tensor], row_labels: list[str], path: Path, rows: int = 8) -> None:
    """Rows = prompts, columns = models (e.g. cloud, edge before and after alignment)."""
    plt = _plt()
    n = min(rows, len(row_labels))
    fig, axes = plt.subplots(n, len(columns), figsize=(1.3 * len(columns) + 2.2, 1.3 * n), squeeze=False)
    for j, (name, imgs) in enumerate(columns.items()):
        for i in range(n):
            ax = axes[i][j]
            ax.imshow(imgs[i, 0].numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([]), ax.set_yticks([])
            if i == 0:
                ax.set_title(name, fontsize=8)
            if j == 0:
                ax.set_ylabel(row_labels[i].replace("a ", "", 1).replace(" photo of a", "\n"), fontsize=6,
                              rotation=0, ha="right", va="center")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def received_grid(sent: torch.Tensor, received: dict[tuple[str, float], torch.Tensor], path: Path, images: int = 6) -> None:
    """Columns = images; rows = sent, then each (codec, SNR) received version."""
    plt = _plt()
    keys = list(received)
    fig, axes = plt.subplots(len(keys) + 1, images, figsize=(1.1 * images + 1.6, 1.1 * (len(keys) + 1)), squeeze=False)
    for i, (label, imgs) in enumerate([("sent", sent), *[(f"{m} {s:g} dB", received[(m, s)]) for m, s in keys]]):
        for j in range(images):
            ax = axes[i][j]
            ax.imshow(imgs[j, 0].clamp(0, 1).numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([]), ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(label, fontsize=7, rotation=0, ha="right", va="center")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
