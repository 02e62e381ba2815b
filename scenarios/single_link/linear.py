r"""The linear single-link model: the federated ADMM of DESIGN.md §3 with one user — the same
G-step (``user_client``), F-step, Z- and U-steps (``ap_server``) and loop (``scenarios.admm``)
the multi-user engine runs; nothing here re-implements them.

FLOPs per vector of ``ŷ = G(H F x + w)``: ``8 · (M·m + p·R)`` (dense complex ``F`` and ``G``,
the count of :mod:`scenarios.single_link.sparsity`).
"""
from __future__ import annotations

import torch

from ap_server.consensus import power
from protocol.config import RunConfig
from scenarios.engine import run_problem
from scenarios.problem import Problem
from scenarios.single_link.sparsity import flops

__all__ = ["linear_link", "linear_flops"]


def linear_flops(prob: Problem) -> int:
    m, big_m = prob.x.shape[0], prob.h.shape[-1]
    p, r = prob.y.shape[1], prob.h.shape[-2]
    return flops(big_m * m + p * r)


def linear_link(prob: Problem, cfg: RunConfig) -> tuple[torch.Tensor, dict]:
    """ADMM with one user (``cfg.users == 1``); returns decoded test latents ``[1, p, n_te]``
    (whitened RX space) and ``tr(F Fᴴ)`` of the transmitted (feasible) ``Z``, iterations, FLOPs."""
    assert prob.users == 1, "single link: one receiver"
    y_hat, sol = run_problem(cfg.model_copy(update={"method": "federated"}), prob)
    return y_hat, {"tr_power": float(power(sol.transmit).max()), "iterations": sol.iterations,
                   "flops": linear_flops(prob)}
