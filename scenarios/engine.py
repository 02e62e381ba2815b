"""The in-process engine: one run of a method with K users batched, and its results.json."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ap_server.consensus import power
from channel import PRECISION_DTYPES, add_user_noise, add_user_noise_composite
from protocol.accounting import matrix_bytes, round_message_shapes
from protocol.config import RunConfig
from protocol.packing import complex_dim
from ap_server.admm import divergence_warning
from scenarios.admm import SolveResult, admm_solve, centralised_solve
from scenarios.baselines import selection_baseline
from scenarios.evaluate import evaluate_users
from scenarios.latents import LatentData
from scenarios.problem import Problem, build_problem, resolve_device
from protocol.atomic import write_json_atomic, write_npz_atomic
from user_client import g_step

__all__ = ["run", "run_problem", "decode_with", "payload_bytes"]


def decode_with(prob: Problem, f: torch.Tensor, seed: int) -> torch.Tensor:
    """Transmit the test set with ``F`` through the true channels; each user designs its
    final ``G_k`` on its estimate and decodes: ``Ŷ = G (H F X + W)`` ``[K, p, n_te]``."""
    g = g_step(prob.h_est @ f, prob.rxx, prob.ryx, prob.noise_var)
    noisy = add_user_noise_composite if prob.processing == "widely-linear" else add_user_noise
    rx = noisy(prob.h @ f @ prob.x_test, prob.noise_var, seed, "eval-noise")
    return g @ rx


def payload_bytes(cfg: RunConfig, prob: Problem, rounds: int) -> dict:
    """Bytes each way for ``rounds`` ADMM rounds (DESIGN.md §4 message shapes); widely-linear
    messages are real matrices (half the bytes per entry) on real and imaginary parts."""
    item = 16 if cfg.precision == "double" else 8
    rows = 1
    if prob.processing == "widely-linear":
        item, rows = item // 2, 2
    shapes = round_message_shapes(
        cfg.protocol, cfg.csi, prob.x.shape[0], prob.n, cfg.f_rows, rows * cfg.rx_antennas * cfg.channel_uses
    )
    per = {k: sum(matrix_bytes(s, item) for s in v) * prob.users for k, v in shapes.items()}
    return {
        "protocol": cfg.protocol,
        "setup_downlink": per["setup"],
        "downlink_per_round": per["downlink"],
        "uplink_per_round": per["uplink"],
        "downlink_total": per["setup"] + per["downlink"] * rounds,
        "uplink_total": per["uplink"] * rounds,
        "rounds": rounds,
    }


def run_problem(
    cfg: RunConfig, prob: Problem, on_iteration: Callable[[int, dict], None] | None = None
) -> tuple[torch.Tensor, SolveResult | None]:
    """Run ``cfg.method`` on a built problem; returns decoded test latents and the solve."""
    if cfg.method in ("federated", "multilink"):
        sol = admm_solve(prob, cfg, shared=cfg.method == "federated", on_iteration=on_iteration)
    elif cfg.method == "centralised":
        sol = centralised_solve(prob, cfg, on_iteration=on_iteration)
    else:
        return selection_baseline(prob, cfg, cfg.method), None
    return decode_with(prob, sol.transmit, cfg.seed), sol


def run(
    cfg: RunConfig,
    data: LatentData,
    out: Path | None = None,
    on_iteration: Callable[[int, dict], None] | None = None,
) -> dict:
    """One run end to end; writes ``out/results.json`` (and the pre-equalizer) when ``out``."""
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    start = time.perf_counter()
    if cfg.method in ("first-k", "top-k") and cfg.processing != "linear":
        cfg = cfg.model_copy(update={"processing": "linear"})  # baselines send complex features (DESIGN.md §5)
    device = resolve_device(cfg.device)
    prob = build_problem(cfg, data, PRECISION_DTYPES[cfg.precision], device)
    y_hat, sol = run_problem(cfg, prob, on_iteration)
    users = evaluate_users(prob, data, y_hat)
    snrs = cfg.snrs()
    for row in users:
        row["snr_db"] = snrs[row["id"]]
    result = {
        "config": cfg.model_dump(mode="json"),
        "method": cfg.method,
        "source": data.source,
        "ap_encoder": data.ap_name,
        "compression": cfg.symbols / complex_dim(data.ap_train.shape[1]),
        "users": users,
        "mean": {
            key: (float(np.mean([u[key] for u in users])) if all(u[key] is not None for u in users) else None)
            for key in ("mse", "nmse", "accuracy", "oracle_accuracy")
        },
        "tr_FFH": float(power(sol.transmit).max()) if sol is not None else None,
        "iterations": sol.iterations if sol is not None else 0,
        "bytes": payload_bytes(cfg, prob, sol.iterations) if sol is not None and cfg.method != "centralised" else None,
        "history": sol.history if sol is not None else [],
        "warnings": [w for w in [divergence_warning(sol.history) if sol is not None else None] if w],
        "device": str(device),
        "wall_time_s": time.perf_counter() - start,
    }
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out / "results.json", result)
        if sol is not None:
            f = sol.transmit.cpu().numpy()
            write_npz_atomic(out / "pre_equalizer.npz", F=f)
    return result
