"""The AP's penalty rule (DESIGN.md §3 step 6): residual balancing, the scaled start, a batched ρ
in the F-steps, and what it buys on a single user (ap_server/penalty.py)."""
from __future__ import annotations

import pytest
import torch

from ap_server import (
    PenaltyRule, ap_update, local_f_step_closed, local_f_step_sylvester, start_state,
)
from ap_server.penalty import balance_penalty, consensus_residuals, scaled_penalty
from protocol.config import ConfigError, parse_run_config
from scenarios.admm import admm_solve, centralised_solve
from scenarios.problem import build_problem
from tests.conftest import crandn

K, M, m = 3, 4, 6


def _hermitian_psd(k: int, size: int, gen: torch.Generator) -> torch.Tensor:
    a = crandn(k, size, size, generator=gen)
    return a @ a.mH


def test_balance_penalty_rule_on_numbers():
    rho = torch.tensor([1.0, 4.0, 2.0, 0.5], dtype=torch.float64)
    r = torch.tensor([11.0, 0.1, 1.0, 5.0], dtype=torch.float64)  # r > 10 s | s > 10 r | within | r = 10 s
    s = torch.tensor([1.0, 1.01, 3.0, 0.5], dtype=torch.float64)
    new, u_scale = balance_penalty(rho, r, s, mu=10.0, tau=2.0)
    assert new.tolist() == [2.0, 2.0, 2.0, 0.5]
    assert u_scale.tolist() == [0.5, 2.0, 1.0, 1.0]
    assert torch.allclose(new * u_scale, rho)  # the unscaled dual ρU is unchanged
    new3, _ = balance_penalty(rho, r, s, mu=10.0, tau=3.0)
    assert new3.tolist() == [3.0, 4.0 / 3.0, 2.0, 0.5]
    capped, u_cap = balance_penalty(rho, r, s, mu=10.0, tau=2.0, lo=1.0, hi=1.5)  # bounded: no overflow
    assert capped.tolist() == [1.5, 1.5, 1.5, 1.0]
    assert torch.allclose(capped * u_cap, rho)


def test_consensus_residuals_match_a_loop():
    gen = torch.Generator().manual_seed(11)
    fl, z, zp = crandn(K, M, m, generator=gen), crandn(1, M, m, generator=gen), crandn(1, M, m, generator=gen)
    rho = torch.tensor([3.0], dtype=torch.float64)
    w = torch.tensor([1.0, 0.0, 1.0])
    r, s = consensus_residuals(fl, z, zp, rho, shared=True, weights=w)
    assert torch.allclose(r, ((fl[0] - z[0]).norm() ** 2 + (fl[2] - z[0]).norm() ** 2).sqrt().reshape(1))
    assert torch.allclose(s, (3.0 * 2**0.5 * (z - zp).norm()).reshape(1))
    # multi-link: one problem per user; a silent user has no residuals
    zk, zkp = crandn(K, M, m, generator=gen), crandn(K, M, m, generator=gen)
    rk, sk = consensus_residuals(fl, zk, zkp, torch.full((K,), 2.0, dtype=torch.float64), shared=False, weights=w)
    for k in (0, 2):
        assert torch.isclose(rk[k], (fl[k] - zk[k]).norm().double()) and torch.isclose(sk[k], 2 * (zk[k] - zkp[k]).norm().double())
    assert rk[1] == 0 and sk[1] == 0


def test_scaled_penalty_is_mean_gram_eigenvalue():
    gen = torch.Generator().manual_seed(12)
    gram = _hermitian_psd(K, M, gen)
    eig = torch.linalg.eigvalsh(gram)  # [K, M]
    w = torch.tensor([1.0, 1.0, 0.0])
    assert torch.allclose(scaled_penalty(gram, 2.0, True, w), 2.0 * eig[:2].mean().reshape(1))
    assert torch.allclose(scaled_penalty(gram, 1.0, False), eig.mean(-1))
    assert scaled_penalty(torch.zeros_like(gram), 2.0, True, fallback=0.7).tolist() == [0.7]  # nothing to scale by


@pytest.mark.parametrize("step", ["closed", "sylvester"])
def test_batched_rho_f_step_equals_per_user_floats(step):
    gen = torch.Generator().manual_seed(13)
    gram, rxx = _hermitian_psd(K, M, gen), _hermitian_psd(1, m, gen)[0] / m
    cross, z, u = crandn(K, M, m, generator=gen), crandn(K, M, m, generator=gen), crandn(K, M, m, generator=gen)
    rho = torch.tensor([0.3, 2.0, 50.0], dtype=torch.float64)

    def fstep(*a):
        return local_f_step_closed(*a) if step == "closed" else local_f_step_sylvester(a[0], a[1], rxx, *a[2:])

    batched = fstep(gram, cross, z, u, rho)
    for k in range(K):
        one = fstep(gram[k:k + 1], cross[k:k + 1], z[k:k + 1], u[k:k + 1], float(rho[k]))
        assert torch.allclose(batched[k:k + 1], one, atol=1e-10)


def plain_local(state, gram, cross, rho):
    return local_f_step_closed(gram, cross, state.z, state.u, rho)


def test_ap_update_adaptive_rescales_dual_and_carries_rho():
    gen = torch.Generator().manual_seed(14)
    gram, cross = _hermitian_psd(K, M, gen), crandn(K, M, m, generator=gen)
    state = start_state(crandn(1, M, m, generator=gen) * 5, 1.0, K, shared=True)
    rule = PenaltyRule(mode="scaled-adaptive", scale=1.0, mu=1.01)  # μ ≈ 1: almost any imbalance moves ρ
    new, res = ap_update(state, gram, cross, rule, 1.0)
    rho0 = scaled_penalty(gram, 1.0, True)
    assert res.rho == pytest.approx(float(rho0))
    plain, _ = ap_update(state, gram, cross, PenaltyRule(mode="scaled", scale=1.0), 1.0)
    assert torch.allclose(new.f, plain.f) and torch.allclose(new.z, plain.z)
    assert torch.allclose(new.rho * new.u, rho0 * plain.u)  # ρU unchanged by the rescale
    r, s = consensus_residuals(plain_local(state, gram, cross, rho0), new.z, state.z, rho0, True)
    assert torch.allclose(new.rho, rho0 * (2.0 if r > 1.01 * s else 0.5))
    again, res2 = ap_update(new, gram, cross, rule, 1.0)
    assert res2.rho == pytest.approx(float(new.rho))  # the carried ρ is used, not re-scaled
    fixed, res_f = ap_update(state, gram, cross, 1.0, 1.0)
    assert res_f.rho == 1.0 and torch.equal(fixed.rho, torch.ones(1, dtype=torch.float64))


def test_single_user_adaptive_reaches_centralised_where_fixed_does_not(synthetic):
    """One user, 40 iterations: a fixed ρ 100× too large stops > 1 % above the centralised
    objective; residual balancing from the same ρ reaches it within 1 %."""
    cfg = parse_run_config(dict(users=1, tx_antennas=2, rx_antennas=2, channel_uses=3, pilots=1200, test_samples=500,
                                tol=0.0, iterations=40, precision="double", rho=100.0))
    prob = build_problem(cfg, synthetic, torch.complex128, torch.device("cpu"))
    cen = centralised_solve(prob, cfg).history[-1]["objective"]
    fixed = admm_solve(prob, cfg).history[-1]["objective"]
    adaptive = admm_solve(prob, cfg.model_copy(update={"rho_mode": "adaptive"}))
    assert fixed > cen * 1.01, (fixed, cen)
    assert adaptive.history[-1]["objective"] <= cen * 1.01, (adaptive.history[-1]["objective"], cen)
    assert adaptive.history[-1]["rho"] < 100.0  # it got there by lowering ρ


def test_config_rejects_bad_penalty_settings():
    for bad, field in ((dict(rho_mode="auto"), "rho_mode"), (dict(rho_mu=1.0), "rho_mu"),
                       (dict(rho_tau=0.5), "rho_tau"), (dict(rho_scale=0), "rho_scale"), (dict(dual="each"), "dual"), (dict(rho=float("nan")), "rho")):
        with pytest.raises(ConfigError, match=f"field '{field}'"):
            parse_run_config(bad)


def _task_problem(data, **kw):
    cfg = parse_run_config(dict(users=4, tx_antennas=2, rx_antennas=2, channel_uses=1, pilots=1200, test_samples=500,
                                tol=0.0, iterations=50, user_metric="task", **kw))
    prob = build_problem(cfg, data, torch.complex64, torch.device("cpu"))
    return cfg, prob, centralised_solve(prob, cfg).history[-1]["objective"]


def test_four_users_adaptive_from_small_rho_reaches_centralised(synthetic):
    """Four users with their task metrics (grams far from ρ's scale): fixed ρ = 0.01 stops > 1 %
    above the centralised objective, residual balancing from the same ρ within 1 %."""
    cfg, prob, cen = _task_problem(synthetic, rho=0.01)
    fixed = admm_solve(prob, cfg).history[-1]["objective"]
    adaptive = admm_solve(prob, cfg.model_copy(update={"rho_mode": "adaptive"})).history
    assert fixed > cen * 1.01, (fixed, cen)
    assert adaptive[-1]["objective"] <= cen * 1.01, (adaptive[-1]["objective"], cen)
    assert adaptive[-1]["rho"] > 0.01


def test_per_user_duals_remove_the_shared_dual_bias(synthetic):
    """The shared dual's fixed point weights users by inverse curvature (DESIGN.md §3 step 6): at
    ρ = 1 it stays > 1 % above the centralised objective; per-user duals reach it within 0.5 %."""
    cfg, prob, cen = _task_problem(synthetic)
    shared = admm_solve(prob, cfg).history[-1]["objective"]
    per_user = admm_solve(prob, cfg.model_copy(update={"dual": "per-user"}))
    assert shared > cen * 1.01, (shared, cen)
    assert per_user.history[-1]["objective"] <= cen * 1.005, (per_user.history[-1]["objective"], cen)
    assert per_user.state.u.shape[0] == 4


def test_per_user_dual_steps_equal_a_loop():
    gen = torch.Generator().manual_seed(15)
    gram, cross = _hermitian_psd(K, M, gen), crandn(K, M, m, generator=gen)
    state = start_state(crandn(1, M, m, generator=gen), 0.5, K, shared=True, dual="per-user")
    assert state.u.shape == (K, M, m)
    state = state.__class__(f=state.f, z=state.z, u=crandn(K, M, m, generator=gen) * 0.1, round=3)
    w = torch.tensor([1.0, 0.0, 1.0])
    new, _ = ap_update(state, gram, cross, 2.0, 0.5, weights=w)
    fl = [local_f_step_closed(gram[k:k + 1], cross[k:k + 1], state.z, state.u[k:k + 1], 2.0) for k in range(K)]
    v = (fl[0] + state.u[0] + fl[2] + state.u[2]) / 2
    z = v * min(1.0, (0.5 / float(v.abs().square().sum())) ** 0.5)
    assert torch.allclose(new.z, z, atol=1e-12)
    assert torch.allclose(new.f, (fl[0] + fl[2]) / 2, atol=1e-12)
    for k in (0, 2):
        assert torch.allclose(new.u[k:k + 1], state.u[k:k + 1] + fl[k] - z, atol=1e-12)
    assert torch.equal(new.u[1], state.u[1])  # silent user keeps its dual


def test_coordinator_equals_engine_and_resumes_with_rho_and_per_user_duals(synthetic, tmp_path):
    """The ServerApp's Coordinator runs the same ρ rule and duals as the engine, and its
    checkpoint carries ρ and the per-user duals (a resumed run ends with the same F)."""
    from ap_server.coordinator import Coordinator
    from scenarios.loopback import exchange_round, handshake, make_devices, run_loopback

    cfg = parse_run_config(dict(users=3, tx_antennas=2, rx_antennas=2, channel_uses=2, pilots=900, test_samples=300,
                                iterations=8, tol=0.0, rho_mode="scaled-adaptive", rho_scale=0.01, dual="per-user",
                                user_metric="task"))
    _, full = run_loopback(cfg, synthetic)
    ref = admm_solve(build_problem(cfg, synthetic, torch.complex64, torch.device("cpu")), cfg, track=False)
    assert float((full.transmit - ref.transmit).norm() / ref.transmit.norm()) <= 1e-5
    assert [h["rho"] for h in full.history] == pytest.approx([h["rho"] for h in ref.history], rel=1e-5)
    assert len({h["rho"] for h in full.history}) > 1  # ρ moved
    coord, devices = Coordinator(cfg, synthetic.ap_train, synthetic.ap_test), make_devices(cfg, synthetic)
    handshake(coord, devices)
    for _ in range(4):
        coord.step(exchange_round(coord, devices))
    coord.checkpoint(tmp_path)
    again = Coordinator(cfg, synthetic.ap_train, synthetic.ap_test)
    assert again.restore(tmp_path) and torch.equal(again.state.rho, coord.state.rho)
    assert again.state.u.shape[0] == 3
    for d in devices:
        again.accept_join(d.join_request().model_dump())
    while not again.converged():
        again.step(exchange_round(again, devices))
    assert torch.equal(again.transmit, full.transmit)


def test_checkpoint_from_before_the_penalty_fields_resumes(synthetic, tmp_path):
    """A checkpoint written before ``rho_mode``/``dual`` existed holds their defaults: it resumes."""
    import json

    import numpy as np

    from ap_server.coordinator import STATE_FILE, Coordinator
    from scenarios.loopback import exchange_round, handshake, make_devices

    cfg = parse_run_config(dict(users=2, tx_antennas=2, rx_antennas=2, channel_uses=1, pilots=600, test_samples=200,
                                iterations=4, tol=0.0))
    coord, devices = Coordinator(cfg, synthetic.ap_train, synthetic.ap_test), make_devices(cfg, synthetic)
    handshake(coord, devices)
    coord.step(exchange_round(coord, devices))
    coord.checkpoint(tmp_path)
    path = tmp_path / STATE_FILE
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays["meta"]))
    for key in ("rho_mode", "rho_scale", "rho_mu", "rho_tau", "dual"):
        del meta["config"][key]
    arrays["meta"] = np.array(json.dumps(meta))
    arrays.pop("RHO", None)
    np.savez(path, **arrays)
    again = Coordinator(cfg, synthetic.ap_train, synthetic.ap_test)
    assert again.restore(tmp_path) and again.round == coord.round
    other = parse_run_config(dict(users=2, tx_antennas=2, rx_antennas=2, channel_uses=1, pilots=600, test_samples=200,
                                  iterations=4, tol=0.0, dual="per-user"))
    with pytest.raises(ValueError, match="different run configuration"):
        Coordinator(other, synthetic.ap_train, synthetic.ap_test).restore(tmp_path)
