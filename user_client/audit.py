"""Uplink audit: a Flower ClientApp mod that records every message this user device sends —
each record's keys, every array's shape/dtype/bytes and every config value — to a JSON-lines
file (node config ``audit = PATH``), so a privacy check can inspect the whole uplink
(DESIGN.md §4: never ``Y_k``; docs/reliability.md).
"""
from __future__ import annotations

import json
from pathlib import Path

from flwr.app import Context, Message

from protocol.records import describe_record

__all__ = ["audit_mod"]


def audit_mod(msg: Message, context: Context, call_next) -> Message:
    """Pass the message on; append what the reply carries to the node's audit file, if any."""
    reply = call_next(msg, context)
    path = context.node_config.get("audit", "")
    if path:
        entry = {"message_type": msg.metadata.message_type, "error": reply.has_error()}
        if not reply.has_error():
            entry.update(describe_record(reply.content))
        with open(Path(str(path)), "a") as fh:
            fh.write(json.dumps(entry, default=str) + "\n")
    return reply
