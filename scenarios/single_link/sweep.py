"""The single-link sweeps as lists of points (ζ, SNR, pilots, β), run resumably: each finished
point is stored at once (atomically) under ``DIR/points/KEY.json`` and skipped by a re-run;
neural training checkpoints live under ``DIR/checkpoints/KEY.pt`` until their point is stored."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from tqdm.auto import tqdm

from protocol.atomic import write_json_atomic
from scenarios.latents import LatentData
from scenarios.single_link.config import SingleLinkConfig
from scenarios.single_link.points import PointSpec, make_problem, run_point
from scenarios.sweep_runner import write_tidy_csv

__all__ = ["SweepPoint", "make_points", "run_sweep", "sweep_rows", "write_csv", "CSV_COLUMNS", "X_NAMES"]

CSV_COLUMNS = ("sweep", "panel", "x_name", "x", "method", "seed", "accuracy", "mse", "nmse", "oracle_accuracy",
               "compression", "channel_uses", "snr_db", "pilots", "pilot_fraction", "beta", "flops", "nnz",
               "tr_power", "iterations")

X_NAMES = {"zeta": "compression factor ζ = N_T·c / ⌈d_T/2⌉", "snr": "SNR [dB]",
           "pilots": "pilots (fraction of the training split)", "sparsity": "sparsity weight β (τ = lr·β)"}

# settings a stored result depends on besides its PointSpec (the neural ones only for the neural model)
_FINGERPRINT_FIELDS = ("tx_encoder", "rx_encoder", "antennas", "power", "test_samples", "iterations", "rho",
                       "zoo_profile", "paper")
_NEURAL_FIELDS = ("steps", "batch_size", "lr", "hidden", "activation", "neural_loss")


@dataclass(frozen=True)
class SweepPoint:
    sweep: str
    panel: str
    x: float
    spec: PointSpec


def point_key(cfg: SingleLinkConfig, spec: PointSpec) -> str:
    """Stable name of a point's result: the same computation in two sweeps is stored once."""
    fields = _FINGERPRINT_FIELDS + (_NEURAL_FIELDS if spec.method == "neural" else ())
    fp = {k: getattr(cfg, k) for k in fields}
    text = json.dumps([asdict(spec), fp], sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def make_points(cfg: SingleLinkConfig) -> list[SweepPoint]:
    """Every point of the configured sweeps (ordered so that points sharing a problem are adjacent)."""
    full = max(cfg.pilot_fractions)
    pts: list[SweepPoint] = []
    setting = f"N_T=N_R={cfg.antennas}"

    def add(sweep: str, panel: str, x: float, methods, c: int, snr: float, frac: float, betas=(0.0,)):
        for seed in cfg.seeds:
            for m in methods:
                if m not in cfg.methods:
                    continue
                for b in (betas if m == "neural" else (0.0,)):
                    pts.append(SweepPoint(sweep, panel, x, PointSpec(m, seed, c, float(snr), float(frac), float(b))))

    if "zeta" in cfg.sweeps:
        for c in sorted(cfg.channel_uses):
            add("zeta", f"{setting}, SNR {cfg.snr_db:g} dB, pilots {full:.0%} of train", c, cfg.methods, c,
                cfg.snr_db, full)
    if "snr" in cfg.sweeps:
        for s in cfg.snrs:
            add("snr", f"{setting}, c={cfg.snr_uses}, pilots {full:.0%} of train", s, cfg.methods, cfg.snr_uses, s, full)
    if "pilots" in cfg.sweeps:
        for f in sorted(cfg.pilot_fractions):
            add("pilots", f"{setting}, c={cfg.base_uses}, SNR {cfg.snr_db:g} dB", f,
                ("neural", "linear", "unaware-mmse", "top-k", "oracle"), cfg.base_uses, cfg.snr_db, f)
    if "sparsity" in cfg.sweeps:
        for b in sorted(cfg.betas):
            add("sparsity", f"{setting}, c={cfg.base_uses}, SNR {cfg.snr_db:g} dB", b, ("neural",), cfg.base_uses,
                cfg.snr_db, full, (b,))
        add("sparsity", f"{setting}, c={cfg.base_uses}, SNR {cfg.snr_db:g} dB", 0.0, ("linear", "oracle"),
            cfg.base_uses, cfg.snr_db, full)
    return pts


def run_sweep(cfg: SingleLinkConfig, data: LatentData, points: list[SweepPoint], out: Path,
              on_done: Callable[[SweepPoint, dict, bool], None] | None = None) -> int:
    """Run the points not stored yet; returns how many ran."""
    store, ckpts = out / "points", out / "checkpoints"
    store.mkdir(parents=True, exist_ok=True)
    ckpts.mkdir(parents=True, exist_ok=True)
    problems: dict = {}
    ran = 0
    seen: set[str] = set()
    bar = tqdm(points, desc="single-link points", disable=not cfg.progress, unit="pt")
    for pt in bar:
        key = point_key(cfg, pt.spec)
        path = store / f"{key}.json"
        if key in seen or path.exists():
            if on_done and key not in seen:
                on_done(pt, json.loads(path.read_text()), False)
            seen.add(key)
            continue
        seen.add(key)
        pkey = (pt.spec.seed, pt.spec.channel_uses, pt.spec.snr_db, pt.spec.pilot_fraction)
        if pkey not in problems:
            problems.clear()  # keep one problem in memory
            problems[pkey] = make_problem(cfg, data, pt.spec)
        bar.set_postfix_str(f"{pt.sweep} {pt.spec.method} x={pt.x:g}", refresh=False)
        ckpt = ckpts / f"{key}.pt"
        rec = run_point(cfg, data, pt.spec, checkpoint=ckpt, problem=problems[pkey])
        write_json_atomic(path, rec)
        ckpt.unlink(missing_ok=True)
        ran += 1
        if on_done:
            on_done(pt, rec, True)
    bar.close()
    return ran


def sweep_rows(cfg: SingleLinkConfig, points: list[SweepPoint], out: Path) -> list[dict]:
    """Tidy rows (one per point × seed × method) of the stored points."""
    rows = []
    for pt in points:
        path = out / "points" / f"{point_key(cfg, pt.spec)}.json"
        if not path.exists():
            continue
        rec = json.loads(path.read_text())
        row = {"sweep": pt.sweep, "panel": pt.panel, "x_name": X_NAMES[pt.sweep],
               "x": rec["compression"] if pt.sweep == "zeta" else pt.x, "method": pt.spec.method}
        row.update({k: rec.get(k) for k in CSV_COLUMNS if k not in row})
        rows.append(row)
    return rows


def write_csv(rows: list[dict], path: Path) -> Path:
    return write_tidy_csv(rows, path, CSV_COLUMNS)
