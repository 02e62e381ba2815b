"""Atomic file writes: a crash, Ctrl-C, a full disk or an unwritable folder never leaves a
half-written result or checkpoint — the previous file stays as it was, no temporary file is
left behind, and the error says which file and why (:class:`OutputError`)."""
from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["OutputError", "check_writable", "write_json_atomic", "write_npz_atomic", "write_bytes_atomic"]


class OutputError(OSError):
    """An output file or folder cannot be written (unwritable, missing, disk full)."""


def _reason(e: OSError) -> str:
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"disk full ({e.strerror or e})"
    return e.strerror or str(e)


def check_writable(folder: Path) -> Path:
    """Create ``folder`` if needed and prove it takes a file (write, fsync, delete), before any
    work whose results would be lost; :class:`OutputError` naming the folder otherwise."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-probe.", suffix=".tmp")
        try:
            os.write(fd, b"ok")
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as e:
        raise OutputError(e.errno, f"output folder {folder} is not writable: {_reason(e)}") from e
    return folder


def _umask() -> int:
    """The process's file-creation mask, read without changing it (Linux), else by the set-and-restore idiom."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then ``os.replace``.

    The file gets the permissions of a newly created file (``0o666`` less the umask), not the owner-only ones of
    the temporary file: results and checkpoints are for the collaborators a folder is shared with."""
    path = Path(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            os.fchmod(fd, 0o666 & ~_umask())
        except OSError:
            os.close(fd)
            raise
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(e, OSError) and not isinstance(e, OutputError):
            raise OutputError(e.errno, f"cannot write {path}: {_reason(e)}; the previous file is unchanged") from e
        raise


def write_json_atomic(path: Path, obj: Any) -> None:
    write_bytes_atomic(path, (json.dumps(obj, indent=2, allow_nan=True) + "\n").encode())


def write_npz_atomic(path: Path, **arrays: np.ndarray) -> None:
    import io

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    write_bytes_atomic(path, buf.getvalue())
