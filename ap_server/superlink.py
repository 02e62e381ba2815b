"""The AP's Flower SuperLink process: command line, readiness, and the connection the
``flwr`` CLI uses to submit the ServerApp run (Flower 1.41: one HTTP port serves the
Fleet, Control and runtime APIs)."""
from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = ["Tls", "superlink_argv", "superlink_ready", "write_connection", "flower_env"]


@dataclass(frozen=True)
class Tls:
    """Certificate files of a TLS run: the CA every party trusts and the AP's server pair."""

    ca: Path
    cert: Path
    key: Path


def superlink_argv(host: str, port: int, *, simulation: bool = False, tls: Tls | None = None,
                   node_auth: bool = False, log_file: Path | None = None) -> list[str]:
    """``flower-superlink`` for one run; in-memory state (a SQLite file locks under tight polling)."""
    argv = ["flower-superlink", "--host", host, "--port", str(port), "--disable-runtime-dependency-installation"]
    if tls is None:
        argv.append("--insecure")
    else:
        argv += ["--ssl-ca-certfile", str(tls.ca), "--ssl-certfile", str(tls.cert), "--ssl-keyfile", str(tls.key)]
    if node_auth:
        argv.append("--enable-supernode-auth")
    if simulation:
        argv += ["--simulation", "--isolation", "subprocess"]
    if log_file is not None:
        argv += ["--log-file", str(log_file)]
    return argv


def superlink_ready(host: str, port: int, tls: Tls | None = None, timeout: float = 0.5) -> bool:
    """Whether the SuperLink answers its ``/health`` endpoint."""
    scheme = "http" if tls is None else "https"
    verify: bool | ssl.SSLContext = False
    if tls is not None:
        verify = ssl.create_default_context(cafile=str(tls.ca))
    try:
        return httpx.get(f"{scheme}://{host}:{port}/health", timeout=timeout, verify=verify).is_success
    except httpx.HTTPError:
        return False


def write_connection(flwr_home: Path, name: str, address: str, tls: Tls | None = None) -> Path:
    """Write ``$FLWR_HOME/config.toml`` with one SuperLink connection named ``name``."""
    flwr_home.mkdir(parents=True, exist_ok=True)
    lines = ["[superlink]", f'default = "{name}"', "", f"[superlink.{name}]", f'address = "{address}"']
    if tls is None:
        lines.append("insecure = true")
    else:
        lines += ["insecure = false", f'root-certificates = "{tls.ca}"']
    path = flwr_home / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def flower_env(flwr_home: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for Flower processes of one run: its own ``FLWR_HOME``, no telemetry,
    no update check, no runtime dependency installation."""
    env = dict(os.environ if base is None else base)
    env.update({
        "FLWR_HOME": str(flwr_home),
        "FLWR_TELEMETRY_ENABLED": "0",
        "FLWR_DISABLE_UPDATE_CHECK": "1",
        "FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION": "1",
        "PYTHONUNBUFFERED": "1",
    })
    return env
