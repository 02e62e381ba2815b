"""``semalign compare``: every method on the same data and channel draws over a list of
channel uses c — the federated-vs-baselines table of DESIGN.md §5, as CSV, Markdown and PNG."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from protocol.config import METHODS, RunConfig
from scenarios.engine import run
from scenarios.latents import LatentData
from scenarios.sweep_runner import write_tidy_csv

from scenarios.figures import save_figure

__all__ = ["compare", "markdown_table", "write_csv", "plot_accuracy"]

COLUMNS = ("channel_uses", "compression", "method", "accuracy", "mse", "nmse", "oracle_accuracy", "iterations")


def compare(cfg: RunConfig, data: LatentData, channel_uses: Sequence[int], methods: Sequence[str] = METHODS,
            on_result: Callable[[dict], None] | None = None) -> list[dict]:
    """One row per (c, method): mean accuracy/MSE over the users (same seed → same channels)."""
    rows = []
    for c in channel_uses:
        for method in methods:
            res = run(cfg.model_copy(update={"channel_uses": c, "method": method}), data)
            row = {"channel_uses": c, "compression": res["compression"], "method": method,
                   **{k: res["mean"][k] for k in ("accuracy", "mse", "nmse", "oracle_accuracy")},
                   "iterations": res["iterations"]}
            rows.append(row)
            if on_result is not None:
                on_result(row)
    return rows


def write_csv(rows: list[dict], path: Path) -> Path:
    return write_tidy_csv(rows, path, COLUMNS)


def markdown_table(rows: list[dict], key: str = "accuracy") -> str:
    """Methods as columns, c as rows; ``key`` is the cell value (mean over users)."""
    methods = list(dict.fromkeys(r["method"] for r in rows))
    uses = list(dict.fromkeys(r["channel_uses"] for r in rows))
    cell = {(r["channel_uses"], r["method"]): r for r in rows}
    oracle = {c: next(r["oracle_accuracy"] for r in rows if r["channel_uses"] == c) for c in uses}
    head = ["c", "ζ", *methods] + (["oracle"] if key == "accuracy" else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in uses:
        vals = [f"{cell[(c, m)][key]:.3f}" if cell[(c, m)][key] is not None else "–" for m in methods]
        extra = [f"{oracle[c]:.3f}"] if key == "accuracy" and oracle[c] is not None else []
        lines.append("| " + " | ".join([str(c), f"{cell[(c, methods[0])]['compression']:.3f}", *vals, *extra]) + " |")
    return "\n".join(lines)


def plot_accuracy(rows: list[dict], path: Path, title: str = "") -> Path:
    """Mean task accuracy vs compression factor ζ, one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8), dpi=150)
    for method in dict.fromkeys(r["method"] for r in rows):
        pts = [(r["compression"], r["accuracy"]) for r in rows if r["method"] == method]
        ax.plot(*zip(*pts), marker="o", label=method)
    oracle = [(r["compression"], r["oracle_accuracy"]) for r in rows if r["method"] == rows[0]["method"]]
    if all(v is not None for _, v in oracle):
        ax.plot(*zip(*oracle), "k--", label="oracle")
    ax.set_xlabel("compression factor ζ = N_T·c / m")
    ax.set_ylabel("mean task accuracy")
    ax.set_xscale("log", base=2)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)
