"""The AP as a Flower ServerApp: drives the Coordinator over Flower's Grid (DESIGN.md §4).

Replies are collected with a tight push/pull loop (``poll_interval``) instead of
``Grid.send_and_receive``, which sleeps 3 s between pulls (flwr 1.41,
``flwr/superlink/grid/http_grid.py``). Users are identified by the ``user_id`` in their join
request (a restarted SuperNode gets a new node id but keeps its user id).
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import torch
from flwr.app import Context, Message, RecordDict
from flwr.serverapp import Grid, ServerApp

from ap_server.coordinator import Coordinator
from ap_server.latents import load_ap_latents
from protocol.atomic import check_writable, write_json_atomic
from protocol.config import RunConfig
from protocol.records import PayloadTooLarge, RecordError, dict_to_record, from_record, to_record
from protocol.runtime_config import RuntimeSettings, split_run_config

__all__ = ["app", "run_ap", "exchange", "shorten_object_backoff"]

log = logging.getLogger("semalign.ap")
app = ServerApp()
#: a round without one valid reply is tried again this many times before the run gives up
_MAX_EMPTY_ROUNDS = 2
_MAX_LATE = 1000  # expired message ids remembered to recognise late replies


def shorten_object_backoff(initial: float = 0.01, cap: float = 0.1, max_time: float | None = None) -> bool:
    """MONKEYPATCH (flwr 1.41–1.42, ``flwr/superlink/grid/http_grid.py``): a reply can be listed
    before its objects are uploaded; ``Grid.pull_messages`` then backs off 1 s, doubling
    (``supercore/constant.py``), which dominates a fast round. Flower has no setting for it;
    this passes the public ``initial_backoff``/``backoff_cap`` arguments of ``pull_objects``.
    ``max_time`` (the round deadline) bounds one pull: a user killed in the middle of its upload
    leaves a listed reply whose objects never arrive, and ``pull_messages`` blocked on it for
    ~50 s (500 tries at the 0.1 s cap; measured), past the round deadline, before returning it as
    an error reply. Returns whether the patch was applied (skipped when the module no longer has
    the name)."""
    import functools

    try:
        import flwr.superlink.grid.http_grid as http_grid
    except ImportError:
        return False
    fn = getattr(http_grid, "pull_objects", None)
    if fn is None or isinstance(fn, functools.partial):
        return fn is not None
    extra = {} if max_time is None else {"max_time": max_time}
    http_grid.pull_objects = functools.partial(fn, initial_backoff=initial, backoff_cap=cap, **extra)
    return True


def exchange(grid: Grid, outgoing: dict[int, tuple[str, RecordDict]], timeout: float, poll: float,
             late: dict[str, str] | None = None, names: dict[int, str] | None = None) -> dict[int, Message]:
    """Send one message per node and collect replies until all arrive or ``timeout`` passes.
    Returns ``{node id: reply}``; error replies are included (check ``has_error()``).

    Only replies to the messages just sent count: a reply to any other message id (a
    duplicate, or a message id reused from an earlier exchange) is ignored. ``late``: a
    dict kept by the caller across exchanges; the ids that miss this deadline are added,
    and a reply to one of them that turns up later is logged as late and discarded."""
    if not outgoing:
        return {}
    names = names or {}
    nodes = list(outgoing)
    msgs = [Message(content=rec, dst_node_id=nid, message_type=mtype) for nid, (mtype, rec) in outgoing.items()]
    ids = list(grid.push_messages(msgs))
    pending = {mid: nid for mid, nid in zip(ids, nodes) if mid}
    if len(pending) < len(nodes):
        log.warning("%d message(s) could not be pushed", len(nodes) - len(pending))
    replies: dict[int, Message] = {}
    end = time.monotonic() + timeout
    while pending and time.monotonic() < end:
        for rep in grid.pull_messages(list(pending) + list(late or ())):
            mid = rep.metadata.reply_to_message_id
            nid = pending.pop(mid, None)
            if nid is not None and nid not in replies:
                replies[nid] = rep
            elif late is not None and mid in late:
                log.warning("late reply of %s arrived after its deadline: discarded", late.pop(mid))
        if pending:
            time.sleep(poll)
    for mid, nid in pending.items():
        who = names.get(nid, f"node {nid}")
        log.warning("no reply from %s within the %.1f s deadline (%s)", who, timeout, outgoing[nid][0])
        if late is not None:
            late[mid] = f"{who} ({outgoing[nid][0]})"
    if late is not None:
        for mid in list(late)[:-_MAX_LATE]:  # bounded: forget the oldest
            late.pop(mid)
    return replies


def _wait_for_nodes(grid: Grid, wanted: int, minimum: int, timeout: float, poll: float) -> list[int]:
    end = time.monotonic() + timeout
    nodes: list[int] = []
    while time.monotonic() < end:
        nodes = list(grid.get_node_ids())
        if len(nodes) >= wanted:
            return nodes
        time.sleep(max(poll, 0.05))
    if len(nodes) < minimum:
        raise RuntimeError(f"only {len(nodes)} of {wanted} users connected within {timeout:.0f} s")
    log.warning("starting with %d of %d users; the rest may join later", len(nodes), wanted)
    return nodes


def _admit(grid: Grid, coord: Coordinator, nodes: list[int], node_user: dict[int, int], rt: RuntimeSettings,
           late: dict[str, str] | None = None, retired: set[int] | None = None) -> None:
    """Handshake with new nodes: join request, then run parameters (and pilots X in compact mode)."""
    replies = exchange(grid, {n: ("query.join", RecordDict()) for n in nodes}, rt.round_timeout, rt.poll_interval,
                       late)
    joined: dict[int, int] = {}
    for nid, rep in replies.items():
        if rep.has_error():
            log.warning("node %d failed to join: %s", nid, rep.error.reason)
            continue
        try:
            req = coord.accept_join(from_record(rep.content, rt.max_payload_bytes))
        except RecordError as e:
            log.warning("node %d: malformed join: %s", nid, e)
            continue
        if req is not None:
            for old, uid in list(node_user.items()):
                if uid == req.user_id:
                    log.info("user %d reconnected (node %d replaces node %d)", uid, nid, old)
                    node_user.pop(old)
                    if retired is not None:
                        retired.add(old)  # a restarted device never comes back on its old node id
            joined[nid] = req.user_id
    params = coord.params()
    out = {}
    for nid, uid in joined.items():
        fields = params.model_dump()
        if coord.cfg.protocol == "compact":
            fields.update(coord.pilot_broadcast(uid).model_dump())
        out[nid] = ("query.configure", dict_to_record(fields))
    for nid, rep in exchange(grid, out, rt.round_timeout, rt.poll_interval, late).items():
        if rep.has_error():
            log.warning("user %d failed to configure: %s", joined[nid], rep.error.reason)
            continue
        node_user[nid] = joined[nid]
        log.info("user %d joined on node %d", joined[nid], nid)


def _collect(coord: Coordinator, node_user: dict[int, int], replies: dict[int, Message], accept,
             max_bytes: int | None = None) -> dict:
    good = {}
    for nid, rep in replies.items():
        uid = node_user.get(nid)
        if uid is None:
            continue
        if rep.has_error():
            log.warning("round %d: user %d answered with an error: %s", coord.round, uid, rep.error.reason)
            if "not configured" in rep.error.reason:
                log.warning("user %d lost its run state: repeating its handshake", uid)
                node_user.pop(nid, None)  # re-admitted (join + configure) before the next round
            continue
        try:
            data = from_record(rep.content, max_bytes)
        except PayloadTooLarge as e:
            coord.reject(uid, f"before decoding: {e}")
            continue
        except RecordError as e:
            coord.reject(uid, f"malformed record: {e}")
            continue
        r = accept(uid, data)
        if r is not None:
            good[uid] = r
    return good


def run_ap(grid: Grid, cfg: RunConfig, rt: RuntimeSettings) -> dict:
    """The whole AP side of a run; writes ``results.json`` and checkpoints to ``rt.out_dir``."""
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    t0 = time.perf_counter()
    out = check_writable(Path(rt.out_dir))  # an unwritable folder fails here, before any work
    name, train, test = load_ap_latents(cfg)
    coord = Coordinator(cfg, train, test, name)
    resumed_at = coord.round if rt.resume and coord.restore(out) else None
    node_user: dict[int, int] = {}
    late: dict[str, str] = {}
    retired: set[int] = set()  # nodes replaced by a reconnect of their user
    first = _wait_for_nodes(grid, cfg.users, rt.min_users, rt.join_timeout, rt.poll_interval)
    _admit(grid, coord, first, node_user, rt, late, retired)
    refused = _Backoff({n: coord.round - 1 for n in first if n not in node_user})  # asked again at once
    startup = time.perf_counter() - t0
    round_times = []
    empty = 0  # consecutive attempts of the current round without one valid reply
    while not coord.converged():
        live = set(grid.get_node_ids())
        for gone in [n for n in node_user if n not in live]:
            log.warning("user %d (node %d) disconnected", node_user.pop(gone), gone)
        new = [n for n in live if n not in node_user and n not in retired and refused.due(n, coord.round)]
        if new:
            _admit(grid, coord, new, node_user, rt, late, retired)
            refused.failed([n for n in new if n not in node_user], coord.round)
        t = time.perf_counter()
        names = {nid: f"user {uid} (node {nid}), round {coord.round}" for nid, uid in node_user.items()}
        msgs = {nid: ("train.round", to_record(coord.round_request(uid))) for nid, uid in node_user.items()}
        replies = exchange(grid, msgs, rt.round_timeout, rt.poll_interval, late, names)
        good = _collect(coord, node_user, replies, coord.accept_reply, rt.max_payload_bytes)
        wall = time.perf_counter() - t
        if not good:  # e.g. one user killed mid-upload held the pull past the deadline: try the round again
            empty += 1
            if empty > _MAX_EMPTY_ROUNDS:
                raise RuntimeError(f"round {coord.round}: no user answered in {empty} attempts")
            log.warning("round %d: no valid reply within the deadline; the round is repeated (attempt %d of %d)",
                        coord.round, empty + 1, _MAX_EMPTY_ROUNDS + 1)
            continue
        empty = 0
        coord.step(good, wall_time=wall)
        round_times.append(wall)
        coord.checkpoint(out)
        log.info("round %d: %d/%d users, %.3f s, primal %.2e", coord.round, len(good), cfg.users, wall,
                 coord.history[-1]["primal_residual"])
    msgs = {nid: ("evaluate.final", to_record(coord.evaluate_request(uid))) for nid, uid in node_user.items()}
    names = {nid: f"user {uid} (node {nid}), evaluation" for nid, uid in node_user.items()}
    metrics = _collect(coord, node_user, exchange(grid, msgs, rt.round_timeout, rt.poll_interval, late, names),
                       coord.accept_metrics, rt.max_payload_bytes)
    result = coord.results(metrics, extra={
        "runtime": "flower", "startup_s": startup, "round_wall_times_s": round_times,
        "wall_time_s": time.perf_counter() - t0, "completed_users": sorted(metrics),
        # a resumed run: wall_time_s and round_wall_times_s are this invocation's; every round's time is in history
        "resumed_at_round": resumed_at,
        "rounds_wall_time_s": float(sum(h.get("wall_time_s", 0.0) for h in coord.history)),
    })
    write_json_atomic(out / "results.json", result)
    log.info("results written to %s", out / "results.json")
    return result


class _Backoff:
    """Nodes that failed to join (refused, malformed, error or no answer) are asked again after
    1, 2, 4, … rounds, so a hostile or dead node cannot cost a join deadline every round."""

    def __init__(self, failed_at: dict[int, int]) -> None:
        self.next: dict[int, int] = {n: r + 1 for n, r in failed_at.items()}
        self.wait: dict[int, int] = {n: 1 for n in failed_at}

    def due(self, node: int, rnd: int) -> bool:
        return rnd >= self.next.get(node, rnd)

    def failed(self, nodes: list[int], rnd: int) -> None:
        for n in nodes:
            self.wait[n] = 2 * self.wait.get(n, 0) or 1
            self.next[n] = rnd + self.wait[n]


@app.main()
def main(grid: Grid, context: Context) -> None:
    _log_to_stderr()
    cfg, rt = split_run_config(context.run_config)
    shorten_object_backoff(max_time=rt.round_timeout)
    run_ap(grid, cfg, rt)


def _log_to_stderr() -> None:
    """Show the AP's log lines (Flower configures its own loggers, not ``semalign``'s)."""
    root = logging.getLogger("semalign")
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.INFO)
