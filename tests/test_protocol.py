"""Packing, whitening, configuration and message validation (protocol/)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from protocol import RunConfig, fit_whitener, pack, unpack
from protocol.accounting import ByteLedger, round_message_shapes
from protocol.config import ConfigError, load_config_file
from protocol.messages import JoinRequest, RoundReply, RoundRequest
from tests.conftest import crandn


@pytest.mark.parametrize("d", [1, 2, 7, 128, 369])
def test_pack_unpack_exact_inverse(d, cdtype):
    z = torch.randn(5, d, dtype=torch.float64 if cdtype == torch.complex128 else torch.float32)
    x = pack(z, cdtype)
    assert x.shape == (5, (d + 1) // 2) and x.dtype == cdtype
    assert torch.equal(unpack(x, d), z)
    assert torch.equal(x.real[:, 0], z[:, 0])  # first half real, second half imaginary
    if d > 1:
        assert x.imag[0, 0] == z[0, (d + 1) // 2]


def test_unpack_rejects_wrong_size():
    with pytest.raises(ValueError):
        unpack(torch.zeros(3, 4, dtype=torch.complex64), 10)


def test_whitening_inverse_and_identity_covariance():
    g = torch.Generator().manual_seed(0)
    mix = crandn(6, 6, generator=g)
    x = mix @ crandn(6, 4000, generator=g) + 3.0
    w = fit_whitener(x)
    xw = w.whiten(x)
    cov = xw @ xw.mH / x.shape[-1]
    assert torch.allclose(cov, torch.eye(6, dtype=cov.dtype), atol=1e-5)
    assert torch.allclose(xw.mean(-1), torch.zeros(6, dtype=xw.dtype), atol=1e-10)
    assert torch.allclose(w.unwhiten(xw), x, atol=1e-10)
    other = crandn(6, 10, generator=g)
    assert torch.allclose(w.whiten(w.unwhiten(other)), other, atol=1e-10)


def test_whitening_survives_dead_features():
    x = crandn(4, 500)
    x[2] = 0
    xw = fit_whitener(x).whiten(x)
    assert torch.isfinite(xw).all()


def test_config_rejects_bad_values_naming_field():
    with pytest.raises(ValidationError, match="power"):
        RunConfig(power=-1)
    with pytest.raises(ValidationError, match="tx_antennas"):
        RunConfig(tx_antennas=0)
    with pytest.raises(ValidationError, match="user_snr_db"):
        RunConfig(users=3, user_snr_db=(1.0, 2.0))
    with pytest.raises(ValidationError, match="extra"):
        RunConfig(unknown_field=1)


def test_config_file(tmp_path):
    p = tmp_path / "run.toml"
    p.write_text('users = 3\nchannel-uses = 2\nmethod = "top-k"\n')
    cfg = RunConfig(**load_config_file(p))
    assert (cfg.users, cfg.channel_uses, cfg.method) == (3, 2, "top-k")
    p.write_text("users = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config_file(p)


def _reply(**kw):
    base = dict(round=3, user_id=1, gram=np.eye(4, dtype=np.complex64), cross=np.ones((4, 6), np.complex64))
    base.update(kw)
    return base


def test_round_reply_validation():
    ctx = {"round": 3, "user_id": 1, "gram_shape": (4, 4), "cross_shape": (4, 6), "real": False}  # as the AP checks
    RoundReply.model_validate(_reply(), context=ctx)
    cases = {
        "shape": _reply(cross=np.ones((4, 5), np.complex64)),
        "NaN": _reply(gram=np.full((4, 4), np.nan, np.complex64)),
        "Inf": _reply(cross=np.full((4, 6), np.inf, np.complex64)),
        "complex": _reply(gram=np.eye(4)),
        "current round": _reply(round=2),
        "does not match": _reply(user_id=7),
        "Hermitian": _reply(gram=np.triu(np.ones((4, 4), np.complex64))),
        "numpy array": _reply(gram=[[1, 0], [0, 1]]),
    }
    for needle, data in cases.items():
        with pytest.raises(ValidationError, match=needle):
            RoundReply.model_validate(data, context=ctx)
    # a widely-linear run (DESIGN.md §2) takes real arrays only
    real = {**ctx, "real": True}
    RoundReply.model_validate(_reply(gram=np.eye(4, dtype=np.float32), cross=np.ones((4, 6), np.float32)), context=real)
    with pytest.raises(ValidationError, match="widely-linear"):
        RoundReply.model_validate(_reply(cross=np.ones((4, 6), np.float32)), context=real)
    with pytest.raises(ValidationError, match="complex64/complex128"):
        RoundReply.model_validate(_reply(gram=np.eye(4, dtype=np.int64)), context=real)


def test_round_request_and_join_validation():
    RoundRequest.model_validate({"round": 0, "user_id": 0, "payload": np.zeros((8, 3), np.complex128)},
                                context={"payload_shape": (8, 3)})
    with pytest.raises(ValidationError, match="payload"):
        RoundRequest.model_validate({"round": 0, "user_id": 0, "payload": np.zeros((8, 4), np.complex128)},
                                    context={"payload_shape": (8, 3)})
    with pytest.raises(ValidationError):
        JoinRequest(user_id=-1, latent_dim=10, rx_antennas=4, snr_db=20, device="cpu")
    with pytest.raises(ValidationError):
        JoinRequest(user_id=0, latent_dim=10, rx_antennas=4, snr_db=float("nan"), device="cpu")


def test_message_shapes_compact_independent_of_n():
    small = round_message_shapes("compact", True, m=64, n=1000, tx_symbols=16, rx_symbols=16)
    big = round_message_shapes("compact", True, m=64, n=100000, tx_symbols=16, rx_symbols=16)
    assert small["downlink"] == big["downlink"] and small["uplink"] == big["uplink"]
    paper = round_message_shapes("paper", False, m=64, n=1000, tx_symbols=16, rx_symbols=8)
    assert paper["downlink"] == [(16, 1000)] and paper["uplink"] == [(16, 16), (16, 1000)]


def test_byte_ledger():
    led = ByteLedger()
    led.add(1, "downlink", 0, 100)
    led.add(1, "uplink", 0, 40)
    led.add(2, "downlink", 1, 100)
    s = led.summary()
    assert s["downlink_total"] == 200 and s["uplink_total"] == 40
    assert s["per_round"][0] == {"round": 1, "downlink": 100, "uplink": 40}


def test_whitening_a_singular_pilot_covariance_is_a_config_error(monkeypatch):
    """Real latents with fewer pilots than dimensions can leave the ridged covariance not positive definite at
    complex64 (seen with 200 pilots of a 256-dim zoo latent); the user gets one clear error, not a LinAlgError."""
    x = torch.randn(16, 40, dtype=torch.complex64)
    fit_whitener(x)  # a well-conditioned covariance whitens
    real = torch.linalg.cholesky_ex
    monkeypatch.setattr(torch.linalg, "cholesky_ex", lambda a: (real(a)[0], torch.ones((), dtype=torch.int32)))
    with pytest.raises(ConfigError, match="cannot whiten the pilots: .* 40 pilots of a 16-dimensional latent"):
        fit_whitener(x)
