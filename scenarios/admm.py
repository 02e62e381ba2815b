"""The in-process federated ADMM: K users batched in one process (DESIGN.md §3).

The loop only orchestrates: every step is a function of ``user_client`` or ``ap_server``,
the same ones the Flower runtime calls — except that a shared, whitened, plain-mean run with the
paper's fixed ρ and shared dual takes
:func:`scenarios.fused_round.fused_shared_round`, the same numbers in fewer operations.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Callable

import torch

from ap_server import APState, PenaltyRule, ap_update, constrained_f_step, initial_f, start_state
from ap_server.admm import divergence_warning, real_matrix
from ap_server.consensus import power
from channel import make_generator
from protocol.config import RunConfig
from scenarios.fused_round import RoundOperands, fused_shared_round
from scenarios.problem import Problem
from user_client.gstep import uplink_stats_fused
from user_client.objective import profiled_objective

log = logging.getLogger("semalign.engine")

__all__ = ["SolveResult", "admm_solve", "centralised_solve", "profile_objective", "round_stats", "initial_state_f"]


@dataclass
class SolveResult:
    """Final pre-equalizer(s) to transmit with and the per-iteration history."""

    transmit: torch.Tensor  # [1 or K, M, m]
    state: APState | None
    history: list[dict] = field(default_factory=list)
    iterations: int = 0


def profile_objective(prob: Problem, f: torch.Tensor) -> torch.Tensor:
    """Per-user objective ``J_k`` at ``F`` with each user's optimal ``G_k`` (``[K]``)."""
    return profiled_objective(f, prob.h_est, prob.rxx, prob.tyy, prob.ryy_trace, prob.noise_var)


def round_stats(prob: Problem, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """All users' G-step and uplink ``(A^H A, A^H R_yx)`` at ``F``, batched, in the fused
    ``M``-dimensional form (:func:`user_client.gstep.uplink_stats_fused`; same numbers as
    ``g_step`` + ``uplink_stats``, which the Flower users run)."""
    return uplink_stats_fused(f, prob.h_est, prob.rxx, prob.tyy, prob.noise_var)


def initial_state_f(prob: Problem, cfg: RunConfig) -> torch.Tensor:
    """``F₀`` for this run (DESIGN.md §3, initialisation)."""
    gen = make_generator(cfg.seed, "init", prob.x.device)
    return initial_f(cfg.init, cfg.f_rows, prob.ap_whitener.chol, cfg.power, gen,
                     real=prob.processing == "widely-linear")


def admm_solve(
    prob: Problem,
    cfg: RunConfig,
    shared: bool = True,
    track: bool = True,
    on_iteration: Callable[[int, dict], None] | None = None,
) -> SolveResult:
    """Federated (``shared``) or multi-link ADMM for ``cfg.iterations`` or until the
    relative primal and dual residuals fall below ``cfg.tol``."""
    state = start_state(initial_state_f(prob, cfg), cfg.power, prob.users, shared, cfg.dual)
    rxx = None if cfg.whiten else prob.rxx
    rule = PenaltyRule.from_config(cfg)
    # the fused round (all users here, same numbers) covers the paper's fixed ρ and shared dual only
    fused = shared and rxx is None and cfg.aggregation == "mean" and rule.mode == "fixed" and cfg.dual == "shared"
    real = prob.processing == "widely-linear"
    ops = RoundOperands.build(prob.h_est, prob.tyy, prob.noise_var, prob.rxx) if fused else None
    history: list[dict] = []
    it = 0
    for it in range(1, cfg.iterations + 1):
        if ops is not None:  # all users in this process: one fused round (same numbers)
            state, res = fused_shared_round(state, ops, cfg.rho, cfg.power)
            res = replace(res, rho=cfg.rho)
        else:
            gram, cross = round_stats(prob, state.f)
            state, res = ap_update(state, gram, cross, rule, cfg.power, shared=shared, rxx=rxx,
                                   aggregation=cfg.aggregation, trim=cfg.trim)
        if real:
            state = state.real_part()
        rec = {"iteration": it, "primal_residual": res.primal, "dual_residual": res.dual, "rho": res.rho,
               "tr_FFH": float(power(state.f).max())}
        if track:
            rec["objective"] = float(profile_objective(prob, state.transmit(cfg.transmit)).sum())
        history.append(rec)
        if on_iteration is not None:
            on_iteration(it, rec)
        if cfg.tol > 0 and it > 1 and res.primal < cfg.tol and res.dual < cfg.tol:
            break
    warning = divergence_warning(history)
    if warning:
        log.warning(warning)
    return SolveResult(transmit=state.transmit(cfg.transmit), state=state, history=history, iterations=it)


def centralised_solve(
    prob: Problem, cfg: RunConfig, on_iteration: Callable[[int, dict], None] | None = None
) -> SolveResult:
    """All data in one place: exact G-steps and the exact power-constrained F-step,
    alternated from the same ``F₀`` until the objective stops falling (DESIGN.md §5)."""
    f = start_state(initial_state_f(prob, cfg), cfg.power, prob.users, True).z
    history: list[dict] = []
    prev = float("inf")
    it = 0
    for it in range(1, cfg.iterations + 1):
        gram, cross = round_stats(prob, f)
        f = constrained_f_step(gram.sum(0), cross.sum(0), prob.rxx, cfg.power).unsqueeze(0)
        if prob.processing == "widely-linear":
            f = real_matrix(f)
        obj = float(profile_objective(prob, f).sum())
        rec = {"iteration": it, "objective": obj, "tr_FFH": float(power(f).max())}
        history.append(rec)
        if on_iteration is not None:
            on_iteration(it, rec)
        if cfg.tol > 0 and abs(prev - obj) <= cfg.tol * abs(obj):
            break
        prev = obj
    return SolveResult(transmit=f, state=None, history=history, iterations=it)
