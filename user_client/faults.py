"""Fault drills: a user device that misbehaves on purpose, so a deployment can check that the
AP rejects bad messages with a clear log line and carries on with the others (DESIGN.md §4).

Enabled per user with the node config ``fault = "KIND@ROUND[,KIND@ROUND…]"`` (rounds count
from 0, as ``RoundRequest.round``). Kinds: ``shape`` (a column short), ``nan`` (a NaN in the
Gram matrix), ``stale`` (last round's number), ``spoof`` (another user's id), ``crash`` (the
handler raises: Flower sends an error reply), ``forget`` (the device loses its run state,
as a restarted ClientApp process would; the AP repeats the handshake).
"""
from __future__ import annotations

import re

import numpy as np

__all__ = ["FAULT_KINDS", "parse_faults", "apply_fault"]

FAULT_KINDS = ("shape", "nan", "stale", "spoof", "crash", "forget")
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


def apply_fault(kind: str, reply: dict) -> dict:
    """The reply fields of a ``RoundReply`` with ``kind`` of damage (``crash`` raises)."""
    data = dict(reply)
    if kind == "shape":
        data["cross"] = data["cross"][:, :-1]
    elif kind == "nan":
        data["gram"] = np.array(data["gram"], copy=True)
        data["gram"][0, 0] = np.nan
    elif kind == "stale":
        data["round"] = data["round"] - 1
    elif kind == "spoof":
        data["user_id"] = data["user_id"] + 1
    elif kind == "crash":
        raise RuntimeError(f"fault drill: user {data['user_id']} crashes in round {data['round']}")
    else:
        raise ValueError(f"unknown fault kind {kind!r}")
    return data
