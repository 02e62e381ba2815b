r"""``semalign bench`` / ``python -m benchmarks``: how fast the federated aligner runs, against the limit.

One run prints six tables, each with its ratios (DESIGN.md §3 for the math):

1. **Speed-up** — one ADMM iteration, K = 10 users, n = 1,000 pilots, the issue's shape: the
   straightforward implementation (:mod:`benchmarks.straightforward`: n-column messages, each
   user solved separately) vs the engine (:mod:`scenarios.fused_round`: users' and AP's steps in
   one M-dimensional round, batched), the same round split as the Flower runtime splits it
   (``uplink_stats_fused`` + ``ap_update``) and the unfused compact round (``g_step`` +
   ``uplink_stats``, what the Flower users run); the F of the
   straightforward and the engine after 1 and after ``check_iterations`` iterations must agree.
2. **Users** — engine iteration for K ∈ {1, 10, 100, 1000}: time, time per user, achieved
   GFLOP/s vs a roofline on the same shapes (the iteration's matrix products alone, in
   preallocated buffers) and vs a large square complex GEMM.
3. **Pilots** — K = 10, n ∈ {10³, 10⁴, 10⁵}: engine round (flat in n), its one-off statistics,
   the straightforward iteration (linear in n).
4. **Threads** — 1 vs 2 torch threads, interleaved.
5. **Precision** — complex64 vs complex128 on real zoo latents (synthetic if no zoo is built):
   relative difference of the final F, task accuracy and NMSE; iteration time.
6. **GPU** — the users sweep on CUDA vs CPU and the crossover, or "no GPU on this machine".
"""
from __future__ import annotations

import json
import os
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch

from benchmarks.admm_iteration import Case, LoadMeter, fmt_ms, machine, table
from benchmarks.kernels import (
    Shape, compact_stats, direct_macs, engine_iteration, iteration_macs, matmul_shapes, pilot_problem, rel_diff,
    split_iteration, stats_problem, to_direct, unfused_iteration,
)
from benchmarks.straightforward import direct_iteration, direct_solve

__all__ = ["BenchProfile", "PROFILES", "run_suite"]

MISMATCH = 1e-3


@dataclass(frozen=True)
class BenchProfile:
    name: str
    shape: Shape
    speed_users: int
    speed_pilots: int
    check_iterations: int
    users: tuple[int, ...]
    pilots: tuple[int, ...]
    direct_max_pilots: int  # straightforward timed up to this n (it is linear in n)
    direct_users: tuple[int, ...]  # users sweep: straightforward also timed at these K (n = speed_pilots)
    thread_users: tuple[int, ...]
    precision_users: int
    precision_pilots: int
    precision_iterations: int
    precision_source: str  # "zoo" (default, then tiny, else synthetic) or "synthetic"
    gpu_users: tuple[int, ...]
    gemm_size: int
    warmup: int
    repeats: int
    min_repeats: int
    budget_s: float
    block_s: float = 0.005  # a timing sample: back-to-back calls for about this long (steady state)


ISSUE = Shape()
TINY = Shape(ap_dim=16, user_dims=(8, 16, 24), tx=2, rx=2, uses=2)

PROFILES = {
    "tiny": BenchProfile(
        name="tiny", shape=TINY, speed_users=4, speed_pilots=200, check_iterations=5, users=(1, 4),
        pilots=(200, 400), direct_max_pilots=400, direct_users=(4,), thread_users=(4,), precision_users=2, precision_pilots=300,
        precision_iterations=5, precision_source="synthetic", gpu_users=(1, 4), gemm_size=64,
        warmup=1, repeats=3, min_repeats=2, budget_s=0.05),
    "quick": BenchProfile(
        name="quick", shape=ISSUE, speed_users=10, speed_pilots=1000, check_iterations=20,
        users=(1, 10, 100, 1000), pilots=(1000, 10_000, 100_000), direct_max_pilots=10_000, direct_users=(),
        thread_users=(10, 1000), precision_users=10, precision_pilots=2000, precision_iterations=50,
        precision_source="zoo", gpu_users=(1, 10, 100, 1000), gemm_size=512,
        warmup=2, repeats=200, min_repeats=5, budget_s=2.0),
    "full": BenchProfile(
        name="full", shape=ISSUE, speed_users=10, speed_pilots=1000, check_iterations=50,
        users=(1, 3, 10, 30, 100, 300, 1000), pilots=(1000, 3000, 10_000, 30_000, 100_000),
        direct_max_pilots=100_000, direct_users=(1, 3, 10, 30, 100), thread_users=(1, 10, 100, 1000), precision_users=10, precision_pilots=2000,
        precision_iterations=50, precision_source="zoo", gpu_users=(1, 3, 10, 30, 100, 300, 1000),
        gemm_size=1024, warmup=3, repeats=500, min_repeats=7, budget_s=8.0),
}


# ----------------------------------------------------------------------------- measurement


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(cases: dict[str, Case], prof: BenchProfile, device: torch.device = torch.device("cpu")) -> dict[str, dict]:
    """Warm up, then time the cases round-robin (order rotated each repeat); min and median per call.

    A sample is a *block* of back-to-back calls lasting about ``prof.block_s`` (one call when a
    call is longer): the steady state of a run, where iteration follows iteration, instead of
    one call straight after another case has filled the caches with its own data. Blocks of
    different cases still alternate, so other jobs on the machine hit them alike.
    """
    calls: dict[str, int] = {}
    for name, c in cases.items():
        if c.prepare:
            c.prepare()
        fastest = float("inf")
        for _ in range(max(prof.warmup, 1)):
            t0 = time.perf_counter()
            c.fn()
            _sync(device)
            fastest = min(fastest, time.perf_counter() - t0)
        calls[name] = max(1, min(1000, int(prof.block_s / max(fastest, 1e-9))))
    walls: dict[str, list[float]] = {k: [] for k in cases}
    cpus: dict[str, list[float]] = {k: [] for k in cases}
    names = list(cases)
    start = time.perf_counter()
    for rep in range(prof.repeats):
        for i in range(len(names)):
            name = names[(i + rep) % len(names)]
            if cases[name].prepare:
                cases[name].prepare()
            n, fn = calls[name], cases[name].fn
            c0, t0 = time.process_time(), time.perf_counter()
            for _ in range(n):
                fn()
            _sync(device)
            walls[name].append((time.perf_counter() - t0) / n)
            cpus[name].append((time.process_time() - c0) / n)
        if rep + 1 >= prof.min_repeats and time.perf_counter() - start > prof.budget_s:
            break
    return {k: {"min_s": min(w), "median_s": statistics.median(w), "samples": len(w), "calls_per_sample": calls[k],
                "cpu_min_s": min(cpus[k]), "cpu_median_s": statistics.median(cpus[k])} for k, w in walls.items()}


def best(t: dict) -> float:
    """The statistic of the tables: the minimum (least disturbed by a shared machine's other jobs)."""
    return t["min_s"]


def cpu(t: dict) -> float:
    """Minimum process CPU time of a call: the work itself, even when other jobs share the cores."""
    return t["cpu_min_s"]


def gemm_peak(size: int, dtype=torch.complex64, device=torch.device("cpu"), prof: BenchProfile | None = None) -> float:
    """GFLOP/s of one large square complex GEMM (8 real flops per complex multiply-add)."""
    a = torch.randn(size, size, dtype=dtype, device=device)
    b = torch.randn(size, size, dtype=dtype, device=device)
    out = torch.empty_like(a)
    t = timed({"gemm": Case(lambda: torch.matmul(a, b, out=out))}, prof, device)["gemm"]
    return 8 * size ** 3 / best(t) / 1e9


def roofline_case(k: int, shape: Shape, dtype=torch.complex64, device=torch.device("cpu")) -> Callable[[], None]:
    """The iteration's matrix products alone, in preallocated buffers: the matmul limit on the same shapes."""
    pairs = []
    for a, b in matmul_shapes(k, shape):
        ta = torch.randn(*a, dtype=dtype, device=device)
        tb = torch.randn(*b, dtype=dtype, device=device)
        out = torch.matmul(ta, tb)
        pairs.append((ta, tb, out))

    def run() -> None:
        for ta, tb, out in pairs:
            torch.matmul(ta, tb, out=out)
    return run


# ----------------------------------------------------------------------------- sections


def section_speedup(prof: BenchProfile, seed: int) -> dict:
    shape, k, n = prof.shape, prof.speed_users, prof.speed_pilots
    users, x, ys, state = pilot_problem(k, n, shape, seed)
    t0 = time.perf_counter()
    stats = compact_stats(x, ys, shape.p)
    setup_s = time.perf_counter() - t0
    dstate, dusers = to_direct(state, users, ys)
    with LoadMeter() as load:
        t = timed({
            "straightforward": Case(lambda: direct_iteration(dstate, dusers, x, shape.rho, shape.power)),
            "engine": Case(lambda: engine_iteration(state, users, stats, shape)),
            "split": Case(lambda: split_iteration(state, users, stats, shape)),
            "unfused": Case(lambda: unfused_iteration(state, users, stats, shape)),
        }, prof)
    # the same F: one iteration, then check_iterations iterations from the same start
    f1 = rel_diff(engine_iteration(state, users, stats, shape).f[0],
                  direct_iteration(dstate, dusers, x, shape.rho, shape.power).f)
    s = state
    for _ in range(prof.check_iterations):
        s = engine_iteration(s, users, stats, shape)
    fd = direct_solve(state.f[0], dusers, x, shape.rho, shape.power, prof.check_iterations)
    fk = rel_diff(s.f[0], fd.f)
    sf, en, sp, un = best(t["straightforward"]), best(t["engine"]), best(t["split"]), best(t["unfused"])
    its = 50
    return {
        "users": k, "pilots": n, "timings": t, "setup_s": setup_s,
        "straightforward_s": sf, "engine_s": en, "split_s": sp, "unfused_s": un, "speedup_split": sf / sp,
        "speedup_cpu": cpu(t["straightforward"]) / cpu(t["engine"]),
        "speedup": sf / en, "speedup_unfused": sf / un, "fused_over_unfused": un / en,
        "speedup_50_iterations_incl_setup": its * sf / (its * en + setup_s),
        "f_rel_diff_1": f1, "f_rel_diff_k": fk, "check_iterations": prof.check_iterations,
        "straightforward_gflops": 8 * direct_macs(users.dims, n, shape) / sf / 1e9,
        "engine_gflops": 8 * iteration_macs(k, shape) / en / 1e9,
        "load": load.as_dict(),
    }


def section_users(prof: BenchProfile, seed: int, peak: float) -> dict:
    shape = prof.shape
    rows = []
    with LoadMeter() as load:
        for k in prof.users:
            users, stats, state = stats_problem(k, shape, seed)
            t = timed({
                "engine": Case(lambda: engine_iteration(state, users, stats, shape)),
                "unfused": Case(lambda: unfused_iteration(state, users, stats, shape)),
                "roofline": Case(roofline_case(k, shape)),
            }, prof)
            en = best(t["engine"])
            macs = iteration_macs(k, shape)
            direct = None
            if k in prof.direct_users:
                pu, px, pys, pst = pilot_problem(k, prof.speed_pilots, shape, seed)
                dstate, dusers = to_direct(pst, pu, pys)
                direct = best(timed({"d": Case(lambda: direct_iteration(dstate, dusers, px, shape.rho, shape.power))},
                                    prof)["d"])
                del pu, px, pys, pst, dstate, dusers
            rows.append({
                "users": k, "engine_s": en, "unfused_s": best(t["unfused"]), "roofline_s": best(t["roofline"]),
                "engine_cpu_s": cpu(t["engine"]), "per_user_cpu_us": cpu(t["engine"]) / k * 1e6,
                "roofline_cpu_s": cpu(t["roofline"]), "straightforward_s": direct,
                "per_user_us": en / k * 1e6, "gflops": 8 * macs / en / 1e9,
                "roofline_gflops": 8 * macs / best(t["roofline"]) / 1e9, "timings": t,
            })
            del users, stats, state
    ref = next((r for r in rows if r["users"] == 10), rows[0])
    for r in rows:
        r["per_user_vs_ref"] = r["per_user_us"] / ref["per_user_us"]
        r["per_user_cpu_vs_ref"] = r["per_user_cpu_us"] / ref["per_user_cpu_us"]
        r["of_roofline"] = r["gflops"] / r["roofline_gflops"]
        r["of_gemm_peak"] = r["gflops"] / peak
    return {"rows": rows, "gemm_peak_gflops": peak, "gemm_size": prof.gemm_size, "ref_users": ref["users"],
            "load": load.as_dict()}


def section_pilots(prof: BenchProfile, seed: int) -> dict:
    shape, k = prof.shape, prof.speed_users
    rows = []
    with LoadMeter() as load:
        for n in prof.pilots:
            users, x, ys, state = pilot_problem(k, n, shape, seed)
            t0 = time.perf_counter()
            stats = compact_stats(x, ys, shape.p)
            setup = time.perf_counter() - t0
            cases = {"engine": Case(lambda: engine_iteration(state, users, stats, shape))}
            if n <= prof.direct_max_pilots:
                dstate, dusers = to_direct(state, users, ys)
                cases["straightforward"] = Case(lambda: direct_iteration(dstate, dusers, x, shape.rho, shape.power))
            t = timed(cases, prof)
            rows.append({"pilots": n, "engine_s": best(t["engine"]), "engine_cpu_s": cpu(t["engine"]), "setup_s": setup,
                         "straightforward_s": best(t["straightforward"]) if "straightforward" in t else None,
                         "timings": t})
            del users, x, ys, state, stats, cases
    for r in rows:
        r["engine_vs_first"] = r["engine_s"] / rows[0]["engine_s"]
        sf = r["straightforward_s"]
        r["straightforward_vs_first"] = None if sf is None else sf / rows[0]["straightforward_s"]
        r["speedup"] = None if sf is None else sf / r["engine_s"]
    return {"users": k, "rows": rows, "load": load.as_dict()}


def section_threads(prof: BenchProfile, seed: int) -> dict:
    shape = prof.shape
    rows = []
    with LoadMeter() as load:
        for k in prof.thread_users:
            users, stats, state = stats_problem(k, shape, seed)
            fn = (lambda users=users, stats=stats, state=state: engine_iteration(state, users, stats, shape))
            t = timed({f"{c}": Case(fn, prepare=lambda c=c: torch.set_num_threads(c)) for c in (1, 2)}, prof)
            rows.append({"users": k, "threads_1_s": best(t["1"]), "threads_2_s": best(t["2"]),
                         "two_over_one": best(t["2"]) / best(t["1"]), "timings": t})
    torch.set_num_threads(1)
    return {"rows": rows, "load": load.as_dict(),
            "choice": 1 if all(r["threads_1_s"] <= r["threads_2_s"] for r in rows) else 2}


def precision_latents(prof: BenchProfile, users: int):
    """(source label, LatentData): the default zoo if built, else the tiny zoo, else synthetic."""
    from protocol.config import RunConfig, user_encoder_names
    from scenarios.synthetic import make_synthetic

    if prof.precision_source == "zoo":
        try:
            from scenarios.sources import zoo_latents
            from zoo import list_encoders
            from zoo.cache import is_fresh

            for zp in ("default", "tiny"):
                cfg = RunConfig(users=users, zoo_profile=zp)
                names = [cfg.ap_encoder, *user_encoder_names(cfg, list_encoders())]
                if all(is_fresh(nm, None, zp) for nm in dict.fromkeys(names)):
                    return f"zoo:{zp}", zoo_latents(cfg), zp
        except Exception as e:  # noqa: BLE001 - fall back to synthetic and say why
            print(f"    (zoo latents unavailable: {e}; using synthetic latents)")
    return "synthetic", make_synthetic(users=users, ap_dim=48, user_dims=(32, 64, 96), train=2500, test=1000,
                                       seed=7), "default"


def cast_problem(prob, dtype: torch.dtype):
    """The same problem (same pilots, channels, noise) in another complex dtype: the precision
    of the math alone. (Building a problem per precision would also change the channel draws —
    random streams depend on the dtype — and mix the two effects.)"""
    from dataclasses import fields, replace

    from protocol.whitening import Whitener

    real = torch.float64 if dtype == torch.complex128 else torch.float32

    def cast(v):
        if isinstance(v, torch.Tensor):
            return v.to(dtype) if v.is_complex() else v.to(real) if v.is_floating_point() else v
        if isinstance(v, Whitener):
            return replace(v, **{f.name: cast(getattr(v, f.name)) for f in fields(v)})
        if isinstance(v, list):
            return [cast(w) for w in v]
        return v

    skip = {"noise_var"}  # float64 by design in both precisions
    return replace(prob, **{f.name: (getattr(prob, f.name) if f.name in skip else cast(getattr(prob, f.name)))
                            for f in fields(prob)})


def decode_same_noise(prob, f: torch.Tensor, seed: int, noise: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """``scenarios.engine.decode_with`` with a given noise realisation (drawn once, in float64:
    the noise stream depends on the dtype, so each precision would otherwise see other noise).
    Returns the decoded latents and the noise."""
    from channel import add_user_noise
    from user_client import g_step

    clean = prob.h @ f @ prob.x_test
    if noise is None:
        wide = clean.to(torch.complex128)
        noise = add_user_noise(wide, prob.noise_var, seed, "eval-noise") - wide
    g = g_step(prob.h_est @ f, prob.rxx, prob.ryx, prob.noise_var)
    return g @ (clean + noise.to(clean.dtype)), noise


def _precision_run(cfg, prob, data, noise) -> tuple[dict, torch.Tensor, torch.Tensor]:
    from scenarios.admm import admm_solve
    from scenarios.evaluate import evaluate_users

    t0 = time.perf_counter()
    sol = admm_solve(prob, cfg)
    solve_s = time.perf_counter() - t0
    y_hat, noise = decode_same_noise(prob, sol.transmit, cfg.seed, noise)
    rows = evaluate_users(prob, data, y_hat)
    return {
        "accuracy": statistics.mean(r["accuracy"] for r in rows if r["accuracy"] is not None),
        "nmse": statistics.mean(r["nmse"] for r in rows),
        "per_user_accuracy": [r["accuracy"] for r in rows],
        "final_objective": sol.history[-1].get("objective"), "solve_s": solve_s,
    }, sol.transmit.to(torch.complex128), noise


def section_precision(prof: BenchProfile, seed: int) -> dict:
    """Single vs double end to end, for the default ``pca`` F₀ and the deterministic ``first-k`` F₀
    (an eigenvector's phase is arbitrary, so ``pca`` F₀ may differ between precisions by a
    per-row phase: the F difference then measures the eigensolver, not the iterations).
    Both precisions solve the same problem — built in double, cast to single (:func:`cast_problem`) —
    and decode the test set through the same noise realisation (:func:`decode_same_noise`)."""
    from protocol.config import RunConfig
    from scenarios.problem import build_problem

    source, data, zp = precision_latents(prof, prof.precision_users)
    out = {"source": source, "users": prof.precision_users, "pilots": prof.precision_pilots,
           "iterations": prof.precision_iterations, "inits": {}}
    for init in ("pca", "first-k"):
        runs, fs = {}, {}
        base, noise = None, None
        for prec in ("double", "single"):
            cfg = RunConfig(users=prof.precision_users, pilots=min(prof.precision_pilots, data.ap_train.shape[0]),
                            iterations=prof.precision_iterations, tol=0.0, precision=prec, zoo_profile=zp,
                            test_samples=2000, seed=42 + seed, init=init)
            if base is None:
                base = build_problem(cfg, data, torch.complex128, torch.device("cpu"))
            prob = base if prec == "double" else cast_problem(base, torch.complex64)
            runs[prec], fs[prec], noise = _precision_run(cfg, prob, data, noise)
        runs = {"single": runs["single"], "double": runs["double"]}
        s, d = runs["single"], runs["double"]
        out["inits"][init] = {
            "runs": runs, "f_rel_diff": rel_diff(fs["single"], fs["double"]),
            "accuracy_diff_points": 100 * (s["accuracy"] - d["accuracy"]),
            "max_user_accuracy_diff_points": 100 * max(
                abs(a - b) for a, b in zip(s["per_user_accuracy"], d["per_user_accuracy"])),
            "nmse_rel_diff": abs(s["nmse"] - d["nmse"]) / abs(d["nmse"]),
            "objective_rel_diff": abs(s["final_objective"] - d["final_objective"]) / abs(d["final_objective"]),
        }
    out["accuracy_diff_points"] = out["inits"]["pca"]["accuracy_diff_points"]
    # iteration time of the two precisions on the speed-up problem's shape
    shape = prof.shape
    cases = {}
    for prec, dt in (("single", torch.complex64), ("double", torch.complex128)):
        users, stats, state = stats_problem(prof.speed_users, shape, seed, dtype=dt)
        cases[prec] = Case(lambda users=users, stats=stats, state=state: engine_iteration(state, users, stats, shape))
    t = timed(cases, prof)
    out["iteration_s"] = {k: best(v) for k, v in t.items()}
    out["double_over_single_time"] = best(t["double"]) / best(t["single"])
    return out


def section_gpu(prof: BenchProfile, seed: int) -> dict:
    if not torch.cuda.is_available():
        return {"available": False, "note": "no GPU on this machine (torch.cuda.is_available() is False)"}
    dev = torch.device("cuda")
    shape = prof.shape
    rows = []
    for k in prof.gpu_users:
        cpu = stats_problem(k, shape, seed)
        gpu = stats_problem(k, shape, seed, device=dev)
        tc = timed({"cpu": Case(lambda c=cpu: engine_iteration(c[2], c[0], c[1], shape))}, prof)["cpu"]
        tg = timed({"gpu": Case(lambda g=gpu: engine_iteration(g[2], g[0], g[1], shape))}, prof, dev)["gpu"]
        rows.append({"users": k, "cpu_s": best(tc), "gpu_s": best(tg), "cpu_over_gpu": best(tc) / best(tg)})
    cross = next((r["users"] for r in rows if r["gpu_s"] < r["cpu_s"]), None)
    return {"available": True, "device": torch.cuda.get_device_name(dev), "rows": rows, "crossover_users": cross,
            "gemm_peak_gflops": gemm_peak(prof.gemm_size, device=dev, prof=prof)}


# ----------------------------------------------------------------------------- report


def x(r: float | None) -> str:
    return "-" if r is None else f"{r:.2f}x" if r < 10 else f"{r:.0f}x"


def ms(s: float | None) -> str:
    return "-" if s is None else fmt_ms(s)


def fmt_load(load: dict) -> str:
    o = load["other_processes_cores"]
    return (f"    load: this process {load['this_process_cores']:.2f} cores, other processes "
            f"{'n/a' if o is None else f'{o:.2f}'} of {os.cpu_count()} cores, {load['wall_s']:.1f} s")


def print_speedup(s: dict, shape: Shape) -> None:
    print(f"[1] One ADMM iteration, K = {s['users']} users, n = {s['pilots']:,} pilots: straightforward vs engine")
    print(table(["implementation", "ms/iteration", "GFLOP/s", "straightforward / this"], [
        ["straightforward (n-column messages, user by user)", ms(s["straightforward_s"]),
         f"{s['straightforward_gflops']:.1f}", "1.00x"],
        ["compact, g_step + uplink_stats (batched)", ms(s["unfused_s"]), "", x(s["speedup_unfused"])],
        ["compact, uplink_stats_fused + ap_update (batched)", ms(s["split_s"]), "", x(s["speedup_split"])],
        ["engine (fused M-dim round, users + AP, batched)", ms(s["engine_s"]), f"{s['engine_gflops']:.1f}", x(s["speedup"])],
    ]))
    print(f"    SPEED-UP engine vs straightforward: {x(s['speedup'])} per iteration (goal >= 20x); "
          f"{x(s['speedup_50_iterations_incl_setup'])} over a 50-iteration run including the one-off "
          f"statistics ({ms(s['setup_s'])} ms once); in process CPU time {x(s['speedup_cpu'])}")
    ok = s["f_rel_diff_1"] < MISMATCH and s["f_rel_diff_k"] < MISMATCH
    print(f"    same F: ||F_engine - F_straightforward|| / ||F|| = {s['f_rel_diff_1']:.1e} after 1 iteration, "
          f"{s['f_rel_diff_k']:.1e} after {s['check_iterations']} ({'OK' if ok else 'MISMATCH'})")
    print(f"    shape: {shape.describe()}; complex64; whitened pilots; min over interleaved blocks of back-to-back calls")
    print(fmt_load(s["load"]))
    print()


def print_users(s: dict) -> None:
    print(f"[2] Engine iteration vs users (compact, n-independent); roofline = the iteration's matmuls alone "
          f"on the same shapes; GEMM peak = {s['gemm_size']}^2 complex64 matmul = {s['gemm_peak_gflops']:.1f} GFLOP/s")
    rows = [[f"{r['users']:,}", ms(r["engine_s"]), f"{r['per_user_us']:.1f}", x(r["per_user_vs_ref"]),
             ms(r["engine_cpu_s"]), x(r["per_user_cpu_vs_ref"]),
             ms(r["unfused_s"]), x(r["unfused_s"] / r["engine_s"]), f"{r['gflops']:.1f}",
             f"{r['roofline_gflops']:.1f}", f"{100 * r['of_roofline']:.0f}%", f"{100 * r['of_gemm_peak']:.0f}%"]
            for r in s["rows"]]
    print(table(["K", "engine ms", "us/user", f"us/user vs K={s['ref_users']}", "CPU ms", "CPU/user vs ref",
                 "unfused ms", "unfused/engine",
                 "GFLOP/s", "roofline GFLOP/s", "of roofline", "of GEMM peak"], rows))
    print("    linear in users <=> us/user flat (ratio ~1); small K pays per-call overhead; CPU ms = process CPU")
    print("    time of the call (min), the work itself when other jobs share the cores")
    print(fmt_load(s["load"]))
    print()


def print_pilots(s: dict) -> None:
    print(f"[3] Round cost vs pilots n, K = {s['users']}: engine (statistics once, then O(d^3) rounds) vs "
          f"straightforward (n-column messages)")
    rows = [[f"{r['pilots']:,}", ms(r["engine_s"]), x(r["engine_vs_first"]), ms(r["engine_cpu_s"]), ms(r["setup_s"]),
             ms(r["straightforward_s"]), x(r["straightforward_vs_first"]), x(r["speedup"])] for r in s["rows"]]
    print(table(["n", "engine ms", "vs first n", "engine CPU ms", "setup once ms", "straightforward ms", "vs first n",
                 "straightforward/engine"], rows))
    print(fmt_load(s["load"]))
    print()


def print_threads(s: dict) -> None:
    print("[3b] Threads: engine iteration with torch.set_num_threads(1) vs (2), interleaved")
    rows = [[f"{r['users']:,}", ms(r["threads_1_s"]), ms(r["threads_2_s"]), x(r["two_over_one"])] for r in s["rows"]]
    print(table(["K", "1 thread ms", "2 threads ms", "2-thread time / 1-thread"], rows))
    print(f"    measured choice: {s['choice']} thread(s) (the engine's default RunConfig.threads = 1)")
    print(fmt_load(s["load"]))
    print()


def print_precision(s: dict) -> None:
    print(f"[4] float32 (complex64) vs float64 (complex128): federated run on {s['source']} latents, "
          f"K = {s['users']}, n = {s['pilots']}, {s['iterations']} iterations, tol = 0")
    rows = []
    for init, r in s["inits"].items():
        for p, run in r["runs"].items():
            rows.append([init, p, f"{100 * run['accuracy']:.2f}", f"{run['nmse']:.4f}", f"{run['final_objective']:.5g}",
                         f"{run['solve_s']:.2f}"])
    print(table(["F0", "precision", "accuracy %", "NMSE", "objective", "run s"], rows))
    for init, r in s["inits"].items():
        print(f"    F0={init}: ||F_32 - F_64||/||F_64|| = {r['f_rel_diff']:.1e}; accuracy {r['accuracy_diff_points']:+.3f} "
              f"points (max per user {r['max_user_accuracy_diff_points']:.3f}); NMSE rel. diff {r['nmse_rel_diff']:.1e}; "
              f"objective rel. diff {r['objective_rel_diff']:.1e}")
    it = s["iteration_s"]
    print(f"    iteration at the speed shape: single {ms(it['single'])} ms, double {ms(it['double'])} ms "
          f"(double takes {x(s['double_over_single_time'])} the time)")
    print()


def print_gpu(s: dict) -> None:
    print("[5] GPU")
    if not s["available"]:
        print(f"    {s['note']}: CUDA rows not measured; `semalign bench` runs them where a GPU is present")
        print()
        return
    rows = [[f"{r['users']:,}", ms(r["cpu_s"]), ms(r["gpu_s"]), x(r["cpu_over_gpu"])] for r in s["rows"]]
    print(f"    device: {s['device']}, GEMM peak {s['gemm_peak_gflops']:.0f} GFLOP/s")
    print(table(["K", "CPU ms", "GPU ms", "CPU/GPU"], rows))
    print(f"    crossover: GPU beats CPU from K = {s['crossover_users']}")
    print()


def print_summary(res: dict) -> None:
    sp, us, pi, th, pr = res["speedup"], res["users"], res["pilots"], res["threads"], res["precision"]
    ks = [r["users"] for r in us["rows"]]
    per = [r["per_user_vs_ref"] for r in us["rows"] if r["users"] >= us["ref_users"]]
    per_cpu = [r["per_user_cpu_vs_ref"] for r in us["rows"] if r["users"] >= us["ref_users"]]
    flat = [r["engine_vs_first"] for r in pi["rows"]]
    big = max(us["rows"], key=lambda r: r["users"])
    print("Summary (ratios)")
    print(table(["goal", "measured", "holds"], [
        [f"engine >= 20x straightforward (K={sp['users']}, n={sp['pilots']:,})", x(sp["speedup"]),
         "yes" if sp["speedup"] >= 20 else "no"],
        ["  same, in process CPU time (robust to other jobs)", x(sp["speedup_cpu"]), "yes" if sp["speedup_cpu"] >= 20 else "no"],
        [f"round flat in n ({pi['rows'][0]['pilots']:,}..{pi['rows'][-1]['pilots']:,})",
         f"{min(flat):.2f}..{max(flat):.2f}x", "yes" if max(flat) < 1.5 else "no"],
        [f"linear in users (us/user, K={us['ref_users']}..{max(ks):,}, vs K={us['ref_users']})", f"{min(per):.2f}..{max(per):.2f}x",
         "yes" if max(per) < 1.5 else "no"],
        [f"linear in users, CPU time/user (K={us['ref_users']}..{max(ks):,})", f"{min(per_cpu):.2f}..{max(per_cpu):.2f}x",
         "yes" if max(per_cpu) < 1.5 else "no"],
        [f"of matmul roofline, K={big['users']:,}", f"{100 * big['of_roofline']:.0f}%", ""],
        [f"of GEMM peak ({us['gemm_peak_gflops']:.0f} GFLOP/s), K={big['users']:,}", f"{100 * big['of_gemm_peak']:.0f}%", ""],
        ["threads (measured best)", f"{th['choice']}", ""],
        ["float32 vs float64: accuracy diff", f"{pr['accuracy_diff_points']:+.3f} pts", ""],
        ["GPU", "no GPU on this machine" if not res["gpu"]["available"] else f"crossover K={res['gpu']['crossover_users']}", ""],
    ]))


def _finish(fig, ax, path: Path) -> Path:
    """Log-log grid, legend, layout; saved atomically at 120 dpi and closed."""
    from scenarios.figures import save_figure

    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path, dpi=120)


def figures(res: dict, out: Path) -> list[Path]:
    """time vs users, time vs n (and CPU vs GPU when measured) as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    us = res["users"]["rows"]
    fig, ax = plt.subplots(figsize=(6, 4))
    ks = [r["users"] for r in us]
    ax.loglog(ks, [r["engine_s"] * 1e3 for r in us], "o-", label="engine (fused, batched)")
    ax.loglog(ks, [r["unfused_s"] * 1e3 for r in us], "s--", label="g_step + uplink_stats (batched)")
    ax.loglog(ks, [r["engine_cpu_s"] * 1e3 for r in us], "o:", color="C0", alpha=0.6, label="engine, process CPU time")
    ax.loglog(ks, [r["roofline_s"] * 1e3 for r in us], ":", color="C2", label="matmul roofline (same shapes)")
    sp = res["speedup"]
    d = [(r["users"], r["straightforward_s"]) for r in us if r.get("straightforward_s") is not None]
    if not any(k == sp["users"] for k, _ in d):
        d.append((sp["users"], sp["straightforward_s"]))
    d.sort()
    ax.loglog([k for k, _ in d], [v * 1e3 for _, v in d], "k^-", label=f"straightforward (n={sp['pilots']:,})")
    ax.set_xlabel("users K")
    ax.set_ylabel("one ADMM iteration [ms] (wall, min of repeats)")
    ax.set_title("Iteration time vs users (1 thread, complex64)")
    paths.append(_finish(fig, ax, out / "time_vs_users.png"))

    pi = res["pilots"]["rows"]
    fig, ax = plt.subplots(figsize=(6, 4))
    ns = [r["pilots"] for r in pi]
    ax.loglog(ns, [r["engine_s"] * 1e3 for r in pi], "o-", label="engine round (compact)")
    ax.loglog(ns, [r["setup_s"] * 1e3 for r in pi], "x:", label="engine one-off statistics")
    d = [(r["pilots"], r["straightforward_s"]) for r in pi if r["straightforward_s"] is not None]
    ax.loglog([a for a, _ in d], [b * 1e3 for _, b in d], "^--", label="straightforward iteration")
    ax.set_xlabel("pilots n")
    ax.set_ylabel("time [ms]")
    ax.set_title(f"Round time vs pilots, K = {res['pilots']['users']}")
    paths.append(_finish(fig, ax, out / "time_vs_pilots.png"))

    g = res["gpu"]
    if g["available"]:
        fig, ax = plt.subplots(figsize=(6, 4))
        ks = [r["users"] for r in g["rows"]]
        ax.loglog(ks, [r["cpu_s"] * 1e3 for r in g["rows"]], "o-", label="CPU")
        ax.loglog(ks, [r["gpu_s"] * 1e3 for r in g["rows"]], "s-", label=f"GPU ({g['device']})")
        ax.set_xlabel("users K")
        ax.set_ylabel("one ADMM iteration [ms]")
        ax.set_title("CPU vs GPU")
        paths.append(_finish(fig, ax, out / "cpu_vs_gpu.png"))
    return paths


def run_suite(prof: BenchProfile, seed: int = 0, out: Path | None = None, progress: Callable[[str], None] | None = None) -> dict:
    """Run every section, print the tables, write ``bench.json`` (+ figures) under ``out``."""
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    meta = {"machine": machine(), "profile": prof.name, "shape": asdict(prof.shape), "seed": seed}
    m = meta["machine"]
    la = m["loadavg_start"]
    print(f"semalign bench (profile: {prof.name}) | {m['cpu']} | {m['cpu_count']} cores | torch {m['torch']} | "
          f"load average {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}" if la else "")
    print("timings: min over interleaved blocks of back-to-back calls (~5 ms each: a run's steady state; "
          "robust to other jobs on a shared machine); "
          "1 torch thread unless stated\n")
    steps = [("speedup", lambda: section_speedup(prof, seed), print_speedup),
             ("users", None, print_users), ("pilots", lambda: section_pilots(prof, seed), print_pilots),
             ("threads", lambda: section_threads(prof, seed), print_threads),
             ("precision", lambda: section_precision(prof, seed), print_precision),
             ("gpu", lambda: section_gpu(prof, seed), print_gpu)]
    res: dict = {"meta": meta}
    peak = gemm_peak(prof.gemm_size, prof=prof)
    for name, fn, pr in steps:
        if progress:
            progress(name)
        res[name] = section_users(prof, seed, peak) if name == "users" else fn()
        if name == "speedup":
            pr(res[name], prof.shape)
        else:
            pr(res[name])
    print_summary(res)
    meta["machine"]["loadavg_end"] = list(os.getloadavg())
    res["wall_s"] = time.perf_counter() - t0
    le = meta["machine"]["loadavg_end"]
    print(f"\nwall time {res['wall_s']:.1f} s; load average at end {le[0]:.2f} {le[1]:.2f} {le[2]:.2f}")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "bench.json").write_text(json.dumps(res, indent=2, default=str) + "\n")
        paths = figures(res, out)
        print(f"results: {out / 'bench.json'}; figures: {', '.join(str(p) for p in paths)}")
    return res
