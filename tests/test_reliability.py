"""Reliability in one process: robust aggregation against a finite adversarial user, replay
detection, what the uplink reveals (privacy), unwritable / full disks, and 1,000 users.
docs/reliability.md lists what each test shows."""
from __future__ import annotations

import errno
import logging
import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from ap_server.coordinator import STATE_FILE, Coordinator
from ap_server.robust import geometric_median, trimmed_mean
from protocol.atomic import OutputError, check_writable, write_bytes_atomic
from protocol.config import RunConfig
from scenarios.engine import run
from scenarios.loopback import exchange_round, handshake, make_devices, run_loopback
from scenarios.synthetic import make_synthetic
from tests.conftest import crandn

SMALL = dict(tx_antennas=2, rx_antennas=2, channel_uses=2, tol=0.0)


# -- robust aggregation -------------------------------------------------------------------------
def test_trimmed_mean_and_geometric_median_kernels():
    gen = torch.Generator().manual_seed(0)
    pts = crandn(7, 3, 5, generator=gen)
    w = torch.tensor([1, 1, 1, 0, 1, 1, 1.0])
    assert torch.allclose(trimmed_mean(pts, 0.0), pts.mean(0, keepdim=True))
    assert torch.allclose(trimmed_mean(pts, 0.0, w), pts[w > 0].mean(0, keepdim=True))
    # Weiszfeld against a generic minimiser of sum_k ||F_k - F||_F (real 2x-dimensional problem)
    from scipy.optimize import minimize

    flat = torch.view_as_real(pts[w > 0]).reshape(6, -1).numpy()
    ref = minimize(lambda z: np.linalg.norm(flat - z, axis=1).sum(), flat.mean(0), method="BFGS",
                   options={"gtol": 1e-10}).x
    got = torch.view_as_real(geometric_median(pts, w)).reshape(-1).numpy()
    cost = lambda z: np.linalg.norm(flat - z, axis=1).sum()  # noqa: E731
    assert cost(got) <= cost(ref) + 1e-6 and np.linalg.norm(got - ref) < 1e-3
    # one point sent to 1e6: the mean follows it, the robust ones stay with the others
    bad = pts.clone()
    bad[0] = 1e6
    honest = pts[1:].mean(0, keepdim=True)
    assert float((bad.mean(0, keepdim=True) - honest).abs().max()) > 1e4
    for agg in (trimmed_mean(bad, 0.2), geometric_median(bad)):
        assert float((agg - honest).abs().max()) < 2.0


def _adversary(uid: int):
    rng = np.random.default_rng(0)

    def tamper(rnd, user, data):
        """A finite, well-formed (Hermitian Gram, right shapes) but adversarial reply: its local
        F_k is a large random matrix that drowns the honest users' consensus."""
        if user != uid:
            return data
        c = data["cross"]
        noise = (rng.normal(size=c.shape) + 1j * rng.normal(size=c.shape)).astype(c.dtype)
        return {**data, "gram": np.eye(c.shape[0], dtype=c.dtype), "cross": 100 * noise}
    return tamper


def test_robust_aggregation_resists_a_finite_adversarial_user():
    data = make_synthetic(users=5, train=1200, test=400, seed=3, noise=0.3, classes=10)
    drop = {}
    for agg in ("mean", "trimmed-mean", "geomedian"):
        cfg = RunConfig(users=5, **SMALL, pilots=800, test_samples=400, iterations=15, aggregation=agg)
        clean, _ = run_loopback(cfg, data)
        attacked, coord = run_loopback(cfg, data, tamper=_adversary(4))
        assert all(4 in h["answered"] for h in coord.history)  # the adversary passed validation every round
        acc = lambda res: np.mean([u["accuracy"] for u in res["users"] if u["id"] != 4])  # noqa: E731
        drop[agg] = acc(clean) - acc(attacked)
    assert drop["mean"] > 0.2, drop  # the paper's mean is poisoned ...
    for agg in ("trimmed-mean", "geomedian"):  # ... the robust aggregates barely move
        assert drop[agg] < 0.05 and drop[agg] < drop["mean"] / 4, drop


def test_engine_uses_the_configured_aggregation():
    data = make_synthetic(users=4, train=600, test=200, seed=1)
    base = dict(users=4, **SMALL, pilots=400, test_samples=200, iterations=4)
    runs = {agg: run(RunConfig(**base, aggregation=agg), data)["mean"]["mse"] for agg in ("mean", "geomedian")}
    assert runs["mean"] != runs["geomedian"]
    loop, _ = run_loopback(RunConfig(**base, aggregation="geomedian"), data)
    assert loop["mean"]["mse"] == pytest.approx(runs["geomedian"], rel=1e-4)  # both runtimes, same F


# -- replay -------------------------------------------------------------------------------------
def test_replayed_reply_rejected_even_with_a_fresh_round_number(caplog):
    data = make_synthetic(users=3, train=600, test=200, seed=2)
    cfg = RunConfig(users=3, **SMALL, pilots=400, test_samples=200, iterations=6)
    kept = {}

    def tamper(rnd, uid, d):
        if uid == 1 and rnd == 0:
            kept.update(d)
        if uid == 1 and rnd == 3:  # round 0's honest reply, relabelled as round 3
            return {**kept, "round": 3}
        return d
    with caplog.at_level(logging.WARNING, logger="semalign.ap"):
        res, coord = run_loopback(cfg, data, tamper=tamper)
    assert [1 in h["answered"] for h in coord.history] == [True, True, True, False, True, True]
    assert "replayed: arrays identical to its reply of round 0" in caplog.text
    # an honest user asked the very same question twice may give the very same answer
    coord2 = Coordinator(cfg, data.ap_train, data.ap_test)
    devs = make_devices(cfg, data)
    handshake(coord2, devs)
    req = coord2.round_request(0)
    reply = devs[0].round(req).model_dump()
    assert coord2.accept_reply(0, reply) is not None and coord2.accept_reply(0, reply) is not None


# -- privacy ------------------------------------------------------------------------------------
def _uplink(cfg: RunConfig, data) -> tuple[list[dict], list, list, Coordinator]:
    """Every message the users send in a run: join requests, round replies, evaluation replies."""
    coord = Coordinator(cfg, data.ap_train, data.ap_test)
    devs = make_devices(cfg, data)
    sent = [d.join_request().model_dump() for d in devs]
    handshake(coord, devs)
    rounds = []
    while not coord.converged():
        coord.step(exchange_round(coord, devs, tamper=lambda r, u, d: rounds.append(d) or d))
    sent += [d.evaluate(coord.evaluate_request(d.user_id)).model_dump() for d in devs]
    return sent, rounds, devs, coord


def _recoverable(y_w: torch.Tensor, rows: list[np.ndarray]) -> float:
    """Fraction of the energy of the user's whitened pilot latents ``Y_w`` [p, n] that lies in
    the row space of the given n-column arrays: what a linear read-back could recover."""
    if not rows:
        return 0.0
    _, sv, vh = torch.linalg.svd(torch.from_numpy(np.vstack(rows)).to(y_w.dtype), full_matrices=False)
    q = vh[: int((sv > 1e-8 * sv[0]).sum())].mH  # orthonormal basis of the row space (numerical rank)
    return float((y_w @ q).abs().pow(2).sum() / y_w.abs().pow(2).sum())


@pytest.mark.parametrize("protocol", ["compact", "paper"])
def test_what_the_uplink_reveals(protocol):
    data = make_synthetic(users=3, train=700, test=200, seed=4)
    n = 500
    cfg = RunConfig(users=3, **SMALL, pilots=n, test_samples=200, iterations=8, protocol=protocol,
                    precision="double")
    sent, rounds, devs, coord = _uplink(cfg, data)
    big_m, m = cfg.symbols, data.ap_train.shape[1] // 2
    for msg in sent:  # join and evaluation: scalars and short strings only
        assert not any(isinstance(v, np.ndarray) for v in msg.values())
        assert all(not isinstance(v, (list, tuple)) or (len(v) <= 8 and all(isinstance(x, str) for x in v))
                   for v in msg.values())  # the capability names
    for r in rounds:
        assert set(r) == {"round", "user_id", "gram", "cross"} and r["gram"].shape == (big_m, big_m)
        assert r["cross"].shape == (big_m, m if protocol == "compact" else n)
    for d in devs:
        p = d.y.shape[0]  # complex features of this user's latents
        mine = [r["cross"] for r in rounds if r["user_id"] == d.user_id]
        if protocol == "compact":  # nothing per pilot: no array has an n axis, bytes do not grow with n
            assert all(n not in c.shape for c in mine)
            assert _recoverable(d.y, []) == 0.0
        else:  # paper: cross = A^H Y_w, an M-row projection of the whitened pilots per round ...
            assert _recoverable(d.y, mine[:1]) <= min(big_m, p) / p + 0.05
            # ... and over the rounds the projections fill the part of Y_w that the AP's own
            # latents predict linearly (range of R_yx): that part of the whitened pilots is revealed
            # up to an unknown linear map (the user's private whitening keeps the raw Y_k hidden)
            u, sv, _ = torch.linalg.svd(d.y @ coord.x.mH / n)  # R_yx
            q = u[:, : int((sv > 1e-9 * sv[0]).sum())]
            bound = _recoverable(d.y, [(q.mH @ d.y).numpy()])  # all of Y_w seen through range(R_yx)
            assert bound - 0.01 <= _recoverable(d.y, mine) <= bound + 1e-6
            assert (bound < 0.999) == (q.shape[1] < p)  # all of Y_w when the AP has enough features


# -- disk faults --------------------------------------------------------------------------------
def test_unwritable_output_folder_is_a_clear_error_before_work(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match=f"output folder {blocker / 'out'} is not writable"):
        check_writable(blocker / "out")  # its parent is a file
    ro = tmp_path / "ro"
    ro.mkdir()
    if os.geteuid() != 0:
        ro.chmod(0o500)
    else:  # root ignores permission bits: fail the way a read-only mount does
        import tempfile

        def read_only(*a, **k):
            raise OSError(errno.EROFS, "Read-only file system")
        monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(OutputError, match="not writable: Read-only file system|not writable: Permission denied"):
        check_writable(ro)


def test_disk_full_mid_write_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    data = make_synthetic(users=2, train=500, test=100, seed=6)
    cfg = RunConfig(users=2, **SMALL, pilots=300, test_samples=100, iterations=6)
    coord = Coordinator(cfg, data.ap_train, data.ap_test)
    devs = make_devices(cfg, data)
    handshake(coord, devs)
    for _ in range(2):
        coord.step(exchange_round(coord, devs))
    coord.checkpoint(tmp_path)
    good = (tmp_path / STATE_FILE).read_bytes()
    coord.step(exchange_round(coord, devs))

    real_write = os.fdopen

    class HalfWrite:
        """A file whose write stores half the bytes, then fails as a full disk does."""

        def __init__(self, fd, mode):
            self.f = real_write(fd, mode)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, b):
            self.f.write(b[: len(b) // 2])
            self.f.flush()
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fdopen", HalfWrite)
    with pytest.raises(OutputError, match=r"cannot write .*ap_state.npz: disk full .*previous file is unchanged"):
        coord.checkpoint(tmp_path)
    monkeypatch.undo()
    assert (tmp_path / STATE_FILE).read_bytes() == good  # the last good checkpoint, bit for bit
    assert [p.name for p in tmp_path.iterdir()] == [STATE_FILE]  # no temporary file left behind
    again = Coordinator(cfg, data.ap_train, data.ap_test)
    assert again.restore(tmp_path) and again.round == 2
    (tmp_path / STATE_FILE).write_bytes(good[: len(good) // 3])  # a checkpoint damaged by other means
    with pytest.raises(ValueError, match="is unreadable"):
        Coordinator(cfg, data.ap_train, data.ap_test).restore(tmp_path)


def test_atomic_write_error_names_file_and_reason(tmp_path):
    with pytest.raises(OutputError, match="cannot write .*missing/x.json"):
        write_bytes_atomic(tmp_path / "missing" / "x.json", b"{}")


def test_atomic_write_gives_the_permissions_of_a_plain_write(tmp_path):
    """Results are for the collaborators a folder is shared with: 0o666 less the umask, like ``open(..., "w")``
    (the temporary file behind an atomic write is owner-only, 0o600)."""
    import os
    import stat

    old = os.umask(0o027)
    try:
        write_bytes_atomic(tmp_path / "r.csv", b"a,b\n")
        (tmp_path / "plain.csv").write_bytes(b"a,b\n")
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "r.csv").stat().st_mode)
    assert mode == 0o640 == stat.S_IMODE((tmp_path / "plain.csv").stat().st_mode)


def test_certs_refuses_to_replace_keys_and_writes_them_owner_only(tmp_path, capsys):
    import stat

    from scenarios.cli import main

    out = tmp_path / "certs"
    assert main(["certs", "--out", str(out), "--users", "2"]) == 0
    keys = {p.name: p.read_bytes() for p in out.iterdir()}
    assert set(keys) == {"ca.pem", "server.pem", "server.key", "user-0", "user-0.pub", "user-1", "user-1.pub"}
    for private in ("server.key", "user-0", "user-1"):
        assert stat.S_IMODE((out / private).stat().st_mode) == 0o600
    capsys.readouterr()
    assert main(["certs", "--out", str(out), "--users", "3"]) == 2
    err = capsys.readouterr().err
    assert "already holds ca.pem" in err and "user-1.pub" in err and "--force" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == keys  # nothing replaced, nothing added
    assert main(["certs", "--out", str(out), "--users", "3", "--only-missing"]) == 0  # one more user, same CA
    now = {p.name: p.read_bytes() for p in out.iterdir()}
    assert {k: now[k] for k in keys} == keys and set(now) - set(keys) == {"user-2", "user-2.pub"}
    (out / "user-2.pub").unlink()
    assert main(["certs", "--out", str(out), "--users", "3", "--only-missing"]) == 2  # would replace user-2's key
    assert "half of a key pair: user-2; delete that file" in capsys.readouterr().err
    (out / "user-2").unlink()
    assert main(["certs", "--out", str(out), "--users", "3", "--only-missing", "--host", "ap.example"]) == 2
    assert "not valid for --host ap.example" in capsys.readouterr().err  # the kept certificate names 127.0.0.1 only
    assert main(["certs", "--out", str(out), "--users", "3", "--only-missing", "--host", "LocalHost"]) == 0  # DNS: no case
    assert (out / "user-2.pub").exists() and (out / "ca.pem").read_bytes() == keys["ca.pem"]
    assert main(["certs", "--out", str(out), "--users", "3", "--force"]) == 0
    assert (out / "server.key").read_bytes() != keys["server.key"] and (out / "user-2.pub").exists()
    assert stat.S_IMODE((out / "server.key").stat().st_mode) == 0o600
    (out / "server.pem").write_bytes(b"not a certificate")
    capsys.readouterr()
    assert main(["certs", "--out", str(out), "--users", "3", "--only-missing", "--host", "ap"]) == 2
    err = capsys.readouterr().err
    assert "cannot read the kept AP certificate" in err and len(err.strip().splitlines()) == 1


def test_ap_tls_dir_is_made_absolute_and_missing_files_named(tmp_path, monkeypatch):
    """The SuperLink runs in a folder of its own: `semalign ap --tls-dir certs` must hand it absolute paths."""
    from ap_server.certs import make_tls
    from protocol.config import ConfigError
    from scenarios.cli import _tls_files

    make_tls(tmp_path / "certs")
    monkeypatch.chdir(tmp_path)
    tls = _tls_files(Path("certs"))
    assert all(p.is_absolute() and p.is_file() for p in (tls.ca, tls.cert, tls.key))
    (tmp_path / "certs" / "server.key").unlink()
    with pytest.raises(ConfigError, match=r"server.key not found in .*certs \(`semalign certs --out certs --force`"):
        _tls_files(Path("certs"))


# -- load ---------------------------------------------------------------------------------------
def _thousand():
    data = make_synthetic(users=1000, ap_dim=16, user_dims=(8, 12, 16), train=240, test=60, factors=6, seed=7)
    cfg = RunConfig(users=1000, tx_antennas=2, rx_antennas=2, channel_uses=1, pilots=200, test_samples=60,
                    iterations=3, tol=0.0)
    return data, cfg


def test_thousand_users_in_process_engine_all_accounted_for():
    """1,000 users in the batched engine: every user has a result row with finite metrics."""
    data, cfg = _thousand()
    t = time.perf_counter()
    res = run(cfg, data)
    assert sorted(u["id"] for u in res["users"]) == list(range(1000))
    assert all(np.isfinite(u["mse"]) and u["accuracy"] is not None for u in res["users"])
    assert res["iterations"] == 3 and time.perf_counter() - t < 120


@pytest.mark.load
def test_thousand_users_message_level_all_accounted_for():
    """1,000 users through the AP Coordinator message by message: each answered every round,
    completed, and the protocol gives the engine's F."""
    from scenarios.admm import admm_solve
    from scenarios.problem import build_problem

    data, cfg = _thousand()
    t = time.perf_counter()
    res, coord = run_loopback(cfg, data)
    assert time.perf_counter() - t < 300
    assert len(res["user_status"]) == 1000 and sorted(u["id"] for u in res["users"]) == list(range(1000))
    assert all(s["completed"] and s["answered_rounds"] == 3 and not s["missed_rounds"]
               for s in res["user_status"].values())
    ref = admm_solve(build_problem(cfg, data, torch.complex64, torch.device("cpu")), cfg, track=False).transmit
    assert float((coord.transmit - ref).norm() / ref.norm()) <= 1e-5
