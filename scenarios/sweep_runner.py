"""Run a sweep's points resumably: each finished point is stored at once (atomically) under
``DIR/points/KEY.json``; a re-run skips stored points; ``workers`` processes run points in
parallel; the tidy CSV is rebuilt from the stored points in a fixed order."""
from __future__ import annotations

import csv
import io
import json
import sys
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Callable

from protocol.atomic import write_bytes_atomic, write_json_atomic
from pydantic import ValidationError

from protocol.config import ConfigError, RunConfig
from scenarios.sweeps import Point, point_config

__all__ = ["claim_folder", "run_points", "point_rows", "timing_rows", "write_tidy_csv", "CSV_COLUMNS", "TIMING_COLUMNS"]

CSV_COLUMNS = ("sweep", "panel", "x_name", "x", "method", "group", "seed", "user", "encoder", "accuracy", "mse",
               "nmse", "oracle_accuracy", "compression", "users", "iterations")
TIMING_COLUMNS = ("sweep", "panel", "x", "method", "group", "seed", "users", "iterations", "wall_time_s", "s_per_iteration")

_DATA: dict = {}  # latents of this process, per latent-selecting settings (loaded once per worker)
_LATENT_FIELDS = ("latents", "ap_encoder", "user_encoders", "users", "cache_dir", "data_dir", "zoo_profile")


BASE_FILE = "base.json"
_NOT_RESULTS = {"threads", "cache_dir", "data_dir", "device"}  # settings that do not change a point's numbers


def claim_folder(out: Path, sweep: str, base: RunConfig, write: bool = True) -> None:
    """Tie ``out`` to this sweep and base config on its first run (``write``; ``False`` only
    checks). Stored points are keyed by the point's own settings only, so resuming with other base
    settings (say ``--snr`` or ``--processing``) would mix their results: that is refused, naming
    the settings that differ."""
    want = {"sweep": sweep, "config": base.model_dump(mode="json", exclude=_NOT_RESULTS)}
    path = out / BASE_FILE
    if not path.exists():
        if not write:
            return
        if (out / "points").is_dir() and any((out / "points").iterdir()):
            print(f"note: {out} has stored points but no {BASE_FILE} (an older sweep); assuming they were run "
                  "with the settings given now", file=sys.stderr)
        write_json_atomic(path, want)
        return
    try:
        have = json.loads(path.read_text())
        # a folder from before a setting existed holds that setting's default
        have_cfg = RunConfig.model_validate(have["config"]).model_dump(mode="json", exclude=_NOT_RESULTS)
        have_sweep = have["sweep"]
    except (OSError, ValueError, KeyError, TypeError, ValidationError) as e:
        raise ConfigError(f"{path} is unreadable ({type(e).__name__}); choose another --out or remove it") from None
    diff = sorted(k for k in set(have_cfg) | set(want["config"]) if have_cfg.get(k) != want["config"].get(k))
    if have_sweep != sweep or diff:
        what = f"sweep {have_sweep}" if have_sweep != sweep else ", ".join(diff)
        raise ConfigError(f"field 'out': {out} holds a sweep with other settings ({what}); "
                          "resume it with the same settings or choose another --out")


def _init_worker(base: RunConfig, threads: int) -> None:
    import torch

    torch.set_num_threads(max(1, threads))


def _latents(cfg: RunConfig):
    from scenarios.sources import load_run_latents

    key = tuple(str(getattr(cfg, f)) for f in _LATENT_FIELDS)
    if key not in _DATA:
        _DATA[key] = load_run_latents(cfg)
    return _DATA[key]


def _run_one(base: RunConfig, point: Point) -> dict:
    from scenarios.engine import run

    cfg = point_config(base, point.overrides)
    res = run(cfg, _latents(cfg))
    return {"point": {"sweep": point.sweep, "panel": point.panel, "x_name": point.x_name, "x": point.x,
                      "method": point.method, "seed": point.seed, "overrides": point.overrides},
            "compression": res["compression"], "iterations": res["iterations"], "wall_time_s": res["wall_time_s"],
            "users": res["users"]}


def run_points(points: list[Point], base: RunConfig, out: Path, workers: int = 1,
               on_done: Callable[[Point, bool], None] | None = None) -> int:
    """Run the points not stored yet; returns how many ran. ``on_done(point, ran)`` is called
    for every point (``ran`` False when it was already stored)."""
    store = out / "points"
    store.mkdir(parents=True, exist_ok=True)
    todo = []
    for pt in points:
        if (store / f"{pt.key}.json").exists():
            if on_done:
                on_done(pt, False)
        else:
            todo.append(pt)
    if not todo:
        return 0
    ran = 0
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(base, base.threads))
    try:
        pending = {pool.submit(_run_one, base, pt): pt for pt in todo}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                pt = pending.pop(fut)
                write_json_atomic(store / f"{pt.key}.json", fut.result())
                ran += 1
                if on_done:
                    on_done(pt, True)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return ran


def point_rows(points: list[Point], out: Path) -> list[dict]:
    """Tidy rows (point × seed × user × method) of the stored points, in the points' order."""
    rows = []
    for pt in points:
        path = out / "points" / f"{pt.key}.json"
        if not path.exists():
            continue
        rec = json.loads(path.read_text())
        for u in rec["users"]:
            rows.append({"sweep": pt.sweep, "panel": pt.panel, "x_name": pt.x_name, "x": pt.x, "method": pt.method,
                         "group": pt.group, "seed": pt.seed, "user": u["id"], "encoder": u["encoder"], "accuracy": u["accuracy"],
                         "mse": u["mse"], "nmse": u["nmse"], "oracle_accuracy": u["oracle_accuracy"],
                         "compression": rec["compression"], "users": len(rec["users"]),
                         "iterations": rec["iterations"]})
    return rows


def timing_rows(points: list[Point], out: Path) -> list[dict]:
    """Wall time per stored point (not part of the tidy CSV, which must not depend on timing)."""
    rows = []
    for pt in points:
        path = out / "points" / f"{pt.key}.json"
        if path.exists():
            rec = json.loads(path.read_text())
            its = max(1, rec["iterations"])
            rows.append({"sweep": pt.sweep, "panel": pt.panel, "x": pt.x, "method": pt.method, "group": pt.group,
                         "seed": pt.seed,
                         "users": len(rec["users"]), "iterations": rec["iterations"],
                         "wall_time_s": rec["wall_time_s"], "s_per_iteration": rec["wall_time_s"] / its})
    return rows


def write_tidy_csv(rows: list[dict], path: Path, columns: tuple[str, ...] = CSV_COLUMNS) -> Path:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    write_bytes_atomic(path, buf.getvalue().encode())
    return path
