"""Child processes of a launch: started in their own process group, stopped by PID.

Every process is started with ``start_new_session=True`` so that it and the children it
spawns (Flower's SuperLink starts the ServerApp, a SuperNode starts ClientApp processes)
share one group whose leader is the PID we started; :meth:`ProcessGroup.stop_all` signals
exactly those groups — SIGTERM, then SIGKILL after a grace period — and nothing else.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

__all__ = ["Proc", "ProcessGroup", "free_port", "wait_for"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_for(predicate, timeout: float, interval: float = 0.1, what: str = "condition") -> None:
    """Poll ``predicate()`` until true; ``TimeoutError`` naming ``what`` otherwise."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"{what} not reached within {timeout:.0f} s")


@dataclass
class Proc:
    """One started process and where its output goes."""

    name: str
    popen: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class ProcessGroup:
    """The processes of one launch; a context manager that always stops them on exit."""

    log_dir: Path
    procs: list[Proc] = field(default_factory=list)

    def start(self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None,
              cwd: Path | None = None) -> Proc:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name}.log"
        with open(log, "ab") as fh:
            popen = subprocess.Popen(list(argv), stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=dict(env) if env is not None else None, cwd=cwd, start_new_session=True)
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def stop(self, proc: Proc, grace: float = 5.0) -> None:
        """SIGTERM the process group led by ``proc``, SIGKILL it after ``grace`` seconds."""
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        _signal_group(proc.pid, signal.SIGKILL)
        try:
            proc.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:  # pragma: no cover - the kernel reaps a SIGKILLed child
            pass

    def kill(self, proc: Proc) -> None:
        """SIGKILL ``proc``, its group and every descendant at once (fault injection)."""
        tree = _descendants({proc.pid})
        _signal_group(proc.pid, signal.SIGKILL)
        _kill_all(tree)
        proc.popen.wait(timeout=10)

    def stop_all(self, grace: float = 5.0) -> None:
        """Stop every process started here and its descendants, newest first (users before
        the AP). Descendants are collected first: Flower starts some of them (SuperExec, the
        ServerApp) in sessions of their own, and they would be re-parented once ours exit."""
        tree = _descendants({proc.pid for proc in self.procs})
        for proc in reversed(self.procs):
            _signal_group(proc.pid, signal.SIGTERM)
        end = time.monotonic() + grace
        for proc in reversed(self.procs):
            try:
                proc.popen.wait(timeout=max(0.0, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for proc in self.procs:
            _signal_group(proc.pid, signal.SIGKILL)
            if proc.popen.poll() is None:
                proc.popen.wait(timeout=10)
        # a member forked while the group was being stopped (e.g. a ServerApp process started by
        # the SuperLink) can outlive the first signal: kill what is left of our groups, bounded.
        groups = {proc.pid for proc in self.procs}
        end = time.monotonic() + 5.0
        while time.monotonic() < end:
            left = set(_members(groups)) | {pid for pid in tree if _alive(pid)}
            if not left:
                break
            _kill_all(left)
            time.sleep(0.1)

    def __enter__(self) -> "ProcessGroup":
        return self

    def __exit__(self, *exc) -> None:
        self.stop_all()


def _proc_stat() -> dict[int, tuple[str, int, int]]:
    """``{pid: (state, ppid, pgrp)}`` of every process (Linux /proc)."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        f = stat[stat.rfind(")") + 2:].split()  # after "pid (comm) ": state ppid pgrp ...
        if len(f) > 2:
            out[int(entry.name)] = (f[0], int(f[1]), int(f[2]))
    return out


def _descendants(roots: set[int]) -> set[int]:
    """Every live descendant of ``roots`` (children, grandchildren, …), by parent PID."""
    stat = _proc_stat()
    children: dict[int, list[int]] = {}
    for pid, (_, ppid, _) in stat.items():
        children.setdefault(ppid, []).append(pid)
    out, stack = set(), list(roots)
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in out:
                out.add(child)
                stack.append(child)
    return out


def _alive(pid: int) -> bool:
    st = _proc_stat().get(pid)
    return st is not None and st[0] != "Z"


def _kill_all(pids) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _members(groups: set[int]) -> list[int]:
    """PIDs of live (non-zombie) processes whose process group is one of ``groups``."""
    return [pid for pid, (state, _, pgrp) in _proc_stat().items() if state != "Z" and pgrp in groups]


def _signal_group(pid: int, sig: int) -> None:
    """Signal the group we created for ``pid`` (its PGID equals ``pid``)."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
