"""The in-process engine: convergence, centralised parity, reproducibility, results (scenarios/)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from protocol.config import RunConfig
from scenarios.admm import admm_solve, centralised_solve
from scenarios.engine import run
from scenarios.problem import build_problem

CFG = dict(users=4, tx_antennas=2, rx_antennas=2, channel_uses=2, pilots=1200, test_samples=500, tol=0.0)


def _problem(data, **kw):
    cfg = RunConfig(**{**CFG, **kw})
    dtype = torch.complex128 if cfg.precision == "double" else torch.complex64
    return cfg, build_problem(cfg, data, dtype, torch.device("cpu"))


def test_objective_non_increasing_after_first_iterations(synthetic):
    cfg, prob = _problem(synthetic, iterations=60, precision="double")
    hist = [h["objective"] for h in admm_solve(prob, cfg).history]
    tail = hist[5:]
    assert all(b <= a + 1e-9 * abs(a) for a, b in zip(tail, tail[1:])), hist
    assert hist[-1] < hist[0]


@pytest.mark.parametrize("c", [1, 3])
def test_single_user_federated_reaches_centralised(synthetic, c):
    cfg, prob = _problem(synthetic, users=1, channel_uses=c, iterations=300, precision="double")
    fed = admm_solve(prob, cfg).history[-1]["objective"]
    cen = centralised_solve(prob, cfg).history[-1]["objective"]
    assert fed <= cen * 1.01, (fed, cen)


def test_same_seed_same_f_other_seed_differs(synthetic):
    cfg, prob = _problem(synthetic, iterations=10)
    a = admm_solve(prob, cfg).transmit
    cfg2, prob2 = _problem(synthetic, iterations=10)
    assert torch.equal(a, admm_solve(prob2, cfg2).transmit)
    cfg3, prob3 = _problem(synthetic, iterations=10, seed=7)
    assert not torch.allclose(a, admm_solve(prob3, cfg3).transmit)


def test_power_constraint_holds(synthetic):
    for power in (0.1, 5.0):
        cfg, prob = _problem(synthetic, iterations=20, power=power)
        sol = admm_solve(prob, cfg)
        assert float(sol.transmit.abs().pow(2).sum()) <= power * (1 + 1e-5)


def test_multilink_keeps_one_f_per_user(synthetic):
    cfg, prob = _problem(synthetic, iterations=10)
    sol = admm_solve(prob, cfg, shared=False)
    assert sol.transmit.shape[0] == 4


@pytest.mark.parametrize("method", ["federated", "multilink", "centralised", "first-k", "top-k"])
def test_run_writes_results(synthetic, tmp_path, method):
    cfg = RunConfig(**{**CFG, "iterations": 15, "method": method})
    res = run(cfg, synthetic, out=tmp_path)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["config"]["method"] == method
    assert len(saved["users"]) == 4
    for u in saved["users"]:
        assert set(u) >= {"id", "encoder", "mse", "accuracy", "oracle_accuracy"}
        assert 0 <= u["accuracy"] <= 1 and u["mse"] > 0
        assert u["accuracy"] > 0.3  # 5 classes: chance is 0.2
    if method in ("federated", "multilink"):
        assert saved["bytes"]["uplink_total"] > 0 and saved["bytes"]["downlink_total"] > 0
        assert len(saved["history"]) == 15
        assert saved["tr_FFH"] <= 1 + 1e-5
    assert res["mean"]["accuracy"] == pytest.approx(np.mean([u["accuracy"] for u in saved["users"]]))


def test_federated_beats_first_k_mse_when_compressed(synthetic):
    base = {**CFG, "channel_uses": 1, "tx_antennas": 1, "rx_antennas": 1, "iterations": 60}
    fed = run(RunConfig(**base), synthetic)["mean"]["nmse"]
    fk = run(RunConfig(**{**base, "method": "first-k"}), synthetic)["mean"]["nmse"]
    assert fed < 0.9 * fk  # the jointly learned F beats sending the first feature


def test_given_channels_replace_draws(synthetic, tmp_path):
    h = np.zeros((4, 2, 2), np.complex64)
    h[:] = np.eye(2)
    np.savez(tmp_path / "h.npz", H=h)
    cfg, prob = _problem(synthetic, channels=tmp_path / "h.npz")
    assert torch.equal(prob.h_bar, torch.from_numpy(h))
    assert torch.equal(prob.h[0], torch.eye(4, dtype=torch.complex64))


def test_csi_error_changes_training_not_truth(synthetic):
    _, clean = _problem(synthetic)
    _, noisy = _problem(synthetic, csi_nmse=0.2)
    assert torch.equal(clean.h, noisy.h)
    assert not torch.equal(noisy.h_est, noisy.h)


def test_compact_bytes_do_not_grow_with_pilots(synthetic):
    small = run(RunConfig(**{**CFG, "iterations": 3, "pilots": 500}), synthetic)["bytes"]
    big = run(RunConfig(**{**CFG, "iterations": 3, "pilots": 1500}), synthetic)["bytes"]
    assert small["uplink_per_round"] == big["uplink_per_round"]
    paper_s = run(RunConfig(**{**CFG, "iterations": 3, "pilots": 500, "protocol": "paper"}), synthetic)["bytes"]
    paper_b = run(RunConfig(**{**CFG, "iterations": 3, "pilots": 1500, "protocol": "paper"}), synthetic)["bytes"]
    assert paper_b["uplink_per_round"] > paper_s["uplink_per_round"]


def test_divergence_is_reported_not_silent(synthetic):
    from ap_server.admm import divergence_warning

    rec = lambda r: {"primal_residual": r}  # noqa: E731
    assert divergence_warning([rec(0.03), rec(0.001), rec(0.0004)]) is None
    assert divergence_warning([rec(0.03), rec(0.001), rec(0.5)]) is None  # still below 1
    assert divergence_warning([rec(3.0), rec(2.0), rec(5.0)]) is None  # not 100x its best
    assert "diverged" in divergence_warning([rec(0.03), rec(0.001), rec(5e3)])
    res = run(RunConfig(**{**CFG, "iterations": 10}), synthetic)
    assert res["warnings"] == []
