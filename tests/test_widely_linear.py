"""Widely-linear processing: real features, real-composite channels (DESIGN.md §2), in the engine."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from channel import add_user_noise, add_user_noise_composite, real_composite
from protocol.config import RunConfig
from protocol.packing import feature_dim, from_features, to_features
from scenarios.admm import admm_solve, centralised_solve
from scenarios.engine import run
from scenarios.problem import build_problem
from tests.conftest import crandn

CFG = dict(users=4, tx_antennas=2, rx_antennas=2, channel_uses=1, pilots=1200, test_samples=500, tol=0.0)


def _problem(data, **kw):
    cfg = RunConfig(**{**CFG, "processing": "widely-linear", **kw})
    dtype = torch.complex128 if cfg.precision == "double" else torch.complex64
    return cfg, build_problem(cfg, data, dtype, torch.device("cpu"))


def test_real_composite_carries_the_complex_link():
    g = torch.Generator().manual_seed(0)
    h, s = crandn(3, 4, 5, generator=g), crandn(3, 5, 7, generator=g)
    r = real_composite(h) @ torch.complex(torch.cat([s.real, s.imag], -2), torch.zeros(3, 10, 7, dtype=torch.float64))
    want = h @ s
    assert r.shape == (3, 8, 7) and float(r.imag.abs().max()) == 0.0
    torch.testing.assert_close(r.real, torch.cat([want.real, want.imag], -2))


def test_composite_noise_is_the_complex_links_noise_split_in_parts():
    var = torch.tensor([0.1, 0.5], dtype=torch.float64)  # per real dimension
    x = torch.zeros(2, 8, 20_000, dtype=torch.complex64)
    got = add_user_noise_composite(x, var, 5, "eval-noise")
    w = add_user_noise(torch.zeros(2, 4, 20_000, dtype=torch.complex64), 2 * var, 5, "eval-noise")
    assert float(got.imag.abs().max()) == 0.0
    torch.testing.assert_close(got.real, torch.cat([w.real, w.imag], -2))
    emp = got.real.double().pow(2).mean(dim=(-2, -1))
    torch.testing.assert_close(emp, var, rtol=0.03, atol=0.0)


@pytest.mark.parametrize("d", [1, 7, 8])
def test_features_round_trip_both_forms(d):
    z = torch.randn(5, d, dtype=torch.float64)
    for proc, width in (("linear", (d + 1) // 2), ("widely-linear", d)):
        f = to_features(z, torch.complex128, proc)
        assert f.shape == (5, width) == (5, feature_dim(d, proc))
        assert torch.equal(from_features(f, d, proc), z)
    assert float(to_features(z, torch.complex128, "widely-linear").imag.abs().max()) == 0.0
    with pytest.raises(ValueError, match="unknown processing"):
        feature_dim(d, "affine")


def test_widely_linear_pre_equalizer_is_real_and_within_budget(synthetic, tmp_path):
    cfg = RunConfig(**{**CFG, "processing": "widely-linear", "iterations": 20, "power": 2.0})
    res = run(cfg, synthetic, tmp_path)
    f = np.load(tmp_path / "pre_equalizer.npz")["F"]
    assert f.shape == (1, 2 * cfg.symbols, synthetic.ap_train.shape[1])  # 2 N_T c rows, one per real feature
    assert np.abs(f.imag).max() <= 1e-5 * np.abs(f).max()
    assert (np.abs(f) ** 2).sum() <= 2.0 * (1 + 1e-5) and res["tr_FFH"] <= 2.0 * (1 + 1e-5)


def test_single_user_widely_linear_federated_reaches_centralised(synthetic):
    cfg, prob = _problem(synthetic, users=1, iterations=300, precision="double")
    fed = admm_solve(prob, cfg).history[-1]["objective"]
    cen = centralised_solve(prob, cfg).history[-1]["objective"]
    assert fed <= cen * 1.01, (fed, cen)


def test_widely_linear_aligns_real_latents_better_than_packed_complex_linear(synthetic):
    """A real-linear map is complex-linear on packed pairs only by accident: with the same
    channels, noise and symbol budget, the widely-linear optimum has clearly lower test MSE."""
    mse = {}
    for proc in ("linear", "widely-linear"):
        cfg = RunConfig(**{**CFG, "processing": proc, "iterations": 100, "method": "centralised"})
        mse[proc] = run(cfg, synthetic)["mean"]["mse"]
    assert mse["widely-linear"] < 0.9 * mse["linear"], mse


def test_selection_baselines_ignore_processing(synthetic):
    for method in ("first-k", "top-k"):
        a, b = (run(RunConfig(**{**CFG, "method": method, "processing": p}), synthetic)["users"]
                for p in ("linear", "widely-linear"))
        assert a == b


def test_widely_linear_messages_count_real_entries(synthetic):
    lin, wl = (run(RunConfig(**{**CFG, "iterations": 3, "processing": p}), synthetic)["bytes"]
               for p in ("linear", "widely-linear"))
    m_real = synthetic.ap_train.shape[1]  # even here, so the packed form has m_real / 2 features
    # compact protocol with CSI: downlink H F is [N_R c, m] complex vs [2 N_R c, m_real] real (4-byte entries)
    assert lin["downlink_per_round"] == 4 * (2 * (m_real // 2)) * 8
    assert wl["downlink_per_round"] == 4 * (4 * m_real) * 4


# -- the message protocol (AP Coordinator <-> UserDevice, as the Flower runtime drives them) ------------

LOOP = dict(users=3, tx_antennas=2, rx_antennas=2, channel_uses=2, pilots=900, test_samples=300, iterations=12,
            tol=0.0, processing="widely-linear")


@pytest.mark.parametrize("protocol, csi", [("compact", True), ("paper", False)])
def test_widely_linear_loopback_equals_engine_with_real_messages(synthetic, protocol, csi):
    from scenarios.loopback import run_loopback

    cfg = RunConfig(**LOOP, protocol=protocol, csi=csi)
    seen: list[dict] = []
    res, coord = run_loopback(cfg, synthetic, tamper=lambda r, u, d: seen.append(d) or d)
    prob = build_problem(cfg, synthetic, torch.complex64, torch.device("cpu"))
    ref = admm_solve(prob, cfg, track=False).transmit
    assert float((coord.transmit - ref).norm() / ref.norm()) <= 1e-5
    assert all(not np.iscomplexobj(d[k]) for d in seen for k in ("gram", "cross"))  # real parts only travel
    eng = run(cfg, synthetic)
    for a, b in zip(res["users"], eng["users"]):
        assert a["accuracy"] == b["accuracy"]
        assert a["mse"] == pytest.approx(b["mse"], rel=1e-4)
    if protocol == "compact":  # the engine's accounting is what the runtime sends
        assert res["bytes"]["downlink_per_round"] == eng["bytes"]["downlink_per_round"]
        assert res["bytes"]["uplink_per_round"] == eng["bytes"]["uplink_per_round"]


def test_complex_reply_in_a_widely_linear_run_is_rejected_and_the_round_goes_on(synthetic, caplog):
    import logging

    from scenarios.loopback import run_loopback

    def tamper(rnd, uid, data):
        if uid == 1 and rnd == 2:
            return {**data, "gram": data["gram"].astype(np.complex64)}
        return data

    with caplog.at_level(logging.WARNING, logger="semalign.ap"):
        res, coord = run_loopback(RunConfig(**LOOP), synthetic, tamper=tamper)
    assert coord.history[2]["answered"] == [0, 2]
    assert any("user 1" in r.getMessage() and "widely-linear" in r.getMessage() for r in caplog.records)
    assert len(res["users"]) == 3


def test_user_without_widely_linear_capability_is_refused(synthetic):
    from ap_server.coordinator import Coordinator
    from scenarios.loopback import make_devices

    cfg = RunConfig(**LOOP)
    coord = Coordinator(cfg, synthetic.ap_train, synthetic.ap_test)
    join = make_devices(cfg, synthetic)[0].join_request().model_dump()
    assert coord.accept_join({**join, "capabilities": ("compact", "csi")}) is None
    assert coord.accept_join(join) is not None


def test_complex_linear_maps_in_real_composite_form_give_the_same_objective():
    """Without whitening and with even dims, ``[Re x̃; Im x̃]`` is the real latent itself, so a
    complex-linear F and G written as real-composite blocks ``[[A, −B], [B, A]]`` must give the
    widely-linear problem exactly the objective they give the paper's: signal, cross terms and the
    noise term (σ²/2 per real dimension on twice the entries of G)."""
    from scenarios.synthetic import make_synthetic
    from user_client.objective import user_objective

    data = make_synthetic(users=3, ap_dim=12, user_dims=(10,), train=400, test=50, seed=2)
    base = dict(users=3, tx_antennas=2, rx_antennas=3, channel_uses=2, pilots=300, test_samples=50,
                whiten=False, precision="double", snr_db=5.0, user_snr_db=(5.0, 0.0, 12.0))
    probs = {p: build_problem(RunConfig(**base, processing=p), data, torch.complex128, torch.device("cpu"))
             for p in ("linear", "widely-linear")}
    g = torch.Generator().manual_seed(1)
    f = crandn(1, 4, 6, generator=g)  # [1, N_T c, m/2]
    gk = crandn(3, 5, 6, generator=g)  # [K, d/2, N_R c]
    lin, wl = probs["linear"], probs["widely-linear"]
    j_lin = user_objective(gk, lin.h @ f, lin.rxx, lin.ryx, lin.ryy_trace, lin.noise_var)
    j_wl = user_objective(real_composite(gk), wl.h @ real_composite(f), wl.rxx, wl.ryx, wl.ryy_trace, wl.noise_var)
    torch.testing.assert_close(j_wl, j_lin, rtol=1e-10, atol=0.0)
    assert float(j_lin.std()) > 0  # the three SNRs make the noise terms differ
