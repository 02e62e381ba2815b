"""Hostile and faulty users on one real loopback Flower run (SuperLink + SuperNodes on 127.0.0.1).

One run, three honest users (0, 1, 2) and two hostile ones, each hostile in *every* round:
user 3 sends a wrong shape, NaN, Inf, an oversized payload (beyond ``max_payload_bytes``),
a spoofed id and a late reply; user 4 sends future and stale round numbers, replays of earlier
replies and finally never answers. Honest user 2 is SIGKILLed mid-run and restarted. Honest
user 0's every uplink record is captured by the ClientApp audit mod (privacy check).

The honest users' final Z must equal the in-process protocol run over the honest users only,
replaying exactly which honest users answered each round (the restart gap) — i.e. the hostile
users changed nothing. See docs/reliability.md for the table these tests back.
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from ap_server.coordinator import Coordinator
from protocol.config import RunConfig
from protocol.runtime_config import RuntimeSettings
from scenarios.latents import load_npz_latents, save_npz_latents
from scenarios.launch import Launch, LaunchOptions
from scenarios.loopback import exchange_round, handshake, make_devices
from scenarios.synthetic import make_synthetic
from user_client.faults import parse_faults

pytestmark = pytest.mark.flower

ROUNDS = 12
HONEST = (0, 1, 2)
HOSTILE = {
    3: "shape@0,nan@1,inf@2,big@3,spoof@4,late@5,shape@6,nan@7,inf@8,big@9,spoof@10,shape@11",
    4: "future@0,replay@1,stale@2,replay@3,future@4,replay@5,stale@6,replay@7,future@8,replay@9,stale@10,silent@11",
}
LIMIT = 256 * 1024  # max_payload_bytes of this run: the honest replies are ~1 KB, the 'big' one 1 MiB
TIMEOUT = 6.0  # round deadline: long enough that a loaded machine's honest replies and the restarted user make it
CFG = dict(users=5, tx_antennas=2, rx_antennas=2, channel_uses=2, pilots=400, test_samples=150, iterations=ROUNDS,
           tol=0.0)


def _state(out: Path) -> dict:
    with np.load(out / "ap_state.npz") as f:
        return {"Z": f["Z"], "round": json.loads(str(f["meta"]))["round"]}


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """Run once; every test below reads its results, log, checkpoint and audit file."""
    tmp = tmp_path_factory.mktemp("hostile")
    latents = save_npz_latents(make_synthetic(users=5, train=500, test=200, seed=5), tmp / "latents.npz")
    cfg = RunConfig(**CFG, latents=latents)
    out = tmp / "run"
    audit = tmp / "audit-user0.jsonl"
    nodes = {3: {"fault": HOSTILE[3]}, 4: {"fault": HOSTILE[4]}, 0: {"audit": str(audit)}}
    opts = LaunchOptions(out_dir=out, run_timeout=400, node_configs=nodes)
    t0 = time.monotonic()
    with Launch(cfg, opts) as run:
        run.start_ap()
        for k in range(cfg.users):
            run.start_user(k)
        rt = RuntimeSettings(out_dir=out.resolve(), round_timeout=TIMEOUT, join_timeout=120.0,
                             max_payload_bytes=LIMIT)
        proc = run.submit(cfg, rt)
        end = time.monotonic() + 300
        while time.monotonic() < end and not ((out / "ap_state.npz").exists() and _state(out)["round"] >= 2):
            time.sleep(0.1)
        killed_at = _state(out)["round"]
        run.kill_user(2)  # SIGKILL SuperNode and ClientApp runner ...
        run.start_user(2)  # ... and start the device again: a new node id, same user id
        res = run.wait(proc, time.time() - 600)
    log = (out / "flower" / "logs" / "run.log").read_text(errors="replace")
    return {"cfg": cfg, "res": res, "log": log, "out": out, "audit": audit, "killed_at": killed_at,
            "latents": latents, "wall": time.monotonic() - t0}


def _reference_z(cfg: RunConfig, history: list[dict]) -> torch.Tensor:
    """The in-process protocol over the honest users only, each round with exactly the honest
    users that answered in the Flower run."""
    data = load_npz_latents(cfg.latents)
    coord = Coordinator(cfg, data.ap_train, data.ap_test, data.ap_name)
    devices = [d for d in make_devices(cfg, data) if d.user_id in HONEST]
    handshake(coord, devices)
    for h in history:
        answered = set(h["answered"])
        coord.step(exchange_round(coord, devices, tamper=lambda r, u, d: d if u in answered else None))
    return coord.transmit


def test_hostile_users_never_enter_the_aggregate(hostile_run):
    res = hostile_run["res"]
    assert len(res["history"]) == ROUNDS
    for h in res["history"]:
        assert not set(h["answered"]) & set(HOSTILE), h
    status = res["user_status"]
    for uid, spec in HOSTILE.items():
        assert status[str(uid)]["answered_rounds"] == 0
        assert len(status[str(uid)]["missed_rounds"]) == ROUNDS
    assert status["4"]["completed"] is False  # silent: never answered the evaluation either
    assert {0, 1, 2} <= set(res["completed_users"])


def test_each_hostile_input_rejected_with_a_clear_log_line(hostile_run):
    log = hostile_run["log"]
    expected = {  # fault kind -> the AP's log line for it (user, round and reason)
        "shape": r"round (\d+): reply of user 3 rejected: .*cross has shape \(4, 15\), expected \(4, 16\)",
        "nan": r"round (\d+): reply of user 3 rejected: gram: .*array contains NaN or Inf \(1 NaN, 0 Inf\)",
        "inf": r"round (\d+): reply of user 3 rejected: gram: .*array contains NaN or Inf \(0 NaN, 1 Inf\)",
        "big": r"round (\d+): reply of user 3 rejected: before decoding: payload of \d+ bytes exceeds the limit of "
               + str(LIMIT),
        "spoof": r"round (\d+): reply of user 3 rejected: .*user_id 2 does not match the sender \(3\)",
        "future": r"round (\d+): reply of user 4 rejected: .*round \d+ is not the current round \d+ \(future\)",
        "stale": r"round (\d+): reply of user 4 rejected: .*round \d+ is not the current round \d+ \(stale\)",
        "replay": r"round (\d+): reply of user 4 rejected: replayed: arrays identical to its reply of round \d+",
        "late": r"late reply of user 3 \(node \d+\), round (\d+) \(train.round\) arrived after its deadline: discarded",
        "silent": r"no reply from user 4 \(node \d+\), round (\d+) within the " + f"{TIMEOUT:.1f}" + r" s deadline",
    }
    for kind, pattern in expected.items():
        rounds = {int(m) for m in re.findall(pattern, log)}
        planned = {r for uid, spec in HOSTILE.items() for r, k in parse_faults(spec).items() if k == kind}
        assert planned <= rounds, (kind, planned, rounds)
    assert re.search(r"no reply from user 4 \(node \d+\), evaluation within", log)


def test_honest_f_equals_a_run_without_the_hostile_users(hostile_run):
    res = hostile_run["res"]
    ref = _reference_z(hostile_run["cfg"], res["history"]).numpy()
    z = _state(hostile_run["out"])["Z"]
    assert float(np.linalg.norm(z - ref) / np.linalg.norm(ref)) <= 1e-5
    assert sum(len(h["answered"]) for h in res["history"]) >= 2 * ROUNDS  # the honest users did take part


def test_killed_and_restarted_user_rejoins(hostile_run):
    res, killed = hostile_run["res"], hostile_run["killed_at"]
    answered = [set(h["answered"]) for h in res["history"]]
    assert killed >= 2 and all(2 in a for a in answered[:killed])
    back = [i for i, a in enumerate(answered) if i > killed and 2 in a]
    assert back, answered  # it answered again after the restart ...
    assert all(2 in a for a in answered[back[0]:])  # ... and from then on
    assert 2 in res["completed_users"]
    assert re.search(r"user 2 reconnected \(node \d+ replaces node \d+\)", hostile_run["log"])


def test_uplink_audit_holds_only_design_quantities(hostile_run):
    """Every record honest user 0 sent (captured at the ClientApp): only the DESIGN.md §4
    quantities — no array with a pilot (n) or test-sample axis, nothing of size d_k × n."""
    cfg = hostile_run["cfg"]
    entries = [json.loads(line) for line in hostile_run["audit"].read_text().splitlines()]
    kinds = [e["message_type"] for e in entries]
    assert kinds.count("train.round") >= ROUNDS and "query.join" in kinds and "evaluate.final" in kinds
    m, big_m = 16, cfg.symbols  # AP features (32/2) and N_T c
    for e in entries:
        assert not e["error"]
        shapes = {k: tuple(v["shape"]) for k, v in e["arrays"].items()}
        if e["message_type"] == "train.round":
            assert shapes == {"arrays.gram": (big_m, big_m), "arrays.cross": (big_m, m)}
        else:
            assert shapes == {}
        for shape in shapes.values():
            assert cfg.pilots not in shape and cfg.test_samples not in shape
        fields = {}
        for text in e["configs"].values():
            fields.update(json.loads(text))
        allowed = {"query.join": {"user_id", "latent_dim", "rx_antennas", "snr_db", "device", "capabilities"},
                   "query.configure": {"user_id"}, "train.round": {"round", "user_id"},
                   "evaluate.final": {"user_id", "encoder", "latent_dim", "mse", "nmse", "accuracy",
                                      "oracle_accuracy"}}[e["message_type"]]
        assert set(fields) <= allowed, (e["message_type"], fields)
        assert all(not isinstance(v, list) or len(v) < 8 for v in fields.values())  # no smuggled vectors
