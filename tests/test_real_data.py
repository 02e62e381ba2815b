"""End to end on real Fashion-MNIST latents from the (tiny-profile) encoder zoo."""
from __future__ import annotations

import pytest

from protocol.config import RunConfig
from scenarios.engine import run
from scenarios.sources import load_run_latents

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    cfg = RunConfig(users=4, zoo_profile="tiny", cache_dir=tmp_path_factory.mktemp("zoo"))
    return cfg, load_run_latents(cfg)


def test_real_latents_are_distinct_encoders(real):
    cfg, data = real
    assert data.source == "zoo:tiny"
    names = [u.name for u in data.users]
    assert len(set(names)) == 4 and data.ap_name not in names
    assert len({u.dim for u in data.users} | {data.ap_train.shape[1]}) >= 4


@pytest.mark.parametrize("c", [1, 2, 4, 8])
def test_federated_close_to_centralised_and_above_selection_baselines(real, c):
    cfg, data = real
    base = dict(users=4, tx_antennas=4, rx_antennas=4, snr_db=20.0, channel_uses=c, pilots=2000,
                test_samples=1000, iterations=100, zoo_profile="tiny", cache_dir=cfg.cache_dir)
    acc = {m: run(RunConfig(**base, method=m), data)["mean"]["accuracy"] for m in ("first-k", "top-k")}
    for proc in ("linear", "widely-linear"):  # the paper's complex-linear F, G and widely-linear ones
        for m in ("federated", "centralised"):
            acc[m, proc] = run(RunConfig(**base, method=m, processing=proc), data)["mean"]["accuracy"]
        assert abs(acc["federated", proc] - acc["centralised", proc]) <= 0.02, acc
        assert acc["federated", proc] >= max(acc["first-k"], acc["top-k"]), acc
    # latents are real: real-linear maps of them are far richer than complex-linear maps of packed pairs
    assert acc["federated", "widely-linear"] >= acc["federated", "linear"] + 0.05, acc
