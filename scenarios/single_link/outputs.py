"""Figures, the summary table and the scenario's claims checked on the measured rows."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from scenarios.sweep_plots import plot_sweep, summary_markdown

from scenarios.figures import save_figure

__all__ = ["write_figures", "zeta_at_fraction_of_oracle", "claims", "summary", "mean_by"]


def mean_by(rows: list[dict], sweep: str, metric: str = "accuracy") -> dict:
    """``{method: {x: mean over seeds}}`` of one sweep."""
    acc: dict = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r["sweep"] == sweep and r[metric] is not None:
            acc[r["method"]][float(r["x"])].append(float(r[metric]))
    return {m: {x: float(np.mean(v)) for x, v in sorted(xs.items())} for m, xs in acc.items()}


def _plot_flops(rows: list[dict], path: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sp = [r for r in rows if r["sweep"] == "sparsity" and r["flops"] is not None]
    if not sp:
        return None
    fig, ax = plt.subplots(figsize=(5.2, 3.8), dpi=150)
    for method, marker in (("neural", "o"), ("linear", "s")):
        pts = defaultdict(list)
        for r in sp:
            if r["method"] == method:
                pts[(float(r["beta"]), )].append((float(r["flops"]), float(r["accuracy"])))
        if not pts:
            continue
        keys = sorted(pts)
        xs = [np.mean([p[0] for p in pts[k]]) for k in keys]
        ys = [np.mean([p[1] for p in pts[k]]) for k in keys]
        ax.plot(xs, ys, marker=marker, label=f"{method} (β sweep)" if method == "neural" else "linear ADMM (dense)")
        if method == "neural":
            for k, x, y in zip(keys, xs, ys):
                ax.annotate(f"β={k[0]:g}", (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
    oracle = [float(r["oracle_accuracy"]) for r in sp if r["oracle_accuracy"] is not None]
    if oracle:
        ax.axhline(np.mean(oracle), color="k", ls="--", lw=1, label="oracle")
    ax.set_xscale("symlog", linthresh=100)  # log above 100 FLOPs, 0 (everything pruned) still shown
    ax.set_xlim(left=0)
    ax.set_xlabel("real FLOPs per latent vector (8 · non-zero complex weights)")
    ax.set_ylabel("RX task accuracy")
    ax.set_title(sp[0]["panel"], fontsize=8)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


FIGURES = ("accuracy_vs_zeta.png", "accuracy_vs_snr.png", "accuracy_vs_pilots.png", "accuracy_vs_flops.png")


def write_figures(rows: list[dict], out: Path) -> list[Path]:
    """accuracy vs ζ / SNR / pilots per method (95 % CI over seeds), accuracy vs FLOPs (β sweep).

    A figure of a sweep this run does not have is removed, so no figure in ``out`` disagrees with its results.csv."""
    paths = []
    for sweep, name in zip(("zeta", "snr", "pilots"), FIGURES):
        sel = [r for r in rows if r["sweep"] == sweep and r["method"] != "oracle"]
        if sel:
            paths.append(plot_sweep(sel, out / name, title=f"single link: accuracy vs {sel[0]['x_name']}"))
    p = _plot_flops(rows, out / FIGURES[-1])
    if p is not None:
        paths.append(p)
    for stale in {out / n for n in FIGURES} - set(paths):
        stale.unlink(missing_ok=True)
    return paths


def zeta_at_fraction_of_oracle(rows: list[dict], fraction: float = 0.9) -> dict:
    """Per method: the smallest swept ζ whose mean accuracy reaches ``fraction`` × oracle, or None."""
    means = mean_by(rows, "zeta")
    oracle = means.get("oracle") or {x: v for x, v in mean_by(rows, "zeta", "oracle_accuracy").get("linear", {}).items()}
    out = {}
    for m, xs in means.items():
        if m == "oracle":
            continue
        hit = [x for x, v in xs.items() if x in oracle and v >= fraction * oracle[x]]
        out[m] = min(hit) if hit else None
    return out


def claims(rows: list[dict]) -> list[tuple[str, bool | None, str]]:
    """The issue's "must hold" statements, each with whether it holds and the numbers."""
    res: list[tuple[str, bool | None, str]] = []
    z = mean_by(rows, "zeta")
    if "neural" in z and "linear" in z:
        x0 = min(z["neural"])
        a, b = z["neural"][x0], z["linear"].get(x0)
        res.append((f"neural beats linear at the smallest ζ ({x0:.4f}), all pilots", b is not None and a > b,
                    f"neural {a:.3f} vs linear {b:.3f}"))
    unaware = [m for m in ("unaware-mmse", "unaware-zf") if m in z]
    if "linear" in z and unaware:
        wins, parts = 0, []
        for x, v in z["linear"].items():
            best = max(z[m].get(x, -1) for m in unaware)
            wins += v > best
            parts.append(f"ζ={x:.3g}: {v:.3f} vs {best:.3f}")
        res.append(("linear beats the best channel-unaware baseline at every ζ", wins == len(z["linear"]),
                    f"{wins}/{len(z['linear'])} — " + "; ".join(parts)))
    s = mean_by(rows, "sparsity")
    f = mean_by(rows, "sparsity", "flops")
    if "neural" in s and len(s["neural"]) > 1:
        betas = sorted(s["neural"])
        fl = [f["neural"][b] for b in betas]
        acc = [s["neural"][b] for b in betas]
        falling = all(a >= b for a, b in zip(fl, fl[1:])) and fl[-1] < fl[0]
        res.append(("FLOPs fall with β", falling,
                    ", ".join(f"β={b:g}: {int(x)}" for b, x in zip(betas, fl))))
        base = acc[0]
        collapse = next((b for b, a in zip(betas, acc) if a < base - 0.10), None)
        before = [(b, a) for b, a in zip(betas, acc) if b > 0 and (collapse is None or b < collapse)]
        ok = bool(before) and all(a >= base - 0.02 for _, a in before)
        res.append(("accuracy holds (within 2 points of β=0) for every β > 0 below the collapse (>10 points lost)", ok,
                    ", ".join(f"β={b:g}: {a:.3f}" for b, a in zip(betas, acc))
                    + (f"; collapse at β={collapse:g}" if collapse is not None else "; no collapse in the grid")))
    return res


def summary(rows: list[dict], header: str) -> str:
    """summary.md: setting, the ζ-for-90 %-oracle table, the claims, and per-sweep tables."""
    lines = ["# Single-link scenario: results", "", header, ""]
    z90 = zeta_at_fraction_of_oracle(rows)
    if z90:
        lines += ["## ζ reaching 90 % of the oracle accuracy", "", "| method | smallest ζ of the sweep |", "|---|---|"]
        lines += [f"| {m} | {'not reached' if v is None else f'{v:.4f}'} |" for m, v in z90.items()]
        lines.append("")
    lines += ["## Claims checked on these rows", ""]
    for text, ok, nums in claims(rows):
        lines.append(f"- **{'holds' if ok else 'does NOT hold'}** — {text}: {nums}")
    lines.append("")
    sp = [r for r in rows if r["sweep"] == "sparsity" and r["method"] == "neural"]
    if sp:
        lines += ["## Sparsity sweep (neural)", "", "| β | non-zero weights | FLOPs/vector | accuracy |", "|---|---|---|---|"]
        for b, acc in mean_by(rows, "sparsity")["neural"].items():
            nnz = mean_by(rows, "sparsity", "nnz")["neural"][b]
            fl = mean_by(rows, "sparsity", "flops")["neural"][b]
            lines.append(f"| {b:g} | {nnz:.0f} | {fl:.0f} | {acc:.3f} |")
        lin = mean_by(rows, "sparsity", "flops").get("linear")
        if lin:
            lines.append(f"\nLinear ADMM (dense F and G): {next(iter(lin.values())):.0f} FLOPs/vector.")
        lines.append("")
    for sweep, title in (("zeta", "Accuracy vs ζ"), ("snr", "Accuracy vs SNR"), ("pilots", "Accuracy vs pilots")):
        sel = [r for r in rows if r["sweep"] == sweep]
        if sel:
            lines += [f"## {title} (mean ± 95 % CI over seeds)", "", summary_markdown(sel), ""]
    return "\n".join(lines) + "\n"

