"""How much of Top-K's accuracy comes from its free index side information alone? (docs/results.md, *User metric*)

    python -m benchmarks.topk_indices [--channel-uses 1] [--users 4] [--ap-encoder vit-sup]

Top-K (DESIGN.md §5) sends, per vector, the K = N_T·c largest AP features *and* their indices,
the indices for free. Here each user fits its affine LS alignment (the baseline's own decoder) on the
index pattern only — a 0/1 mask of which K of the m AP features were largest, no values, no channel,
no noise — and its classifier reads the result. ``log2 C(m, K)`` bits per vector arrive this way,
a per-sample non-linear code that no linear pre-equalizer F can send.
"""
from __future__ import annotations

import argparse
import math

import torch

from channel import PRECISION_DTYPES
from protocol.config import RunConfig
from scenarios.baselines import select_features
from scenarios.engine import run
from scenarios.evaluate import evaluate_users
from scenarios.problem import build_problem
from scenarios.sources import load_run_latents
from user_client.alignment import apply_affine_alignment, fit_affine_alignment


def index_masks(prob, k: int) -> dict[str, torch.Tensor]:
    """``{pilot, test}``: the 0/1 Top-K pattern of the centred AP features, ``[K_users, m, n]``."""
    out = {}
    for split, xw in (("pilot", prob.x), ("test", prob.x_test)):
        xc = prob.ap_whitener.chol @ xw
        vals, idx = select_features(xc, k, "top-k")
        mask = torch.zeros_like(xc).scatter(0, idx, torch.ones_like(vals))
        out[split] = mask.unsqueeze(0).expand(prob.users, -1, -1)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.topk_indices", description=__doc__.split("\n\n")[0])
    p.add_argument("--channel-uses", type=int, default=1)
    p.add_argument("--users", type=int, default=4)
    p.add_argument("--ap-encoder", default="vit-sup")
    a = p.parse_args(argv)
    cfg = RunConfig(users=a.users, channel_uses=a.channel_uses, ap_encoder=a.ap_encoder)
    data = load_run_latents(cfg)
    prob = build_problem(cfg, data, PRECISION_DTYPES[cfg.precision], torch.device("cpu"))
    m, k = prob.x.shape[0], min(cfg.symbols, prob.x.shape[0])
    masks = index_masks(prob, k)
    q = fit_affine_alignment(masks["pilot"], prob.y)
    rows = evaluate_users(prob, data, apply_affine_alignment(q, masks["test"]))
    acc = sum(r["accuracy"] for r in rows) / len(rows)
    print(f"m = {m} complex AP features, K = {k}: log2 C(m, K) = {math.log2(math.comb(m, k)):.1f} free bits per vector")
    print(f"Top-K indices only (no values, no noise)   accuracy {acc:.3f}")
    for method, metric in (("top-k", "mse"), ("federated", "mse"), ("federated", "task"), ("centralised", "task")):
        r = run(cfg.model_copy(update={"method": method, "user_metric": metric}), data)
        print(f"{method:<12} user metric {metric:<5}               accuracy {r['mean']['accuracy']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
