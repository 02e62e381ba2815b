"""Flower record codec: each DESIGN.md §4 message model <-> a Flower ``RecordDict``.

Arrays travel in an ``ArrayRecord`` (complex64/complex128 survive bit for bit); every other
field as one JSON string in a ``ConfigRecord``. Decoding returns a plain dict that the
receiver validates with the message model (and its context), so a malformed record is a
:class:`RecordError` or a validation error — never a crash.

The size of a record is measured from its raw bytes (:func:`record_nbytes`) and checked
against a limit *before* any array or JSON is decoded (``from_record(..., max_bytes=)``).
"""
from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, RecordDict
from pydantic import BaseModel

__all__ = ["RecordError", "PayloadTooLarge", "to_record", "dict_to_record", "from_record", "record_nbytes"]

ARRAYS, FIELDS = "arrays", "fields"


class RecordError(ValueError):
    """A record that is not a message of this protocol."""


class PayloadTooLarge(RecordError):
    """A record whose raw bytes exceed the configured limit (checked before decoding)."""


def to_record(msg: BaseModel) -> RecordDict:
    return dict_to_record(msg.model_dump())


def dict_to_record(data: dict[str, Any]) -> RecordDict:
    """A message's fields (arrays as numpy arrays) as a record, without validation."""
    arrays = {k: Array(np.asarray(v, order="C")) for k, v in data.items() if isinstance(v, np.ndarray)}  # keeps 0-d
    fields = {k: v for k, v in data.items() if not isinstance(v, np.ndarray)}
    return RecordDict({ARRAYS: ArrayRecord(arrays), FIELDS: ConfigRecord({"json": json.dumps(fields)})})


def record_nbytes(content: RecordDict) -> int:
    """Raw payload bytes of a record: every array's serialized data and every config value's
    text, without decoding anything (what the size limit is checked against)."""
    total = 0
    try:
        for rec in content.array_records.values():
            for arr in rec.values():
                total += len(getattr(arr, "data", b"") or b"")
        for rec in content.config_records.values():
            for v in rec.values():
                total += len(v) if isinstance(v, (str, bytes)) else 8
    except (AttributeError, TypeError) as e:
        raise RecordError(f"not a semalign message record: {type(e).__name__}: {e}") from None
    return total


def from_record(content: RecordDict, max_bytes: int | None = None) -> dict[str, Any]:
    """The message's fields as a dict (arrays as numpy arrays), not yet validated.

    ``max_bytes``: refuse (:class:`PayloadTooLarge`) a record whose raw bytes exceed it,
    before decoding. Anything that is not a record of this protocol is a :class:`RecordError`."""
    if max_bytes is not None:
        size = record_nbytes(content)
        if size > max_bytes:
            raise PayloadTooLarge(f"payload of {size} bytes exceeds the limit of {max_bytes} bytes (not decoded)")
    try:
        text = content.config_records[FIELDS]["json"]
        if not isinstance(text, str):
            raise TypeError(f"fields are {type(text).__name__}, not JSON text")
        fields = json.loads(text)
        arrays = {k: _decode_array(v) for k, v in content.array_records[ARRAYS].items()}
    except (KeyError, TypeError, ValueError, AttributeError, EOFError, OSError, RecursionError, MemoryError) as e:
        raise RecordError(f"not a semalign message record: {type(e).__name__}: {str(e)[:200]}") from None
    if not isinstance(fields, dict):
        raise RecordError("message fields are not a JSON object")
    overlap = set(fields) & set(arrays)
    if overlap:
        raise RecordError(f"fields given twice: {sorted(overlap)}")
    return {**fields, **arrays}


def _decode_array(arr: Array) -> np.ndarray:
    """An ``Array``'s numpy value, after checking that its ``.npy`` header announces exactly
    the bytes that follow (a forged header could otherwise make ``np.load`` allocate an
    array of any size before noticing the data is short). No pickles, plain dtypes only."""
    if arr.stype != "numpy.ndarray":
        raise TypeError(f"array serialization {arr.stype!r} is not numpy.ndarray")
    buf = io.BytesIO(arr.data)
    try:  # numpy parses the header with ast/tokenize: a damaged one can raise SyntaxError & co
        major, _ = np.lib.format.read_magic(buf)
        if major == 1:
            shape, _, dtype = np.lib.format.read_array_header_1_0(buf)
        elif major in (2, 3):
            shape, _, dtype = np.lib.format.read_array_header_2_0(buf)
        else:
            raise ValueError(f"unsupported .npy format version {major}")
    except Exception as e:  # noqa: BLE001 — anything wrong with the header is a malformed record
        raise ValueError(f"damaged .npy header: {type(e).__name__}: {str(e)[:100]}") from None
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise TypeError(f"array dtype {dtype} is not a plain numeric type")
    expected = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if expected != len(arr.data) - buf.tell():
        raise ValueError(f"array header announces {expected} bytes of data, {len(arr.data) - buf.tell()} follow")
    return arr.numpy()
