"""One user device as Flower processes: a SuperNode and, in the fast configuration, a
long-lived ClientApp runner (``user_client/appio_runner.py``) serving its Runtime API."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import sys

__all__ = ["node_config_text", "supernode_argv", "runner_argv"]


def node_config_text(values: Mapping[str, Any]) -> str:
    """``--node-config`` text: ``key=value`` pairs, TOML-typed (strings quoted)."""
    parts = []
    for k, v in values.items():
        if v is None:
            continue
        if isinstance(v, bool):
            text = "true" if v else "false"
        elif isinstance(v, (int, float)):
            text = repr(v)
        else:
            text = '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'
        parts.append(f"{k}={text}")
    return " ".join(parts)


def supernode_argv(superlink: str, node_config: Mapping[str, Any], *, appio_port: int, host: str = "127.0.0.1",
                   root_certificates: Path | None = None, auth_private_key: Path | None = None,
                   auth_public_key: Path | None = None, isolation: str = "subprocess",
                   patched: bool = False, max_wait_time: float | None = None,
                   idle_min: float | None = None, runner_in_process: bool = False) -> list[str]:
    """``flower-supernode`` for one user: connects to ``superlink`` (host:port), serves its
    Runtime API on ``host:appio_port``. ``patched`` runs it through the appio runner's
    ``supernode`` mode, which shortens Flower's hard-coded waits (a documented monkeypatch);
    ``runner_in_process`` (patched, ``isolation="process"`` only) also serves the ClientApp in
    that process, woken by each pulled message instead of a second process polling."""
    if runner_in_process and not (patched and isolation == "process"):
        raise ValueError("runner_in_process needs patched=True and isolation='process'")
    head = ["flower-supernode"]
    if patched:
        head = [sys.executable, "-m", "user_client.appio_runner", "supernode"]
        head += (["--idle-min", str(idle_min)] if idle_min is not None else [])
        head += (["--runner"] if runner_in_process else []) + ["--"]
    argv = [*head, "--superlink", superlink, "--host", host, "--port", str(appio_port),
            "--isolation", isolation, "--node-config", node_config_text(node_config)]
    if root_certificates is None:
        argv.append("--insecure")
    else:
        argv += ["--root-certificates", str(root_certificates)]
    if auth_private_key is not None:
        argv += ["--auth-supernode-private-key", str(auth_private_key)]
    if auth_public_key is not None:
        argv += ["--auth-supernode-public-key", str(auth_public_key)]
    if max_wait_time is not None:
        argv += ["--max-wait-time", str(max_wait_time)]
    return argv


def runner_argv(appio_address: str, parent_pid: int | None = None, poll_min: float | None = None) -> list[str]:
    """The long-lived ClientApp runner for a SuperNode started with ``--isolation process``."""
    argv = [sys.executable, "-m", "user_client.appio_runner", "--runtime-api-address", appio_address, "--insecure"]
    if poll_min is not None:
        argv += ["--poll-min", str(poll_min)]
    if parent_pid is not None:
        argv += ["--parent-pid", str(parent_pid)]
    return argv
