"""What widely-linear processing costs and gives (DESIGN.md §2; docs/results.md, *Widely-linear processing*).

    python -m benchmarks.widely_linear [--uses 1,4] [--users 4] [--repeats 3]

On the default zoo (built on first use), for each c: the wall time of the engine's 50 ADMM
iterations with complex-linear (paper) and widely-linear F and G on the same problem (same
pilots, channels, noise; interleaved repeats, minimum kept; 1 torch thread), their ratio, and
the mean accuracy of both next to Top-K. Widely-linear matrices have twice the rows and columns
and are kept complex (zero imaginary parts) so the math core runs unchanged: a dense product
does 2³ = 8× the work of the complex-linear one (a real-dtype core would do 2×). At these sizes
overhead dominates, and the ratio measured here is what a user pays.
"""
from __future__ import annotations

import argparse
import time

import torch

from channel import PRECISION_DTYPES
from protocol.config import RunConfig
from scenarios.admm import admm_solve
from scenarios.engine import run
from scenarios.problem import build_problem
from scenarios.sources import load_run_latents

PROCESSING = ("linear", "widely-linear")


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.widely_linear", description=__doc__.split("\n\n")[0])
    p.add_argument("--uses", type=_ints, default=[1, 4], help="channel uses c, comma-separated")
    p.add_argument("--users", type=int, default=4)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    data = load_run_latents(RunConfig(users=a.users))
    print(f"{'c':>2} {'processing':<14} {'ms / iteration':>15} {'ratio':>6} {'accuracy':>9} {'Top-K':>6}")
    for c in a.uses:
        cfgs = {proc: RunConfig(users=a.users, channel_uses=c, processing=proc, tol=0.0) for proc in PROCESSING}
        probs = {proc: build_problem(cfg, data, PRECISION_DTYPES[cfg.precision], torch.device("cpu"))
                 for proc, cfg in cfgs.items()}
        best = {proc: float("inf") for proc in PROCESSING}
        for _ in range(a.repeats):
            for proc in PROCESSING:  # interleaved, so load from other jobs hits both alike
                start = time.perf_counter()
                admm_solve(probs[proc], cfgs[proc], track=False)
                best[proc] = min(best[proc], (time.perf_counter() - start) / cfgs[proc].iterations)
        topk = run(cfgs["linear"].model_copy(update={"method": "top-k"}), data)["mean"]["accuracy"]
        for proc in PROCESSING:
            acc = run(cfgs[proc], data)["mean"]["accuracy"]
            print(f"{c:>2} {proc:<14} {best[proc] * 1e3:>15.3f} {best[proc] / best['linear']:>5.2f}x "
                  f"{acc:>9.3f} {topk:>6.3f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
