r"""Wall time of a federated-ADMM round over real Flower deployment (SuperLink + SuperNodes).

Run from the repository root::

    python -m benchmarks.flower_rounds [--users 3,10] [--iterations 5]
        [--modes subprocess,runner-patched+fastpull] [--timeout 600] [--out FILE.json] [--keep] [--verbose]

Everything runs on 127.0.0.1 with free ports: one ``flower-superlink`` (in-memory state), one
``flower-supernode`` per user (node config ``user-id=K``), then ``flwr run . bench --stream``
with ``FLWR_HOME`` in a temporary folder holding the connection. The data are a small
synthetic latents file (``scenarios.synthetic``; AP dim 16, users 12/16/8, 400 train rows)
read by the AP and the users through run config ``latents=``; ``pilots=200``, ``tol=0`` so
every run does exactly ``--iterations`` rounds. The AP writes ``results.json``
(``round_wall_times_s``, ``startup_s``, ``wall_time_s``).

Modes (``--modes``, comma-separated):

* ``subprocess``  — Flower defaults: ``--isolation subprocess``, one ``flwr-clientapp``
  process per message, SuperExec task poll 1 s, SuperNode idle poll 3 s.
* ``subprocess-fastpoll`` — the same with ``FLWR_SUPEREXEC_TASK_POLL_INTERVAL=0.05`` (the
  only documented knob).
* ``runner``      — stock ``flower-supernode --isolation process`` plus one long-lived
  ``python -m user_client.appio_runner`` per user (app imported once). No patches.
* ``runner-patched`` — as ``runner``, but the SuperNode is started through
  ``python -m user_client.appio_runner supernode``: Flower's own SuperNode entry point with
  its hard-coded 3 s idle sleep / 0.5 s reply wait shortened (MONKEYPATCH, see that module), and
  both its SuperLink pulls and the runner's task polls paced on the round rhythm
  (``AdaptivePoll.lead``, user_client/appio_runner.py).
* ``inproc`` — as ``runner-patched``, but the runner is a thread of the SuperNode process
  (``appio_runner supernode --runner``), woken when the SuperNode pulls a message instead of
  polling its Runtime API: the launcher's default.
* ``inproc-nice`` — as ``inproc`` with the SuperNodes at ``nice 5``: on one machine the
  SuperLink, which every user's requests go through, gets the cores first.
* ``runner-patched-unpaced`` — as ``runner-patched`` without the pacing (``SEMALIGN_POLL_LEAD=0``:
  fast polls right after each message, slowing down geometrically) — the "before" of the pacing.

Any mode may end in ``+fastpull``: ``flwr run`` then uses a /tmp copy of the project whose
``serverapp`` is a small wrapper around ``ap_server.server_app:app`` that shortens, in the
ServerApp process, Flower's 1 s initial retry backoff for reply objects that are listed but
still uploading (``flwr/superlink/grid/http_grid.py:325`` → ``pull_objects`` defaults,
``flwr/supercore/constant.py:48-49``) to 10 ms (MONKEYPATCH, benchmark only; the existing
files are not touched). It emulates a two-line change to ``ap_server/server_app.py``.

``--count-requests`` runs the SuperLink through ``benchmarks.superlink_counter`` (Flower's
entry point with a request counter around its ASGI app) and prints the SuperLink's HTTP
requests per user-round, by route, over the rounds after the handshake.

Printed per mode and user count: median / min / max round wall time (AP side: push of the
round's messages → last reply), start-up (process launch → all SuperNodes connected; ``flwr
run`` → first round), and the in-process compute of the same round (AP ``Coordinator`` +
users' ``UserDevice`` in one process, ``scenarios.loopback`` style) with the ratio
Flower/in-process. The load average and the cores busy on the machine during each run are
printed too (2-core machine, shared).

Every process started here gets its own session; on exit (normal, error, Ctrl-C, timeout)
each one's process group is sent SIGTERM, then SIGKILL — by PID, never by name.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.superlink_counter import per_user_round

__all__ = ["main", "MODES"]

ROOT = Path(__file__).resolve().parents[1]
MODES = ("subprocess", "subprocess-fastpoll", "runner", "runner-patched", "runner-patched-unpaced", "inproc", "inproc-nice")
CONNECTION = "bench"


# ----------------------------------------------------------------------------- utilities


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"port {port} did not open")


def busy_jiffies() -> tuple[int, int]:
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class Procs:
    """Processes started by this benchmark; stopped by PID / own process group only."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.items: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
        out = open(self.logdir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True)
        out.close()
        self.items.append((name, p))
        return p

    def log(self, name: str) -> str:
        try:
            return (self.logdir / f"{name}.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def check_alive(self) -> None:
        for name, p in self.items:
            if p.poll() is not None:
                raise RuntimeError(f"{name} (pid {p.pid}) exited with {p.returncode}:\n{self.log(name)[-2000:]}")

    def stop_all(self, grace: float = 5.0) -> None:
        for name, p in self.items:  # profilers first, with SIGINT: py-spy writes its output on it
            if name.startswith("py-spy-") and p.poll() is None:
                p.send_signal(signal.SIGINT)
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    pass
        for _, p in reversed(self.items):
            _signal_group(p.pid, signal.SIGTERM)
        end = time.monotonic() + grace
        for _, p in self.items:
            try:
                p.wait(timeout=max(0.05, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for _, p in self.items:  # the group also holds children (superexec, flwr-clientapp, serverapp)
            _signal_group(p.pid, signal.SIGKILL)
            try:
                p.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
        self.items.clear()


def group_cpu_seconds(pgids: dict[str, int]) -> dict[str, float]:
    """CPU seconds (user+sys, incl. reaped children) of each of our process groups, by name."""
    tick = os.sysconf("SC_CLK_TCK")
    by_pgid: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pgrp = int(fields[2])
        by_pgid[pgrp] = by_pgid.get(pgrp, 0.0) + sum(int(x) for x in fields[11:15]) / tick
    return {name: by_pgid.get(pgid, 0.0) for name, pgid in pgids.items()}


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)  # the group of a process we started (start_new_session=True)
    except (ProcessLookupError, PermissionError):
        pass


# ----------------------------------------------------------------------------- data & in-process


def make_latents(users: int, path: Path) -> None:
    import numpy as np

    from scenarios.synthetic import make_synthetic

    d = make_synthetic(users=users, ap_dim=16, user_dims=(12, 16, 8), train=400, test=100, factors=6, classes=4)
    arr = {"ap_train": d.ap_train, "ap_test": d.ap_test, "train_labels": d.train_labels, "test_labels": d.test_labels}
    for k, u in enumerate(d.users):
        arr[f"user{k}_train"], arr[f"user{k}_test"] = u.train, u.test
        arr[f"user{k}_weight"], arr[f"user{k}_bias"] = u.classifier.weight, u.classifier.bias
    np.savez(path, **arr)


AP_POLL = 0.01  # the AP's reply poll (run config poll-interval; --ap-poll)


def run_config(users: int, iterations: int, latents: Path, out_dir: Path) -> dict:
    return {"users": users, "iterations": iterations, "tol": 0.0, "pilots": 200, "test-samples": 100,
            "latents": str(latents), "out-dir": str(out_dir), "threads": 1, "round-timeout": 120.0,
            "join-timeout": 180.0, "poll-interval": AP_POLL}


def inprocess_rounds(cfg_flat: dict, repeats: int = 3) -> list[float]:
    """Round compute in one process: the AP's Coordinator and K UserDevices, no transport."""
    import torch

    from ap_server.coordinator import Coordinator
    from protocol.runtime_config import split_run_config
    from scenarios.latents import load_npz_latents
    from scenarios.loopback import exchange_round, handshake, make_devices

    cfg, _ = split_run_config({k: v for k, v in cfg_flat.items() if k != "out-dir"})
    torch.set_num_threads(max(1, cfg.threads))
    data = load_npz_latents(Path(cfg.latents))
    times: list[float] = []
    for _ in range(repeats):
        coord = Coordinator(cfg, data.ap_train, data.ap_test, data.ap_name)
        devices = make_devices(cfg, data)
        handshake(coord, devices)
        while not coord.converged():
            t = time.perf_counter()
            coord.step(exchange_round(coord, devices))
            times.append(time.perf_counter() - t)
    return times


# ----------------------------------------------------------------------------- one deployment run


def flower_env(home: Path, mode: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(FLWR_HOME=str(home), FLWR_TELEMETRY_ENABLED="0", FLWR_DISABLE_UPDATE_CHECK="1",
               FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION="1", PYTHONUNBUFFERED="1")
    env.pop("FLWR_SUPEREXEC_TASK_POLL_INTERVAL", None)
    if mode == "subprocess-fastpoll":
        env["FLWR_SUPEREXEC_TASK_POLL_INTERVAL"] = "0.05"
    env.pop("SEMALIGN_POLL_LEAD", None)
    if mode == "runner-patched-unpaced":
        env["SEMALIGN_POLL_LEAD"] = "0"
    return env


_SERVERAPP_WRAPPER = """\"\"\"Benchmark-only ServerApp wrapper (made by benchmarks/flower_rounds.py --fast-serverapp-pull).

Same AP ServerApp, plus one monkeypatch in the ServerApp process: Grid.pull_messages retries
reply objects that are listed but not uploaded yet after 10 ms instead of Flower's 1 s initial
backoff (flwr/superlink/grid/http_grid.py:325, flwr/supercore/constant.py:48).
\"\"\"
import functools

import flwr.superlink.grid.http_grid as _hg

_hg.pull_objects = functools.partial(_hg.pull_objects, initial_backoff=0.01, backoff_cap=0.1)

from ap_server.server_app import app as _ap_app  # noqa: E402

app = _ap_app  # Flower checks the attribute by parsing this file
"""


def make_fast_pull_project(dst: Path) -> Path:
    """A copy of the project whose FAB's serverapp is a wrapper with a short object-pull backoff."""
    shutil.copytree(ROOT, dst, ignore=shutil.ignore_patterns(".git", "runs", "out", "__pycache__", "*.egg-info",
                                                             ".pytest_cache", ".hypothesis", "build", "dist"))
    (dst / "bench_serverapp.py").write_text(_SERVERAPP_WRAPPER)
    pp = dst / "pyproject.toml"
    text = pp.read_text()
    old = 'serverapp = "ap_server.server_app:app"'
    if old not in text:
        raise RuntimeError("pyproject.toml: serverapp component not found")
    pp.write_text(text.replace(old, 'serverapp = "bench_serverapp:app"'))
    return dst


def start_py_spy(procs: "Procs", names: list[str], out_dir: Path, env: dict[str, str]) -> list[Path]:
    """``py-spy record`` (collapsed stacks, with subprocesses) on the named processes, by PID;
    each recorder ends when its target is stopped."""
    if shutil.which("py-spy") is None:
        raise RuntimeError("--py-spy needs py-spy on PATH (pip install py-spy)")
    out_dir.mkdir(parents=True, exist_ok=True)
    pids = {name: p.pid for name, p in procs.items}
    files = []
    for name in names:
        f = out_dir / f"{name}.txt"
        procs.start(f"py-spy-{name}", ["py-spy", "record", "--pid", str(pids[name]), "--subprocesses",
                                       "--rate", "50", "--format", "raw", "--output", str(f)], env)
        files.append(f)
    return files


def run_deployment(mode: str, users: int, iterations: int, latents: Path, work: Path, timeout: float,
                   verbose: bool = False, project: Path = ROOT, py_spy: Path | None = None,
                   count_requests: bool = False) -> dict:
    base = mode.removesuffix("+fastpull")
    if base not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose from {', '.join(MODES)} (optionally +fastpull)")
    if mode.endswith("+fastpull"):
        project = make_fast_pull_project(work / "project") if not (work / "project").exists() else work / "project"
    tag = f"{mode.replace('+', '_')}-{users}"
    run_dir = work / tag
    home, logs, out = run_dir / "flwr_home", run_dir / "logs", run_dir / "out"
    for d in (home, logs, out):
        d.mkdir(parents=True, exist_ok=True)
    env = flower_env(home, base)
    link_port = free_port()
    (home / "config.toml").write_text(
        f'[superlink]\ndefault = "{CONNECTION}"\n\n[superlink.{CONNECTION}]\n'
        f'address = "127.0.0.1:{link_port}"\ninsecure = true\n')
    procs = Procs(logs)
    deadline = time.monotonic() + timeout
    b0 = busy_jiffies()
    load0 = loadavg()
    try:
        t_launch = time.monotonic()
        counts = run_dir / "superlink_requests.jsonl"
        head = [sys.executable, "-m", "benchmarks.superlink_counter", "--counts", str(counts), "--",
                ] if count_requests else ["flower-superlink"]
        procs.start("superlink", [*head, "--insecure", "--host", "127.0.0.1", "--port", str(link_port),
                                  "--disable-runtime-dependency-installation"], env)
        wait_port(link_port, deadline)
        isolation = "process" if base.startswith(("runner", "inproc")) else "subprocess"
        inproc = base.startswith("inproc")
        separate = isolation == "process" and not inproc  # a runner process next to each SuperNode
        for k in range(users):
            port = free_port()
            sn_args = ["--insecure", "--superlink", f"127.0.0.1:{link_port}", "--isolation", isolation,
                       "--host", "127.0.0.1", "--port", str(port), "--node-config", f"user-id={k}"]
            if base.startswith("runner-patched") or inproc:
                trace = ["--trace"] if verbose else []
                nice = ["nice", "-n", "5"] if base == "inproc-nice" else []
                cmd = [*nice, sys.executable, "-m", "user_client.appio_runner", "supernode", *trace,
                       *(["--runner"] if inproc else []), "--", *sn_args]
            else:
                cmd = ["flower-supernode", *sn_args]
            sn = procs.start(f"supernode{k}", cmd, env)
            if separate:
                procs.start(f"runner{k}", [sys.executable, "-m", "user_client.appio_runner", "--insecure",
                                           "--runtime-api-address", f"127.0.0.1:{port}", "--parent-pid", str(sn.pid),
                                           *(["-v"] if verbose else [])],
                            env)
        # all SuperNodes registered (and, with runners, every runner connected to its SuperNode)
        while True:
            procs.check_alive()
            ready = all("SuperNode ID" in procs.log(f"supernode{k}") for k in range(users))
            if separate:
                ready = ready and all("connected to the SuperNode" in procs.log(f"runner{k}") for k in range(users))
            elif inproc:
                ready = ready and all("connected to the SuperNode" in procs.log(f"supernode{k}") for k in range(users))
            if ready:
                break
            if time.monotonic() > deadline:
                raise TimeoutError("SuperNodes did not connect in time")
            time.sleep(0.1)
        t_ready = time.monotonic()
        if py_spy is not None:
            spied = ["superlink", "supernode0"] + (["runner0"] if separate else [])
            start_py_spy(procs, spied, py_spy / tag, env)
        cfg = run_config(users, iterations, latents, out)
        rc = " ".join(f"{k}={json.dumps(v)}" for k, v in cfg.items())
        pgids = {name: p.pid for name, p in procs.items}
        cpu0 = group_cpu_seconds(pgids)
        t_run = time.monotonic()
        wall_run = time.time()
        flwr = procs.start("flwr-run", ["flwr", "run", str(project), CONNECTION, "--run-config", rc, "--stream"], env)
        res_file = out / "results.json"
        while not res_file.exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"no results.json within {timeout:.0f} s; see {logs}")
            if flwr.poll() is not None and not res_file.exists():
                time.sleep(1.0)  # the stream may end just before the file appears
                if not res_file.exists():
                    raise RuntimeError(f"flwr run ended without results:\n{procs.log('flwr-run')[-3000:]}")
            time.sleep(0.1)
        t_done = time.monotonic()
        cpu1 = group_cpu_seconds(pgids)
        cpu: dict[str, float] = {}
        for name in pgids:  # superlink (incl. its ServerApp), supernodes (incl. superexec/clientapps), runners
            kind = name.rstrip("0123456789")
            cpu[kind] = cpu.get(kind, 0.0) + cpu1[name] - cpu0[name]
        res = json.loads(res_file.read_text())
        b1 = busy_jiffies()
        serverapp_start = res_file.stat().st_mtime - res["wall_time_s"]  # ServerApp's t0 (wall clock)
        to_serverapp = serverapp_start - wall_run
        return {
            "mode": mode, "users": users, "rounds": res["round_wall_times_s"],
            "infra_startup_s": t_ready - t_launch,
            "run_to_serverapp_s": to_serverapp,
            "serverapp_startup_s": res["startup_s"],  # latents + wait for nodes + join + configure
            "run_to_first_round_s": to_serverapp + res["startup_s"],
            "run_total_s": t_done - t_run,
            "completed_users": res.get("completed_users"),
            "cpu_s_during_run": {k: round(v, 2) for k, v in cpu.items()},
            "load_before": load0, "load_after": loadavg(),
            "busy_cores": (b1[0] - b0[0]) / max(1, (b1[1] - b0[1])) * (os.cpu_count() or 1),
            "logs": str(logs),
            **({"requests_per_user_round": per_user_round(counts, 2 * users)} if count_requests else {}),
        }
    finally:
        procs.stop_all()


# ----------------------------------------------------------------------------- main


def _fmt(xs: list[float]) -> str:
    return f"{statistics.median(xs):7.3f} {min(xs):7.3f} {max(xs):7.3f}"


def payload_table(m: int = 192, symbols: int = 16, rx_symbols: int = 16, itemsize: int = 8) -> list[dict]:
    """Bytes per user per round, paper vs compact (DESIGN.md §4), at n = 1000 and 10000 pilots
    (``protocol.accounting``: the same shapes the runtime counts)."""
    from protocol.accounting import matrix_bytes, round_message_shapes

    rows = []
    for n in (1000, 10000):
        for proto in ("paper", "compact"):
            shapes = round_message_shapes(proto, True, m, n, symbols, rx_symbols)
            rows.append({"n": n, "protocol": proto,
                         **{k: sum(matrix_bytes(s, itemsize) for s in v) for k, v in shapes.items()}})
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.flower_rounds", description=__doc__.split("\n\n")[0])
    p.add_argument("--users", default="3,10", help="comma-separated user counts (default 3,10)")
    p.add_argument("--iterations", type=int, default=5, help="ADMM rounds per run (tol=0)")
    p.add_argument("--modes", default="subprocess,runner-patched-unpaced,runner-patched,inproc", help=f"comma-separated, from {','.join(MODES)}, each optionally +fastpull")
    p.add_argument("--timeout", type=float, default=600.0, help="bound per deployment run [s]")
    p.add_argument("--out", default=None, help="also write all numbers as JSON")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    p.add_argument("--count-requests", action="store_true",
                   help="run the SuperLink through benchmarks.superlink_counter and print its requests per user-round")
    p.add_argument("--ap-poll", type=float, default=0.01, help="run config poll-interval of the AP [s]")
    p.add_argument("--verbose", action="store_true", help="runners log per-task timings, patched SuperNodes trace pulls")
    p.add_argument("--py-spy", type=Path, default=None,
                   help="record py-spy collapsed stacks of the SuperLink (+ServerApp), one SuperNode and one runner "
                        "into this folder (see benchmarks/profile_stacks.py)")
    a = p.parse_args(argv)
    global AP_POLL
    AP_POLL = a.ap_poll
    users = [int(x) for x in a.users.split(",") if x.strip()]
    modes = [m.strip() for m in a.modes.split(",") if m.strip()]
    for m in modes:
        if m.removesuffix("+fastpull") not in MODES:
            p.error(f"unknown mode {m!r}")
    for tool in ("flower-superlink", "flower-supernode", "flwr"):
        if shutil.which(tool) is None:
            p.error(f"{tool} not on PATH")
    work = Path(tempfile.mkdtemp(prefix="flower_rounds_", dir="/tmp"))
    print(f"# flower_rounds: {os.cpu_count()} cores, load {loadavg()}, AP poll {AP_POLL} s, work dir {work}", flush=True)
    results = []
    print("\n## payload per user per round (complex64, m = 192 AP features, N_T c = N_R c = 16, CSI at the AP)")
    print(f"{'n':>6} {'protocol':<8} {'downlink B':>11} {'uplink B':>10} {'setup B (once)':>15}")
    for r in payload_table():
        print(f"{r['n']:>6} {r['protocol']:<8} {r['downlink']:>11,} {r['uplink']:>10,} {r['setup']:>15,}")
    try:
        for k in users:
            latents = work / f"latents{k}.npz"
            make_latents(k, latents)
            cfg = run_config(k, a.iterations, latents, work / "inproc")
            inproc = inprocess_rounds(cfg)
            ip = statistics.median(inproc)
            print(f"\n## {k} users, {a.iterations} rounds; in-process round compute: median {ip * 1e3:.1f} ms "
                  f"(min {min(inproc) * 1e3:.1f}, max {max(inproc) * 1e3:.1f})", flush=True)
            print(f"{'mode':<20} {'round s: median    min     max':>30} {'ratio':>7} {'infra s':>8} "
                  f"{'run->1st s':>10} {'load before/after':>24} {'busy cores':>10}")
            for m in modes:
                try:
                    r = run_deployment(m, k, a.iterations, latents, work, a.timeout, a.verbose, py_spy=a.py_spy,
                                       count_requests=a.count_requests)
                except Exception as e:  # noqa: BLE001 - report and go on with the next mode
                    print(f"{m:<20} FAILED: {e}", flush=True)
                    results.append({"mode": m, "users": k, "error": str(e)})
                    continue
                r["inprocess_round_s"] = ip
                results.append(r)
                med = statistics.median(r["rounds"])
                print(f"{m:<20} {_fmt(r['rounds']):>30} {med / ip:7.0f} {r['infra_startup_s']:8.1f} "
                      f"{r['run_to_first_round_s']:10.1f} {r['load_before'] + ' / ' + r['load_after']:>24} "
                      f"{r['busy_cores']:10.2f}", flush=True)
                print(f"{'':<20} CPU s during the run ({r['run_total_s']:.1f} s wall): "
                      + ", ".join(f"{k} {v:.1f}" for k, v in r["cpu_s_during_run"].items()), flush=True)
                if r.get("requests_per_user_round"):
                    req = r["requests_per_user_round"]
                    print(f"{'':<20} SuperLink requests per user-round: {sum(req.values()):.1f} ("
                          + ", ".join(f"{k.removeprefix('/v1/')} {v:.1f}" for k, v in
                                      sorted(req.items(), key=lambda kv: -kv[1]) if v >= 0.5) + ")", flush=True)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        if a.out:
            Path(a.out).write_text(json.dumps(results, indent=2))
        if a.keep:
            print(f"# logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
