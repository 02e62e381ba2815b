"""The user device as a Flower ClientApp: a thin adapter from Flower messages to UserDevice.

Message types (DESIGN.md §4): ``query.join``, ``query.configure``, ``train.round``,
``evaluate.final``. The device's configuration and the AP's pilots are kept in
``context.state`` so a fresh ClientApp process can pick the run up where it was.
"""
from __future__ import annotations

import time

from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message
from flwr.clientapp import ClientApp

from protocol.messages import EvaluateRequest, PilotBroadcast, RoundRequest, RunParameters
from protocol.records import dict_to_record, from_record, to_record
from protocol.runtime_config import split_run_config, user_settings
from user_client.audit import audit_mod
from user_client.device import UserDevice
from user_client.faults import apply_fault, fault_delay, parse_faults
from user_client.private import load_private

__all__ = ["app"]

app = ClientApp(mods=[audit_mod])
_DEVICES: dict[tuple[int, int], UserDevice] = {}  # (run id, node id) -> device, for long-lived processes
_LAST: dict[tuple[int, int], dict] = {}  # (run id, node id) -> its last honest round reply (replay drill)
_PARAMS, _PILOTS = "semalign.params", "semalign.pilots"


def _new_device(context: Context) -> UserDevice:
    run, _ = split_run_config(context.run_config)
    s = user_settings(context.node_config)
    snr = s.snr_db if s.snr_db is not None else run.snrs()[s.user_id] if s.user_id < run.users else run.snr_db
    return UserDevice(s.user_id, load_private(s, run), snr, s.rx_antennas or run.rx_antennas, device=s.device,
                      channels_file=run.channels, users=run.users,
                      metric=s.user_metric or run.user_metric,
                      metric_eps=s.metric_eps if s.metric_eps is not None else run.metric_eps)


def _kind(params: RunParameters) -> dict:
    """Validation context: array messages of a widely-linear run are real (DESIGN.md §2)."""
    return {"real": params.processing == "widely-linear"}


class NotConfigured(RuntimeError):
    """A round arrived at a device that holds no run parameters (its state was lost); the AP
    answers by repeating the handshake with this user."""


def _device(context: Context, msg: Message, configured: bool = False) -> UserDevice:
    key = (msg.metadata.run_id, context.node_id)
    dev = _DEVICES.get(key)
    if dev is None:
        dev = _DEVICES[key] = _new_device(context)
    if dev.params is None and _PARAMS in context.state.config_records:
        params = RunParameters.model_validate_json(context.state.config_records[_PARAMS]["json"])
        dev.configure(params)
        if _PILOTS in context.state.array_records:
            dev.receive_pilots(PilotBroadcast.model_validate({"x": context.state.array_records[_PILOTS]["x"].numpy()},
                                                             context=_kind(params)))
    if configured and dev.params is None:
        raise NotConfigured(f"user {dev.user_id} not configured: no run parameters in its state")
    return dev


@app.query("join")
def join(msg: Message, context: Context) -> Message:
    """Report who this user is (id, latent dim, N_R, SNR, device) — never its data."""
    return Message(to_record(_device(context, msg).join_request()), reply_to=msg)


@app.query("configure")
def configure(msg: Message, context: Context) -> Message:
    """Take the run parameters (and, in compact mode, the AP's pilots X once)."""
    data = from_record(msg.content)
    x = data.pop("x", None)
    params = RunParameters.model_validate(data)
    dev = _device(context, msg)
    dev.configure(params)
    context.state.config_records[_PARAMS] = ConfigRecord({"json": params.model_dump_json()})
    if x is not None:
        pilots = PilotBroadcast.model_validate({"x": x}, context={"x_shape": (params.ap_features, params.pilots),
                                                                  **_kind(params)})
        dev.receive_pilots(pilots)
        context.state.array_records[_PILOTS] = ArrayRecord({"x": Array(pilots.x)})
    return Message(dict_to_record({"user_id": dev.user_id}), reply_to=msg)


@app.train("round")
def round_(msg: Message, context: Context) -> Message:
    """One ADMM round: G-step, reply ``A^H A`` and ``A^H R_yx`` (or ``A^H Y``)."""
    run_cfg = split_run_config(context.run_config)[0]
    req = RoundRequest.model_validate(from_record(msg.content), context={"real": run_cfg.processing == "widely-linear"})
    faults = parse_faults(user_settings(context.node_config).fault)
    fault = faults.get(req.round)
    key = (msg.metadata.run_id, context.node_id)
    if fault == "forget":  # drill: lose the run state, as a restarted ClientApp process would
        _DEVICES.pop(key, None)
        context.state.config_records.pop(_PARAMS, None)
        context.state.array_records.pop(_PILOTS, None)
    dev = _device(context, msg, configured=True)
    reply = dev.round(req).model_dump()
    previous = _LAST.get(key)
    if faults:
        _LAST[key] = reply
    if fault is not None and fault != "forget":  # a fault drill asked for in the node config (user_client/faults.py)
        reply = apply_fault(fault, reply, previous)
        time.sleep(fault_delay(fault, split_run_config(context.run_config)[1].round_timeout))
    return Message(dict_to_record(reply), reply_to=msg)


@app.evaluate("final")
def final(msg: Message, context: Context) -> Message:
    """Decode the held-out transmission with the final F; reply metrics only."""
    dev = _device(context, msg, configured=True)
    req = EvaluateRequest.model_validate(from_record(msg.content), context=_kind(dev.params))
    return Message(to_record(dev.evaluate(req)), reply_to=msg)
