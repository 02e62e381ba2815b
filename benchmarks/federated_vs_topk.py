"""Does the federated-vs-Top-K accuracy gap at c = 1 depend on ADMM settings? (README, *Results*)

    python -m benchmarks.federated_vs_topk [--channel-uses 1] [--users 4]

Runs the in-process engine on the default zoo (built on first use) with the README's setting and
one change at a time (ρ, iterations, F₀, pilots, SNR), next to Top-K under the same change, and
prints mean accuracy and MSE over the users.
"""
from __future__ import annotations

import argparse

from protocol.config import RunConfig
from scenarios.engine import run
from scenarios.sources import load_run_latents

VARIANTS = [
    {}, {"rho": 0.1}, {"rho": 10.0}, {"iterations": 300, "tol": 0.0}, {"init": "first-k"}, {"init": "random"},
    {"method": "top-k"}, {"pilots": 6000}, {"method": "top-k", "pilots": 6000}, {"snr_db": 40.0},
    {"method": "top-k", "snr_db": 40.0},
]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.federated_vs_topk", description=__doc__.split("\n\n")[0])
    p.add_argument("--channel-uses", type=int, default=1)
    p.add_argument("--users", type=int, default=4)
    a = p.parse_args(argv)
    base = RunConfig(users=a.users, channel_uses=a.channel_uses)
    data = load_run_latents(base)
    print(f"{'change':<40} {'method':<10} {'accuracy':>9} {'mse':>8}  per user")
    for change in VARIANTS:
        cfg = base.model_copy(update=change)
        r = run(cfg, data)
        label = ", ".join(f"{k}={v}" for k, v in change.items() if k != "method") or "(README setting)"
        print(f"{label:<40} {cfg.method:<10} {r['mean']['accuracy']:>9.3f} {r['mean']['mse']:>8.4f}  "
              f"{[round(u['accuracy'], 3) for u in r['users']]}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
