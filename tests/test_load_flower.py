"""Load: one loopback Flower run with many user devices (a SuperNode serving its ClientApp in-process each),
every user accounted for, bounded in time; memory (RSS) per user device measured.

Excluded from the default suite (marker ``load``)::

    SEMALIGN_LOAD_USERS=16 PYTHONPATH=$PWD python -m pytest tests/test_load_flower.py -m load -q -s \\
        -p no:cacheprovider

prints the summary and writes ``load_rss.json`` (per user device: RSS in MiB) next to the run, or into
``SEMALIGN_LOAD_OUT`` when set (pytest's temporary folders are not kept). ``SEMALIGN_LOAD_USERS`` (default 16,
the count the reliability claims are about) may be lowered to 2 or more on a smaller machine.
"""
from __future__ import annotations

import json
import os
import statistics
import threading
import time
from pathlib import Path

import pytest

from protocol.config import RunConfig
from protocol.runtime_config import RuntimeSettings
from scenarios.latents import save_npz_latents
from scenarios.launch import Launch, LaunchOptions
from scenarios.processes import _descendants
from scenarios.synthetic import make_synthetic

pytestmark = [pytest.mark.load, pytest.mark.flower]
USERS = int(os.environ.get("SEMALIGN_LOAD_USERS", "16"))
ROUNDS = 3
MIB_PER_USER = 1000  # measured (16 users, runner as a separate process then): SuperNode ~145 + runner ~820 MiB


def _rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants [MiB] (Linux /proc)."""
    total = 0
    for p in {pid, *_descendants({pid})}:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def _available_mib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return float("inf")


def test_many_user_processes_all_accounted_for(tmp_path):
    if USERS < 2:
        pytest.fail(f"SEMALIGN_LOAD_USERS={USERS}: a load run needs at least 2 user devices")
    need = USERS * MIB_PER_USER + 2048
    if _available_mib() < need:  # a shared machine: do not push other work into the OOM killer
        pytest.skip(f"{USERS} users need ~{need:.0f} MiB, {_available_mib():.0f} MiB available")
    latents = save_npz_latents(make_synthetic(users=USERS, train=400, test=100, seed=9), tmp_path / "latents.npz")
    cfg = RunConfig(users=USERS, tx_antennas=2, rx_antennas=2, channel_uses=2, pilots=300, test_samples=100,
                    iterations=ROUNDS, tol=0.0, latents=latents)
    out = tmp_path / "load"
    peak: dict[int, dict[str, float]] = {}
    t0 = time.monotonic()
    with Launch(cfg, LaunchOptions(out_dir=out, run_timeout=1200)) as run:
        run.start_ap()
        for k in range(USERS):
            run.start_user(k)
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                for k, procs in run.users.items():
                    row = peak.setdefault(k, {"device": 0.0})
                    row["device"] = max(row["device"], sum(_rss_mib(proc.pid) for proc in procs))
                stop.wait(1.0)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        rt = RuntimeSettings(out_dir=out.resolve(), round_timeout=300.0, join_timeout=600.0)
        try:
            res = run.wait(run.submit(cfg, rt), time.time() - 1)
        finally:
            stop.set()
            sampler.join()
    wall = time.monotonic() - t0
    assert res["completed_users"] == list(range(USERS))
    assert all(h["answered"] == list(range(USERS)) for h in res["history"]) and len(res["history"]) == ROUNDS
    per_user = [r["device"] for r in peak.values()]
    summary = {"users": USERS, "wall_s": wall, "round_wall_times_s": res["round_wall_times_s"],
               "startup_s": res["startup_s"], "rss_mib_per_user_median": statistics.median(per_user),
               "rss_mib_per_user_max": max(per_user),
               "per_user": {str(k): v for k, v in sorted(peak.items())}}
    keep = Path(os.environ.get("SEMALIGN_LOAD_OUT", out))
    keep.mkdir(parents=True, exist_ok=True)
    (keep / "load_rss.json").write_text(json.dumps(summary, indent=2))
    print(f"wrote {keep / 'load_rss.json'}")
    print(json.dumps({k: v for k, v in summary.items() if k != "per_user"}, indent=2))
    assert wall < 1200
