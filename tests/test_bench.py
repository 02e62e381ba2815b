"""The performance suite: its straightforward baseline, the fused kernels it times, and `semalign bench`.

Functional only: no timing is asserted anywhere.
"""
from __future__ import annotations

import json
import math

import pytest
import torch

from ap_server import ap_update
from benchmarks.kernels import Shape, compact_stats, engine_iteration, pilot_problem, rel_diff, to_direct
from benchmarks.straightforward import direct_iteration, direct_solve
from scenarios.cli import main as cli_main
from tests.conftest import crandn
from user_client import g_step, uplink_stats
from user_client.gstep import ryx_gram, uplink_stats_fused
from user_client.objective import profiled_objective, user_objective

SMALL = Shape(ap_dim=16, user_dims=(8, 16, 24), tx=2, rx=2, uses=2)


@pytest.mark.parametrize("dtype,tol", [(torch.complex64, 1e-4), (torch.complex128, 1e-10)])
def test_straightforward_and_engine_give_the_same_f(dtype, tol):
    users, x, ys, state = pilot_problem(5, 300, SMALL, seed=1, dtype=dtype)
    stats = compact_stats(x, ys, SMALL.p)
    dstate, dusers = to_direct(state, users, ys)
    s = state
    for _ in range(6):
        s = engine_iteration(s, users, stats, SMALL)
    d = direct_solve(dstate.f, dusers, x, SMALL.rho, SMALL.power, 6)
    assert rel_diff(s.f[0], d.f) < tol
    assert rel_diff(s.z[0], d.z) < tol
    # the iterations moved F: the agreement is not that of two untouched copies of F0
    assert rel_diff(s.f[0], state.f[0]) > 1e-2


def test_straightforward_sylvester_matches_engine_for_unwhitened_pilots():
    users, x, ys, state = pilot_problem(3, 200, SMALL, seed=2, dtype=torch.complex128)
    scale = torch.linspace(0.5, 2.0, x.shape[0], dtype=torch.float64).to(x.dtype)
    x = scale[:, None] * x  # R_xx != I: the engine takes the Sylvester F-step
    stats = compact_stats(x, ys, SMALL.p)
    dstate, dusers = to_direct(state, users, ys)
    g = g_step(users.h @ state.f, stats.rxx, stats.ryx, users.noise_var)
    gram, cross = uplink_stats(g, users.h, stats.ryx)
    eng = ap_update(state, gram, cross, SMALL.rho, SMALL.power, rxx=stats.rxx)[0]
    direct = direct_iteration(dstate, dusers, x, SMALL.rho, SMALL.power, rxx=stats.rxx)
    assert rel_diff(eng.f[0], direct.f) < 1e-9


def test_fused_round_equals_g_step_and_uplink_stats():
    gen = torch.Generator().manual_seed(4)
    k, r, mm, m, p = 4, 6, 5, 10, 14
    dt = torch.complex128
    f, h = crandn(1, mm, m, dtype=dt, generator=gen), crandn(k, r, mm, dtype=dt, generator=gen)
    hf = h @ f
    ryx = crandn(k, p, m, dtype=dt, generator=gen)
    ryx[1, 9:] = 0  # a zero-padded user
    x = crandn(m, 3 * m, dtype=dt, generator=gen)
    rxx = x @ x.mH / x.shape[-1]
    nv = torch.tensor([0.1, 0.5, 1.0, 0.05], dtype=torch.float64)
    g = g_step(hf, rxx, ryx, nv)
    want = uplink_stats(g, h, ryx)
    got = uplink_stats_fused(f, h, rxx, ryx_gram(ryx), nv)
    for a, b in zip(got, want):
        assert rel_diff(a, b) < 1e-10
    # multi-link: one F per user
    fk = crandn(k, mm, m, dtype=dt, generator=gen)
    want_k = uplink_stats(g_step(h @ fk, rxx, ryx, nv), h, ryx)
    for a, b in zip(uplink_stats_fused(fk, h, rxx, ryx_gram(ryx), nv), want_k):
        assert rel_diff(a, b) < 1e-10
    # whitened form (rxx=None) is the identity
    eye_got = uplink_stats_fused(f, h, None, ryx_gram(ryx), nv)
    eye_want = uplink_stats(g_step(hf, torch.eye(m, dtype=dt), ryx, nv), h, ryx)
    assert rel_diff(eye_got[1], eye_want[1]) < 1e-10
    # the profiled objective equals the objective at the G-step's G
    ryy = ryx.abs().pow(2).sum(dim=(-2, -1)) * 3 + 1
    j = profiled_objective(f, h, rxx, ryx_gram(ryx), ryy, nv)
    assert torch.allclose(j, user_objective(g, hf, rxx, ryx, ryy, nv), rtol=1e-10, atol=1e-10)


def test_bench_cli_tiny_profile_prints_ratios(tmp_path, capsys):
    assert cli_main(["bench", "--profile", "tiny", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for heading in ("[1] One ADMM iteration", "[2] Engine iteration vs users", "[3] Round cost vs pilots",
                    "[4] float32", "[5] GPU", "Summary (ratios)"):
        assert heading in out
    assert "SPEED-UP engine vs straightforward:" in out and "(OK)" in out
    res = json.loads((tmp_path / "bench.json").read_text())
    sp = res["speedup"]
    assert math.isclose(sp["speedup"], sp["straightforward_s"] / sp["engine_s"])
    assert sp["f_rel_diff_k"] < 1e-3
    assert [r["users"] for r in res["users"]["rows"]] == [1, 4]
    assert res["precision"]["inits"]["first-k"]["f_rel_diff"] < 1e-3  # same problem in both precisions
    if not torch.cuda.is_available():
        assert "no GPU on this machine" in out
    assert (tmp_path / "time_vs_users.png").stat().st_size > 0
    assert (tmp_path / "time_vs_pilots.png").stat().st_size > 0


def test_bench_cli_rejects_bad_input(capsys):
    with pytest.raises(SystemExit) as e:
        cli_main(["bench", "--profile", "huge"])
    assert e.value.code == 2
    assert cli_main(["bench", "--profile", "tiny", "--seed", "-1"]) == 2
    assert "--seed" in capsys.readouterr().err
