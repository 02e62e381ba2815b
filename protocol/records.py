"""Flower record codec: each DESIGN.md §4 message model <-> a Flower ``RecordDict``.

A message is ONE ``ConfigRecord`` (``fields``): the non-array fields as JSON text
(``json``), the arrays as their ``.npy`` serializations one after another (``arrays``,
bytes; complex64/complex128 survive bit for bit) and where each one starts and ends
(``index``, JSON ``[[name, nbytes], ...]``). Flower moves every record, array and array
chunk of a message as an object of its own, one HTTP request each way through the
SuperLink; a message of one record is 3 objects instead of 4 + 2 per array
(docs/performance.md, *Flower runtime*).

Decoding returns a plain dict that the receiver validates with the message model (and its
context), so a malformed record is a :class:`RecordError` or a validation error — never a
crash. The size of a record is measured from its raw bytes (:func:`record_nbytes`) and
checked against a limit *before* any array or JSON is decoded (``from_record(..., max_bytes=)``).
"""
from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
from flwr.app import ConfigRecord, RecordDict
from pydantic import BaseModel

__all__ = ["RecordError", "PayloadTooLarge", "to_record", "dict_to_record", "from_record", "record_nbytes",
           "describe_record"]

FIELDS = "fields"


class RecordError(ValueError):
    """A record that is not a message of this protocol."""


class PayloadTooLarge(RecordError):
    """A record whose raw bytes exceed the configured limit (checked before decoding)."""


def to_record(msg: BaseModel) -> RecordDict:
    return dict_to_record(msg.model_dump())


def dict_to_record(data: dict[str, Any]) -> RecordDict:
    """A message's fields (arrays as numpy arrays) as a record, without validation."""
    index, blobs = [], []
    for k, v in data.items():
        if isinstance(v, np.ndarray):
            buf = io.BytesIO()
            np.save(buf, np.asarray(v, order="C"), allow_pickle=False)  # keeps 0-d
            blobs.append(buf.getvalue())
            index.append([k, len(blobs[-1])])
    fields = {k: v for k, v in data.items() if not isinstance(v, np.ndarray)}
    return RecordDict({FIELDS: ConfigRecord({"json": json.dumps(fields), "index": json.dumps(index),
                                             "arrays": b"".join(blobs)})})


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
        rec = content.config_records[FIELDS]
        text = rec["json"]
        if not isinstance(text, str):
            raise TypeError(f"fields are {type(text).__name__}, not JSON text")
        fields = json.loads(text)
        arrays = {k: _decode_array(blob) for k, blob in _split_arrays(rec).items()}
    except (KeyError, TypeError, ValueError, AttributeError, EOFError, OSError, RecursionError, MemoryError) as e:
        raise RecordError(f"not a semalign message record: {type(e).__name__}: {str(e)[:200]}") from None
    if not isinstance(fields, dict):
        raise RecordError("message fields are not a JSON object")
    overlap = set(fields) & set(arrays)
    if overlap:
        raise RecordError(f"fields given twice: {sorted(overlap)}")
    return {**fields, **arrays}


def describe_record(content: RecordDict) -> dict:
    """What a record carries, without decoding array data: every array's ``{shape, dtype,
    nbytes}`` (from its ``.npy`` header) and the JSON field text — for the uplink audit
    (user_client/audit.py). A record that is not of this protocol is described as it is."""
    try:
        rec = content.config_records[FIELDS]
        arrays = {}
        for k, blob in _split_arrays(rec).items():
            shape, dtype, _ = _npy_header(blob)
            arrays[f"arrays.{k}"] = {"shape": list(shape), "dtype": str(dtype), "nbytes": len(blob)}
        configs = {f"{FIELDS}.json": rec["json"]}
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        return {"arrays": {}, "configs": {}, "undecodable": f"{type(e).__name__}: {str(e)[:200]}"}
    metrics = {f"{n}.{k}": v for n, r in content.metric_records.items() for k, v in r.items()}
    return {"arrays": arrays, "configs": configs, "metrics": metrics}


def _split_arrays(rec: ConfigRecord) -> dict[str, bytes]:
    """The ``arrays`` bytes cut into one ``.npy`` blob per name, as ``index`` says — every
    byte accounted for, names unique (else ValueError/TypeError)."""
    index = json.loads(rec["index"]) if "index" in rec else []
    data = rec["arrays"] if "arrays" in rec else b""
    if not isinstance(data, bytes):
        raise TypeError(f"arrays are {type(data).__name__}, not bytes")
    if not isinstance(index, list):
        raise TypeError("array index is not a list")
    out: dict[str, bytes] = {}
    pos = 0
    for item in index:
        if (not isinstance(item, list) or len(item) != 2 or not isinstance(item[0], str)
                or type(item[1]) is not int or item[1] < 0):
            raise ValueError(f"bad array index entry {str(item)[:60]}")
        name, size = item
        if name in out:
            raise ValueError(f"array {name!r} given twice")
        if pos + size > len(data):
            raise ValueError(f"array index runs past the data ({pos + size} > {len(data)} bytes)")
        out[name] = data[pos:pos + size]
        pos += size
    if pos != len(data):
        raise ValueError(f"{len(data) - pos} bytes of array data not in the index")
    return out


def _npy_header(blob: bytes) -> tuple[tuple[int, ...], np.dtype, int]:
    """Shape, dtype and data offset of a ``.npy`` blob, after checking that its header announces
    exactly the bytes that follow (a forged header could otherwise make ``np.load`` allocate an
    array of any size before noticing the data is short). No pickles, plain dtypes only."""
    buf = io.BytesIO(blob)
    try:  # numpy parses the header with ast/tokenize: a damaged one can raise SyntaxError & co
        major, _ = np.lib.format.read_magic(buf)
        if major == 1:
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(buf)
        elif major in (2, 3):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(buf)
        else:
            raise ValueError(f"unsupported .npy format version {major}")
    except Exception as e:  # noqa: BLE001 — anything wrong with the header is a malformed record
        raise ValueError(f"damaged .npy header: {type(e).__name__}: {str(e)[:100]}") from None
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise TypeError(f"array dtype {dtype} is not a plain numeric type")
    if fortran:
        raise ValueError("Fortran-ordered arrays are not sent by this protocol")
    expected = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if expected != len(blob) - buf.tell():
        raise ValueError(f"array header announces {expected} bytes of data, {len(blob) - buf.tell()} follow")
    return tuple(shape), dtype, buf.tell()


def _decode_array(blob: bytes) -> np.ndarray:
    """A ``.npy`` blob's array (a copy: the record's bytes are not kept alive)."""
    shape, dtype, offset = _npy_header(blob)
    return np.frombuffer(blob, dtype=dtype, offset=offset).reshape(shape).copy()
