"""``semalign launch``: the AP (SuperLink + ServerApp run) and N users as separate processes
on 127.0.0.1, run to the end, every process stopped afterwards — also on failure and Ctrl-C.

Engines: ``deployment`` starts one SuperNode per user; ``simulation`` starts the SuperLink in
simulation mode and lets Flower's simulation engine run the users.

ClientApps in deployment (``LaunchOptions.clientapp``): ``runner`` (default) starts each
SuperNode with ``--isolation process`` and a long-lived ClientApp runner
(``user_client/appio_runner.py``) that imports the app once and serves task after task — a
thread of the SuperNode's process, woken by each pulled message, when the SuperNode's
hard-coded waits are shortened (``patch_waits``, default), else a second process;
``subprocess`` is Flower's default (a fresh ``flwr-clientapp`` process per message: seconds
per round).
The run itself is submitted with Flower's own CLI (``flwr run``), as a user would.
"""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal

from protocol.atomic import write_json_atomic
from ap_server.superlink import Tls, flower_env, superlink_argv, superlink_ready, write_connection
from protocol.config import RunConfig
from protocol.runtime_config import RuntimeSettings, to_flat
from scenarios.processes import Proc, ProcessGroup, free_port, wait_for
from user_client.supernode import runner_argv, supernode_argv

__all__ = ["LaunchOptions", "LaunchError", "Launch", "launch", "serve_ap", "serve_user", "app_dir", "write_run_config"]

log = logging.getLogger("semalign.launch")
Engine = Literal["deployment", "simulation"]
CONNECTION = "semalign"


class LaunchError(RuntimeError):
    """The launch could not start or the run did not finish with results."""


@dataclass
class LaunchOptions:
    """How to launch (not part of the math: that is :class:`RunConfig`)."""

    out_dir: Path
    engine: Engine = "deployment"
    host: str = "127.0.0.1"
    tls: bool = False
    node_auth: bool = False
    round_timeout: float = 60.0
    join_timeout: float = 120.0
    min_users: int = 1
    resume: bool = False
    poll_interval: float = 0.01
    run_timeout: float = 3600.0
    stream: Callable[[str], None] | None = None  # receives each line of the run's log
    node_configs: dict[int, dict] = field(default_factory=dict)  # extra node config per user id
    clientapp: Literal["runner", "subprocess"] = "runner"
    patch_waits: bool = True  # SuperNode waits shortened (monkeypatch, see user_client/appio_runner.py)
    node_poll: float | None = None  # shortest poll of SuperNodes and runners [s] (None: their default, 0.01)

    def runtime(self) -> RuntimeSettings:
        return RuntimeSettings(out_dir=self.out_dir.resolve(), round_timeout=self.round_timeout,
                               join_timeout=self.join_timeout, min_users=self.min_users,
                               resume=self.resume, poll_interval=self.poll_interval)


def app_dir() -> Path:
    """The Flower app folder (the project root holding ``pyproject.toml`` with ``[tool.flwr.app]``)."""
    root = Path(__file__).resolve().parents[1]
    pyproject = root / "pyproject.toml"
    if not pyproject.exists() or "[tool.flwr.app]" not in pyproject.read_text():
        raise LaunchError(f"no Flower app at {root}: launch needs a source checkout (pip install -e .)")
    return root


def write_run_config(path: Path, cfg: RunConfig, rt: RuntimeSettings) -> Path:
    """The run config as a TOML file for ``flwr run --run-config FILE``."""
    lines = []
    for k, v in to_flat(cfg, rt).items():
        if isinstance(v, bool):
            text = "true" if v else "false"
        elif isinstance(v, (int, float)):
            text = repr(v)
        else:
            text = json.dumps(str(v))  # a JSON string is a valid TOML basic string
        lines.append(f"{k} = {text}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


class Launch:
    """One launched run; use as a context manager so every process is stopped on exit."""

    def __init__(self, cfg: RunConfig, opts: LaunchOptions) -> None:
        self.cfg, self.opts = cfg, opts
        self.out = opts.out_dir.resolve()
        self.work = self.out / "flower"
        self.flwr_home = self.work / "home"
        self.env = flower_env(self.flwr_home)
        self.group = ProcessGroup(self.work / "logs")
        self.port = 0
        self.tls: Tls | None = None
        self.superlink: Proc | None = None
        self.users: dict[int, list[Proc]] = {}
        self._keys: dict[int, tuple[Path, Path]] = {}

    # -- processes -----------------------------------------------------------------------------
    @property
    def address(self) -> str:
        return f"{self.opts.host}:{self.port}"

    def start_ap(self, port: int = 0, tls: Tls | None = None, timeout: float = 60.0) -> None:
        """Start the SuperLink (on ``port``, or a free one) and wait until it answers."""
        self.tls = tls
        if self.opts.tls and tls is None:
            from ap_server.certs import make_tls

            self.tls = make_tls(self.work / "certs", self.opts.host)
        self.port = port or free_port(self.opts.host)
        argv = superlink_argv(self.opts.host, self.port, simulation=self.opts.engine == "simulation", tls=self.tls,
                              node_auth=self.opts.node_auth)
        self.superlink = self.group.start("superlink", argv, env=self.env, cwd=self.work)
        # the AP's own flwr CLI connects over loopback when the SuperLink listens on every address
        local = "127.0.0.1" if self.opts.host in ("0.0.0.0", "::") else self.opts.host
        write_connection(self.flwr_home, CONNECTION, f"{local}:{self.port}", self.tls)

        def ready() -> bool:
            if not self.superlink.alive():
                raise LaunchError(f"SuperLink exited with code {self.superlink.popen.returncode}:\n{self.superlink.tail()}")
            return superlink_ready(local, self.port, self.tls)

        wait_for(ready, timeout, 0.2, "SuperLink ready")

    def user_keys(self, user_id: int) -> tuple[Path, Path]:
        """The user's node-authentication key pair (made and registered at the AP on first use)."""
        if user_id not in self._keys:
            from ap_server.certs import make_node_keys

            priv, pub = make_node_keys(self.work / "keys", f"user-{user_id}")
            self.flwr(["supernode", "register", str(pub), CONNECTION], timeout=60)
            self._keys[user_id] = (priv, pub)
        return self._keys[user_id]

    def start_user(self, user_id: int, private_key: Path | None = None) -> Proc:
        """Start one user device (a SuperNode with its node config, and its ClientApp runner);
        returns the SuperNode process."""
        node = {"user-id": user_id, **self.opts.node_configs.get(user_id, {})}
        if self.opts.node_auth and private_key is None:
            private_key, _ = self.user_keys(user_id)
        runner = self.opts.clientapp == "runner"
        patched = runner and self.opts.patch_waits  # then the runner lives in the SuperNode's process
        port = free_port(self.opts.host)
        argv = supernode_argv(self.address, node, appio_port=port, host=self.opts.host,
                              root_certificates=self.tls.ca if self.tls else None, auth_private_key=private_key,
                              isolation="process" if runner else "subprocess", patched=patched,
                              idle_min=self.opts.node_poll, runner_in_process=patched)
        procs = [self.group.start(f"user-{user_id}", argv, env=self.env, cwd=self.work)]
        if runner and not patched:
            procs.append(self.group.start(f"user-{user_id}-app", runner_argv(f"{self.opts.host}:{port}", procs[0].pid, self.opts.node_poll),
                                          env=self.env, cwd=self.work))
        self.users[user_id] = procs
        return procs[0]

    def kill_user(self, user_id: int) -> None:
        """SIGKILL every process of one user device (fault injection)."""
        for proc in self.users.get(user_id, []):
            self.group.kill(proc)

    def flwr(self, args: list[str], timeout: float = 120) -> str:
        """Run a short ``flwr`` CLI command against this launch's SuperLink."""
        res = subprocess.run(["flwr", *args], env=self.env, cwd=self.work, capture_output=True, text=True,
                             timeout=timeout)
        if res.returncode != 0:
            raise LaunchError(f"flwr {' '.join(args[:2])} failed ({res.returncode}): {res.stdout}{res.stderr}".strip())
        return res.stdout

    def submit(self, cfg: RunConfig | None = None, rt: RuntimeSettings | None = None, name: str = "run") -> Proc:
        """Submit a ServerApp run with ``flwr run`` (its log streams into ``logs/{name}.log``);
        ``cfg``/``rt`` default to the launch's own (other runs may reuse the same processes)."""
        cfg, rt = cfg or self.cfg, rt or self.opts.runtime()
        conf = write_run_config(self.work / f"{name}_config.toml", cfg, rt)
        argv = ["flwr", "run", str(app_dir()), CONNECTION, "--run-config", str(conf), "--stream"]
        if self.opts.engine == "simulation":
            argv += ["--federation-config", f"num-supernodes={cfg.users} client-resources-num-cpus=1"]
        return self.group.start(name, argv, env=self.env, cwd=self.work)

    def wait(self, run: Proc, started: float, out: Path | None = None) -> dict:
        """Wait for the run to end (streaming its log) and return its ``results.json``."""
        results = (out or self.out) / "results.json"
        end = time.monotonic() + self.opts.run_timeout
        pos = 0
        while True:
            pos = self._stream(run, pos)
            if not run.alive():
                break
            if time.monotonic() > end:
                raise LaunchError(f"run did not finish within {self.opts.run_timeout:.0f} s")
            if self.superlink is not None and not self.superlink.alive():
                raise LaunchError(f"SuperLink died:\n{self.superlink.tail()}")
            time.sleep(0.2)
        self._stream(run, pos)
        if not results.exists() or results.stat().st_mtime < started:
            raise LaunchError(f"the run ended (flwr exit code {run.popen.returncode}) without writing {results}; "
                              f"logs in {self.group.log_dir}:\n{run.tail()}")
        return json.loads(results.read_text())

    def _stream(self, run: Proc, pos: int) -> int:
        if self.opts.stream is None:
            return pos
        lines, pos = _new_lines(run.log, pos)
        for line in lines:
            self.opts.stream(line)
        return pos

    def __enter__(self) -> "Launch":
        return self

    def __exit__(self, *exc) -> None:
        self.group.stop_all()


def launch(cfg: RunConfig, opts: LaunchOptions) -> dict:
    """Start the AP and ``cfg.users`` users, run to the end, stop everything; return results."""
    started = time.time()
    t0 = time.perf_counter()
    with Launch(cfg, opts) as run:
        run.start_ap()
        if opts.engine == "deployment":
            for k in range(cfg.users):
                run.start_user(k)
        proc = run.submit()
        result = run.wait(proc, started)
    result["launch"] = {"engine": opts.engine, "launch_wall_time_s": time.perf_counter() - t0,
                        "tls": opts.tls, "node_auth": opts.node_auth}
    write_json_atomic(run.out / "results.json", result)
    return result


def serve_ap(cfg: RunConfig, opts: LaunchOptions, port: int, tls: Tls | None = None) -> dict:
    """``semalign ap``: a SuperLink on ``opts.host:port`` and the ServerApp run; users join
    from elsewhere (``semalign user``). Stops the SuperLink when the run ends."""
    started = time.time()
    with Launch(cfg, opts) as run:
        run.start_ap(port=port, tls=tls)
        log.info("AP listening on %s; waiting for %d users", run.address, cfg.users)
        result = run.wait(run.submit(), started)
    return result


def serve_user(node: dict, ap: str, *, port: int = 0, root_certificates: Path | None = None,
               auth_key: Path | None = None, clientapp: str = "runner", log_dir: Path | None = None,
               host: str = "127.0.0.1", max_wait_time: float | None = None) -> int:
    """``semalign user``: one user device (a SuperNode serving its ClientApp in-process, or a
    stock SuperNode for ``clientapp="subprocess"``) connected to the AP at ``ap``; runs until
    the SuperNode exits or Ctrl-C, then stops it. Returns the SuperNode's exit code."""
    import tempfile

    runner = clientapp == "runner"
    port = port or free_port(host)
    argv = supernode_argv(ap, node, appio_port=port, host=host, root_certificates=root_certificates,
                          auth_private_key=auth_key, isolation="process" if runner else "subprocess", patched=runner,
                          max_wait_time=max_wait_time, runner_in_process=runner)
    env = flower_env(Path(os.environ.get("FLWR_HOME", Path.home() / ".flwr")))
    logs = Path(log_dir) if log_dir is not None else Path(tempfile.mkdtemp(prefix="semalign-user-"))
    with ProcessGroup(logs) as group:
        node_proc = group.start(f"user-{node['user-id']}", argv, env=env)
        log.info("user %s: SuperNode pid %d connecting to %s; logs in %s", node["user-id"], node_proc.pid, ap, logs)
        print(f"user {node['user-id']}: connecting to {ap} (logs: {logs}); Ctrl-C stops it", file=sys.stderr)
        pos = 0
        while node_proc.alive():
            pos = _follow(node_proc.log, pos)
            time.sleep(0.2)
        _follow(node_proc.log, pos)
        return int(node_proc.popen.returncode or 0)


def _new_lines(path: Path, pos: int) -> tuple[list[str], int]:
    """Complete lines written to ``path`` after byte offset ``pos``, and the new offset."""
    try:
        with open(path, "rb") as fh:
            fh.seek(pos)
            chunk = fh.read()
    except OSError:
        return [], pos
    cut = chunk.rfind(b"\n") + 1
    return chunk[:cut].decode(errors="replace").splitlines(), pos + cut


def _follow(path: Path, pos: int) -> int:
    """Echo new lines of a log file to stderr; returns the new offset."""
    lines, pos = _new_lines(path, pos)
    for line in lines:
        print(line, file=sys.stderr, flush=True)
    return pos
