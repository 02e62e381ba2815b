"""The ``semalign`` command line: ``run``, ``compare``, ``sweep``, ``launch``, ``ap``, ``user``, ``certs``,
``scenario NAME``, ``encoders build|list``, ``bench``."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from pydantic import ValidationError

from protocol.atomic import write_bytes_atomic
from protocol.config import METHODS, ConfigError, RunConfig, format_validation_error, load_config_file
from scenarios.arglists import floats, int_list

__all__ = ["main", "build_parser", "config_from_args"]

# CLI flag dest -> RunConfig field (None values are dropped so unset flags keep file/defaults)
_RUN_FIELDS = (
    "users", "tx_antennas", "rx_antennas", "channel_uses", "snr_db", "user_snr_db", "power", "iterations",
    "rho", "rho_mode", "rho_scale", "rho_mu", "rho_tau", "dual", "tol", "seed", "pilots", "test_samples", "method", "protocol", "csi", "csi_nmse", "precision",
    "device", "whiten", "init", "transmit", "ap_encoder", "user_encoders", "latents", "channels",
    "cache_dir", "data_dir", "zoo_profile", "threads", "user_metric", "metric_eps", "processing",
)


def _names(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


def add_run_options(p: argparse.ArgumentParser) -> None:
    """Every run option (shared by ``run`` and, later, ``launch``)."""
    g = p.add_argument_group("run")
    g.add_argument("--config", type=Path, help="TOML file with run settings (CLI flags win)")
    g.add_argument("--users", type=int, help="number of users K (default 4)")
    g.add_argument("--antennas", type=int, help="N_T = N_R (default 4)")
    g.add_argument("--tx-antennas", dest="tx_antennas", type=int, help="AP antennas N_T")
    g.add_argument("--rx-antennas", dest="rx_antennas", type=int, help="user antennas N_R")
    g.add_argument("--channel-uses", dest="channel_uses", type=int, help="channel uses c (default 4)")
    g.add_argument("--snr", dest="snr_db", type=float, help="SNR in dB, every user (default 20)")
    g.add_argument("--user-snr", dest="user_snr_db", type=floats, help="per-user SNRs, comma-separated")
    g.add_argument("--power", type=float, help="power budget P_T (default 1)")
    g.add_argument("--iterations", type=int, help="ADMM iteration budget (default 50)")
    g.add_argument("--rho", type=float, help="ADMM penalty per pilot (fixed; start of residual balancing)")
    g.add_argument("--rho-mode", dest="rho_mode", choices=("fixed", "scaled", "adaptive", "scaled-adaptive"),
                   help="ADMM penalty rule: fixed (paper, default), scaled to the users' grams, "
                        "residual balancing (adaptive), or both")
    g.add_argument("--dual", choices=("shared", "per-user"),
                   help="ADMM scaled dual: shared (paper, default) or per-user (consensus ADMM)")
    g.add_argument("--rho-scale", dest="rho_scale", type=float,
                   help="scaled modes: ρ = this × mean eigenvalue of the users' grams (default 0.3)")
    g.add_argument("--rho-mu", dest="rho_mu", type=float, help="residual balancing threshold μ (default 10)")
    g.add_argument("--rho-tau", dest="rho_tau", type=float, help="residual balancing factor τ (default 2)")
    g.add_argument("--tol", type=float, help="residual tolerance for early stop (0 = run all)")
    g.add_argument("--seed", type=int, help="seed (pilots, channels, noise, init)")
    g.add_argument("--pilots", type=int, help="number of semantic pilots n")
    g.add_argument("--test-samples", dest="test_samples", type=int, help="held-out samples")
    g.add_argument("--method", choices=METHODS, help="federated (default) or a baseline")
    g.add_argument("--protocol", choices=("paper", "compact"), help="message form (bytes accounting)")
    g.add_argument("--csi", dest="csi", action="store_true", default=None, help="AP has CSI (default)")
    g.add_argument("--no-csi", dest="csi", action="store_false", help="AP has no CSI")
    g.add_argument("--csi-nmse", dest="csi_nmse", type=float, help="channel-estimate NMSE (0 = perfect)")
    g.add_argument("--precision", choices=("single", "double"), help="complex64 or complex128")
    g.add_argument("--device", help="cpu, cuda, cuda:N or auto")
    g.add_argument("--no-whiten", dest="whiten", action="store_false", default=None, help="skip pre-whitening")
    g.add_argument("--init", choices=("pca", "first-k", "random"), help="initial F0")
    g.add_argument("--transmit", choices=("z", "f"), help="evaluate with Z (feasible) or F")
    g.add_argument("--ap-encoder", dest="ap_encoder", help="AP encoder from the zoo")
    g.add_argument("--user-encoders", dest="user_encoders", type=_names, help="user encoders, comma-separated, cycled")
    g.add_argument("--latents", type=Path, help="bring-your-own latents .npz (replaces the zoo)")
    g.add_argument("--channels", type=Path, help="given channel matrices .npz (key H [K,N_R,N_T])")
    g.add_argument("--cache-dir", dest="cache_dir", type=Path, help="encoder/latent cache folder")
    g.add_argument("--data-dir", dest="data_dir", type=Path, help="dataset folder")
    g.add_argument("--zoo-profile", dest="zoo_profile", choices=("default", "tiny"), help="encoder zoo budget")
    g.add_argument("--threads", type=int, help="torch threads for the math (0 = torch default; default 1)")
    g.add_argument("--user-metric", dest="user_metric", choices=("mse", "task"),
                   help="each user's private error metric: mse (paper, default) or task (its classifier's)")
    g.add_argument("--metric-eps", dest="metric_eps", type=float, help="task metric: weight of plain MSE (default 0.1, chosen on validation data)")
    g.add_argument("--processing", choices=("linear", "widely-linear"),
                   help="F and G complex-linear on packed latents (paper, default) or widely-linear on "
                        "real latents over the real-composite channel (ADMM methods)")


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """Defaults < ``--config`` file < CLI flags; raises ``ConfigError`` naming the field."""
    values: dict[str, Any] = {}
    if getattr(args, "config", None) is not None:
        values.update(load_config_file(args.config))
        if "antennas" in values:
            a = values.pop("antennas")
            values.setdefault("tx_antennas", a)
            values.setdefault("rx_antennas", a)
    if getattr(args, "antennas", None) is not None:
        values["tx_antennas"] = values["rx_antennas"] = args.antennas
    for name in _RUN_FIELDS:
        v = getattr(args, name, None)
        if v is not None:
            values[name] = v
    try:
        return RunConfig(**values)
    except ValidationError as e:
        raise ConfigError(format_validation_error(e)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="semalign", description="Federated latent-space alignment for multi-user MIMO semantic communications."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p_run = sub.add_parser("run", help="in-process run: K users batched in one process")
    add_run_options(p_run)
    p_run.add_argument("--out", type=Path, help="folder for results.json")
    p_run.add_argument("--quiet", action="store_true", help="no progress bar")

    p_cmp = sub.add_parser("compare", help="every method over a list of channel uses: CSV, Markdown, PNG")
    add_run_options(p_cmp)
    p_cmp.add_argument("--uses", type=int_list("channel uses", minimum=1), default=(1, 2, 4, 8),
                       help="channel uses c to compare, comma-separated (default 1,2,4,8)")
    p_cmp.add_argument("--methods", type=_names, default=METHODS, help="methods, comma-separated (default all)")
    p_cmp.add_argument("--out", type=Path, default=Path("runs/compare"), help="folder (default runs/compare)")

    p_sweep = sub.add_parser("sweep", help="a named, resumable experiment: tidy CSV, PNG figures, summary")
    p_sweep.add_argument("name", help="compression, similarity, snr, pilots, users or csi")
    add_run_options(p_sweep)
    p_sweep.add_argument("--quick", action="store_true", help="small preset (minutes on 2 cores)")
    p_sweep.add_argument("--seeds", type=int_list("seeds", minimum=0, distinct=True, allow_empty=True),
                         help="comma-separated seeds (default: the paper's 27,42,100,123,144,200; quick: 42)")
    p_sweep.add_argument("--workers", type=int, default=1, help="points run in parallel processes (default 1)")
    p_sweep.add_argument("--out", type=Path, help="folder (default runs/sweep-NAME); re-running resumes it")

    p_launch = sub.add_parser("launch", help="AP and N users as separate Flower processes on 127.0.0.1")
    add_run_options(p_launch)
    _add_ap_options(p_launch, default_out="runs/launch")
    p_launch.add_argument("--engine", choices=("deployment", "simulation"), default="deployment",
                          help="users as SuperNode processes (deployment) or Flower's simulation engine")
    p_launch.add_argument("--tls", action="store_true", help="TLS on every link (certificates made for the run)")
    p_launch.add_argument("--node-auth", dest="node_auth", action="store_true",
                          help="SuperNode authentication (a key pair per user, registered at the AP)")

    p_ap = sub.add_parser("ap", help="the AP: a SuperLink and the ServerApp run (users join with `semalign user`)")
    add_run_options(p_ap)
    _add_ap_options(p_ap, default_out="runs/ap")
    p_ap.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p_ap.add_argument("--port", type=int, default=9092, help="SuperLink port (default 9092)")
    p_ap.add_argument("--tls-dir", dest="tls_dir", type=Path,
                      help="folder with ca.pem, server.pem, server.key: serve TLS (see `semalign certs`)")
    p_ap.add_argument("--node-auth", dest="node_auth", action="store_true",
                      help="accept only SuperNodes whose public keys are registered (flwr supernode register)")

    p_user = sub.add_parser("user", help="one user device: a SuperNode that connects to the AP")
    p_user.add_argument("--id", dest="user_id", type=int, required=True, help="user id k (0-based)")
    p_user.add_argument("--ap", default="127.0.0.1:9092", help="AP (SuperLink) address host:port")
    p_user.add_argument("--encoder", help="this user's zoo encoder (default: from the run config)")
    p_user.add_argument("--snr", dest="snr_db", type=float, help="this user's SNR in dB (default: run config)")
    p_user.add_argument("--rx-antennas", dest="rx_antennas", type=int, help="this user's N_R")
    p_user.add_argument("--device", help="cpu, cuda, cuda:N or auto (default cpu)")
    p_user.add_argument("--latents", type=Path, help="bring-your-own latents .npz holding this user's arrays")
    p_user.add_argument("--cache-dir", dest="cache_dir", type=Path, help="encoder/latent cache folder")
    p_user.add_argument("--zoo-profile", dest="zoo_profile", choices=("default", "tiny"))
    p_user.add_argument("--port", type=int, default=0, help="local ClientAppIo port (default: a free one)")
    p_user.add_argument("--root-certificates", dest="root_certificates", type=Path, help="CA file: connect with TLS")
    p_user.add_argument("--auth-key", dest="auth_key", type=Path, help="private key for node authentication")
    p_user.add_argument("--clientapp", choices=("runner", "subprocess"), default="runner",
                        help="long-lived ClientApp runner inside the SuperNode (default, fast) or Flower's process per message")
    p_user.add_argument("--max-wait-time", dest="max_wait_time", type=float,
                        help="give up after this many seconds without the AP (default: retry for ever)")
    p_user.add_argument("--user-metric", dest="user_metric", choices=("mse", "task"),
                        help="this user's private error metric (default: run config)")
    p_user.add_argument("--metric-eps", dest="metric_eps", type=float, help="this user's task metric ε")
    p_user.add_argument("--fault", help="fault drill, e.g. 'nan@3,crash@5' (see user_client/faults.py)")
    p_user.add_argument("--log-dir", dest="log_dir", type=Path, default=None,
                        help="write the SuperNode logs here instead of the terminal")

    p_certs = sub.add_parser("certs", help="make a CA, an AP certificate and user key pairs for TLS/auth")
    p_certs.add_argument("--out", type=Path, required=True, help="folder for the files")
    p_certs.add_argument("--host", help="AP address the certificate is valid for (default 127.0.0.1)")
    p_certs.add_argument("--users", type=int, default=0, help="also make node-auth key pairs for this many users")
    p_certs.add_argument("--force", action="store_true", help="replace keys and certificates already in --out")
    p_certs.add_argument("--only-missing", dest="only_missing", action="store_true",
                         help="keep what --out holds and add only missing files (e.g. keys for more users)")

    p_bench = sub.add_parser("bench", help="performance suite: engine vs straightforward, scaling, roofline, precision, GPU")
    g_bench = p_bench.add_mutually_exclusive_group()
    g_bench.add_argument("--quick", action="store_true", help="quick profile (< 5 min on 2 idle cores)")
    g_bench.add_argument("--profile", choices=("tiny", "quick", "full"), help="profile (default: full)")
    p_bench.add_argument("--out", type=Path, help="write bench.json and PNG figures to this folder")
    p_bench.add_argument("--seed", type=int, default=0, help="seed of the random problem data")

    from scenarios.special import add_scenario_parsers

    add_scenario_parsers(sub)

    p_enc = sub.add_parser("encoders", help="the local encoder zoo")
    enc_sub = p_enc.add_subparsers(dest="action", required=True)
    for name, text in (("build", "train missing/stale encoders and cache their latents"), ("list", "show the zoo")):
        q = enc_sub.add_parser(name, help=text)
        q.add_argument("--cache-dir", dest="cache_dir", type=Path)
        q.add_argument("--zoo-profile", dest="zoo_profile", choices=("default", "tiny"), default="default")
        if name == "build":
            q.add_argument("names", nargs="*", help="encoders to build (default: all)")
    return parser


def _cmd_run(args: argparse.Namespace) -> int:
    from scenarios.report import print_run, run_with_progress
    from scenarios.sources import load_run_latents

    cfg = config_from_args(args)
    data = load_run_latents(cfg)
    result = run_with_progress(cfg, data, args.out, quiet=args.quiet)
    print_run(result, args.out)
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from scenarios.compare import compare, markdown_table, plot_accuracy, write_csv
    from scenarios.sources import load_run_latents

    for given, instead in (("method", "--methods"), ("channel_uses", "--uses")):
        if getattr(args, given, None) is not None:
            raise ConfigError(f"compare: --{given.replace('_', '-')} does not apply (compare runs every value given by "
                              f"{instead}); use {instead}")
    cfg = config_from_args(args)
    for m in args.methods:
        if m not in METHODS:
            raise ConfigError(f"field 'methods': unknown method {m!r} (known: {', '.join(METHODS)})")
    data = load_run_latents(cfg)
    rows = compare(cfg, data, args.uses, args.methods,
                   on_result=lambda r: print(f"c={r['channel_uses']:<3} {r['method']:<12} accuracy {r['accuracy']:.3f}  "
                                             f"mse {r['mse']:.4f}", file=sys.stderr, flush=True))
    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(rows, args.out / "compare.csv")
    title = (f"K={cfg.users}, N_T={cfg.tx_antennas}, N_R={cfg.rx_antennas}, SNR {cfg.snr_db:g} dB, "
             f"n={cfg.pilots}, AP {data.ap_name}, {cfg.processing} processing, user metric {cfg.user_metric}")
    plot_accuracy(rows, args.out / "accuracy.png", title)
    table = markdown_table(rows)
    (args.out / "compare.md").write_text(f"{title}\n\n{table}\n")
    config = cfg.model_dump(mode="json") | {"uses": list(args.uses), "methods": list(args.methods)}
    write_bytes_atomic(args.out / "config.json", (json.dumps(config, indent=1) + "\n").encode())  # every setting
    print(table)
    print(f"written: {args.out / 'compare.csv'}, {args.out / 'compare.md'}, {args.out / 'accuracy.png'}, "
          f"{args.out / 'config.json'}")
    return 0


class SweepError(RuntimeError):
    """A sweep stopped early; its finished points are stored."""


_MODEL_FIELDS = ("processing", "user_metric", "dual", "rho_mode", "ap_encoder", "snr_db")


def _model_note(base: RunConfig) -> str:
    """``; processing widely-linear, …``: the base settings that change the model or the setting
    away from the defaults, for figure titles and summaries (empty for the paper's defaults)."""
    default = RunConfig()
    changed = [f"{f.replace('_', ' ')} {getattr(base, f)}" for f in _MODEL_FIELDS if getattr(base, f) != getattr(default, f)]
    return f"; {', '.join(changed)}" if changed else ""


def _cmd_sweep(args: argparse.Namespace) -> int:
    from concurrent.futures.process import BrokenProcessPool

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from scenarios.sweep_plots import plot_sweep, summary_markdown
    from scenarios.sweep_runner import TIMING_COLUMNS, claim_folder, point_rows, run_points, timing_rows, write_tidy_csv
    from scenarios.sweeps import PAPER_SEEDS, SWEEPS, make_points

    if args.method is not None:
        raise ConfigError("sweep: --method does not apply (each sweep runs its own set of methods, "
                          "listed in scenarios/sweeps.py)")
    base = config_from_args(args)
    seeds = args.seeds if args.seeds is not None else ((42,) if args.quick else PAPER_SEEDS)
    if args.workers < 1:
        raise ConfigError("field 'workers': must be at least 1")
    out = args.out or Path(f"runs/sweep-{args.name}")
    claim_folder(out, args.name, base, write=False)  # before any work: a mismatch is refused at once
    groups = None
    if args.name == "similarity":
        groups = _similarity_groups(base, args.quick)
        points = make_points(args.name, args.quick, seeds, base, {"homogeneous": groups.homogeneous,
                             "heterogeneous": groups.heterogeneous}, groups.train_size)
    else:
        points = make_points(args.name, args.quick, seeds, base)  # validates every point before any work
        _prepare_sweep_latents(base, points)
    out.mkdir(parents=True, exist_ok=True)
    claim_folder(out, args.name, base)
    if groups is not None:
        from scenarios.similarity_groups import plot_similarity, write_groups

        write_groups(groups, out / "similarity.json")
        plot_similarity(groups, out / "similarity_matrix.png")
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns, transient=False) as progress:
        task = progress.add_task(f"sweep {args.name}", total=len(points))
        try:
            ran = run_points(points, base, out, args.workers, on_done=lambda pt, _: progress.advance(task))
        except BrokenProcessPool:
            stored = len(list((out / "points").glob("*.json")))
            raise SweepError(f"a sweep worker process died (killed, e.g. out of memory); the {stored} finished "
                             f"point(s) in {out / 'points'} are kept — run the same command again to resume") from None
    rows = point_rows(points, out)
    write_tidy_csv(rows, out / "results.csv")
    timing = timing_rows(points, out)
    write_tidy_csv(timing, out / "timing.csv", TIMING_COLUMNS)
    if args.name == "users":  # round cost vs users, from the same stored points
        plot_sweep([{**r, "x_name": SWEEPS["users"].x_name} for r in timing], out / "users_round_cost.png",
                   "s_per_iteration", f"in-process run wall time per ADMM iteration, set-up and evaluation included (seeds {', '.join(map(str, seeds))})")
    sw = SWEEPS[args.name]
    note = _model_note(base)
    for metric in ("accuracy", "mse") + (("nmse",) if args.name == "similarity" else ()):
        plot_sweep(rows, out / f"{args.name}_{metric}.png", metric,
                   f"{sw.description}{note} (seeds {', '.join(map(str, seeds))})")
    md = f"# sweep {args.name}{' (quick)' if args.quick else ''}\n\n{sw.description}{note}; seeds {list(seeds)}; " \
         f"mean over users, ± 95 % CI over seeds.\n\n"
    if groups is not None:
        md += "## groups (linear CKA of the users' latent spaces; similarity_matrix.png)\n\n" + "\n".join(
            f"- {g}: {', '.join(getattr(groups, g))} — mean pairwise CKA {groups.similarity(getattr(groups, g)):.3f}"
            for g in ("homogeneous", "heterogeneous")) + "\n\n"
    md += f"## accuracy\n\n{summary_markdown(rows)}\n\n## MSE\n\n{summary_markdown(rows, 'mse')}\n"
    if args.name == "similarity":  # MSE depends on each encoder's scale; NMSE compares groups fairly
        md += f"\n## NMSE\n\n{summary_markdown(rows, 'nmse')}\n"
    write_bytes_atomic(out / "summary.md", md.encode())
    print(md)
    print(f"{ran} point(s) run, {len(points) - ran} already stored; results in {out}")
    return 0


def _similarity_groups(base: RunConfig, quick: bool):
    """Measure the candidate users' CKA (building missing zoo encoders) and pick the groups."""
    from scenarios.similarity_groups import measure_similarity
    from scenarios.sweeps import similarity_plan

    size, _ = similarity_plan(quick, base)
    return measure_similarity(base, size)


def _prepare_sweep_latents(base: RunConfig, points) -> None:
    """Build missing zoo encoders once, here, before worker processes start."""
    from scenarios.sources import load_run_latents

    need = max(pt.overrides.get("users", base.users) for pt in points)
    load_run_latents(base.model_copy(update={"users": need}))


def _add_ap_options(p: argparse.ArgumentParser, default_out: str) -> None:
    g = p.add_argument_group("runtime")
    g.add_argument("--out", type=Path, default=Path(default_out), help=f"results folder (default {default_out})")
    g.add_argument("--round-timeout", dest="round_timeout", type=float, default=60.0,
                   help="seconds a round waits for replies; late users are left out of it (default 60)")
    g.add_argument("--join-timeout", dest="join_timeout", type=float, default=120.0,
                   help="seconds to wait for users to connect (default 120)")
    g.add_argument("--min-users", dest="min_users", type=int, default=1, help="users needed to start (default 1)")
    g.add_argument("--resume", action="store_true", help="continue from the AP checkpoint in --out")
    g.add_argument("--timeout", type=float, default=3600.0, help="give up after this many seconds (default 3600)")
    g.add_argument("--quiet", action="store_true", help="do not stream the AP log")


def _launch_options(args: argparse.Namespace, engine: str = "deployment"):
    from scenarios.launch import LaunchOptions

    stream = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    return LaunchOptions(out_dir=args.out, engine=engine, tls=getattr(args, "tls", False),
                         node_auth=getattr(args, "node_auth", False), round_timeout=args.round_timeout,
                         join_timeout=args.join_timeout, min_users=args.min_users, resume=args.resume,
                         run_timeout=args.timeout, stream=stream, host=getattr(args, "host", "127.0.0.1"))


def _prepare_latents(cfg: RunConfig) -> None:
    """Build missing zoo encoders here, with progress bars, and check the latents before any
    Flower process starts: a bad file or config fails fast with a one-line error."""
    from scenarios.sources import load_run_latents

    if cfg.method != "federated":
        raise ConfigError(f"field 'method': the Flower runtime runs the federated protocol, not {cfg.method!r} "
                          "(baselines run in process: semalign run --method …)")
    load_run_latents(cfg)


def _sigterm_as_interrupt() -> None:
    """SIGTERM unwinds like Ctrl-C, so the launch stops every process it started."""
    import signal

    def handler(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def _check_resume(args: argparse.Namespace, cfg: RunConfig) -> None:
    """``--resume`` into a folder whose AP checkpoint has other settings: refused before any process starts."""
    if getattr(args, "resume", False) and args.out is not None:
        from ap_server.coordinator import checkpoint_differences

        try:
            diff = checkpoint_differences(args.out, cfg)
        except ValueError as e:
            raise ConfigError(f"--resume: {e}") from None
        if diff:
            raise ConfigError(f"--resume: the checkpoint in {args.out} was made with other settings ({', '.join(diff)}); "
                              "use the same settings, or another --out to start afresh")


def _cmd_launch(args: argparse.Namespace) -> int:
    from scenarios.launch import launch
    from scenarios.report import print_run

    _sigterm_as_interrupt()
    cfg = config_from_args(args)
    _check_resume(args, cfg)
    _prepare_latents(cfg)
    result = launch(cfg, _launch_options(args, args.engine))
    print_run(result, args.out)
    return 0 if result.get("users") else 1


def _cmd_ap(args: argparse.Namespace) -> int:
    from scenarios.launch import serve_ap
    from scenarios.report import print_run

    _sigterm_as_interrupt()
    cfg = config_from_args(args)
    tls = _tls_files(args.tls_dir) if args.tls_dir is not None else None  # before latents that may take minutes
    _check_resume(args, cfg)
    _prepare_latents(cfg)
    result = serve_ap(cfg, _launch_options(args), args.port, tls)
    print_run(result, args.out)
    return 0 if result.get("users") else 1


def _tls_files(tls_dir: Path):
    """The AP's TLS files in ``tls_dir``, as absolute paths (the SuperLink runs in a folder of its own, where a
    relative path would not hold); ``ConfigError`` naming what is missing and how to make it."""
    from ap_server.superlink import Tls

    folder = tls_dir.resolve()
    tls = Tls(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    missing = [f.name for f in (tls.ca, tls.cert, tls.key) if not f.is_file()]
    if missing:
        fix = (f"make them with `semalign certs --out {tls_dir} --only-missing`" if len(missing) == 3 else
               f"`semalign certs --out {tls_dir} --force` makes a new set; users must then get the new ca.pem")
        raise ConfigError(f"field 'tls_dir': {', '.join(missing)} not found in {folder} ({fix})")
    return tls


def _cmd_user(args: argparse.Namespace) -> int:
    from protocol.runtime_config import user_settings
    from scenarios.launch import serve_user

    node = {"user-id": args.user_id, "encoder": args.encoder, "snr-db": args.snr_db, "rx-antennas": args.rx_antennas,
            "device": args.device, "latents": args.latents and str(args.latents.resolve()),
            "cache-dir": args.cache_dir and str(args.cache_dir.resolve()), "zoo-profile": args.zoo_profile,
            "fault": args.fault, "user-metric": args.user_metric, "metric-eps": args.metric_eps}
    node = {k: v for k, v in node.items() if v is not None}
    user_settings(node)  # validate before starting anything
    _sigterm_as_interrupt()
    for name in ("root_certificates", "auth_key"):
        path = getattr(args, name)
        if path is not None and not path.is_file():
            raise ConfigError(f"--{name.replace('_', '-')}: {path} is not a file")
    return serve_user(node, args.ap, port=args.port,
                      root_certificates=args.root_certificates and args.root_certificates.resolve(),
                      auth_key=args.auth_key and args.auth_key.resolve(), clientapp=args.clientapp, log_dir=args.log_dir,
                      max_wait_time=args.max_wait_time)


def _cmd_bench(args: argparse.Namespace) -> int:
    try:
        from benchmarks.__main__ import run_bench
    except ImportError:
        raise ConfigError("semalign bench needs the repository's benchmarks/ package: run it from the "
                          "repository root (or with it on PYTHONPATH)") from None
    return run_bench(args)


def _cmd_certs(args: argparse.Namespace) -> int:
    from ap_server.certs import CertsError, make_node_keys, make_tls, plan_certs

    try:
        plan = plan_certs(args.out, args.users, args.host, force=args.force, only_missing=args.only_missing)
    except CertsError as e:
        raise ConfigError(str(e)) from None
    try:
        if plan.tls:
            tls = make_tls(args.out, plan.host)
            print(f"CA {tls.ca}\nAP certificate {tls.cert}\nAP key {tls.key}")
        else:
            print(f"kept the CA and AP certificate in {args.out}")
        for k in plan.users:
            priv, pub = make_node_keys(args.out, f"user-{k}")
            print(f"user {k}: private {priv}, public {pub}")
    except OSError as e:
        raise ConfigError(f"cannot write keys into {args.out}: {e.strerror or e}") from None
    return 0


def _cmd_encoders(args: argparse.Namespace) -> int:
    from zoo.commands import build_command, list_command

    if args.action == "build":
        return build_command(args.cache_dir, args.zoo_profile, args.names or None)
    return list_command(args.cache_dir, args.zoo_profile)


def _launch_errors() -> tuple[type[Exception], ...]:
    from scenarios.launch import LaunchError

    return (LaunchError, TimeoutError)


def _out_problem(out: Path) -> str | None:
    """Why ``out`` cannot be a results folder (it, or a folder above it, is a file), or None."""
    for p in (out, *out.parents):
        if p.exists():
            return None if p.is_dir() else (f"--out {out}: {p} is a file, not a folder" if p != out else
                                              f"--out {out} is a file, not a folder")
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    out = getattr(args, "out", None)
    if isinstance(out, Path) and (problem := _out_problem(out)):  # before any work, so no result is lost
        print(f"semalign: error: {problem}", file=sys.stderr)
        return 2
    try:
        if args.command == "run":
            return _cmd_run(args)
        if args.command == "encoders":
            return _cmd_encoders(args)
        if args.command == "scenario":
            from scenarios.special import run_scenario

            return run_scenario(args)
        commands = {"sweep": _cmd_sweep, "compare": _cmd_compare, "launch": _cmd_launch, "ap": _cmd_ap, "user": _cmd_user, "certs": _cmd_certs,
                    "bench": _cmd_bench}
        if args.command in commands:
            return commands[args.command](args)
    except ConfigError as e:
        print(f"semalign: error: {e}", file=sys.stderr)
        return 2
    except SweepError as e:
        print(f"semalign: error: {e}", file=sys.stderr)
        return 1
    except _launch_errors() as e:
        print(f"semalign: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("semalign: interrupted", file=sys.stderr)
        return 130
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
