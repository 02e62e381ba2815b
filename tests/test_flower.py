"""Real Flower on 127.0.0.1: a SuperLink, SuperNode processes and ``flwr run``.

Parity with the in-process engine (paper/compact × CSI/no-CSI), dropout of a killed user,
bad messages from a misbehaving user, AP resume after SIGKILL, TLS with node authentication.
Every process is started by the launcher in its own group and stopped by PID.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from protocol.config import RunConfig
from protocol.runtime_config import RuntimeSettings
from scenarios.admm import admm_solve
from scenarios.latents import load_npz_latents, save_npz_latents
from scenarios.launch import Launch, LaunchOptions
from scenarios.problem import build_problem
from scenarios.synthetic import make_synthetic

pytestmark = pytest.mark.flower

BASE = dict(users=3, tx_antennas=2, rx_antennas=2, channel_uses=2, pilots=400, test_samples=150, iterations=3,
            tol=0.0)


@pytest.fixture(scope="module")
def latents(tmp_path_factory) -> Path:
    return save_npz_latents(make_synthetic(users=3, train=500, test=200, seed=5),
                            tmp_path_factory.mktemp("flower") / "latents.npz")


def _engine_transmit(cfg: RunConfig) -> np.ndarray:
    dtype = torch.complex128 if cfg.precision == "double" else torch.complex64
    prob = build_problem(cfg, load_npz_latents(cfg.latents), dtype, torch.device("cpu"))
    return admm_solve(prob, cfg, track=False).transmit.numpy()


def _state(out: Path) -> dict:
    with np.load(out / "ap_state.npz") as f:
        return {"Z": f["Z"], "round": json.loads(str(f["meta"]))["round"]}


def _run(cluster: Launch, cfg: RunConfig, out: Path, round_timeout: float = 60.0, resume: bool = False) -> dict:
    rt = RuntimeSettings(out_dir=out, round_timeout=round_timeout, join_timeout=60.0, resume=resume)
    return cluster.wait(cluster.submit(cfg, rt, name=out.name), time.time() - 1, out)


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, latents):
    """An AP SuperLink and 3 user SuperNodes, shared by the parity runs."""
    cfg = RunConfig(**BASE, latents=latents)
    with Launch(cfg, LaunchOptions(out_dir=tmp_path_factory.mktemp("cluster"), run_timeout=600)) as run:
        run.start_ap()
        for k in range(cfg.users):
            run.start_user(k)
        yield run


# paper without CSI: below, widely-linear; the users' task metric with complex-linear maps: compact, no CSI
@pytest.mark.parametrize("protocol, csi, metric", [("compact", True, "mse"), ("compact", False, "task"), ("paper", True, "mse")])
def test_flower_run_equals_engine(cluster, latents, tmp_path, protocol, csi, metric):
    cfg = RunConfig(**BASE, latents=latents, protocol=protocol, csi=csi, user_metric=metric)
    res = _run(cluster, cfg, tmp_path / f"{protocol}-{csi}")
    assert res["completed_users"] == [0, 1, 2] and len(res["users"]) == 3
    assert _rel(_state(tmp_path / f"{protocol}-{csi}")["Z"], _engine_transmit(cfg)) <= 1e-5
    per_round = res["bytes"]["per_round"]
    assert [r["round"] for r in per_round] == ([0, 1, 2, 3] if protocol == "compact" else [1, 2, 3])
    assert all(r["uplink"] > 0 and r["downlink"] > 0 for r in per_round if r["round"] > 0)
    assert len(res["round_wall_times_s"]) == 3 and res["startup_s"] > 0


def test_flower_task_metric_widely_linear_equals_engine(cluster, latents, tmp_path):
    """The users' private task metric (DESIGN.md §3 *User metric*) with widely-linear processing
    (DESIGN.md §2) over Flower: each ClientApp's UserDevice applies its metric, real matrices travel;
    same F, per-user accuracy and bytes per round as the engine, and F differs from plain MSE.
    Run in the paper's message form without CSI at the AP, the fourth protocol × CSI case."""
    from scenarios.engine import run

    cfg = RunConfig(**BASE, latents=latents, user_metric="task", protocol="paper", csi=False, processing="widely-linear")
    res = _run(cluster, cfg, tmp_path / "task")
    assert res["completed_users"] == [0, 1, 2]
    ref = _engine_transmit(cfg)
    z = _state(tmp_path / "task")["Z"]
    assert z.shape[-2] == 2 * cfg.symbols and _rel(z, ref) <= 1e-5
    assert _rel(_engine_transmit(cfg.model_copy(update={"user_metric": "mse"})), ref) > 1e-3
    eng = run(cfg, load_npz_latents(latents))
    assert [u["accuracy"] for u in res["users"]] == [u["accuracy"] for u in eng["users"]]
    assert res["bytes"]["uplink_per_round"] == eng["bytes"]["uplink_per_round"]
    assert res["bytes"]["downlink_per_round"] == eng["bytes"]["downlink_per_round"]


def test_bad_messages_and_a_killed_user(tmp_path, latents, caplog):
    """User 1 sends a wrong shape, NaN, a spoofed id, a stale round and crashes, one per round;
    user 0 loses its run state in round 5 (handshake repeated); user 2 is killed after round 2.
    The run finishes and says who completed. (The stale round comes after the kill's round: a
    user killed mid-upload can hold that round's pull up to its deadline, and user 1's reply is
    then discarded as late instead of as stale — both correct, but the log line differs.)"""
    cfg = RunConfig(**{**BASE, "iterations": 7}, latents=latents)
    out = tmp_path / "faults"
    opts = LaunchOptions(out_dir=out, run_timeout=600, node_configs={0: {"fault": "forget@5"}, 1: {"fault": "shape@0,nan@1,spoof@2,stale@3,crash@4"}})
    with Launch(cfg, opts) as run:
        run.start_ap()
        for k in range(cfg.users):
            run.start_user(k)
        proc = run.submit(cfg, opts.runtime().model_copy(update={"round_timeout": 10.0}))
        end = time.monotonic() + 300
        while time.monotonic() < end and not ((out / "ap_state.npz").exists() and _state(out)["round"] >= 2):
            time.sleep(0.2)
        run.kill_user(2)
        res = run.wait(proc, time.time() - 600)
    answered = [h["answered"] for h in res["history"]]
    assert all(1 not in a for a in answered[:5]) and all(1 in a for a in answered[5:])
    assert all(2 not in a for a in answered[3:])
    assert 0 not in answered[5] and 0 in answered[6] and all(0 in a for a in answered[:5])
    assert res["completed_users"] == [0, 1]
    assert res["user_status"]["2"]["completed"] is False and res["user_status"]["1"]["completed"] is True
    log = (out / "flower" / "logs" / "run.log").read_text()
    for needle in ("user 1", "left out", "is not the current round", "repeating its handshake"):
        assert needle in log


def test_ap_killed_and_resumed_ends_with_the_same_f(tmp_path, latents):
    cfg = RunConfig(**{**BASE, "iterations": 6}, latents=latents)
    out = tmp_path / "resume"
    with Launch(cfg, LaunchOptions(out_dir=out, run_timeout=600)) as run:
        run.start_ap()
        for k in range(cfg.users):
            run.start_user(k)
        proc = run.submit()
        end = time.monotonic() + 300
        while time.monotonic() < end and not ((out / "ap_state.npz").exists() and _state(out)["round"] >= 3):
            time.sleep(0.1)
        run.group.kill(run.superlink)  # SIGKILL the AP: SuperLink and its ServerApp process
        run.group.kill(proc)
    killed_at = _state(out)["round"]
    assert 3 <= killed_at < 6 and not (out / "results.json").exists()
    opts = LaunchOptions(out_dir=out, run_timeout=600, resume=True)
    with Launch(cfg, opts) as run:
        run.start_ap()
        for k in range(cfg.users):
            run.start_user(k)
        res = run.wait(run.submit(), time.time() - 1)
    assert res["iterations"] == 6 and len(res["history"]) == 6
    # this invocation's times are told apart from the whole run's
    assert res["resumed_at_round"] == killed_at and len(res["round_wall_times_s"]) == 6 - killed_at
    assert res["rounds_wall_time_s"] > sum(res["round_wall_times_s"])
    from scenarios.report import _wall

    assert f"resumed after round {killed_at}" in _wall(res)
    assert _rel(_state(out)["Z"], _engine_transmit(cfg)) <= 1e-5


def test_tls_and_node_authentication(tmp_path, latents):
    cfg = RunConfig(**{**BASE, "iterations": 2}, latents=latents)
    out = tmp_path / "secure"
    with Launch(cfg, LaunchOptions(out_dir=out, run_timeout=600, tls=True, node_auth=True)) as run:
        run.start_ap()
        for k in range(cfg.users):
            run.start_user(k)
        from ap_server.certs import make_node_keys

        intruder_key, _ = make_node_keys(tmp_path / "intruder", "intruder")  # never registered
        intruder = run.start_user(7, private_key=intruder_key)
        res = run.wait(run.submit(), time.time() - 1)
        assert res["completed_users"] == [0, 1, 2]
        assert sorted(int(k) for k in res["user_status"]) == [0, 1, 2]  # the intruder never joined
        assert intruder.popen.poll() not in (None, 0)  # refused: it gave up by itself, with an error
    text = intruder.log.read_text(errors="replace")
    assert "Failed to activate SuperNode" in text, text[-2000:]


def _semalign(*args: str, log: Path) -> "subprocess.Popen":
    import subprocess
    import sys

    fh = open(log, "wb")
    return subprocess.Popen([sys.executable, "-m", "scenarios", *args], stdout=fh, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(proc) -> None:
    import os
    import signal

    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except Exception:  # noqa: BLE001
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def test_ap_and_user_commands(tmp_path, latents):
    """`semalign ap` and three `semalign user` processes, as on separate machines."""
    from scenarios.processes import free_port

    port = str(free_port())
    run = ["--latents", str(latents), "--users", "3", "--antennas", "2", "--channel-uses", "2", "--pilots", "400",
           "--test-samples", "150", "--iterations", "3", "--tol", "0"]
    ap = _semalign("ap", *run, "--port", port, "--out", str(tmp_path / "ap"), "--quiet", log=tmp_path / "ap.log")
    users = [_semalign("user", "--id", str(k), "--ap", f"127.0.0.1:{port}", "--max-wait-time", "60",
                       "--log-dir", str(tmp_path / f"user{k}"), log=tmp_path / f"user{k}.log") for k in range(3)]
    try:
        assert ap.wait(timeout=300) == 0, (tmp_path / "ap.log").read_text()[-3000:]
    finally:
        for proc in [*users, ap]:
            _stop(proc)
    res = json.loads((tmp_path / "ap" / "results.json").read_text())
    assert res["completed_users"] == [0, 1, 2]
    assert "accuracy" in (tmp_path / "ap.log").read_text()  # the per-user table was printed
    cfg = RunConfig(**BASE, latents=latents)
    assert _rel(_state(tmp_path / "ap")["Z"], _engine_transmit(cfg)) <= 1e-5


def test_launch_command_simulation_engine(tmp_path, latents):
    """`semalign launch --engine simulation`: Flower's simulation engine, same F as the engine."""
    out = tmp_path / "sim"
    proc = _semalign("launch", "--engine", "simulation", "--latents", str(latents), "--users", "3", "--antennas", "2",
                     "--channel-uses", "2", "--pilots", "400", "--test-samples", "150", "--iterations", "3", "--tol",
                     "0", "--protocol", "paper", "--no-csi", "--out", str(out), "--quiet", log=tmp_path / "launch.log")
    try:
        assert proc.wait(timeout=400) == 0, (tmp_path / "launch.log").read_text()[-3000:]
    finally:
        _stop(proc)
    res = json.loads((out / "results.json").read_text())
    assert res["completed_users"] == [0, 1, 2] and res["launch"]["engine"] == "simulation"
    cfg = RunConfig(**BASE, latents=latents, protocol="paper", csi=False)
    assert _rel(_state(out)["Z"], _engine_transmit(cfg)) <= 1e-5


def test_launch_leaves_no_process_behind(tmp_path, latents):
    """After a launch (also one whose AP was SIGKILLed), no process of its groups is alive."""
    from scenarios.processes import _alive, _descendants, _members

    cfg = RunConfig(**{**BASE, "iterations": 2}, latents=latents)
    with Launch(cfg, LaunchOptions(out_dir=tmp_path / "x", run_timeout=300)) as run:
        run.start_ap()
        for k in range(cfg.users):
            run.start_user(k)
        proc = run.submit()
        end = time.monotonic() + 120
        while time.monotonic() < end and not (tmp_path / "x" / "ap_state.npz").exists():
            time.sleep(0.1)
        tree = _descendants({p.pid for p in run.group.procs})
        assert any("serverapp" in _cmdline(pid) for pid in tree)  # the ServerApp is among them
        run.group.kill(run.superlink)
        groups = {p.pid for p in run.group.procs}
    time.sleep(1.0)
    assert _members(groups) == [] and not [pid for pid in tree if _alive(pid)]
    assert proc.popen.poll() is not None


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def test_object_pull_is_bounded_by_the_round_deadline(monkeypatch):
    """The AP's pull of a reply's objects gives up at the round deadline (a user killed mid-upload
    otherwise held the round ~50 s past it); the patch is applied once, with Flower's own arguments."""
    import functools

    import flwr.superlink.grid.http_grid as http_grid

    from ap_server.server_app import shorten_object_backoff

    monkeypatch.setattr(http_grid, "pull_objects", http_grid.pull_objects)   # restored after the test
    assert shorten_object_backoff(max_time=7.5)
    patched = http_grid.pull_objects
    assert isinstance(patched, functools.partial)
    assert patched.keywords == {"initial_backoff": 0.01, "backoff_cap": 0.1, "max_time": 7.5}
    assert shorten_object_backoff(max_time=99) and http_grid.pull_objects is patched   # not stacked twice
