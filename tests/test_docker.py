"""Docker support, end to end: ``docker/test_compose.sh`` builds the image, runs the AP and 3
users with docker-compose (results identical to ``semalign launch``), stops a user mid-run, and
tears everything down. Slow (minutes; the first build longer): runs only with ``pytest -m docker``."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "docker" / "test_compose.sh"
BUDGET = int(os.environ.get("SEMALIGN_DOCKER_TIMEOUT", "3600"))  # seconds, passed to the script

pytestmark = pytest.mark.docker


def _skip_reason() -> str | None:
    if not sys.platform.startswith("linux"):
        return "needs Linux"
    if os.geteuid() != 0:
        return "needs root (the test starts its own dockerd)"
    if shutil.which("timeout") is None or shutil.which("setsid") is None:
        return "needs coreutils timeout and setsid"
    return None


@pytest.mark.parametrize("mode", ["all"])
def test_compose_three_users(mode: str) -> None:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    # The script bounds itself (and cleans up on its own timeout); the extra minutes here only
    # let its teardown finish before pytest would give up.
    proc = subprocess.run(["bash", str(SCRIPT), "--mode", mode, "--timeout", str(BUDGET)],
                          capture_output=True, text=True, timeout=BUDGET + 300)
    sys.stderr.write(proc.stderr[-8000:])
    assert proc.returncode == 0, f"docker/test_compose.sh --mode {mode} failed:\n{proc.stderr[-4000:]}"
    assert "PASS" in proc.stderr
