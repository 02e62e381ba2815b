"""The engine's fused shared round equals the split round the Flower runtime runs (DESIGN.md §3)."""
from __future__ import annotations

import pytest
import torch

from ap_server import ap_update, start_state
from protocol.config import RunConfig
from scenarios.admm import admm_solve
from scenarios.fused_round import RoundOperands, fused_shared_round
from scenarios.problem import build_problem
from user_client.gstep import ryx_gram, uplink_stats_fused


def _cn(*shape: int, gen: torch.Generator) -> torch.Tensor:
    return torch.complex(torch.randn(*shape, generator=gen, dtype=torch.float64),
                         torch.randn(*shape, generator=gen, dtype=torch.float64)) / 2 ** 0.5


@pytest.mark.parametrize("budget", [0.05, 1e6])  # projection active / inactive
@pytest.mark.parametrize("rho", [0.3, 4.0])
def test_fused_round_equals_split_round(budget, rho):
    gen = torch.Generator().manual_seed(7)
    k, r, big_m, m, p = 5, 6, 4, 9, 11
    h = _cn(k, r, big_m, gen=gen)
    ryx = _cn(k, p, m, gen=gen)
    ryx[1, 7:] = 0  # a user with fewer features (zero-padded rows)
    noise_var = torch.rand(k, generator=gen, dtype=torch.float64) + 0.05
    state = start_state(_cn(1, big_m, m, gen=gen), budget, k, shared=True)
    ops = RoundOperands.build(h, ryx_gram(ryx), noise_var, None)
    split, fused = state, state
    for _ in range(6):
        gram, cross = uplink_stats_fused(split.f, h, None, ryx_gram(ryx), noise_var)
        split, res_s = ap_update(split, gram, cross, rho, budget, shared=True)
        fused, res_f = fused_shared_round(fused, ops, rho, budget)
        for a, b in ((split.f, fused.f), (split.z, fused.z), (split.u, fused.u)):
            assert torch.allclose(a, b, rtol=1e-10, atol=1e-12)
        assert res_f.primal == pytest.approx(res_s.primal, rel=1e-8, abs=1e-14)
        assert res_f.dual == pytest.approx(res_s.dual, rel=1e-8, abs=1e-14)
    assert fused.round == 6


def test_fused_round_with_general_rxx_matches_uplink():
    """With a non-identity R_xx the users' side still matches (F-step stays closed form)."""
    gen = torch.Generator().manual_seed(3)
    k, big_m, m = 3, 4, 6
    h = _cn(k, big_m, big_m, gen=gen)
    x = _cn(m, 50, gen=gen)
    rxx = x @ x.mH / 50
    tyy = ryx_gram(_cn(k, 8, m, gen=gen))
    nv = torch.full((k,), 0.1, dtype=torch.float64)
    state = start_state(_cn(1, big_m, m, gen=gen), 1.0, k, shared=True)
    gram, cross = uplink_stats_fused(state.f, h, rxx, tyy, nv)
    want, _ = ap_update(state, gram, cross, 1.0, 1.0, shared=True)
    got, _ = fused_shared_round(state, RoundOperands.build(h, tyy, nv, rxx), 1.0, 1.0)
    assert torch.allclose(got.f, want.f, rtol=1e-10, atol=1e-12)


def test_engine_takes_fused_round_and_matches_split_path(synthetic, monkeypatch):
    cfg = RunConfig(users=4, tx_antennas=2, rx_antennas=2, channel_uses=2, pilots=1200, test_samples=500,
                    tol=0.0, iterations=15, precision="double")
    prob = build_problem(cfg, synthetic, torch.complex128, torch.device("cpu"))
    calls = []
    import scenarios.admm as admm

    real = admm.fused_shared_round
    monkeypatch.setattr(admm, "fused_shared_round", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    fused = admm_solve(prob, cfg)
    assert len(calls) == 15
    # the split path (users' uplink, then the AP update), by hand from the same start
    state = start_state(admm.initial_state_f(prob, cfg), cfg.power, prob.users, True)
    for _ in range(15):
        gram, cross = admm.round_stats(prob, state.f)
        state, _ = ap_update(state, gram, cross, cfg.rho, cfg.power, shared=True)
    assert torch.allclose(fused.state.f, state.f, rtol=1e-8, atol=1e-10)
    assert [h["objective"] for h in fused.history][-1] == pytest.approx(
        float(admm.profile_objective(prob, state.z).sum()), rel=1e-8)


@pytest.mark.parametrize("change", [dict(whiten=False), dict(aggregation="trimmed-mean"), dict(rho_mode="adaptive"),
                                    dict(dual="per-user"), dict(method="multilink")])
def test_engine_keeps_the_split_path_where_the_fused_round_does_not_apply(synthetic, monkeypatch, change):
    import scenarios.admm as admm

    cfg = RunConfig(users=3, tx_antennas=2, rx_antennas=2, channel_uses=1, pilots=600, test_samples=200,
                    tol=0.0, iterations=3, **change)
    prob = build_problem(cfg, synthetic, torch.complex64, torch.device("cpu"))
    calls = []
    real = admm.fused_shared_round
    monkeypatch.setattr(admm, "fused_shared_round", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    admm_solve(prob, cfg, shared=cfg.method != "multilink", track=False)
    assert calls == []
