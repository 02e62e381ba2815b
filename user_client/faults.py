"""Fault drills: a user device that misbehaves on purpose, so a deployment can check that the
AP rejects bad messages with a clear log line and carries on with the others (DESIGN.md §4;
docs/reliability.md lists what each drill shows).

Enabled per user with the node config ``fault = "KIND@ROUND[,KIND@ROUND…]"`` (rounds count
from 0, as ``RoundRequest.round``). Kinds that damage the reply: ``shape`` (a column short),
``nan`` (a NaN in the Gram matrix), ``inf`` (an Inf in it), ``big`` (a ~1 MiB cross matrix:
beyond a small configured payload limit), ``stale`` (last round's number), ``future`` (next
round's number), ``spoof`` (another user's id), ``replay`` (the previous round's reply arrays
re-sent under the current round number). Kinds that change the timing: ``late`` (answers
after the AP's round deadline), ``silent`` (never answers: the handler blocks). Others:
``crash`` (the handler raises: Flower sends an error reply), ``forget`` (the device loses its
run state, as a restarted ClientApp process would; the AP repeats the handshake).
"""
from __future__ import annotations

import re

import numpy as np

__all__ = ["FAULT_KINDS", "TIMING_KINDS", "BIG_BYTES", "parse_faults", "apply_fault", "fault_delay"]

FAULT_KINDS = ("shape", "nan", "inf", "big", "stale", "future", "spoof", "replay", "late", "silent", "crash", "forget")
TIMING_KINDS = ("late", "silent")
BIG_BYTES = 2**20  # size of the ``big`` drill's cross matrix
_ITEM = re.compile(r"^\s*([a-z]+)@(\d+)\s*$")


def parse_faults(spec: str | None) -> dict[int, str]:
    """``"nan@3,crash@5"`` -> ``{3: "nan", 5: "crash"}``; ``ValueError`` on anything else."""
    out: dict[int, str] = {}
    for item in (spec or "").split(","):
        if not item.strip():
            continue
        m = _ITEM.match(item)
        if m is None or m.group(1) not in FAULT_KINDS:
            raise ValueError(f"fault {item.strip()!r} is not KIND@ROUND with KIND in {', '.join(FAULT_KINDS)}")
        out[int(m.group(2))] = m.group(1)
    return out


def fault_delay(kind: str, round_timeout: float) -> float:
    """Seconds a timing drill waits before answering: past the AP's deadline (``late``) or
    for an hour, i.e. never within a run (``silent``)."""
    return {"late": round_timeout + 1.5, "silent": 3600.0}.get(kind, 0.0)


def apply_fault(kind: str, reply: dict, previous: dict | None = None) -> dict:
    """The reply fields of a ``RoundReply`` with ``kind`` of damage (``crash`` raises).
    ``previous``: this user's honest reply of the previous round (for ``replay``)."""
    data = dict(reply)
    if kind == "shape":
        data["cross"] = data["cross"][:, :-1]
    elif kind in ("nan", "inf"):
        data["gram"] = np.array(data["gram"], copy=True)
        data["gram"][0, 0] = np.nan if kind == "nan" else np.inf
    elif kind == "big":
        rows = data["cross"].shape[0]
        data["cross"] = np.ones((rows, BIG_BYTES // (rows * data["cross"].itemsize) + 1), dtype=data["cross"].dtype)
    elif kind == "stale":
        data["round"] = data["round"] - 1
    elif kind == "future":
        data["round"] = data["round"] + 1
    elif kind == "spoof":
        data["user_id"] = data["user_id"] - 1 if data["user_id"] > 0 else data["user_id"] + 1
    elif kind == "replay":
        if previous is None:
            raise ValueError("fault drill 'replay' needs a previous reply (not in the first round)")
        data["gram"], data["cross"] = previous["gram"], previous["cross"]
    elif kind == "crash":
        raise RuntimeError(f"fault drill: user {data['user_id']} crashes in round {data['round']}")
    elif kind in TIMING_KINDS:
        pass  # the reply is honest; the ClientApp delays it (fault_delay)
    else:
        raise ValueError(f"unknown fault kind {kind!r}")
    return data
