"""Property-based fuzzing (hypothesis) of every decoder and validator on the wire and of the
config loader: whatever arrives, the only exceptions are the documented ones —
:class:`protocol.records.RecordError` from the record codec, :class:`pydantic.ValidationError`
from the message models, :class:`protocol.config.ConfigError` from the config loaders — and
the AP's ``accept_*`` methods never raise at all.

Profiles: ``SEMALIGN_FUZZ=ci`` (default, small and deterministic) or ``SEMALIGN_FUZZ=full``
(2,000 cases per test, > 10,000 per run)::

    SEMALIGN_FUZZ=full PYTHONPATH=$PWD python -m pytest tests/test_fuzz.py -q -p no:cacheprovider \\
        --hypothesis-show-statistics
"""
from __future__ import annotations

import atexit
import json
import math
import os
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from flwr.app import ConfigRecord, RecordDict
from hypothesis import HealthCheck, assume, given, settings, strategies as st
from hypothesis.extra import numpy as hnp
from pydantic import ValidationError

from protocol import messages as M
from protocol.config import ConfigError, RunConfig, load_config_file, parse_run_config
from protocol.records import PayloadTooLarge, RecordError, dict_to_record, from_record, record_nbytes, to_record
from protocol.runtime_config import split_run_config, to_flat, user_settings

_COMMON = dict(deadline=None, database=None, suppress_health_check=list(HealthCheck))
settings.register_profile("semalign-ci", max_examples=60, derandomize=True, **_COMMON)
settings.register_profile("semalign-full", max_examples=2000, **_COMMON)
PROFILE = os.environ.get("SEMALIGN_FUZZ", "ci")
if PROFILE not in ("ci", "full"):
    raise ValueError(f"SEMALIGN_FUZZ must be 'ci' or 'full', got {PROFILE!r}")
FUZZ = settings(settings.get_profile(f"semalign-{PROFILE}"))
TMP = Path(tempfile.mkdtemp(prefix="semalign-fuzz-"))  # one scratch folder for every example, removed at exit
atexit.register(shutil.rmtree, TMP, ignore_errors=True)

MODELS = [M.JoinRequest, M.RunParameters, M.PilotBroadcast, M.RoundRequest, M.RoundReply, M.EvaluateRequest,
          M.EvaluateReply]
DTYPES = [np.complex64, np.complex128, np.float32, np.float64, np.int8, np.int64, np.bool_, np.uint16]

# -- strategies ----------------------------------------------------------------------------------
arrays = hnp.arrays(dtype=st.sampled_from(DTYPES), shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0,
                                                                               max_side=6))
complex_matrices = hnp.arrays(dtype=st.sampled_from([np.complex64, np.complex128]),
                              shape=hnp.array_shapes(min_dims=2, max_dims=2, min_side=0, max_side=6))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12)
scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70), st.floats(),
                    st.text(max_size=40), st.lists(st.integers(), max_size=3), st.sampled_from(["paper", "compact",
                    "single", "double", "cpu"]))
values = st.one_of(scalars, arrays, complex_matrices)


@st.composite
def hermitian(draw) -> np.ndarray:
    a = draw(hnp.arrays(np.complex64, st.tuples(st.integers(1, 5), st.integers(1, 5))))
    a = a[:, : a.shape[0]] if a.shape[1] >= a.shape[0] else a[: a.shape[1]]
    with np.errstate(all="ignore"):  # inf/nan entries are drawn on purpose: hostile gram matrices
        return (a + a.conj().T) / 2


def _valid(model) -> dict:
    """One valid instance's fields per model (mutated by the fuzzers)."""
    c = np.eye(4, dtype=np.complex64)
    return {
        M.JoinRequest: dict(user_id=1, latent_dim=32, rx_antennas=2, snr_db=20.0, device="cpu", capabilities=("csi",)),
        M.RunParameters: dict(run_seed=1, pilots=10, tx_antennas=2, channel_uses=2, ap_features=4, rho=1.0, power=1.0,
                              iterations=3, csi=True, csi_nmse=0.0, whiten=True, test_samples=5, protocol="compact",
                              precision="single"),
        M.PilotBroadcast: dict(x=np.ones((4, 10), np.complex64)),
        M.RoundRequest: dict(round=2, user_id=1, payload=c),
        M.RoundReply: dict(round=2, user_id=1, gram=c, cross=np.ones((4, 4), np.complex64)),
        M.EvaluateRequest: dict(round=3, user_id=1, payload=c, tx_test=np.ones((4, 5), np.complex64)),
        M.EvaluateReply: dict(user_id=1, encoder="x", latent_dim=4, mse=0.1, nmse=0.2, accuracy=0.5,
                              oracle_accuracy=0.9),
    }[model]


@st.composite
def near_valid(draw):
    """A valid message with a few fields replaced, removed or added (reaches deep validators)."""
    model = draw(st.sampled_from(MODELS))
    data = dict(_valid(model))
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(["replace", "replace", "remove", "add", "hermitian"]))
        key = draw(st.sampled_from(sorted(data) or ["x"]))
        if action == "replace":
            data[key] = draw(values)
        elif action == "remove":
            data.pop(key, None)
        elif action == "add":
            data[draw(st.text(min_size=1, max_size=8))] = draw(values)
        else:
            data[key] = draw(hermitian())
    ctx = draw(st.none() | st.fixed_dictionaries({}, optional={
        "round": st.integers(0, 5), "user_id": st.integers(0, 3),
        "gram_shape": st.tuples(st.integers(0, 5), st.integers(0, 5)),
        "cross_shape": st.tuples(st.integers(0, 5), st.integers(0, 5)),
        "payload_shape": st.tuples(st.integers(0, 5), st.integers(0, 5)),
        "x_shape": st.tuples(st.integers(0, 5), st.integers(0, 11)),
        "tx_test_shape": st.tuples(st.integers(0, 5), st.integers(0, 6)), "real": st.booleans()}))
    return model, data, ctx


@st.composite
def raw_npy(draw) -> bytes:
    """Arbitrary or damaged ``.npy`` bytes."""
    kind = draw(st.sampled_from(["random", "truncated", "flipped", "forged-shape", "valid", "fortran"]))
    good = np.lib.format
    arr = draw(arrays)
    import io

    buf = io.BytesIO()
    np.save(buf, np.asfortranarray(arr) if kind == "fortran" else np.ascontiguousarray(arr), allow_pickle=False)
    buf = buf.getvalue()
    if kind == "random":
        buf = draw(st.binary(max_size=200))
    elif kind == "truncated":
        buf = buf[: draw(st.integers(0, max(len(buf) - 1, 0)))]
    elif kind == "flipped" and buf:
        i = draw(st.integers(0, len(buf) - 1))
        buf = buf[:i] + bytes([buf[i] ^ draw(st.integers(1, 255))]) + buf[i + 1:]
    elif kind == "forged-shape":
        header = io.BytesIO()
        good.write_array_header_1_0(header, {"descr": good.dtype_to_descr(arr.dtype), "fortran_order": False,
                                             "shape": (draw(st.integers(0, 2**40)), draw(st.integers(0, 2**20)))})
        buf = header.getvalue() + arr.tobytes()
    return buf


@st.composite
def records(draw) -> RecordDict:
    """Records with arbitrary, missing or damaged parts: fields JSON, the array index
    (names, sizes: right, wrong, negative, non-integer) and the array bytes."""
    values = {}
    if draw(st.booleans()):
        values[draw(st.sampled_from(["json", "json", "other"]))] = draw(st.one_of(
            st.text(max_size=60), st.builds(json.dumps, json_values),
            st.builds(lambda d: json.dumps(d), st.dictionaries(st.text(max_size=8), json_values, max_size=5)),
            st.just("[" * 5000), st.integers()))
    if draw(st.booleans()):
        blobs = draw(st.dictionaries(st.text(min_size=1, max_size=8), raw_npy(), max_size=3))
        index = [[k, len(b)] for k, b in blobs.items()]
        damage = draw(st.sampled_from(["none", "none", "size", "negative", "float", "extra", "short", "text",
                                       "repeat"]))
        if index and damage == "size":
            index[0][1] += draw(st.integers(-5, 5))
        elif index and damage == "negative":
            index[0][1] = -1
        elif index and damage == "float":
            index[0][1] = float(index[0][1])
        elif index and damage == "repeat":
            index.append(list(index[0]))
        data = b"".join(blobs.values())
        if damage == "extra":
            data += b"\x00"
        elif damage == "short":
            data = data[:-1]
        values["index"] = "[[" * 3000 if damage == "text" else json.dumps(index)
        values["arrays"] = data if draw(st.integers(0, 9)) else data.decode("latin-1")
    content = RecordDict()
    if values:
        content.config_records[draw(st.sampled_from(["fields", "fields", "misc"]))] = ConfigRecord(values)
    return content


# -- codec and models ----------------------------------------------------------------------------
@FUZZ
@given(records(), st.none() | st.integers(0, 4096))
def test_record_decoder_raises_only_record_error(content, max_bytes):
    try:
        data = from_record(content, max_bytes)
    except PayloadTooLarge:
        assert max_bytes is not None and record_nbytes(content) > max_bytes
        return
    except RecordError:
        return
    assert isinstance(data, dict)
    for v in data.values():
        if isinstance(v, np.ndarray):
            assert not v.dtype.hasobject


@FUZZ
@given(near_valid())
def test_message_models_raise_only_validation_error(case):
    model, data, ctx = case
    try:
        msg = model.model_validate(data, context=ctx)
    except ValidationError:
        return
    real = bool((ctx or {}).get("real", False))  # widely-linear runs send real matrices (DESIGN.md §2)
    for name in model.model_fields:  # accepted: finite matrices of the run's kind and the right shape
        v = getattr(msg, name)
        if isinstance(v, np.ndarray):
            assert v.ndim == 2 and np.iscomplexobj(v) != real and np.isfinite(v).all()
            want = (ctx or {}).get(f"{name}_shape")
            assert want is None or v.shape == tuple(want)


@FUZZ
@given(near_valid())
def test_codec_round_trip_then_validate(case):
    """Message fields -> record -> fields is exact; then validation behaves as on the original."""
    model, data, ctx = case
    try:
        rec = dict_to_record(data)
    except (TypeError, ValueError):  # values JSON cannot carry: never sent by our encoders
        return
    try:
        back = from_record(rec)
    except RecordError:
        return
    assert set(back) == set(data)
    for k, v in data.items():
        if isinstance(v, np.ndarray):
            assert back[k].dtype == v.dtype and back[k].shape == v.shape
            assert np.array_equal(back[k], v, equal_nan=v.dtype.kind in "fc")


@lru_cache(maxsize=1)
def _coordinator():
    from ap_server.coordinator import Coordinator
    from scenarios.synthetic import make_synthetic

    data = make_synthetic(users=2, train=60, test=20, seed=1)
    cfg = RunConfig(users=2, tx_antennas=2, rx_antennas=2, channel_uses=2, pilots=40, test_samples=10, iterations=3)
    coord = Coordinator(cfg, data.ap_train, data.ap_test, data.ap_name)
    coord.accept_join(dict(user_id=0, latent_dim=24, rx_antennas=2, snr_db=20.0, device="cpu", capabilities=[]))
    return coord


@FUZZ
@given(records(), near_valid(), st.integers(-1, 3))
def test_ap_accepts_or_rejects_never_raises(content, case, sender):
    """The AP's receive path (decode with a size limit, then accept_*): never an exception."""
    coord = _coordinator()
    _, data, _ = case
    try:
        data2 = from_record(content, 1 << 16)
    except RecordError:
        data2 = data
    for d in (data, data2):
        assert coord.accept_join(d) is None or d.get("user_id") in (0, 1)
        coord.accept_reply(sender, d)
        coord.accept_metrics(sender, d)


# -- config loader ------------------------------------------------------------------------------
FIELDS = sorted(RunConfig.model_fields)


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(v)


toml_scalars = st.one_of(st.booleans(), st.integers(-10**20, 10**20), st.floats(), st.text(max_size=20))
toml_values = st.one_of(toml_scalars, st.lists(toml_scalars, max_size=4))


@st.composite
def toml_texts(draw) -> bytes:
    kind = draw(st.sampled_from(["structured", "structured", "structured", "text", "bytes"]))
    if kind == "text":
        return draw(st.text(max_size=200)).encode("utf-8", "surrogatepass")
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    keys = draw(st.lists(st.one_of(st.sampled_from(FIELDS), st.sampled_from([f.replace("_", "-") for f in FIELDS]),
                                   st.from_regex(r"[a-z_]{1,10}", fullmatch=True)), max_size=6, unique=True))
    body = "\n".join(f"{k} = {_toml_value(draw(toml_values))}" for k in keys)
    return (("[run]\n" if draw(st.booleans()) else "") + body + "\n").encode("utf-8", "surrogatepass")


@FUZZ
@given(toml_texts())
def test_config_file_raises_only_config_error(text):
    path = TMP / "fuzz.toml"
    path.write_bytes(text)
    try:
        cfg = parse_run_config(load_config_file(path))
    except ConfigError as e:
        assert str(e)  # one clear line naming the problem
        return
    assert isinstance(cfg, RunConfig)
    assert math.isfinite(cfg.snr_db) and cfg.users >= 1


@FUZZ
@given(st.dictionaries(st.one_of(st.sampled_from([f.replace("_", "-") for f in FIELDS] + ["round-timeout",
                                                                                          "max-payload-bytes",
                                                                                          "user-id", "fault",
                                                                                          "partition-id"]),
                                 st.text(max_size=8)),
                       st.one_of(toml_scalars, st.sampled_from(["", "1,2", "a,b", "nan@1", "shape@0,late@2"])),
                       max_size=8))
def test_flower_run_and_node_config_raise_only_config_error(flat):
    for parse in (split_run_config, user_settings):
        try:
            parse(flat)
        except ConfigError as e:
            assert str(e)


@FUZZ
@given(st.builds(RunConfig, users=st.integers(1, 50), pilots=st.integers(1, 5000), rho=st.floats(1e-6, 1e6),
                 aggregation=st.sampled_from(["mean", "trimmed-mean", "geomedian"]), trim=st.floats(0, 0.49)))
def test_run_config_survives_the_flower_round_trip(cfg):
    """RunConfig -> flat Flower run config -> RunConfig is the identity."""
    back, _ = split_run_config(to_flat(cfg))
    assert back == cfg


def test_profile_sizes():
    """The full profile runs at least 10,000 cases over this file's fuzz tests."""
    n_tests = sum(1 for name, fn in globals().items() if name.startswith("test_") and hasattr(fn, "hypothesis"))
    full = settings.get_profile("semalign-full").max_examples
    assert n_tests * full >= 10_000, (n_tests, full)


def test_regression_damaged_npy_header_found_by_the_full_profile():
    """Found by ``SEMALIGN_FUZZ=full``: one flipped byte in the ``.npy`` header made numpy raise
    ``tokenize.TokenError`` through the decoder. Now it is a RecordError."""
    data = (b"\x93NUMPY\x01\x00v\x00{'descr': '<c8', 'fortran_order': False( 'shape': (1,), }" + b" " * 60
            + b"\n" + b"\x00" * 8)
    content = RecordDict({"fields": ConfigRecord({"json": "{}", "index": json.dumps([["0", len(data)]]),
                                                  "arrays": data})})
    with pytest.raises(RecordError, match="damaged .npy header"):
        from_record(content)


def test_record_is_one_config_record_and_every_byte_is_indexed():
    """A message travels as one ConfigRecord (3 Flower objects with the Message, whatever the
    number of arrays); bytes outside the index, or an index past the data, are refused."""
    from flwr.supercore.inflatable.inflatable_object import get_all_nested_objects

    data = {"round": 3, "gram": np.eye(4, dtype=np.complex64), "cross": np.ones((4, 6), np.complex128) * 1j}
    rec = dict_to_record(data)
    assert len(get_all_nested_objects(rec)) == 2  # RecordDict + ConfigRecord
    back = from_record(rec)
    assert back["round"] == 3 and back["cross"].dtype == np.complex128 and np.array_equal(back["cross"], data["cross"])
    assert back["cross"].flags.writeable  # a copy, not a view of the record's bytes
    fields = rec.config_records["fields"]
    for arrays, index in [(fields["arrays"] + b"\x00", fields["index"]),
                          (fields["arrays"][:-1], fields["index"]),
                          (fields["arrays"], json.dumps([["gram", 10**9]]))]:
        bad = RecordDict({"fields": ConfigRecord({"json": fields["json"], "index": index, "arrays": arrays})})
        with pytest.raises(RecordError):
            from_record(bad)
