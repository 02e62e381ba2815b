r"""A long-lived ClientApp runner for ``flower-supernode --isolation process`` (flwr 1.41).

Why: in Flower's default ``--isolation subprocess`` the SuperNode starts ``flower-superexec``,
which polls the SuperNode's Runtime API (``AcquireTask``, every 1 s by default) and starts a
fresh ``flwr-clientapp`` process **per message** (``flwr/supercore/superexec/executor/
subprocess_executor.py``); that process installs the FAB, imports the app (torch, …), runs
one message and exits (``flwr/supernode/runtime/run_clientapp.py``). That costs seconds per
round. With ``--isolation process`` the SuperNode only serves its Runtime API and waits for an
external process to take the tasks. This module is that process, kept alive:

* it imports ``user_client.client_app:app`` **once** and serves task after task;
* it speaks the same Runtime HTTP API with Flower's own client and helpers, imported, not
  copied: :class:`flwr.supercore.runtime.RuntimeHttpClient`, the token/version
  interceptors, ``push_message`` / ``push_task_output`` from
  ``flwr.supernode.runtime.run_clientapp`` (what the stock ``flwr-clientapp`` calls), and for
  the input the same calls as its ``pull_task_input`` but with a short retry backoff for
  message objects the SuperNode is still fetching (see :func:`_pull_task_input`);
* it polls ``AcquireTask`` with a short adaptive interval (fast right after a task, backing
  off geometrically to ``--poll-max`` when idle).

Per task the protocol is exactly the stock one: ``AcquireTask`` (→ task + token) →
``PullTaskInput`` (context, run, FAB; activates the task) → ``PullMessages`` + ``PullObject`` /
``ConfirmMessageReceived`` (inflate the message) → ClientApp → ``PushMessages`` +
``PushObject`` (the reply) → ``PushTaskOutput`` (status + updated context). A heartbeat is
sent every 20 s while a task runs (Flower expires an active task after 60 s without one).

Differences from the stock ``flwr-clientapp`` (on purpose, documented):

* the FAB is **not** unpacked per message; the app served is the one installed in this
  environment (``pip install -e .``). The FAB's declared ``clientapp`` component is checked
  against ``--app``; a mismatch gets an error reply (code LOAD_CLIENT_APP_EXCEPTION) instead
  of running foreign code;
* no runtime dependency installation;
* HTTP 401 (e.g. an expired task token) fails that task only, it does not kill the runner.

Usage (one runner per SuperNode, i.e. per user)::

    flower-supernode --insecure --superlink 127.0.0.1:9092 --isolation process \
        --host 127.0.0.1 --port 9100 --node-config "user-id=0"
    python -m user_client.appio_runner --runtime-api-address 127.0.0.1:9100 --insecure

Optional second mode, ``supernode``: run Flower's own ``flower-supernode`` entry point in this
process with its two hard-coded waits shortened. flwr 1.41 has **no setting** for them:
``flwr/supernode/start_client_internal.py:263`` ``time.sleep(3)`` when a pull from the
SuperLink returned nothing, and ``:470`` / ``:506`` ``time.sleep(0.5)`` while waiting for the
ClientApp's reply / its objects. This is a **monkeypatch** (the module's ``time`` name is
replaced by a proxy whose ``sleep`` maps 3 s → an adaptive idle poll and 0.5 s → a short poll;
``_pull_and_store_message`` is wrapped to reset the backoff when a message arrives); it
falls back to the stock SuperNode if the patched source lines are not found::

    python -m user_client.appio_runner supernode [--idle-min 0.01 --idle-max 0.5 \
        --reply-poll 0.005] -- --insecure --superlink 127.0.0.1:9092 --isolation process \
        --host 127.0.0.1 --port 9100 --node-config "user-id=0"
"""
from __future__ import annotations

import argparse
import functools
import inspect
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass

__all__ = ["main", "serve", "run_patched_supernode", "AdaptivePoll", "WakePoll"]

log = logging.getLogger("semalign.appio_runner")

_HEARTBEAT_EVERY_S = 20.0  # Flower expires an active task after 2 x 30 s without a heartbeat
LEAD = float(os.environ.get("SEMALIGN_POLL_LEAD", "0.85"))  # AdaptivePoll.lead default (env: for benchmarks)


@dataclass
class AdaptivePoll:
    """Sleep ``lo`` right after activity, growing by ``growth`` per idle poll up to ``hi``.

    ``lead`` > 0 paces the polls on the rhythm of the activity: a federated round cannot bring
    the next message before every other user has answered, so after activity the first wait
    runs to ``lead`` × g, where g is the shortest of the last three gaps between activities
    (at most ``max_lead`` s), and the polls from there start at ``max(lo, step × g)``. This cuts
    the idle polls per round — each one an HTTP request that the SuperLink or the SuperNode
    serves on the shared cores — from ~15 to a few, for about ``step × g`` of extra latency."""

    lo: float
    hi: float
    growth: float = 1.5
    lead: float = 0.0
    step: float = 0.04
    max_lead: float = 5.0

    def __post_init__(self) -> None:
        self.cur = self.lo
        self._last: float | None = None
        self._gaps: list[float] = []
        self._due: float | None = None

    def reset(self) -> None:
        now = time.monotonic()
        if self._last is not None:
            self._gaps = [*self._gaps[-2:], now - self._last]
        self._last = now
        self.cur = self.lo
        if self.lead > 0 and self._gaps:
            gap = min(self._gaps)
            self._due = now + min(self.max_lead, self.lead * gap)
            self.cur = min(self.hi, max(self.lo, self.step * gap))

    def wait(self) -> None:
        if self._due is not None:
            delay, self._due = self._due - time.monotonic(), None
            if delay > self.cur:
                self._sleep(delay)
                return
        self._sleep(self.cur)
        self.cur = min(self.hi, self.cur * self.growth)

    def _sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class WakePoll(AdaptivePoll):
    """Polls of a runner that lives in its SuperNode's process: after a task it waits up to
    ``hi`` (a safety net) unless :meth:`wake` — called when the SuperNode pulls a message —
    ends the wait at once; then polls from ``lo`` in case the task is not listed yet."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._event = threading.Event()

    def wake(self) -> None:
        self._event.set()

    def reset(self) -> None:
        super().reset()
        self._due, self.cur = None, self.hi

    def _sleep(self, seconds: float) -> None:
        if self._event.wait(seconds):
            self._event.clear()
            self.cur = self.lo


# --------------------------------------------------------------------------- runner


def _task_retry_invoker(max_time: float):
    """Retry transport errors for ``max_time`` seconds; HTTP status errors fail the task."""
    import httpx
    from flwr.supercore.retry import RetryInvoker, exponential

    return RetryInvoker(
        wait_gen_factory=lambda: exponential(base_delay=0.05, max_delay=2),
        recoverable_exceptions=(httpx.TransportError,),
        max_tries=None,
        max_time=max_time,
    )


class _Heartbeat:
    """Send ``SendTaskHeartbeat`` every 20 s while one task runs (none for short tasks)."""

    def __init__(self, client) -> None:
        self._client = client
        self._stop = threading.Event()
        self.lost = False
        self._thread = threading.Thread(target=self._run, daemon=True, name="task-heartbeat")
        self._thread.start()

    def _run(self) -> None:
        from flwr.proto.runtime_pb2 import SendTaskHeartbeatRequest  # pylint: disable=E0611

        while not self._stop.wait(_HEARTBEAT_EVERY_S):
            try:
                if not self._client.SendTaskHeartbeat(SendTaskHeartbeatRequest()).success:
                    self.lost = True
                    log.warning("SuperNode no longer knows the current task (heartbeat refused)")
                    return
            except Exception as e:  # noqa: BLE001 - a failed heartbeat must not kill the runner
                log.warning("task heartbeat failed: %s", e)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _pull_task_input(client, object_backoff: tuple[float, float]):
    """``PullTaskInput`` + ``PullMessages`` + object pulls, as Flower's ``run_clientapp.pull_task_input``
    but with a short retry backoff for objects that are not there yet.

    The SuperNode creates the task (and lists the message) *before* it has pulled the
    message's objects from the SuperLink (``flwr/supernode/start_client_internal.py:388 creates the task, :415 pulls the objects``);
    a runner that is already waiting gets ``object_available=False`` and Flower's default
    backoff is 1 s, doubling (``flwr/supercore/constant.py:48–49``, ``PULL_INITIAL_BACKOFF``).
    A fresh ``flwr-clientapp`` process is too slow to notice; a warm runner is not.
    """
    from flwr.common.serde import context_from_proto, fab_from_proto, run_from_proto
    from flwr.app import Message
    from flwr.proto.node_pb2 import Node  # pylint: disable=E0611
    from flwr.proto.runtime_pb2 import PullAppMessagesRequest, PullTaskInputRequest  # pylint: disable=E0611
    from flwr.supercore.inflatable.inflatable_protobuf_utils import (
        make_confirm_message_received_fn_protobuf,
        make_pull_object_fn_protobuf,
    )
    from flwr.supercore.inflatable.inflatable_utils import pull_and_inflate_object_from_tree
    from flwr.supercore.task_identity import TaskIdentity

    res = client.PullTaskInput(PullTaskInputRequest())
    TaskIdentity.task_id, TaskIdentity.run_id, TaskIdentity.node_id = res.task_id, res.run.run_id, res.context.node_id
    context, run, fab = context_from_proto(res.context), run_from_proto(res.run), fab_from_proto(res.fab)
    msgs = client.PullMessages(PullAppMessagesRequest())
    if not msgs.messages_list:
        raise RuntimeError("No messages received from Runtime API")
    node = Node(node_id=context.node_id)
    tree = msgs.message_object_trees[0]
    message = pull_and_inflate_object_from_tree(
        tree,
        make_pull_object_fn_protobuf(client.PullObject, node, context.run_id),
        make_confirm_message_received_fn_protobuf(client.ConfirmMessageReceived, node, context.run_id),
        return_type=Message,
        initial_backoff=object_backoff[0],
        backoff_cap=object_backoff[1],
    )
    message.metadata.__dict__["_message_id"] = tree.object_id  # the deflated message has no id of its own
    return message, context, run, fab


def _fab_clientapp(fab) -> str | None:
    from flwr.common.config import get_fab_config

    conf = get_fab_config(fab.content)
    return conf.get("tool", {}).get("flwr", {}).get("app", {}).get("components", {}).get("clientapp")


class Runner:
    """Serve ClientApp tasks of one SuperNode's Runtime API with one imported app."""

    def __init__(self, address: str, app_ref: str, insecure: bool, root_certificates: bytes | None,
                 superexec_auth_secret: bytes | None, poll: AdaptivePoll, task_timeout: float,
                 check_fab: bool = True, object_backoff: tuple[float, float] = (0.005, 0.05)) -> None:
        from flwr.clientapp.client_app import LoadClientAppError
        from flwr.supercore.interceptors import RuntimeVersionHttpInterceptor, SuperExecAuthHttpInterceptor
        from flwr.supercore.object_ref import load_app
        from flwr.supercore.runtime import RuntimeHttpClient

        self.address, self.app_ref, self.insecure, self.certs = address, app_ref, insecure, root_certificates
        self.poll, self.task_timeout, self.check_fab = poll, task_timeout, check_fab
        self.object_backoff = object_backoff
        t = time.perf_counter()
        self.app = load_app(app_ref, LoadClientAppError, project_dir=os.getcwd())
        log.info("loaded %s in %.2f s", app_ref, time.perf_counter() - t)
        interceptors = [RuntimeVersionHttpInterceptor(component_name="SuperExec")]
        if superexec_auth_secret:
            interceptors.append(SuperExecAuthHttpInterceptor(
                master_secret=superexec_auth_secret, protected_methods=frozenset({"/flwr.proto.Runtime/AcquireTask"})))
        # no retry invoker: the acquire loop handles connection errors itself
        self.acquire_client = RuntimeHttpClient.from_server_address(
            server_address=address, insecure=insecure, root_certificates=root_certificates, interceptors=interceptors)
        self._fab_ok: dict[str, str | None] = {}  # fab hash -> None (ok) or a refusal reason
        self.served = 0
        self.failed = 0

    # -- one task ---------------------------------------------------------------
    def _fab_refusal(self, fab) -> str | None:
        if not self.check_fab:
            return None
        if fab.hash_str not in self._fab_ok:
            try:
                declared = _fab_clientapp(fab)
            except Exception as e:  # noqa: BLE001
                declared, err = None, f"cannot read the FAB's pyproject.toml: {e}"
            else:
                err = None
            if err is None and declared != self.app_ref:
                err = (f"this runner serves clientapp {self.app_ref!r} but the run's FAB declares {declared!r}; "
                       "start a runner with --app matching the FAB")
            self._fab_ok[fab.hash_str] = err
        return self._fab_ok[fab.hash_str]

    def serve_task(self, token: str, task) -> bool:
        """Run one acquired task: input, ClientApp, reply, task output (as ``flwr-clientapp``)."""
        from flwr.app import Message
        from flwr.app.error import Error
        from flwr.clientapp.client_app import LoadClientAppError
        from flwr.common.constant import ErrorCode, SubStatus
        from flwr.supercore.interceptors import RuntimeTokenHttpInterceptor, RuntimeVersionHttpInterceptor
        from flwr.supercore.runtime import RuntimeHttpClient
        from flwr.supernode.runtime.run_clientapp import push_message, push_task_output

        t0 = time.perf_counter()
        client = RuntimeHttpClient.from_server_address(
            server_address=self.address, insecure=self.insecure, root_certificates=self.certs,
            interceptors=[RuntimeVersionHttpInterceptor(component_name="flwr-clientapp"),
                          RuntimeTokenHttpInterceptor(token)],
            retry_invoker=_task_retry_invoker(self.task_timeout))
        hb = _Heartbeat(client)
        message = reply = context = None
        sub_status, details = SubStatus.FAILED, "ClientApp task failed due to unknown reason"
        ok = False
        try:
            message, context, run, fab = _pull_task_input(client, self.object_backoff)
            t1 = time.perf_counter()
            if (refusal := self._fab_refusal(fab)) is not None:
                raise LoadClientAppError(refusal)
            reply = self.app(message=message, context=context)
            t2 = time.perf_counter()
            sub_status, details, ok = SubStatus.COMPLETED, "", True
        except Exception as ex:  # noqa: BLE001 - same policy as the stock flwr-clientapp
            code, reason = ErrorCode.CLIENT_APP_RAISED_EXCEPTION, f"{type(ex)}:<'{ex}'>"
            if isinstance(ex, LoadClientAppError):
                code, reason = ErrorCode.LOAD_CLIENT_APP_EXCEPTION, f"An exception was raised when loading `ClientApp`: {ex}"
            log.error("task %s: ClientApp raised an exception", getattr(task, "task_id", "?"), exc_info=ex)
            details = reason
            if message is not None:
                reply = Message(Error(code=code, reason=reason), reply_to=message)
            t1 = t2 = time.perf_counter()
        finally:
            try:
                if reply is not None and context is not None and not hb.lost:
                    push_message(client, reply, context)
            except Exception as ex:  # noqa: BLE001
                ok = False
                log.error("task %s: failed to push the reply: %s", getattr(task, "task_id", "?"), ex)
            push_task_output(client=client, context=context, sub_status=sub_status, details=details)
            hb.stop()
            client.close()
        t3 = time.perf_counter()
        log.debug("task %s (%s): input %.1f ms, app %.1f ms, reply %.1f ms", task.task_id,
                  message.metadata.message_type if message is not None else "?",
                  1e3 * (t1 - t0), 1e3 * (t2 - t1), 1e3 * (t3 - t2))
        return ok

    # -- loop -------------------------------------------------------------------
    def serve_forever(self, max_tasks: int | None = None, max_unreachable: float = 60.0) -> int:
        import httpx
        from flwr.proto.runtime_pb2 import AcquireTaskRequest  # pylint: disable=E0611
        from flwr.supercore.constant import TaskType

        req = AcquireTaskRequest(supported_task_types=[TaskType.CLIENT_APP])
        last_ok = time.monotonic()
        connected = False
        while max_tasks is None or self.served + self.failed < max_tasks:
            try:
                res = self.acquire_client.AcquireTask(req)
            except (httpx.TransportError, httpx.HTTPStatusError) as e:
                down = time.monotonic() - last_ok
                if down > max_unreachable:
                    log.error("Runtime API %s unreachable for %.0f s (%s); exiting", self.address, down, e)
                    return 1
                time.sleep(min(1.0, 0.05 + down / 10))
                continue
            last_ok = time.monotonic()
            if not connected:
                connected = True
                log.info("connected to the SuperNode Runtime API at %s", self.address)
            if res.HasField("task") and res.token:
                try:
                    done = self.serve_task(res.token, res.task)
                except Exception as e:  # noqa: BLE001 - one broken task must not stop the runner
                    log.error("task %s failed outside the ClientApp: %s", res.task.task_id, e)
                    done = False
                if done:
                    self.served += 1
                else:
                    self.failed += 1
                self.poll.reset()
                continue  # ask again at once: the next task may already be there
            self.poll.wait()
        return 0

    def close(self) -> None:
        self.acquire_client.close()


def _raise_interrupt(*_args) -> None:
    raise KeyboardInterrupt


def serve(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m user_client.appio_runner",
                                description="Long-lived ClientApp runner for flower-supernode --isolation process.")
    p.add_argument("--runtime-api-address", "--appio-address", dest="address", default="127.0.0.1:9094",
                   help="the SuperNode's Runtime API (its --host:--port), default 127.0.0.1:9094")
    p.add_argument("--app", default="user_client.client_app:app", help="ClientApp object reference")
    p.add_argument("--insecure", action="store_true", help="plain HTTP to the Runtime API")
    p.add_argument("--root-certificates", default=None, help="CA file for an HTTPS Runtime API")
    p.add_argument("--superexec-auth-secret-file", default=None,
                   help="same secret file as the SuperNode's --superexec-auth-secret-file (if used)")
    p.add_argument("--poll-min", type=float, default=0.01, help="AcquireTask poll right after a task [s]")
    p.add_argument("--poll-max", type=float, default=0.2, help="AcquireTask poll when idle [s]")
    p.add_argument("--poll-growth", type=float, default=1.3)
    p.add_argument("--poll-lead", type=float, default=LEAD,
                   help="after a task, first AcquireTask poll at this fraction of the recent task interval (0: off)")
    p.add_argument("--task-timeout", type=float, default=60.0, help="give up retrying a task's HTTP calls after [s]")
    p.add_argument("--max-unreachable", type=float, default=60.0,
                   help="exit when the Runtime API stays unreachable this long [s] (covers start-up)")
    p.add_argument("--max-tasks", type=int, default=None, help="exit after this many tasks (tests)")
    p.add_argument("--no-fab-check", action="store_true", help="do not compare the FAB's clientapp with --app")
    p.add_argument("--parent-pid", type=int, default=None, help="exit when this process exits")
    p.add_argument("-v", "--verbose", action="store_true", help="log per-task timings")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if a.verbose else logging.INFO,
                        format="%(asctime)s appio_runner %(levelname)s %(message)s")
    log.setLevel(logging.DEBUG if a.verbose else logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per HTTP request otherwise
    if a.insecure and a.root_certificates:
        p.error("--insecure and --root-certificates are exclusive")
    if not a.insecure and not a.root_certificates:
        p.error("give --insecure (plain HTTP) or --root-certificates (HTTPS) as for the SuperNode's Runtime API")
    from flwr.supercore.auth.superexec_secret import load_superexec_auth_secret
    from flwr.supercore.tls import validate_and_resolve_root_certificates

    certs = validate_and_resolve_root_certificates(a.root_certificates, a.insecure)
    secret = load_superexec_auth_secret(a.superexec_auth_secret_file)
    if a.parent_pid is not None:
        from flwr.supercore.app_utils import start_parent_process_monitor

        start_parent_process_monitor(a.parent_pid)  # raises SIGINT here when the parent is gone
    runner = Runner(a.address, a.app, a.insecure, certs, secret, AdaptivePoll(a.poll_min, a.poll_max, a.poll_growth, lead=a.poll_lead),
                    a.task_timeout, check_fab=not a.no_fab_check)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        return runner.serve_forever(a.max_tasks, a.max_unreachable)
    except KeyboardInterrupt:
        return 0
    finally:
        log.info("stopping: %d task(s) served, %d failed", runner.served, runner.failed)
        runner.close()


# --------------------------------------------------------------------------- patched SuperNode


class _TimeProxy:
    """Stands in for the ``time`` module inside ``flwr.supernode.start_client_internal``."""

    def __init__(self, real, idle: AdaptivePoll, reply_poll: float) -> None:
        self._real, self._idle, self._reply_poll = real, idle, reply_poll

    def sleep(self, seconds: float) -> None:
        if seconds == 3:  # start_client_internal.py:263, nothing pulled from the SuperLink
            self._idle.wait()
        elif seconds == 0.5:  # :470 waiting for the ClientApp's reply, :506 for its objects
            self._real.sleep(self._reply_poll)
        else:
            self._real.sleep(seconds)

    def __getattr__(self, name: str):
        return getattr(self._real, name)


def run_patched_supernode(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="python -m user_client.appio_runner supernode",
        description="Run flower-supernode in this process with its hard-coded 3 s idle sleep and 0.5 s reply "
                    "wait shortened (MONKEYPATCH of flwr/supernode/start_client_internal.py; flwr 1.41 has no "
                    "setting for them). Arguments after -- go to flower-supernode unchanged.")
    p.add_argument("--idle-min", type=float, default=0.01, help="SuperLink pull interval right after a message [s]")
    p.add_argument("--idle-max", type=float, default=0.5, help="SuperLink pull interval when idle [s] (Flower: 3)")
    p.add_argument("--idle-growth", type=float, default=1.3)
    p.add_argument("--idle-lead", type=float, default=LEAD,
                   help="after a message, first pull at this fraction of the recent message interval (0: off)")
    p.add_argument("--reply-poll", type=float, default=0.005, help="wait step for the ClientApp's reply [s] (Flower: 0.5)")
    p.add_argument("--trace", action="store_true", help="print a timestamp to stderr for every message pulled")
    p.add_argument("--runner", action="store_true",
                   help="also serve the ClientApp in this process (a runner thread on the SuperNode's Runtime API, "
                        "woken when a message is pulled instead of polling; needs --isolation process)")
    p.add_argument("--app", default="user_client.client_app:app", help="ClientApp object reference (with --runner)")
    a, rest = p.parse_known_args(argv)
    if rest and rest[0] == "--":
        rest = rest[1:]
    import flwr
    import flwr.supernode.start_client_internal as sci

    wake = None
    if a.runner:
        if _flag(rest, "--isolation") != "process":
            p.error("--runner needs flower-supernode --isolation process")
        wake = _start_runner_thread(a.app, f"{_flag(rest, '--host') or '127.0.0.1'}:{_flag(rest, '--port') or 9094}")
    src = inspect.getsource(sci)
    if ("time.sleep(3)" not in src or "time.sleep(0.5)" not in src or "obj_contents = pull_objects(" not in src
            or not hasattr(sci, "_pull_and_store_message")):
        print(f"flwr {flwr.__version__}: start_client_internal.py no longer has the patched waits; "
              "running the stock flower-supernode (slower rounds)", file=sys.stderr)
    else:
        _patch_supernode_waits(sci, a, wake)
    from flwr.supernode.cli import flower_supernode

    sys.argv = ["flower-supernode", *rest]
    flower_supernode()
    return 0


def _flag(argv: list[str], name: str) -> str | None:
    """The value of ``name`` in a flower-supernode argument list (``--x v`` or ``--x=v``)."""
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def _start_runner_thread(app_ref: str, address: str) -> WakePoll:
    """A :class:`Runner` on this SuperNode's own Runtime API, in a daemon thread; returns its
    poll, whose ``wake`` the patched pull calls. The process exits if the runner gives up."""
    poll = WakePoll(0.01, 0.5, 1.5)

    def serve_in_thread() -> None:
        code = 1
        try:
            runner = Runner(address, app_ref, True, None, None, poll, 60.0)
            code = runner.serve_forever()
        except Exception as e:  # noqa: BLE001 - a device without its ClientApp must not linger
            log.error("in-process ClientApp runner failed: %s: %s", type(e).__name__, e)
        if code:
            log.error("in-process ClientApp runner stopped; stopping this SuperNode")
            os.kill(os.getpid(), signal.SIGTERM)

    # our own handler, not the root logger's: Flower's loggers propagate to the root, and a root
    # handler would repeat every Flower line and print its per-request DEBUG lines
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s appio_runner %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    threading.Thread(target=serve_in_thread, name="clientapp-runner", daemon=True).start()
    return poll


def _patch_supernode_waits(sci, a: argparse.Namespace, wake: WakePoll | None = None) -> None:
    """Shorten the SuperNode's hard-coded waits in module ``sci`` (see ``run_patched_supernode``);
    with an in-process runner, wake it whenever a message is pulled."""
    idle = AdaptivePoll(a.idle_min, a.idle_max, a.idle_growth, lead=a.idle_lead)
    sci.time = _TimeProxy(time, idle, a.reply_poll)
    pull = sci._pull_and_store_message

    def pull_and_reset(*args, **kwargs):
        run_id = pull(*args, **kwargs)
        if run_id is not None:
            if wake is not None:
                wake.wake()
            if a.trace:
                print(f"{time.time():.3f} supernode pulled a message (idle poll was {idle.cur:.3f} s)", file=sys.stderr)
            idle.reset()
        return run_id

    sci._pull_and_store_message = pull_and_reset
    # objects of a message listed by the SuperLink may still be uploading: retry after
    # a.idle_min instead of Flower's 1 s initial backoff (start_client_internal.py:415)
    sci.pull_objects = functools.partial(sci.pull_objects, initial_backoff=a.idle_min, backoff_cap=a.idle_max)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["supernode"]:
        return run_patched_supernode(argv[1:])
    return serve(argv)


if __name__ == "__main__":
    sys.exit(main())
