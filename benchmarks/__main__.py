"""``python -m benchmarks`` = ``semalign bench``: the performance suite of :mod:`benchmarks.suite`."""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

__all__ = ["run_bench", "main"]


def run_bench(args: argparse.Namespace) -> int:
    """Run the profile chosen by ``semalign bench`` options (``--quick``/``--profile``, ``--out``, ``--seed``)."""
    from benchmarks.suite import PROFILES, run_suite

    if args.seed < 0:
        print("semalign bench: error: --seed must be >= 0", file=sys.stderr)
        return 2
    name = "quick" if args.quick else (args.profile or "full")
    run_suite(PROFILES[name], seed=args.seed, out=args.out,
              progress=lambda s: print(f"... {s}", file=sys.stderr, flush=True))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from scenarios.cli import main as cli_main

    return cli_main(["bench", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
