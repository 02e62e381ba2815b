"""The protocol run message by message in one process: the AP's Coordinator and each user's
UserDevice exchanging validated messages without a network (for tests and debugging).

The Flower runtime drives exactly these two objects over gRPC instead.
"""
from __future__ import annotations

from typing import Callable

from ap_server.coordinator import Coordinator
from protocol.config import RunConfig
from scenarios.latents import LatentData
from user_client.device import PrivateData, UserDevice

__all__ = ["make_devices", "handshake", "exchange_round", "run_loopback"]

# a hook that may replace (or drop, by returning None) the reply dict of a user in a round
Tamper = Callable[[int, int, dict], dict | None]


def make_devices(cfg: RunConfig, data: LatentData) -> list[UserDevice]:
    snrs = cfg.snrs()
    return [
        UserDevice(k, PrivateData(u.name, u.train, u.test, data.test_labels, u.classifier), snrs[k],
                   cfg.rx_antennas, channels_file=cfg.channels, users=cfg.users,
                   metric=cfg.user_metric, metric_eps=cfg.metric_eps)
        for k, u in enumerate(data.users[: cfg.users])
    ]


def handshake(coord: Coordinator, devices: list[UserDevice]) -> None:
    """Join requests, run parameters and (compact mode) the AP's pilots, DESIGN.md §4 step 1."""
    for d in devices:
        coord.accept_join(d.join_request().model_dump())
    params = coord.params()
    for d in devices:
        d.configure(params)
        if coord.cfg.protocol == "compact":
            d.receive_pilots(coord.pilot_broadcast(d.user_id))


def exchange_round(coord: Coordinator, devices: list[UserDevice], tamper: Tamper | None = None) -> dict:
    """One round's requests and the validated replies ``{user id: RoundReply}`` (before ``step``)."""
    replies = {}
    for d in devices:
        data_ = d.round(coord.round_request(d.user_id)).model_dump()
        if tamper is not None:
            data_ = tamper(coord.round, d.user_id, data_)
            if data_ is None:
                continue
        reply = coord.accept_reply(d.user_id, data_)
        if reply is not None:
            replies[d.user_id] = reply
    return replies


def run_loopback(cfg: RunConfig, data: LatentData, tamper: Tamper | None = None) -> tuple[dict, Coordinator]:
    """Handshake, rounds until convergence, evaluation; returns (results, coordinator)."""
    coord = Coordinator(cfg, data.ap_train, data.ap_test, data.ap_name)
    devices = make_devices(cfg, data)
    handshake(coord, devices)
    while not coord.converged():
        coord.step(exchange_round(coord, devices, tamper))
    metrics = {}
    for d in devices:
        rep = coord.accept_metrics(d.user_id, d.evaluate(coord.evaluate_request(d.user_id)).model_dump())
        if rep is not None:
            metrics[d.user_id] = rep
    return coord.results(metrics), coord
