"""Summarise ``py-spy record --format raw`` files: where a process spends its samples.

    python -m benchmarks.profile_stacks FILE.txt [--top 25]

Prints the share of samples per leaf function ("self") and per function anywhere on the
stack ("total"), idle samples (``--idle`` recordings) included and marked.
"""
from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

__all__ = ["summarise", "main"]


def _frame(f: str) -> str:
    # "func (path/to/file.py:123)" -> "func (file.py)"
    name, _, loc = f.partition(" (")
    loc = loc.rstrip(")").rsplit(":", 1)[0]
    return f"{name} ({'/'.join(Path(loc).parts[-2:])})" if loc else name


def summarise(path: Path, top: int = 25) -> dict:
    self_c: collections.Counter[str] = collections.Counter()
    total_c: collections.Counter[str] = collections.Counter()
    n = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        c = int(count)
        frames = [_frame(f) for f in stack.split(";") if f]
        n += c
        if frames:
            self_c[frames[-1]] += c
        for f in set(frames):
            total_c[f] += c
    return {"samples": n, "self": self_c.most_common(top), "total": total_c.most_common(top)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.profile_stacks", description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--top", type=int, default=25)
    a = p.parse_args(argv)
    if missing := [str(f) for f in a.files if not f.is_file()]:
        p.error(f"no such file: {', '.join(missing)}")
    for f in a.files:
        s = summarise(f, a.top)
        print(f"## {f} ({s['samples']} samples)")
        for title in ("self", "total"):
            print(f"  {title}:")
            for name, c in s[title]:
                print(f"    {100 * c / max(1, s['samples']):5.1f}%  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
