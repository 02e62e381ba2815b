"""Fading draws, SNR convention, channel uses, CSI error and link helpers (channel/)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from channel import (
    add_noise, draw_channels, empirical_snr_db, estimate_channel, expand_uses, lmmse_receiver,
    load_channels, make_generator, noise_variance, svd_precoder, symbols_to_uses, uses_to_symbols,
)


def test_channels_unit_power_and_circular(precision):
    h = draw_channels(4000, 4, 4, seed=7, precision=precision)
    assert h.shape == (4000, 4, 4)
    assert h.dtype == (torch.complex64 if precision == "single" else torch.complex128)
    assert abs(h.abs().pow(2).mean().item() - 1) < 0.02
    assert abs(h.real.pow(2).mean().item() - 0.5) < 0.02  # power split evenly: CN(0, 1)
    assert abs(h.mean().item()) < 0.02


def test_same_seed_same_channels_other_seed_differs():
    a = draw_channels(5, 2, 3, seed=1)
    assert torch.equal(a, draw_channels(5, 2, 3, seed=1))
    assert not torch.equal(a, draw_channels(5, 2, 3, seed=2))


@pytest.mark.parametrize("snr_db", [-20.0, 0.0, 13.0, 30.0])
@pytest.mark.parametrize("c", [1, 4])
def test_noise_matches_configured_snr(snr_db, c):
    x = torch.zeros(3, 8, 20000, dtype=torch.complex64)
    var = noise_variance([snr_db] * 3, power=2.0, channel_uses=c)
    y = add_noise(x, var, make_generator(0, "noise"))
    for k in range(3):
        assert abs(empirical_snr_db(x[k], y[k], 2.0, c) - snr_db) < 0.2


def test_noise_variance_convention():
    assert float(noise_variance(10.0, power=1.0, channel_uses=4)) == pytest.approx(1 / 40)


def test_expand_uses_is_kron_identity():
    h = draw_channels(2, 3, 2, seed=0, precision="double")
    big = expand_uses(h, 3)
    ref = torch.stack([torch.kron(torch.eye(3, dtype=h.dtype), h[k]) for k in range(2)])
    assert torch.equal(big, ref)
    s = torch.arange(12, dtype=torch.float64).reshape(6, 2)
    assert torch.equal(uses_to_symbols(symbols_to_uses(s, 2)), s)


def test_csi_error_nmse():
    h = draw_channels(20000, 2, 2, seed=3)
    est = estimate_channel(h, 0.1, make_generator(3, "csi"))
    nmse = ((est - h).abs().pow(2).mean() / h.abs().pow(2).mean()).item()
    assert abs(nmse - 0.1) < 0.005
    assert estimate_channel(h, 0.0, make_generator(3, "csi")) is h


def test_svd_precoder_diagonalises():
    h = draw_channels(3, 4, 4, seed=5, precision="double")
    v = svd_precoder(h)
    hv = h @ v
    gram = hv.mH @ hv
    off = gram - torch.diag_embed(torch.diagonal(gram, dim1=-2, dim2=-1))
    assert off.abs().max() < 1e-10


def test_lmmse_receiver_matches_formula():
    h = draw_channels(2, 4, 3, seed=9, precision="double")
    w = lmmse_receiver(h, 0.3, signal_var=2.0)
    for k in range(2):
        hk = h[k].numpy()
        ref = hk.conj().T @ np.linalg.inv(hk @ hk.conj().T + 0.15 * np.eye(4))
        assert np.allclose(w[k].resolve_conj().numpy(), ref, atol=1e-10)


def test_load_channels(tmp_path):
    h = (np.random.randn(2, 3, 4) + 1j * np.random.randn(2, 3, 4)).astype(np.complex64)
    np.savez(tmp_path / "h.npz", H=h)
    got = load_channels(tmp_path / "h.npz", 2, 3, 4, torch.complex64)
    assert np.array_equal(got.numpy(), h)
    with pytest.raises(ValueError, match="shape"):
        load_channels(tmp_path / "h.npz", 3, 3, 4, torch.complex64)
    np.savez(tmp_path / "bad.npz", H=np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="complex"):
        load_channels(tmp_path / "bad.npz", 2, 3, 4, torch.complex64)


def test_single_and_double_runs_see_the_same_draws():
    """Channels, noise and CSI errors of one seed do not depend on the precision: drawn in
    single precision and cast, so a float32-vs-float64 comparison compares arithmetic only."""
    from channel.csi import estimate_channel
    from channel.fading import draw_channels
    from channel.noise import add_noise
    from channel.rng import make_generator

    h32 = draw_channels(3, 4, 2, seed=7, precision="single")
    h64 = draw_channels(3, 4, 2, seed=7, precision="double")
    assert h32.dtype == torch.complex64 and h64.dtype == torch.complex128
    assert torch.equal(h32.to(torch.complex128), h64)
    x = torch.randn(2, 4, 50, dtype=torch.complex64)
    y32 = add_noise(x, torch.tensor([0.1, 1.0]), make_generator(7, "noise"))
    y64 = add_noise(x.to(torch.complex128), torch.tensor([0.1, 1.0]), make_generator(7, "noise"))
    assert y64.dtype == torch.complex128
    assert torch.allclose(y32.to(torch.complex128), y64, atol=1e-6)
    e32 = estimate_channel(h32, 0.1, make_generator(7, "csi"))
    e64 = estimate_channel(h64, 0.1, make_generator(7, "csi"))
    assert torch.allclose(e32.to(torch.complex128), e64, atol=1e-6)
    assert not torch.equal(draw_channels(3, 4, 2, seed=8), h32)
