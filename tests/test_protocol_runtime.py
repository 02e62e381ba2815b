"""The AP Coordinator and the UserDevice exchanging messages: parity with the engine,
bad replies rejected, dropouts, checkpoint/resume, privacy of replies."""
from __future__ import annotations

import itertools
import logging

import numpy as np
import pytest
import torch

from ap_server.coordinator import Coordinator
from protocol.config import RunConfig
from scenarios.admm import admm_solve
from scenarios.engine import run
from scenarios.loopback import make_devices, run_loopback
from scenarios.problem import build_problem
from user_client.faults import apply_fault, parse_faults

BASE = dict(users=3, tx_antennas=2, rx_antennas=2, channel_uses=2, pilots=900, test_samples=300, iterations=12, tol=0.0)


def _engine_f(cfg, data):
    dtype = torch.complex128 if cfg.precision == "double" else torch.complex64
    return admm_solve(build_problem(cfg, data, dtype, torch.device("cpu")), cfg, track=False).transmit


@pytest.mark.parametrize("protocol, csi, nmse", list(itertools.product(["paper", "compact"], [True, False], [0.0, 0.1])))
def test_loopback_equals_engine(synthetic, protocol, csi, nmse):
    cfg = RunConfig(**BASE, protocol=protocol, csi=csi, csi_nmse=nmse)
    res, coord = run_loopback(cfg, synthetic)
    ref = _engine_f(cfg, synthetic)
    assert float((coord.transmit - ref).norm() / ref.norm()) <= 1e-5
    eng = run(cfg, synthetic)
    for a, b in zip(res["users"], eng["users"]):
        assert a["accuracy"] == b["accuracy"]
        assert a["mse"] == pytest.approx(b["mse"], rel=1e-4)


def test_bytes_counted_per_round_and_direction(synthetic):
    res, _ = run_loopback(RunConfig(**BASE, protocol="compact"), synthetic)
    per_round = res["bytes"]["per_round"]
    assert per_round[0] == {"round": 0, "downlink": 3 * 16 * 900 * 8, "uplink": 0}  # X [m, n] once per user
    assert len(per_round) == 13  # pilots once + 12 rounds
    up = {r["uplink"] for r in per_round[1:]}
    assert up == {3 * (4 * 4 + 4 * 16) * 8}  # gram [M,M] + cross [M,m], M=4, m=16, complex64
    assert res["bytes"]["uplink_total"] == sum(r["uplink"] for r in per_round)


def _bad(kind):
    def tamper(rnd, uid, data):
        if uid != 1 or rnd != 3:
            return data
        return None if kind == "drop" else apply_fault(kind, data)
    return tamper


@pytest.mark.parametrize("kind", ["shape", "nan", "stale", "spoof", "drop"])
def test_bad_reply_rejected_round_goes_on(synthetic, kind, caplog):
    cfg = RunConfig(**BASE)
    with caplog.at_level(logging.WARNING, logger="semalign.ap"):
        res, coord = run_loopback(cfg, synthetic, tamper=_bad(kind))
    assert coord.history[3]["answered"] == [0, 2]
    assert all(h["answered"] == [0, 1, 2] for i, h in enumerate(coord.history) if i != 3)
    assert any("user 1" in r.getMessage() for r in caplog.records)
    assert res["user_status"]["1"]["missed_rounds"] == [3]
    assert len(res["users"]) == 3  # user 1 came back and completed
    clean, ref = run_loopback(cfg, synthetic)
    assert not torch.equal(coord.transmit, ref.transmit)  # the round really ran without it


def test_unknown_user_and_bad_join_refused(synthetic):
    coord = Coordinator(RunConfig(**BASE), synthetic.ap_train, synthetic.ap_test)
    good = make_devices(RunConfig(**BASE), synthetic)[0].join_request().model_dump()
    assert coord.accept_join({**good, "user_id": 7}) is None
    assert coord.accept_join({**good, "latent_dim": -3}) is None
    assert coord.accept_join(good) is not None
    assert coord.accept_reply(5, {"round": 0}) is None


def test_checkpoint_resume_same_f(synthetic, tmp_path):
    cfg = RunConfig(**BASE)
    _, full = run_loopback(cfg, synthetic)
    # run 5 rounds, checkpoint, then a fresh coordinator resumes
    coord = Coordinator(cfg, synthetic.ap_train, synthetic.ap_test)
    devices = make_devices(cfg, synthetic)
    for d in devices:
        coord.accept_join(d.join_request().model_dump())
        d.configure(coord.params())
        d.receive_pilots(coord.pilot_broadcast(d.user_id))
    for _ in range(5):
        coord.step({d.user_id: coord.accept_reply(d.user_id, d.round(coord.round_request(d.user_id)).model_dump())
                    for d in devices})
        coord.checkpoint(tmp_path)
    again = Coordinator(cfg, synthetic.ap_train, synthetic.ap_test)
    assert again.restore(tmp_path) and again.round == 5
    for d in devices:
        again.accept_join(d.join_request().model_dump())
    while not again.converged():
        again.step({d.user_id: again.accept_reply(d.user_id, d.round(again.round_request(d.user_id)).model_dump())
                    for d in devices})
    assert torch.equal(again.transmit, full.transmit)
    other = Coordinator(RunConfig(**{**BASE, "seed": 1}), synthetic.ap_train, synthetic.ap_test)
    with pytest.raises(ValueError, match="different run configuration"):
        other.restore(tmp_path)


@pytest.mark.parametrize("protocol", ["paper", "compact"])
def test_replies_carry_only_design_quantities(synthetic, protocol):
    """Privacy: a reply holds A^H A and A^H Y (X^H) only — never Y_k, G_k or the classifier."""
    cfg = RunConfig(**BASE, protocol=protocol)
    seen = []
    run_loopback(cfg, synthetic, tamper=lambda r, u, d: seen.append(d) or d)
    m = synthetic.ap_train.shape[1] // 2
    for d in seen:
        assert set(d) == {"round", "user_id", "gram", "cross"}
        assert d["gram"].shape == (4, 4)
        assert d["cross"].shape == ((4, 900) if protocol == "paper" else (4, m))


def test_fault_specs_parse_and_reject_garbage():
    assert parse_faults("nan@3, crash@5") == {3: "nan", 5: "crash"}
    assert parse_faults(None) == {} and parse_faults("") == {}
    for bad in ("nan", "boom@1", "nan@x", "nan@-1"):
        with pytest.raises(ValueError):
            parse_faults(bad)
    with pytest.raises(RuntimeError, match="fault drill"):
        apply_fault("crash", {"round": 2, "user_id": 0})


def test_paced_poll_waits_for_the_round_rhythm_then_polls_fast(monkeypatch):
    """AdaptivePoll with ``lead``: after activity, one wait to lead × the shortest recent gap,
    then polls from step × gap growing to ``hi``; without history (or lead 0) it polls from
    ``lo`` at once."""
    import user_client.appio_runner as ar

    clock = [100.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(round(s, 6))
        clock[0] += s

    monkeypatch.setattr(ar.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(ar.time, "sleep", sleep)
    poll = ar.AdaptivePoll(lo=0.01, hi=0.04, growth=2.0, lead=0.8, step=0.015, max_lead=5.0)
    poll.reset()  # first activity: no rhythm known yet
    poll.wait(), poll.wait(), poll.wait(), poll.wait()
    assert slept == [0.01, 0.02, 0.04, 0.04]
    clock[0] = 101.0
    poll.reset()  # gaps: 1.0 s
    clock[0] = 103.0
    poll.reset()  # gaps: 1.0, 2.0 -> paced on the shortest
    slept.clear()
    poll.wait(), poll.wait(), poll.wait()
    assert slept == [0.8, 0.015, 0.03]  # then from step x gap = 0.015, growing
    clock[0] = 200.0
    poll.reset()  # a long idle gap (97 s) does not stretch the pace: still min(gaps) = 1 s
    slept.clear()
    poll.wait()
    assert slept == [0.8]
    unpaced = ar.AdaptivePoll(lo=0.01, hi=0.04, growth=2.0, lead=0.0)
    for t in (300.0, 301.0, 302.0):
        clock[0] = t
        unpaced.reset()
    slept.clear()
    unpaced.wait()
    assert slept == [0.01]
