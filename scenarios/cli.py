"""The ``semalign`` command line: ``run``, ``encoders build|list``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Sequence

from pydantic import ValidationError

from protocol.config import METHODS, ConfigError, RunConfig, format_validation_error, load_config_file

__all__ = ["main", "build_parser", "config_from_args"]

# CLI flag dest -> RunConfig field (None values are dropped so unset flags keep file/defaults)
_RUN_FIELDS = (
    "users", "tx_antennas", "rx_antennas", "channel_uses", "snr_db", "user_snr_db", "power", "iterations",
    "rho", "tol", "seed", "pilots", "test_samples", "method", "protocol", "csi", "csi_nmse", "precision",
    "device", "whiten", "init", "transmit", "ap_encoder", "user_encoders", "latents", "channels",
    "cache_dir", "data_dir", "zoo_profile", "threads",
)


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in text.split(",") if v.strip())


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
    g.add_argument("--user-snr", dest="user_snr_db", type=_floats, help="per-user SNRs, comma-separated")
    g.add_argument("--power", type=float, help="power budget P_T (default 1)")
    g.add_argument("--iterations", type=int, help="ADMM iteration budget (default 50)")
    g.add_argument("--rho", type=float, help="ADMM penalty per pilot")
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


def _cmd_encoders(args: argparse.Namespace) -> int:
    from zoo.commands import build_command, list_command

    if args.action == "build":
        return build_command(args.cache_dir, args.zoo_profile, args.names or None)
    return list_command(args.cache_dir, args.zoo_profile)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            return _cmd_run(args)
        if args.command == "encoders":
            return _cmd_encoders(args)
    except ConfigError as e:
        print(f"semalign: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("semalign: interrupted", file=sys.stderr)
        return 130
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
