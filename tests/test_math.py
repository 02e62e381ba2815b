"""The ADMM steps against independent numpy/scipy solves (user_client/, ap_server/)."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from ap_server import (
    ap_update, constrained_f_step, global_f, local_f_step_closed, local_f_step_sylvester, power,
    project_power, start_state,
)
from ap_server.init import initial_f
from user_client import g_step, g_step_from_pilots, uplink_stats, uplink_stats_from_pilots
from user_client.objective import user_objective
from tests.conftest import crandn

K, M, R, m, p, n = 3, 6, 5, 8, 7, 200


def _inputs(dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = crandn(m, n, dtype=dtype, generator=g)
    y = crandn(K, p, n, dtype=dtype, generator=g)
    h = crandn(K, R, M, dtype=dtype, generator=g)
    f = crandn(1, M, m, dtype=dtype, generator=g) * 0.3
    nv = torch.tensor([0.1, 0.01, 1.0], dtype=torch.float64)
    return x, y, h, f, nv


def test_g_step_equals_regularised_least_squares(cdtype, tol):
    x, y, h, f, nv = _inputs(cdtype)
    g = g_step(h @ f, x @ x.mH / n, y @ x.mH / n, nv)
    for k in range(K):
        s = (h[k] @ f[0] @ x).numpy().astype(np.complex128)
        yk = y[k].numpy().astype(np.complex128)
        # min ||Y - G S||^2 + n σ² ||G||^2  <=>  stacked least squares [S, sqrt(nσ²) I]
        a = np.hstack([s, np.sqrt(n * nv[k].item()) * np.eye(R)])
        b = np.hstack([yk, np.zeros((p, R))])
        ref = np.linalg.lstsq(a.T, b.T, rcond=None)[0].T
        assert np.allclose(g[k].numpy(), ref, atol=50 * tol, rtol=50 * tol)


def test_g_step_statistics_form_equals_pilot_form(cdtype, tol):
    x, y, h, f, nv = _inputs(cdtype)
    a = g_step(h @ f, x @ x.mH / n, y @ x.mH / n, nv)
    b = g_step_from_pilots(h @ f @ x, y, nv)
    assert torch.allclose(a, b, atol=50 * tol, rtol=50 * tol)
    gram_a, cross_a = uplink_stats(a, h, y @ x.mH / n)
    gram_b, ahy = uplink_stats_from_pilots(a, h, y)
    assert torch.allclose(gram_a, gram_b)
    assert torch.allclose(cross_a, ahy @ x.mH / n, atol=50 * tol, rtol=50 * tol)


def _stats(dtype, seed=1):
    x, y, h, f, nv = _inputs(dtype, seed)
    g = g_step(h @ f, x @ x.mH / n, y @ x.mH / n, nv)
    gram, cross = uplink_stats(g, h, y @ x.mH / n)
    gen = torch.Generator().manual_seed(seed + 10)
    z = crandn(1, M, m, dtype=dtype, generator=gen) * 0.2
    u = crandn(1, M, m, dtype=dtype, generator=gen) * 0.05
    return x, gram, cross, z, u


def test_closed_form_and_sylvester_agree_and_solve_equation():
    x, gram, cross, z, u = _stats(torch.complex128)
    rho = 0.7
    eye = torch.eye(m, dtype=torch.complex128)
    f_closed = local_f_step_closed(gram, cross, z, u, rho)
    f_syl = local_f_step_sylvester(gram, cross, eye, z, u, rho)
    assert (f_closed - f_syl).abs().max() < 1e-10
    # General R_xx: DESIGN.md §3 form (A^H A) F + F ρ R_xx^{-1} = (A^H R_yx + ρ(Z − U)) R_xx^{-1}
    rxx = x @ x.mH / n
    f = local_f_step_sylvester(gram, cross, rxx, z, u, rho)
    rinv = torch.linalg.inv(rxx)
    residual = gram @ f + rho * f @ rinv - (cross + rho * (z - u)) @ rinv
    assert residual.abs().max() < 1e-6
    for k in range(K):  # independent solve: scipy's Bartels–Stewart
        ref = scipy.linalg.solve_sylvester(gram[k].numpy(), rho * rinv.numpy(),
                                           ((cross[k] + rho * (z[0] - u[0])) @ rinv).numpy())
        assert np.abs(f[k].numpy() - ref).max() < 1e-8


def test_batched_equals_per_user_loop(cdtype, tol):
    x, y, h, f, nv = _inputs(cdtype)
    rxx, ryx = x @ x.mH / n, y @ x.mH / n
    g = g_step(h @ f, rxx, ryx, nv)
    gram, cross = uplink_stats(g, h, ryx)
    z, u = f.clone(), torch.zeros_like(f)
    fl = local_f_step_sylvester(gram, cross, rxx, z, u, 0.5)
    for k in range(K):
        gk = g_step(h[k : k + 1] @ f, rxx, ryx[k : k + 1], nv[k : k + 1])
        assert torch.allclose(gk[0], g[k], atol=10 * tol, rtol=10 * tol)
        gr, cr = uplink_stats(gk, h[k : k + 1], ryx[k : k + 1])
        fk = local_f_step_sylvester(gr, cr, rxx, z, u, 0.5)
        assert torch.allclose(fk[0], fl[k], atol=100 * tol, rtol=100 * tol)


def test_projection_onto_power_ball():
    g = torch.Generator().manual_seed(4)
    f = crandn(5, M, m, generator=g)
    f[0] *= 0.01  # inside
    z = project_power(f, 2.0)
    assert torch.equal(z[0], f[0])
    assert torch.allclose(power(z[1:]), torch.full((4,), 2.0, dtype=torch.float64))
    assert torch.allclose(z[1:] / f[1:], (z[1:] / f[1:])[..., :1, :1].expand_as(f[1:]))  # a pure scaling
    assert (power(z) <= 2.0 + 1e-12).all()


def test_global_f_mean_and_dropout_weights():
    g = torch.Generator().manual_seed(5)
    fl = crandn(3, M, m, generator=g)
    assert torch.allclose(global_f(fl, True), fl.mean(0, keepdim=True))
    w = torch.tensor([1.0, 0.0, 1.0])
    assert torch.allclose(global_f(fl, True, w), (fl[0] + fl[2]).unsqueeze(0) / 2)
    assert global_f(fl, False) is fl
    with pytest.raises(ValueError):
        global_f(fl, True, torch.zeros(3))


def test_ap_update_multilink_keeps_silent_users():
    x, gram, cross, z, u = _stats(torch.complex128)
    state = start_state(z, 1.0, K, shared=False)
    new, _ = ap_update(state, gram, cross, 1.0, 1.0, shared=False, weights=torch.tensor([1.0, 0.0, 1.0]))
    assert torch.equal(new.f[1], state.f[1]) and not torch.equal(new.f[0], state.f[0])
    assert new.round == 1


def test_user_objective_matches_direct_evaluation():
    x, y, h, f, nv = _inputs(torch.complex128)
    rxx, ryx = x @ x.mH / n, y @ x.mH / n
    g = g_step(h @ f, rxx, ryx, nv)
    j = user_objective(g, h @ f, rxx, ryx, y.abs().pow(2).sum((-2, -1)) / n, nv)
    direct = (y - g @ h @ f @ x).abs().pow(2).sum((-2, -1)) / n + nv * g.abs().pow(2).sum((-2, -1))
    assert torch.allclose(j, direct, rtol=1e-10)


def test_constrained_f_step_kkt():
    x, gram, cross, z, u = _stats(torch.complex128)
    rxx = x @ x.mH / n
    gs, cs = gram.sum(0), cross.sum(0)
    for budget in (1e-3, 1e3):
        f = constrained_f_step(gs, cs, rxx, budget)
        assert float(power(f)) <= budget * (1 + 1e-6)
        # objective no worse than random feasible perturbations
        def obj(ff):
            return float((ff.mH @ gs @ ff @ rxx).diagonal().sum().real - 2 * (ff * cs.conj()).sum().real)
        gen = torch.Generator().manual_seed(0)
        for _ in range(20):
            cand = project_power(f + 1e-3 * crandn(M, m, generator=gen), budget)
            assert obj(f) <= obj(cand) + 1e-9


@pytest.mark.parametrize("kind", ["pca", "first-k", "random"])
def test_initial_f_is_feasible(kind):
    chol = torch.linalg.cholesky(torch.eye(m, dtype=torch.complex64) * 2)
    f0 = initial_f(kind, 12, chol, 1.5, torch.Generator().manual_seed(0))
    assert f0.shape == (1, 12, m)
    assert abs(float(power(f0)) - 1.5) < 1e-5


def test_local_f_step_survives_a_gram_whose_rounding_outweighs_rho():
    """Single-precision grams far larger than ρ (large M, the task metric) can come out indefinite
    by round-off, and Cholesky of ``gram + ρ I`` fails. The F-step then solves with the eigenvalues
    held at ``≥ ρ`` (their exact bound): finite, and ``‖F‖ ≤ ‖rhs‖ / ρ`` as for the exact operator."""
    from ap_server.fstep import _clamped_inverse

    g = torch.Generator().manual_seed(0)
    a = crandn(3, 2, 160, generator=g) * 3e3
    gram = (a.mH @ a).to(torch.complex64)
    cross, z = crandn(3, 160, 20, generator=g).to(torch.complex64), crandn(1, 160, 20, generator=g).to(torch.complex64)
    assert bool((torch.linalg.cholesky_ex(gram + torch.eye(160))[1] != 0).any())  # the case exists
    for rho in (1.0, torch.tensor([1.0, 1.0, 1.0])):
        f = local_f_step_closed(gram, cross, z, torch.zeros_like(z), rho)
        assert torch.isfinite(f).all()
        rhs = cross + z
        assert bool((f.norm(dim=(-2, -1)) <= rhs.norm(dim=(-2, -1)) * (1 + 1e-4)).all())
    # where Cholesky works, the fallback gives the same F
    ok = (crandn(3, 20, 16, generator=g) / 4).to(torch.complex64)
    lhs = ok.mH @ ok + 0.5 * torch.eye(16)
    rhs = crandn(3, 16, 8, generator=g).to(torch.complex64)
    torch.testing.assert_close(_clamped_inverse(lhs, 0.5) @ rhs, torch.linalg.solve(lhs, rhs), rtol=1e-4, atol=1e-5)
