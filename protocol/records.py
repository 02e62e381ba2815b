"""Flower record codec: each DESIGN.md §4 message model <-> a Flower ``RecordDict``.

Arrays travel in an ``ArrayRecord`` (complex64/complex128 survive bit for bit); every other
field as one JSON string in a ``ConfigRecord``. Decoding returns a plain dict that the
receiver validates with the message model (and its context), so a malformed record is a
:class:`RecordError` or a validation error — never a crash.
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, RecordDict
from pydantic import BaseModel

__all__ = ["RecordError", "to_record", "dict_to_record", "from_record"]

ARRAYS, FIELDS = "arrays", "fields"


class RecordError(ValueError):
    """A record that is not a message of this protocol."""


def to_record(msg: BaseModel) -> RecordDict:
    return dict_to_record(msg.model_dump())


def dict_to_record(data: dict[str, Any]) -> RecordDict:
    """A message's fields (arrays as numpy arrays) as a record, without validation."""
    arrays = {k: Array(np.ascontiguousarray(v)) for k, v in data.items() if isinstance(v, np.ndarray)}
    fields = {k: v for k, v in data.items() if not isinstance(v, np.ndarray)}
    return RecordDict({ARRAYS: ArrayRecord(arrays), FIELDS: ConfigRecord({"json": json.dumps(fields)})})


def from_record(content: RecordDict) -> dict[str, Any]:
    """The message's fields as a dict (arrays as numpy arrays), not yet validated."""
    try:
        fields = json.loads(content.config_records[FIELDS]["json"])
        arrays = {k: v.numpy() for k, v in content.array_records[ARRAYS].items()}
    except (KeyError, TypeError, ValueError) as e:
        raise RecordError(f"not a semalign message record: {type(e).__name__}: {e}") from None
    if not isinstance(fields, dict):
        raise RecordError("message fields are not a JSON object")
    overlap = set(fields) & set(arrays)
    if overlap:
        raise RecordError(f"fields given twice: {sorted(overlap)}")
    return {**fields, **arrays}
