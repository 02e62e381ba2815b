"""Several training seeds: the whole scenario once per seed, and the must-hold claims decided over the seeds.

One run trains one cloud, one edge and one set of adapters; another seed trains other models on another draw of
the training images, prompts and noise. A claim about the *method* ("MAKD raises consistency", "CALA beats
fixed-SNR JSCC away from its SNR") is therefore tested on one paired difference per seed (same prompts, noise and
channel draws inside a seed), with a Student-t 95 % CI over the seeds (:mod:`scenarios.paired_stats`).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

from protocol.atomic import write_bytes_atomic, write_json_atomic
from scenarios.paired_stats import over_seeds, verdict
from scenarios.sweep_runner import write_tidy_csv

__all__ = ["Claim", "CLAIMS", "seed_dir", "aggregate", "write_seed_outputs", "format_number"]

class Claim(NamedTuple):
    key: str  # name in seeds.csv and headline.json
    label: str  # what it is, in the summary
    short: str  # tick label in seeds.png
    source: str  # the headline key of one run (or of its ``paired_consistency``)
    unit: str
    must_hold: bool  # one of the must-hold claims


CLAIMS: tuple[Claim, ...] = (
    Claim("makd_minus_none", "consistency: MAKD − unaligned edge", "MAKD −\nnone", "makd_minus_none", "cosine", True),
    Claim("g_lora_minus_none", "consistency: G-LoRA only − unaligned edge", "G-LoRA −\nnone", "g_lora_minus_none",
          "cosine", False),
    Claim("metaword_minus_none", "consistency: metaword only − unaligned edge", "metaword −\nnone",
          "metaword_minus_none", "cosine", False),
    Claim("makd_minus_g_lora", "consistency: MAKD − G-LoRA only", "MAKD −\nG-LoRA", "makd_minus_g_lora", "cosine",
          False),
    Claim("cala_minus_fixed_away", "PSNR: CALA − fixed-SNR JSCC, away from the training SNR", "CALA − fixed\n(away)",
          "psnr_gain_away_mean_db", "dB", True),
    Claim("cala_minus_fixed_at_train", "PSNR: CALA − fixed-SNR JSCC, at the training SNR",
          "CALA − fixed\n(at train SNR)", "psnr_gain_at_train_snr_db", "dB", False),
    Claim("cala_minus_mixed_away", "PSNR: CALA − mixed-SNR JSCC, away from the training SNR", "CALA − mixed\n(away)",
          "psnr_gain_vs_mixed_away_mean_db", "dB", False),
    Claim("cala_minus_fixed_long_away", "PSNR: CALA − fixed-SNR JSCC trained as many steps longer, away from its SNR",
          "CALA − fixed\nlonger (away)", "psnr_gain_vs_fixed_long_away_mean_db", "dB", False),
    Claim("cala_minus_cala_fixed_snr_away", "PSNR: CALA − CALA trained at the training SNR only, away from it",
          "CALA − CALA\nat 1 SNR (away)", "psnr_gain_vs_cala_fixed_snr_away_mean_db", "dB", False),
    Claim("cala_fixed_snr_minus_fixed_away", "PSNR: CALA trained at the training SNR only − fixed-SNR JSCC, away",
          "CALA at 1 SNR\n− fixed (away)", "psnr_gain_cala_fixed_snr_vs_fixed_away_mean_db", "dB", False),
)


def seed_dir(out: Path, seed: int) -> Path:
    """Where one seed's run lives inside a multi-seed ``--out``."""
    return out / f"seed-{seed}"


def _value(head: dict, key: str) -> float:
    pair = head.get("paired_consistency", {}).get(key)
    return float(pair["mean"]) if pair is not None else float(head[key])


def aggregate(heads: dict[int, dict]) -> dict:
    """Every claim over the seeds' headline numbers: per-seed values, mean, t 95 % CI, verdict (> 0)."""
    seeds = sorted(heads)
    claims = {}
    for c in CLAIMS:
        stat = over_seeds([_value(heads[s], c.source) for s in seeds])
        measured = all(math.isfinite(stat[k]) for k in ("mean", "lo", "hi"))  # e.g. no eval SNR at the training SNR
        claims[c.key] = stat | {"label": c.label, "unit": c.unit, "must_hold": c.must_hold,
                                "verdict": verdict(stat, 0.0) if measured else "n/a (not measured)"}
    none = [heads[s]["consistency_none"] for s in seeds]
    makd = [heads[s]["consistency_makd"] for s in seeds]
    rel = [100.0 * (m - n) / abs(n) if n else float("nan") for m, n in zip(makd, none)]
    return {"seeds": seeds, "claims": claims,
            "consistency_gain_pct": over_seeds(rel),
            "consistency_none_mean": sum(none) / len(none), "consistency_makd_mean": sum(makd) / len(makd)}


def _seed_rows(heads: dict[int, dict]) -> list[dict]:
    rows = []
    for s in sorted(heads):
        h = heads[s]
        row = {"seed": s, "consistency_none": h["consistency_none"], "consistency_metaword": h["consistency_metaword"],
               "consistency_g_lora": h["consistency_g_lora"], "consistency_makd": h["consistency_makd"]}
        row |= {c.key: _value(h, c.source) for c in CLAIMS}
        row["class_accuracy_cloud"], row["class_accuracy_edge"] = h["class_accuracy_cloud"], h["class_accuracy_edge"]
        rows.append(row)
    return rows


def _plot(agg: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    short = {c.key: c.short for c in CLAIMS}
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8), gridspec_kw={"width_ratios": [4, 6]})
    for ax, unit, title in ((axes[0], "cosine", "G-KA: consistency with the cloud"),
                            (axes[1], "dB", "T-KA: PSNR of the received image")):
        items = [(k, c) for k, c in agg["claims"].items() if c["unit"] == unit]
        for i, (key, c) in enumerate(items):
            colour = "#3b75af" if c["must_hold"] else "#999999"
            ax.plot([i] * len(c["per_seed"]), c["per_seed"], "o", color=colour, alpha=0.5, ms=4)
            if c["n_seeds"] > 1:
                ax.errorbar([i + 0.15], [c["mean"]], yerr=[[c["mean"] - c["lo"]], [c["hi"] - c["mean"]]], fmt="s",
                            color=colour, capsize=4, ms=5)
        ax.axhline(0.0, color="k", lw=0.8)
        ax.set_xticks(range(len(items)))
        ax.set_xticklabels([short[k] for k, _ in items], fontsize=8)
        ax.set_ylabel(f"paired difference ({unit})")
        ax.set_title(title, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(f"Per training seed (dots) and mean with t 95 % CI over {len(agg['seeds'])} seeds; "
                 "blue = must-hold claim", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def format_number(x: float) -> str:
    """Four decimals, or four significant digits for values too small to show that way."""
    return f"{x:+.4f}" if x == 0 or abs(x) >= 1e-4 or not math.isfinite(x) else f"{x:+.3e}"


def _summary_text(agg: dict, preset: str) -> str:
    lines = [f"# Distillation scenario over {len(agg['seeds'])} training seeds — preset `{preset}`", "",
             f"Seeds {agg['seeds']}; each seed's full run (tables, figures, checkpoints) is in `seed-<k>/`. Every "
             "difference is paired inside a seed (same prompts and noise, same channel draws); the CI is a Student-t "
             "95 % CI over the seeds, so it includes training variance. A claim **holds** when the CI's lower end is "
             "≥ 0, **does NOT hold** when its upper end is < 0, and is **undecided** otherwise.", "",
             "| difference | unit | mean | 95 % CI (seeds) | verdict (> 0) | must hold |", "|---|---|---|---|---|---|"]
    num = format_number
    for c in agg["claims"].values():
        lines.append(f"| {c['label']} | {c['unit']} | {num(c['mean'])} | [{num(c['lo'])}, {num(c['hi'])}] | "
                     f"{c['verdict']} | {'yes' if c['must_hold'] else '–'} |")
    g = agg["consistency_gain_pct"]
    lines += ["", f"MAKD's relative consistency gain: {g['mean']:+.1f} % [{g['lo']:+.1f}, {g['hi']:+.1f}] over the "
              f"seeds (mean consistency {agg['consistency_none_mean']:.3f} → {agg['consistency_makd_mean']:.3f}; "
              "DeKA-g paper: +44 %).", "", "Per seed: `seeds.csv`; figure: `seeds.png`."]
    return "\n".join(lines) + "\n"


def write_seed_outputs(heads: dict[int, dict], out: Path, preset: str) -> dict:
    """``seeds.csv``, ``seeds.png``, ``summary.md`` and ``headline.json`` of a multi-seed run; returns the aggregate."""
    agg = aggregate(heads)
    rows = _seed_rows(heads)
    write_tidy_csv(rows, out / "seeds.csv", tuple(rows[0]))
    _plot(agg, out / "seeds.png")
    write_bytes_atomic(out / "summary.md", _summary_text(agg, preset).encode())
    write_json_atomic(out / "headline.json", agg)
    return agg
