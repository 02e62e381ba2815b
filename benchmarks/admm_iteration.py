r"""Wall time of one federated-ADMM iteration of the math core (DESIGN.md §3, §4).

Run from the repository root::

    python -m benchmarks.admm_iteration [--quick] [--out FILE.json]

One run measures three things, each with ``time.perf_counter``, warm-up calls and the
median of repeated calls (the cases of one table are interleaved round-robin so that a
change in background load hits them alike):

1. *Batching.* One iteration in sufficient-statistics (compact) form — downlink ``H_k F``,
   :func:`user_client.g_step`, :func:`user_client.uplink_stats`, :func:`ap_server.ap_update`
   — for K users, batched over K (the in-process engine) vs a per-user Python loop that
   calls the same user functions on ``K = 1`` slices and then the same ``ap_update`` once
   on the gathered statistics (what an AP receiving K separate messages does). The loop is
   timed twice: on the engine's zero-padded slices (``p = 384`` for every user) and on each
   user's own ``p_k`` rows (what a user device alone computes).
2. *Pilots.* One round at K = 10 for n ∈ {10³, 10⁴, 10⁵}: compact form (statistics
   ``R_xx``, ``R_yx`` computed once; a round is O(d³), flat in n) vs the paper's message
   form (AP sends ``H_k F X``, the user runs :func:`user_client.g_step_from_pilots` and
   :func:`user_client.uplink_stats_from_pilots` and sends ``A^H Y``, the AP forms
   ``A^H Y X^H / n`` itself); both end in the same ``ap_update`` and must give the same F.
3. *Threads.* The same iteration with ``torch.set_num_threads(1)`` vs ``2``.

The data are random complex tensors of the right shapes from seeded ``torch.Generator``
streams (no encoders): the cost of these dense kernels does not depend on the values.
"""
from __future__ import annotations

import time

_T_START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable  # noqa: E402

import torch  # noqa: E402

_TORCH_DEFAULT_THREADS = torch.get_num_threads()

from ap_server import APState, ap_update, initial_f, start_state  # noqa: E402
from channel import expand_uses, make_generator, noise_variance  # noqa: E402
from protocol.accounting import matrix_bytes, round_message_shapes  # noqa: E402
from protocol.packing import complex_dim  # noqa: E402
from user_client import g_step, g_step_from_pilots, uplink_stats, uplink_stats_from_pilots  # noqa: E402

_T_IMPORTED = time.perf_counter()

__all__ = ["Shape", "Profile", "PROFILES", "main", "run_benchmark"]

DTYPE = torch.complex64
ITEMSIZE = 8  # bytes per complex64 element
MISMATCH = 1e-3  # relative difference above which two forms are flagged as disagreeing
LONG_CALL_S = 0.25  # a warm-up call this long ends the warm-up


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Shape:
    """Problem dimensions (real latent dims; complex dims follow DESIGN.md §2)."""

    ap_dim: int = 384  # d_T
    user_dims: tuple[int, ...] = (192, 384, 768)  # d_k, cycled over the users
    tx: int = 4  # N_T
    rx: int = 4  # N_R
    uses: int = 4  # c
    snr_db: float = 20.0
    rho: float = 1.0
    power: float = 1.0

    @property
    def m(self) -> int:
        return complex_dim(self.ap_dim)

    @property
    def p(self) -> int:
        return max(complex_dim(d) for d in self.user_dims)

    def user_p(self, k: int) -> int:
        return complex_dim(self.user_dims[k % len(self.user_dims)])

    @property
    def symbols(self) -> int:  # M = N_T c
        return self.tx * self.uses

    @property
    def rx_symbols(self) -> int:  # R = N_R c
        return self.rx * self.uses


@dataclass(frozen=True)
class Profile:
    name: str
    users: tuple[int, ...]
    batching_pilots: int
    pilots: tuple[int, ...]
    pilot_users: int
    thread_counts: tuple[int, ...]
    thread_users: int
    thread_extras: bool  # also time K=1000 compact and the paper form at n=10^4 under both settings
    loop_users: int  # users timed in the per-user loop (0 = all); more are scaled linearly
    warmup: int
    repeats: int
    min_repeats: int
    budget_s: float  # stop repeating (after min_repeats) once a table's cases took this long
    tile_block: int  # pilot columns drawn at random; longer pilot sets tile this block
    time_tiled_setup: bool  # time compact mode's one-off statistics also for tiled (long) pilot sets
    stat: str = "median"  # statistic shown in the tables: "median" or "min" (the JSON keeps both)


PROFILES = {
    "quick": Profile(
        name="quick", users=(1, 10, 100, 1000), batching_pilots=1000, pilots=(1000, 10_000, 100_000),
        pilot_users=10, thread_counts=(1, 2), thread_users=10, thread_extras=False, loop_users=120,
        warmup=2, repeats=30, min_repeats=3, budget_s=1.0, tile_block=10_000, time_tiled_setup=False,
    ),
    "full": Profile(
        name="full", users=(1, 10, 100, 1000), batching_pilots=1000, pilots=(1000, 10_000, 100_000),
        pilot_users=10, thread_counts=(1, 2), thread_users=10, thread_extras=True, loop_users=0,
        warmup=3, repeats=50, min_repeats=5, budget_s=10.0, tile_block=10_000, time_tiled_setup=True,
    ),
}


# --------------------------------------------------------------------------- measurement


@dataclass
class Timing:
    """Wall-clock seconds of one case over its repeats, and process CPU time per wall second."""

    median: float
    low: float
    high: float
    samples: int
    cpu_per_wall: float

    def as_dict(self) -> dict:
        return {"median_s": self.median, "min_s": self.low, "max_s": self.high,
                "samples": self.samples, "cpu_per_wall": self.cpu_per_wall}


@dataclass
class Case:
    """A timed call; ``prepare`` runs untimed before every call (e.g. set the thread count)."""

    fn: Callable[[], object]
    prepare: Callable[[], None] | None = None


def measure(cases: dict[str, Case], prof: Profile) -> dict[str, Timing]:
    """Warm each case up, then time the cases round-robin (order rotated every repeat);
    median over the repeats. Warm-up stops early after a call longer than ``LONG_CALL_S``
    (one-off costs are then negligible); repeats stop after ``min_repeats`` once the
    table's timed calls exceed ``budget_s`` (cheap cases get many repeats, costly ones few)."""
    for case in cases.values():
        if case.prepare is not None:
            case.prepare()
        for _ in range(prof.warmup):
            t0 = time.perf_counter()
            case.fn()
            if time.perf_counter() - t0 > LONG_CALL_S:
                break
    names = list(cases)
    walls: dict[str, list[float]] = {k: [] for k in cases}
    cpus: dict[str, list[float]] = {k: [] for k in cases}
    start = time.perf_counter()
    for rep in range(prof.repeats):
        for i in range(len(names)):
            name = names[(i + rep) % len(names)]
            case = cases[name]
            if case.prepare is not None:
                case.prepare()
            c0, t0 = time.process_time(), time.perf_counter()
            case.fn()
            t1, c1 = time.perf_counter(), time.process_time()
            walls[name].append(t1 - t0)
            cpus[name].append(c1 - c0)
        if rep + 1 >= prof.min_repeats and time.perf_counter() - start > prof.budget_s:
            break
    return {
        k: Timing(statistics.median(w), min(w), max(w), len(w), sum(cpus[k]) / max(sum(w), 1e-12))
        for k, w in walls.items()
    }


def stat(t: Timing, prof: Profile) -> float:
    """The profile's summary statistic of a case."""
    return t.low if prof.stat == "min" else t.median


def _busy_seconds() -> float | None:
    """CPU seconds all processes spent busy since boot (Linux ``/proc/stat``), else None."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in fields[1:8])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


class LoadMeter:
    """How many cores *other* processes kept busy while a block ran (background load)."""

    def __enter__(self) -> "LoadMeter":
        self.t0, self.c0, self.b0 = time.perf_counter(), time.process_time(), _busy_seconds()
        self.others_cores: float | None = None
        self.wall = self.mine = 0.0
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self.t0
        self.mine = time.process_time() - self.c0
        b1 = _busy_seconds()
        if self.b0 is not None and b1 is not None and self.wall > 0:
            self.others_cores = max(0.0, (b1 - self.b0) - self.mine) / self.wall

    def as_dict(self) -> dict:
        return {"wall_s": self.wall, "this_process_cores": self.mine / max(self.wall, 1e-12),
                "other_processes_cores": self.others_cores}


# --------------------------------------------------------------------------- data


def complex_normal(shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    """i.i.d. CN(0, 1) entries, complex64."""
    return torch.randn(*shape, dtype=DTYPE, generator=gen)


@dataclass
class Users:
    """The K users' channels (``[K, R, M]``, block diagonal), noise variances and dims."""

    h: torch.Tensor
    noise_var: torch.Tensor
    dims: list[int]  # p_k (complex features of user k, before padding)


def draw_users(k: int, shape: Shape, gen: torch.Generator) -> Users:
    h_bar = complex_normal((k, shape.rx, shape.tx), gen)
    return Users(
        h=expand_uses(h_bar, shape.uses),
        noise_var=noise_variance([shape.snr_db] * k, shape.power, shape.uses),
        dims=[shape.user_p(i) for i in range(k)],
    )


def padded_rows(dims: list[int], p: int, cols: int, gen: torch.Generator) -> torch.Tensor:
    """``[K, p, cols]``: user k's ``p_k`` random rows, zero-padded to ``p`` like the engine."""
    out = torch.zeros(len(dims), p, cols, dtype=DTYPE)
    for k, pk in enumerate(dims):
        out[k, :pk] = complex_normal((pk, cols), gen)
    return out


def initial_state(shape: Shape, users: int, gen: torch.Generator) -> APState:
    f0 = initial_f("random", shape.symbols, torch.eye(shape.m, dtype=DTYPE), shape.power, gen)
    return start_state(f0, shape.power, users, shared=True)


def rel_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b).clamp_min(1e-30))


# --------------------------------------------------------------------------- one iteration


def user_side_batched(state: APState, users: Users, rxx: torch.Tensor, ryx: torch.Tensor):
    """All K users at once: downlink ``H_k F``, G-step, uplink statistics."""
    g = g_step(users.h @ state.f, rxx, ryx, users.noise_var)
    return uplink_stats(g, users.h, ryx)


def user_side_loop(state: APState, users: Users, rxx: torch.Tensor, ryx: torch.Tensor, count: int, own_dims: bool):
    """The first ``count`` users one by one, each on a ``K = 1`` slice (own ``p_k`` rows or padded)."""
    grams, crosses = [], []
    for k in range(count):
        rows = users.dims[k] if own_dims else ryx.shape[1]
        h, r = users.h[k:k + 1], ryx[k:k + 1, :rows]
        g = g_step(h @ state.f, rxx, r, users.noise_var[k:k + 1])
        gram, cross = uplink_stats(g, h, r)
        grams.append(gram)
        crosses.append(cross)
    return torch.cat(grams), torch.cat(crosses)


def compact_iteration(state: APState, users: Users, rxx: torch.Tensor, ryx: torch.Tensor, shape: Shape) -> APState:
    """One ADMM iteration, sufficient-statistics form, batched (what ``admm_solve`` runs)."""
    gram, cross = user_side_batched(state, users, rxx, ryx)
    return ap_update(state, gram, cross, shape.rho, shape.power, shared=True)[0]


def paper_iteration(state: APState, users: Users, x: torch.Tensor, y: torch.Tensor, shape: Shape) -> APState:
    """One ADMM iteration in the paper's message form (DESIGN.md §4.2): n-column messages."""
    n = x.shape[-1]
    s = users.h @ (state.f @ x)  # AP -> user k: H_k F X  [K, R, n]
    g = g_step_from_pilots(s, y, users.noise_var)
    gram, ay = uplink_stats_from_pilots(g, users.h, y)  # user -> AP: A^H A, A^H Y  [K, M, n]
    cross = ay @ x.mH / n  # the AP forms A^H Y X^H / n
    return ap_update(state, gram, cross, shape.rho, shape.power, shared=True)[0]


# --------------------------------------------------------------------------- sections


def section_batching(shape: Shape, prof: Profile, seed: int) -> dict:
    gen = make_generator(seed, "bench-batching")
    n = prof.batching_pilots
    x = complex_normal((shape.m, n), gen)
    rxx = x @ x.mH / n
    rows = []
    with LoadMeter() as load:
        for k in prof.users:
            users = draw_users(k, shape, gen)
            ryx = padded_rows(users.dims, shape.p, shape.m, gen) / math.sqrt(shape.m)
            state = initial_state(shape, k, gen)
            timed = k if prof.loop_users <= 0 else min(k, prof.loop_users)
            gram_b, cross_b = user_side_batched(state, users, rxx, ryx)

            def loop(own: bool, timed: int = timed, k: int = k, users=users, ryx=ryx, state=state):
                gram, cross = user_side_loop(state, users, rxx, ryx, timed, own)
                if timed == k:  # the AP then updates once on the gathered statistics
                    ap_update(state, gram, cross, shape.rho, shape.power, shared=True)

            cases = {
                "batched": Case(lambda users=users, ryx=ryx, state=state: compact_iteration(state, users, rxx, ryx, shape)),
                "ap_update": Case(lambda g=gram_b, c=cross_b, state=state: ap_update(state, g, c, shape.rho, shape.power)),
                "loop_padded": Case(lambda: loop(False)),
                "loop_own_p": Case(lambda: loop(True)),
            }
            t = measure(cases, prof)
            scale = k / timed
            extra = stat(t["ap_update"], prof) if timed < k else 0.0
            loop_pad = stat(t["loop_padded"], prof) * scale + extra
            loop_own = stat(t["loop_own_p"], prof) * scale + extra
            checks = {}
            for label, own in (("padded", False), ("own_p", True)):
                gl, cl = user_side_loop(state, users, rxx, ryx, timed, own)
                checks[label] = max(rel_diff(gl, gram_b[:timed]), rel_diff(cl, cross_b[:timed]))
            rows.append({
                "users": k, "loop_users_timed": timed, "loop_scaled": timed < k,
                "batched_s": stat(t["batched"], prof), "ap_update_s": stat(t["ap_update"], prof),
                "loop_padded_s": loop_pad, "loop_own_p_s": loop_own,
                "loop_padded_over_batched": loop_pad / stat(t["batched"], prof),
                "loop_own_p_over_batched": loop_own / stat(t["batched"], prof),
                "stats_rel_diff_loop_vs_batched": checks,
                "timings": {name: tm.as_dict() for name, tm in t.items()},
            })
            del users, ryx, gram_b, cross_b
    return {"pilots": n, "padded_p": shape.p, "rows": rows, "load": load.as_dict()}


def pilot_data(k: int, n: int, shape: Shape, gen: torch.Generator, block: int) -> tuple[Users, torch.Tensor, torch.Tensor]:
    """``X`` ``[m, n]`` and zero-padded ``Y`` ``[K, p, n]``; beyond ``block`` columns the random
    block is tiled (drawing 10^8 normals costs more than the benchmark; values do not matter)."""
    users = draw_users(k, shape, gen)
    nb = min(n, block)
    xb = complex_normal((shape.m, nb), gen)
    yb = padded_rows(users.dims, shape.p, nb, gen)
    reps = math.ceil(n / nb)
    if reps == 1:
        return users, xb, yb
    return users, xb.repeat(1, reps)[:, :n].contiguous(), yb.repeat(1, 1, reps)[..., :n].contiguous()


def section_pilots(shape: Shape, prof: Profile, seed: int) -> dict:
    gen = make_generator(seed, "bench-pilots")
    k = prof.pilot_users
    rows = []
    with LoadMeter() as load:
        for n in prof.pilots:
            users, x, y = pilot_data(k, n, shape, gen, prof.tile_block)
            state = initial_state(shape, k, gen)
            nb = min(n, prof.tile_block)
            setup_s: float | None = None
            if n == nb or prof.time_tiled_setup or n % nb:
                t0 = time.perf_counter()
                rxx, ryx = x @ x.mH / n, y @ x.mH / n  # compact mode's one-off statistics
                setup_s = time.perf_counter() - t0
            else:  # whole tiles: the block's statistics are exactly those of all n columns
                rxx, ryx = x[:, :nb] @ x[:, :nb].mH / nb, y[..., :nb] @ x[:, :nb].mH / nb
            cases = {
                "compact": Case(lambda users=users, rxx=rxx, ryx=ryx, state=state: compact_iteration(state, users, rxx, ryx, shape)),
                "paper": Case(lambda users=users, x=x, y=y, state=state: paper_iteration(state, users, x, y, shape)),
            }
            t = measure(cases, prof)
            f_diff = rel_diff(paper_iteration(state, users, x, y, shape).f, compact_iteration(state, users, rxx, ryx, shape).f)
            up = {
                mode: sum(matrix_bytes(s, ITEMSIZE) for s in round_message_shapes(
                    mode, True, shape.m, n, shape.symbols, shape.rx_symbols)["uplink"])
                for mode in ("compact", "paper")
            }
            rows.append({
                "pilots": n, "compact_s": stat(t["compact"], prof), "paper_s": stat(t["paper"], prof),
                "paper_over_compact": stat(t["paper"], prof) / stat(t["compact"], prof),
                "compact_setup_once_s": setup_s, "f_rel_diff_paper_vs_compact": f_diff,
                "uplink_bytes_per_user_round": up,
                "timings": {name: tm.as_dict() for name, tm in t.items()},
            })
            del users, x, y, rxx, ryx
    base = rows[0]
    for r in rows:
        r["compact_vs_first"] = r["compact_s"] / base["compact_s"]
        r["paper_vs_first"] = r["paper_s"] / base["paper_s"]
    return {"users": k, "tiled_beyond": prof.tile_block, "rows": rows, "load": load.as_dict()}


def section_threads(shape: Shape, prof: Profile, seed: int) -> dict:
    gen = make_generator(seed, "bench-threads")
    setups: list[tuple[str, Callable[[], object]]] = []

    def compact_case(k: int) -> tuple[str, Callable[[], object]]:
        users = draw_users(k, shape, gen)
        x = complex_normal((shape.m, prof.batching_pilots), gen)
        rxx = x @ x.mH / x.shape[-1]
        ryx = padded_rows(users.dims, shape.p, shape.m, gen) / math.sqrt(shape.m)
        state = initial_state(shape, k, gen)
        return f"compact K={k}", lambda: compact_iteration(state, users, rxx, ryx, shape)

    setups.append(compact_case(prof.thread_users))
    if prof.thread_extras:
        setups.append(compact_case(max(prof.users)))
        n = 10_000
        users, x, y = pilot_data(prof.pilot_users, n, shape, gen, prof.tile_block)
        state = initial_state(shape, prof.pilot_users, gen)
        setups.append((f"paper K={prof.pilot_users} n={n}", lambda: paper_iteration(state, users, x, y, shape)))
    rows = []
    with LoadMeter() as load:
        for label, fn in setups:
            cases = {f"threads={c}": Case(fn, prepare=lambda c=c: torch.set_num_threads(c)) for c in prof.thread_counts}
            t = measure(cases, prof)
            rows.append({"case": label, "timings": {name: tm.as_dict() for name, tm in t.items()},
                         **{f"threads_{c}_s": stat(t[f"threads={c}"], prof) for c in prof.thread_counts}})
    return {"rows": rows, "load": load.as_dict()}


# --------------------------------------------------------------------------- report


def fmt_ms(seconds: float) -> str:
    ms = seconds * 1e3
    if ms >= 100:
        return f"{ms:.0f}"
    if ms >= 10:
        return f"{ms:.1f}"
    return f"{ms:.2f}"


def fmt_x(ratio: float) -> str:
    return f"{ratio:.2f}x"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(h.rjust(w) for h, w in zip(headers, widths))
    out = [line, "-" * len(line)]
    out += ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(out)


def fmt_load(load: dict) -> str:
    cores = load["other_processes_cores"]
    other = "n/a" if cores is None else f"{cores:.2f} of {os.cpu_count()} cores"
    return (f"section wall {load['wall_s']:.1f} s; this process used {load['this_process_cores']:.2f} cores, "
            f"other processes kept busy on average {other}")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict:
    return {
        "platform": platform.platform(), "cpu": cpu_model(), "cpu_count": os.cpu_count(),
        "python": platform.python_version(), "torch": torch.__version__,
        "torch_default_threads": _TORCH_DEFAULT_THREADS,
        "mkl": torch.backends.mkl.is_available(), "openmp": torch.backends.openmp.is_available(),
        "loadavg_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def print_header(meta: dict, shape: Shape, prof: Profile, threads: int) -> None:
    m = meta["machine"]
    print(f"semalign — ADMM iteration benchmark (profile: {prof.name})")
    print(f"machine: {m['platform']} | {m['cpu']} | cpu_count={m['cpu_count']} | python {m['python']} | "
          f"torch {m['torch']} (MKL={m['mkl']}, OpenMP={m['openmp']}, default threads {m['torch_default_threads']})")
    if m["loadavg_start"] is not None:
        la = m["loadavg_start"]
        print(f"load average at start (1/5/15 min): {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}")
    dims = ",".join(str(complex_dim(d)) for d in shape.user_dims)
    print(f"shape: d_T={shape.ap_dim} (m={shape.m} complex), users cycle d_k=({','.join(map(str, shape.user_dims))}) "
          f"-> p_k=({dims}) zero-padded to p={shape.p}; N_T={shape.tx}, N_R={shape.rx}, c={shape.uses} "
          f"(M=R={shape.symbols}); complex64; SNR {shape.snr_db:g} dB, rho={shape.rho:g}, P_T={shape.power:g}; shared F")
    print(f"timing: time.perf_counter; {prof.warmup} warm-up call(s), then {prof.stat} of {prof.min_repeats}"
          f"{'' if prof.repeats == prof.min_repeats else f'..{prof.repeats}'} repeats per case, cases of a table "
          f"interleaved; torch threads = {threads} unless stated (engine default: 1)")
    print(f"data: random CN(0,1) tensors from seeded torch.Generator streams (seed {meta['seed']}), no encoders")
    print()


def print_batching(sec: dict) -> None:
    print(f"[1] One ADMM iteration (G-step + uplink stats + ap_update, compact form), n = {sec['pilots']} pilots")
    print("    batched = the engine (one call over K users); loop = Python loop over users calling the same")
    print("    g_step/uplink_stats on K=1 slices, then one ap_update on the gathered stats; 'own p' = each")
    print(f"    user's unpadded p_k rows instead of the engine's padded p={sec['padded_p']}. 'AP' = ap_update alone "
          "(in both).")
    rows = []
    scaled = []
    for r in sec["rows"]:
        mark = "*" if r["loop_scaled"] else ""
        if r["loop_scaled"]:
            scaled.append(r)
        rows.append([
            str(r["users"]), fmt_ms(r["batched_s"]), fmt_ms(r["ap_update_s"]),
            fmt_ms(r["loop_padded_s"]) + mark, fmt_x(r["loop_padded_over_batched"]),
            fmt_ms(r["loop_own_p_s"]) + mark, fmt_x(r["loop_own_p_over_batched"]),
            f"{max(r['stats_rel_diff_loop_vs_batched'].values()):.1e}",
        ])
    print(table(["K", "batched ms", "AP ms", "loop ms", "loop/batched", "loop own-p ms", "own-p/batched",
                 "stats rel.diff"], rows))
    for r in scaled:
        print(f"    * K={r['users']}: loop timed on the first {r['loop_users_timed']} users and scaled linearly "
              f"(x{r['users'] / r['loop_users_timed']:.2f}), plus ap_update on all {r['users']} users' stats")
    bad = [r["users"] for r in sec["rows"] if max(r["stats_rel_diff_loop_vs_batched"].values()) > MISMATCH]
    if bad:
        print(f"    WARNING: loop and batched statistics disagree for K={bad}")
    print(f"    {fmt_load(sec['load'])}")
    print()


def print_pilots(sec: dict) -> None:
    print(f"[2] One round vs number of pilots n at K = {sec['users']}: compact (sufficient statistics) vs paper "
          f"message form")
    print("    compact round uses R_xx, R_yx computed once ('setup once'); paper round moves n-column")
    print("    messages (H_k F X down, A^H Y up) and the AP forms A^H Y X^H / n. Ratios are vs the first n.")
    rows = []
    for r in sec["rows"]:
        up = r["uplink_bytes_per_user_round"]
        rows.append([
            f"{r['pilots']:,}", fmt_ms(r["compact_s"]), fmt_x(r["compact_vs_first"]),
            fmt_ms(r["paper_s"]), fmt_x(r["paper_vs_first"]), fmt_x(r["paper_over_compact"]),
            "n/a" if r["compact_setup_once_s"] is None else fmt_ms(r["compact_setup_once_s"]),
            f"{up['compact']:,}", f"{up['paper']:,}",
            f"{r['f_rel_diff_paper_vs_compact']:.1e}",
        ])
    print(table(["n", "compact ms", "x", "paper ms", "x", "paper/compact", "setup once ms",
                 "uplink B compact", "uplink B paper", "F rel.diff"], rows))
    print(f"    pilot columns beyond {sec['tiled_beyond']:,} tile a random {sec['tiled_beyond']:,}-column block "
          f"(the kernels' cost does not depend on the values); 'setup once' is a single timed call;")
    if any(r["compact_setup_once_s"] is None for r in sec["rows"]):
        print("    setup n/a: not timed in this profile (statistics taken from the tiled block, which is exact)")
    print("    uplink B = payload bytes per user per round (protocol.accounting); F rel.diff = ‖F_paper − F_compact‖/‖F_compact‖")
    bad = [r["pilots"] for r in sec["rows"] if r["f_rel_diff_paper_vs_compact"] > MISMATCH]
    if bad:
        print(f"    WARNING: paper and compact forms give different F for n={bad}")
    print(f"    {fmt_load(sec['load'])}")
    print()


def print_threads(sec: dict, counts: tuple[int, ...]) -> None:
    a, b = counts[0], counts[-1]
    print(f"[3] Threads: the same iteration with torch.set_num_threads({a}) vs ({b}); settings interleaved")
    rows = []
    for r in sec["rows"]:
        ta, tb = r[f"threads_{a}_s"], r[f"threads_{b}_s"]
        if ta <= tb:
            verdict = f"{a} thread{'s' if a > 1 else ''}: {b} take {tb / ta:.2f}x as long (+{100 * (tb / ta - 1):.0f}%)"
        else:
            verdict = f"{b} threads: {ta / tb:.2f}x faster ({100 * (1 - tb / ta):.0f}% less time)"
        cpu_b = r["timings"][f"threads={b}"]["cpu_per_wall"]
        rows.append([r["case"], fmt_ms(ta), fmt_ms(tb), verdict, f"{cpu_b:.2f}"])
    print(table(["case", f"{a} thread ms", f"{b} threads ms", "faster", f"cpu/wall @{b}"], rows))
    print(f"    cpu/wall = process CPU seconds per wall second at {b} threads ({b}.00 = both threads ran throughout)")
    print(f"    {fmt_load(sec['load'])}")
    print()


# --------------------------------------------------------------------------- main


def run_benchmark(prof: Profile, seed: int = 0, threads: int = 1, shape: Shape | None = None) -> dict:
    shape = shape or Shape()
    torch.set_num_threads(threads)
    meta = {"machine": machine(), "profile": prof.__dict__, "shape": shape.__dict__, "seed": seed,
            "threads": threads}
    print_header(meta, shape, prof, threads)
    t0 = time.perf_counter()
    batching = section_batching(shape, prof, seed)
    print_batching(batching)
    pilots = section_pilots(shape, prof, seed)
    print_pilots(pilots)
    threads_sec = section_threads(shape, prof, seed)
    torch.set_num_threads(threads)
    print_threads(threads_sec, prof.thread_counts)
    bench_s = time.perf_counter() - t0
    total_s = time.perf_counter() - _T_START
    meta["machine"]["loadavg_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    la = meta["machine"]["loadavg_end"]
    print(f"wall time: {total_s:.1f} s in total ({_T_IMPORTED - _T_START:.1f} s imports, {bench_s:.1f} s benchmark)"
          + (f"; load average at end: {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}" if la else ""))
    return {"meta": meta, "batching": batching, "pilots": pilots, "threads": threads_sec,
            "wall_time_s": {"total": total_s, "imports": _T_IMPORTED - _T_START, "benchmark": bench_s}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.admm_iteration", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="short profile (< 2 min on 2 cores)")
    ap.add_argument("--out", type=Path, help="also write the results as JSON to this file")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads for sections 1-2 (engine default 1)")
    ap.add_argument("--stat", choices=("median", "min"), default="median",
                    help="statistic shown in the tables (the JSON keeps median, min and max)")
    ap.add_argument("--loop-users", type=int, default=None,
                    help="users timed in the per-user loop, more are scaled linearly (0 = all; "
                         "default: quick 120, full all)")
    args = ap.parse_args(argv)
    if args.out is not None:  # checked before the benchmark runs, not after
        from protocol.atomic import OutputError, check_writable

        if args.out.is_dir() or any(p.is_file() for p in args.out.parents):
            ap.error(f"--out {args.out}: needs a file path in a folder")
        try:
            check_writable(args.out.parent)
        except OutputError as e:
            ap.error(str(e))
    prof = PROFILES["quick" if args.quick else "full"]
    if args.loop_users is not None:
        prof = Profile(**{**prof.__dict__, "loop_users": max(0, args.loop_users)})
    prof = Profile(**{**prof.__dict__, "stat": args.stat})
    result = run_benchmark(prof, seed=args.seed, threads=max(1, args.threads))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
        print(f"results written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
