"""Figures and summary tables of a sweep: mean over users, then mean over seeds with a 95 %
confidence band (Student t), one line per method, one panel per figure."""
from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import numpy as np

from scenarios.figures import save_figure

__all__ = ["aggregate", "plot_sweep", "summary_markdown"]

_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


_AGAINST_ZETA = ("compression", "similarity")


def _x(row: dict) -> float:
    """The plotted abscissa: ζ for the compression and similarity sweeps (as in the paper), else
    the swept value."""
    return float(row["compression"]) if row["sweep"] in _AGAINST_ZETA else float(row["x"])


def _x_name(rows: list[dict]) -> str:
    if not rows:
        return "x"
    return "compression factor ζ = N_T·c / m" if rows[0]["sweep"] in _AGAINST_ZETA else rows[0]["x_name"]


def _line(row: dict) -> str:
    """A figure line: the method, or the user group where the sweep compares groups."""
    return row.get("group") or row["method"]


def aggregate(rows: list[dict], metric: str = "accuracy") -> dict:
    """``{panel: {line: [(x, mean, half-width of the 95 % CI, n seeds)]}}`` (a line is a method,
    or a user group)."""
    per_seed: dict = defaultdict(list)
    for r in rows:
        if r[metric] is not None:
            per_seed[(r["panel"], _line(r), _x(r), r["seed"])].append(float(r[metric]))
    cells: dict = defaultdict(list)
    for (panel, method, x, _), vals in per_seed.items():
        cells[(panel, method, x)].append(float(np.mean(vals)))
    out: dict = defaultdict(lambda: defaultdict(list))
    order = {}  # panels and lines in the order the rows (and so the sweep's points) give them
    for r in rows:
        order.setdefault(("p", r["panel"]), len(order))
        order.setdefault(("l", _line(r)), len(order))
    for (panel, method, x), vals in sorted(cells.items(),
                                           key=lambda kv: (order[("p", kv[0][0])], order[("l", kv[0][1])], kv[0][2])):
        n = len(vals)
        half = _T95.get(n - 1, 1.96) * float(np.std(vals, ddof=1)) / math.sqrt(n) if n > 1 else 0.0
        out[panel][method].append((x, float(np.mean(vals)), half, n))
    return out


def plot_sweep(rows: list[dict], path: Path, metric: str = "accuracy", title: str = "") -> Path:
    """One PNG, a panel per ``panel`` value; the oracle as a dashed line where present."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    agg = aggregate(rows, metric)
    oracle = aggregate(rows, "oracle_accuracy") if metric == "accuracy" else {}
    panels = list(agg)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.6), dpi=150, squeeze=False)
    x_name = _x_name(rows)
    for ax, panel in zip(axes[0], panels):
        for method, pts in agg[panel].items():
            xs, ms, hs = (np.array(v) for v in list(zip(*pts))[:3])
            ax.plot(xs, ms, marker="o", ms=3, label=method)
            ax.fill_between(xs, ms - hs, ms + hs, alpha=0.2)
        grouped = any(r.get("group") for r in rows)
        for i, (line, pts) in enumerate(oracle.get(panel, {}).items()):
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "--", color=f"C{i}" if grouped else "k", lw=1,
                    label=f"oracle ({line})" if grouped else "oracle")
            if not grouped:
                break
        ax.set_xlabel(x_name)
        ax.set_ylabel({"accuracy": "mean task accuracy", "mse": "alignment MSE", "nmse": "NMSE",
                       "s_per_iteration": "seconds per ADMM iteration"}.get(metric, metric))
        if metric == "s_per_iteration":
            ax.set_xscale("log")
            ax.set_yscale("log")
        if panel:
            ax.set_title(panel, fontsize=9)
        ax.grid(True, alpha=0.3)
    axes[0][-1].legend(fontsize=7)
    if title:
        import textwrap

        fig.suptitle(textwrap.fill(title, width=int(60 * len(panels))), fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def _mean_ci(mean: float, half: float, n: int) -> str:
    """``mean ± half-width``; ``± n/a`` with one seed, where there is no CI."""
    return f"{mean:.3f} ± {half:.3f}" if n > 1 else f"{mean:.3f} ± n/a"


def summary_markdown(rows: list[dict], metric: str = "accuracy") -> str:
    """Per panel: x rows, method columns, ``mean ± CI`` cells (``± n/a`` where only one seed ran: no CI)."""
    agg = aggregate(rows, metric)
    x_name = _x_name(rows)
    parts = []
    for panel, methods in agg.items():
        names = list(methods)
        xs = sorted({p[0] for pts in methods.values() for p in pts})
        cell = {(m, p[0]): p for m, pts in methods.items() for p in pts}
        lines = [f"**{panel}**" if panel else "", f"| {x_name} | " + " | ".join(names) + " |",
                 "|" + "---|" * (len(names) + 1)]
        for x in xs:
            vals = [_mean_ci(*cell[(m, x)][1:]) if (m, x) in cell else "–" for m in names]
            lines.append(f"| {x:g} | " + " | ".join(vals) + " |")
        parts.append("\n".join(line for line in lines if line))
    return "\n\n".join(parts)
