"""``python -m benchmarks`` (= ``semalign bench``): the performance suite of :mod:`benchmarks.suite`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

__all__ = ["add_bench_options", "run_bench", "main"]


def add_bench_options(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true", help="quick profile (< 5 min on 2 idle cores)")
    g.add_argument("--profile", choices=("tiny", "quick", "full"), help="profile (default: full)")
    p.add_argument("--out", type=Path, help="write bench.json and PNG figures to this folder")
    p.add_argument("--seed", type=int, default=0, help="seed of the random problem data")


def run_bench(args: argparse.Namespace) -> int:
    from benchmarks.suite import PROFILES, run_suite

    name = "quick" if args.quick else (args.profile or "full")
    if args.seed < 0:
        print("semalign bench: error: --seed must be >= 0", file=sys.stderr)
        return 2
    run_suite(PROFILES[name], seed=args.seed, out=args.out,
              progress=lambda s: print(f"... {s}", file=sys.stderr, flush=True))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description="speed of the federated aligner vs the limit")
    add_bench_options(p)
    return run_bench(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
