"""The AP's side of the protocol: handshake, per-round requests, reply validation, the ADMM
update, evaluation and checkpoints (DESIGN.md §3–§4).

Transport-free: the Flower ServerApp and the in-process loopback drive the same object.
A bad message from one user is logged with its id and dropped; the round goes on.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from pydantic import ValidationError

from ap_server.admm import APState, PenaltyRule, ap_update, divergence_warning, start_state
from ap_server.consensus import power
from ap_server.init import initial_f
from channel import expand_uses, make_generator, real_composite, user_link
from protocol.accounting import ByteLedger, array_bytes
from protocol.atomic import write_npz_atomic
from protocol.config import RunConfig
from protocol.messages import (
    EvaluateReply, EvaluateRequest, JoinRequest, PilotBroadcast, RoundReply, RoundRequest, RunParameters,
)
from protocol.packing import complex_dim
from protocol.pilots import prepare_side, select_pilots
from protocol.wire import from_wire, to_wire

__all__ = ["Coordinator", "UserStatus"]

log = logging.getLogger("semalign.ap")
DTYPES = {"single": torch.complex64, "double": torch.complex128}
STATE_FILE = "ap_state.npz"


@dataclass
class UserStatus:
    """What the AP knows of user k (from its join request) and how it has behaved."""

    join: dict
    answered: list[int] = field(default_factory=list)
    missed: list[int] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    evaluated: bool = False


class Coordinator:
    """The AP of one federated run."""

    def __init__(self, cfg: RunConfig, ap_train: np.ndarray, ap_test: np.ndarray, ap_name: str = "ap") -> None:
        self.cfg = cfg
        self.ap_name = ap_name
        self.dtype = DTYPES[cfg.precision]
        idx = select_pilots(ap_train.shape[0], cfg.pilots, cfg.seed)
        n_te = min(cfg.test_samples, ap_test.shape[0])
        self.real = cfg.processing == "widely-linear"  # real features, maps and messages (DESIGN.md §2)
        self.x, self.x_test, self.whitener = prepare_side(ap_train[idx], ap_test[:n_te], cfg.whiten, self.dtype,
                                                          processing=cfg.processing)
        self.ap_dim = int(ap_train.shape[1])
        self.n = self.x.shape[-1]
        self.m = self.x.shape[0]
        self.rxx = self.x @ self.x.mH / self.n
        gen = make_generator(cfg.seed, "init")
        self.state: APState = start_state(
            initial_f(cfg.init, cfg.f_rows, self.whitener.chol, cfg.power, gen, real=self.real), cfg.power, cfg.users,
            True, cfg.dual)
        self.users: dict[int, UserStatus] = {}
        self._h_est: dict[int, torch.Tensor] = {}
        self.ledger = ByteLedger()
        self.history: list[dict] = []
        self.round_times: list[float] = []
        self._asked: dict[int, dict[int, bytes]] = {}  # user -> round -> digest of the request payload
        self._sent: dict[int, dict[bytes, int]] = {}  # user -> digest of reply arrays -> first round seen

    # -- handshake ---------------------------------------------------------------------------
    def params(self) -> RunParameters:
        c = self.cfg
        return RunParameters(run_seed=c.seed, pilots=c.pilots, tx_antennas=c.tx_antennas, channel_uses=c.channel_uses,
                             ap_features=self.m, rho=c.rho, power=c.power, iterations=c.iterations, csi=c.csi,
                             csi_nmse=c.csi_nmse, whiten=c.whiten, test_samples=self.x_test.shape[-1],
                             protocol=c.protocol, precision=c.precision, processing=c.processing)

    def accept_join(self, data: dict) -> JoinRequest | None:
        """Validate a join request; unknown or duplicate user ids are refused."""
        try:
            req = JoinRequest.model_validate(data)
        except ValidationError as e:
            log.warning("join rejected: %s", _one_line(e))
            return None
        if req.user_id >= self.cfg.users:
            log.warning("join rejected: user id %d outside 0..%d", req.user_id, self.cfg.users - 1)
            return None
        if req.user_id in self.users and JoinRequest.model_validate(self.users[req.user_id].join) != req:
            log.warning("join rejected: user id %d already joined with other settings", req.user_id)
            return None
        if self.real and "widely-linear" not in req.capabilities:
            log.warning("join rejected: user %d cannot do widely-linear processing", req.user_id)
            return None
        self.users.setdefault(req.user_id, UserStatus(join=req.model_dump()))
        if self.cfg.csi:
            _, est = user_link(req.user_id, req.rx_antennas, self.cfg.tx_antennas, self.cfg.seed,
                               self.cfg.csi_nmse, self.dtype, "cpu", self.cfg.channels, self.cfg.users)
            h_est = expand_uses(est, self.cfg.channel_uses)
            self._h_est[req.user_id] = real_composite(h_est) if self.real else h_est
        return req

    def pilot_broadcast(self, user_id: int) -> PilotBroadcast:
        """Compact mode: X once (counted as downlink of round 0)."""
        msg = PilotBroadcast.model_validate({"x": to_wire(self.x, self.real)}, context={"real": self.real})
        self.ledger.add(0, "downlink", user_id, array_bytes([msg.x]))
        return msg

    # -- rounds ------------------------------------------------------------------------------
    @property
    def round(self) -> int:
        return self.state.round

    def _payload(self, user_id: int, f: torch.Tensor) -> np.ndarray:
        """``H_k F`` / ``F`` (compact) or ``H_k F X`` / ``F X`` (paper), DESIGN.md §4."""
        t = self._h_est[user_id] @ f if self.cfg.csi else f
        if self.cfg.protocol == "paper":
            t = t @ self.x
        return to_wire(t, self.real)

    def round_request(self, user_id: int) -> RoundRequest:
        msg = RoundRequest.model_validate(
            {"round": self.round, "user_id": user_id, "payload": self._payload(user_id, self.state.f[0])},
            context={"real": self.real})
        self._asked.setdefault(user_id, {})[self.round] = _digest(msg.payload)
        self.ledger.add(self.round + 1, "downlink", user_id, array_bytes([msg.payload]))
        return msg

    def reply_shapes(self) -> dict:
        big_m = self.cfg.f_rows
        cols = self.n if self.cfg.protocol == "paper" else self.m
        return {"gram_shape": (big_m, big_m), "cross_shape": (big_m, cols)}

    def reject(self, sender: int, reason: str) -> None:
        """Log a rejected reply of user ``sender`` and keep the reason in its status."""
        log.warning("round %d: reply of user %d rejected: %s", self.round, sender, reason)
        if sender in self.users:
            self.users[sender].rejected.append(f"round {self.round}: {reason}")

    def accept_reply(self, sender: int, data: dict) -> RoundReply | None:
        """Validate a round reply from user ``sender`` (shape, dtype, finiteness, id, round,
        replay). A *replay* is a reply whose arrays are bit-identical to ones this user sent
        before in answer to a different request: the round number alone cannot catch it,
        since whoever re-sends a captured reply can rewrite that field."""
        if sender not in self.users:
            log.warning("round %d: reply from unknown user %s rejected", self.round, sender)
            return None
        digest = _digest(data.get("gram"), data.get("cross")) if isinstance(data, dict) else None
        asked = self._asked.get(sender, {}).get(self.round)
        if digest is not None:
            seen = self._sent.setdefault(sender, {})
            first = seen.setdefault(digest, self.round)
            if first != self.round and self._asked.get(sender, {}).get(first) != asked:
                self.reject(sender, f"replayed: arrays identical to its reply of round {first}")
                return None
        ctx = {"round": self.round, "user_id": sender, "real": self.real, **self.reply_shapes()}
        try:
            reply = RoundReply.model_validate(data, context=ctx)
        except ValidationError as e:
            self.reject(sender, _one_line(e))
            return None
        self.ledger.add(self.round + 1, "uplink", sender, array_bytes([reply.gram, reply.cross]))
        return reply

    def step(self, replies: dict[int, RoundReply], wall_time: float | None = None) -> dict:
        """Local F-steps of the users that answered, global F, Z, U (DESIGN.md §3 steps 2–5)."""
        k = self.cfg.users
        big_m = self.cfg.f_rows
        gram = torch.zeros(k, big_m, big_m, dtype=self.dtype)
        cross = torch.zeros(k, big_m, self.m, dtype=self.dtype)
        weights = torch.zeros(k, dtype=torch.float64)
        for uid, r in replies.items():
            gram[uid] = from_wire(r.gram, self.dtype)
            c = from_wire(r.cross, self.dtype)
            cross[uid] = c @ self.x.mH / self.n if self.cfg.protocol == "paper" else c
            weights[uid] = 1.0
        for uid, st in self.users.items():
            (st.answered if uid in replies else st.missed).append(self.round)
            if uid not in replies:
                log.warning("round %d: user %d left out (no valid reply)", self.round, uid)
        if not replies:
            raise RuntimeError(f"round {self.round}: no user answered")
        rxx = None if self.cfg.whiten else self.rxx
        self.state, res = ap_update(self.state, gram, cross, PenaltyRule.from_config(self.cfg), self.cfg.power, True,
                                    rxx, weights, self.cfg.aggregation, self.cfg.trim)
        if self.real:
            self.state = self.state.real_part()
        rec = {"iteration": self.round, "primal_residual": res.primal, "dual_residual": res.dual, "rho": res.rho,
               "tr_FFH": float(power(self.state.f).max()), "answered": sorted(replies)}
        if wall_time is not None:
            rec["wall_time_s"] = wall_time
        self.history.append(rec)
        return rec

    def converged(self) -> bool:
        if self.round >= self.cfg.iterations:
            return True
        h = self.history[-1] if self.history else None
        return bool(self.cfg.tol > 0 and h and self.round > 1
                    and h["primal_residual"] < self.cfg.tol and h["dual_residual"] < self.cfg.tol)

    # -- evaluation ----------------------------------------------------------------------------
    @property
    def transmit(self) -> torch.Tensor:
        return self.state.transmit(self.cfg.transmit)

    def evaluate_request(self, user_id: int) -> EvaluateRequest:
        f = self.transmit[0]
        return EvaluateRequest.model_validate(
            {"round": self.round, "user_id": user_id, "payload": self._payload(user_id, f),
             "tx_test": to_wire(f @ self.x_test, self.real)}, context={"real": self.real})

    def accept_metrics(self, sender: int, data: dict) -> EvaluateReply | None:
        if sender not in self.users:
            log.warning("evaluation from unknown user %s rejected", sender)
            return None
        try:
            rep = EvaluateReply.model_validate(data)
        except ValidationError as e:
            log.warning("evaluation of user %s rejected: %s", sender, _one_line(e))
            return None
        if rep.user_id != sender:
            log.warning("evaluation rejected: user %d claims id %d", sender, rep.user_id)
            return None
        self.users[sender].evaluated = True
        return rep

    def results(self, metrics: dict[int, EvaluateReply], extra: dict | None = None) -> dict:
        """The results.json of ``semalign run``, plus per-user status, bytes per round, times."""
        rows = []
        for uid in sorted(metrics):
            r = metrics[uid].model_dump()
            r["id"] = r.pop("user_id")
            r["snr_db"] = self.users[uid].join["snr_db"]
            rows.append(r)
        mean = {key: (float(np.mean([r[key] for r in rows])) if rows and all(r[key] is not None for r in rows) else None)
                for key in ("mse", "nmse", "accuracy", "oracle_accuracy")}
        led = self.ledger.summary()
        return {
            "config": self.cfg.model_dump(mode="json"), "method": "federated", "source": "flower",
            "ap_encoder": self.ap_name, "compression": self.cfg.symbols / complex_dim(self.ap_dim),
            "users": rows, "mean": mean,
            "tr_FFH": float(power(self.transmit).max()), "iterations": self.round,
            "bytes": self._bytes_summary(led),
            "history": self.history,
            "warnings": [w for w in [divergence_warning(self.history)] if w],
            "user_status": {str(uid): {"completed": st.evaluated, "answered_rounds": len(st.answered),
                                       "missed_rounds": st.missed, "rejected": st.rejected}
                            for uid, st in sorted(self.users.items())},
            **(extra or {}),
        }

    def _bytes_summary(self, led: dict) -> dict:
        """Totals, setup bytes (round 0: pilots) and the mean per ADMM round, as ``semalign run``."""
        rounds = [r for r in led["per_round"] if r["round"] >= 1]
        setup = next((r["downlink"] for r in led["per_round"] if r["round"] == 0), 0)

        def mean(direction: str) -> float:
            return float(np.mean([r[direction] for r in rounds])) if rounds else 0.0

        return {"protocol": self.cfg.protocol, "setup_downlink": setup, "downlink_per_round": mean("downlink"),
                "uplink_per_round": mean("uplink"), "downlink_total": led["downlink_total"],
                "uplink_total": led["uplink_total"], "rounds": len(rounds), "per_round": led["per_round"]}

    # -- checkpoints ---------------------------------------------------------------------------
    def checkpoint(self, folder: Path) -> None:
        """Atomically write F, Z, U, round, config, history and per-user status."""
        meta = {"config": self.cfg.model_dump(mode="json"), "round": self.round, "history": self.history,
                "users": {str(k): v.__dict__ for k, v in self.users.items()}, "saved_at": time.time()}
        rho = {} if self.state.rho is None else {"RHO": self.state.rho.numpy()}
        write_npz_atomic(Path(folder) / STATE_FILE, F=self.state.f.numpy(), Z=self.state.z.numpy(),
                         U=self.state.u.numpy(), meta=np.array(json.dumps(meta)), **rho)

    def restore(self, folder: Path) -> bool:
        """Resume from a checkpoint of the same config; returns whether one was loaded."""
        path = Path(folder) / STATE_FILE
        if not path.exists():
            return False
        meta, arrays = _read_checkpoint(path, required=("F", "Z", "U"))
        if diff := config_differences(meta["config"], self.cfg):
            raise ValueError(f"checkpoint {path} belongs to a different run configuration ({', '.join(diff)} differ); "
                             "use the same settings, or another --out to start afresh")
        rho = arrays.get("RHO")
        self.state = APState(f=torch.from_numpy(arrays["F"]), z=torch.from_numpy(arrays["Z"]),
                             u=torch.from_numpy(arrays["U"]), round=int(meta["round"]),
                             rho=None if rho is None else torch.from_numpy(rho))
        self.history = meta["history"]
        for k, v in meta["users"].items():
            self.users.setdefault(int(k), UserStatus(**v))
        log.info("resumed from %s at round %d", path, self.round)
        return True


def _digest(*arrays) -> bytes | None:
    """SHA-256 over the arrays' dtype, shape and bytes (``None`` unless all are arrays)."""
    if not all(isinstance(a, np.ndarray) for a in arrays):
        return None
    h = hashlib.sha256()
    for a in arrays:
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.digest()


def _one_line(err: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'message'}: {e['msg']}" for e in err.errors())


def config_differences(saved: dict, cfg: RunConfig) -> list[str]:
    """The fields in which a checkpoint's run configuration ``saved`` differs from ``cfg`` (sorted; [] = same run).
    A checkpoint from before a field existed holds that field's default."""
    try:
        saved = RunConfig.model_validate(saved).model_dump(mode="json")
    except ValidationError:
        pass
    new = cfg.model_dump(mode="json")
    return sorted(k for k in set(saved) | set(new) if saved.get(k) != new.get(k))


def checkpoint_differences(folder: Path, cfg: RunConfig) -> list[str] | None:
    """Before a resumed run starts: the fields in which the checkpoint in ``folder`` differs from ``cfg``, or None if
    there is no checkpoint (the run then starts afresh). A damaged one raises ``ValueError`` with the same message as
    :meth:`Coordinator.restore`, so a resume is refused before any process starts."""
    path = Path(folder) / STATE_FILE
    if not path.exists():
        return None
    meta, _ = _read_checkpoint(path)
    return config_differences(meta["config"], cfg)


def _read_checkpoint(path: Path, required: tuple[str, ...] = ()) -> tuple[dict, dict[str, np.ndarray]]:
    """The checkpoint's metadata and every array in it, all read now (``np.load`` is lazy, so a corrupt member would
    otherwise surface later); any damage, or a missing ``required`` array, is one ``ValueError`` and nothing is used."""
    try:
        with np.load(path) as f:
            meta = json.loads(str(f["meta"]))
            arrays = {k: f[k] for k in f.files if k != "meta"}
        if missing := [k for k in required if k not in arrays]:
            raise KeyError(f"no array {', '.join(missing)}")
    except Exception as e:  # noqa: BLE001 — any damage: one clear error, nothing half-restored
        raise ValueError(f"checkpoint {path} is unreadable ({type(e).__name__}: {e}); "
                         "move it away to start afresh") from None
    return meta, arrays
