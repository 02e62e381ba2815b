"""One user device as a Flower SuperNode process: its command line and node config."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

__all__ = ["node_config_text", "supernode_argv"]


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
                   auth_public_key: Path | None = None, isolation: str = "subprocess") -> list[str]:
    """``flower-supernode`` for one user: connects to ``superlink`` (host:port), serves its
    ClientAppIo API on ``host:appio_port``."""
    argv = ["flower-supernode", "--superlink", superlink, "--host", host, "--port", str(appio_port),
            "--isolation", isolation, "--node-config", node_config_text(node_config)]
    if root_certificates is None:
        argv.append("--insecure")
    else:
        argv += ["--root-certificates", str(root_certificates)]
    if auth_private_key is not None:
        argv += ["--auth-supernode-private-key", str(auth_private_key)]
    if auth_public_key is not None:
        argv += ["--auth-supernode-public-key", str(auth_public_key)]
    return argv
