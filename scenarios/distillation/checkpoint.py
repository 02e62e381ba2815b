"""Atomic, resumable training checkpoints (torch state in ``protocol.atomic`` writes)."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from protocol.atomic import write_bytes_atomic

__all__ = ["save_checkpoint", "load_checkpoint"]


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """``torch.save`` ``state`` to ``path`` atomically (temp file + fsync + rename)."""
    buf = io.BytesIO()
    torch.save(state, buf)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(Path(path), buf.getvalue())


def load_checkpoint(path: Path) -> dict[str, Any] | None:
    """The saved state, or ``None`` when there is no checkpoint yet."""
    path = Path(path)
    if not path.is_file():
        return None
    return torch.load(path, map_location="cpu", weights_only=False)
