"""``semalign scenario single-link [--quick] --out DIR``: the single-link sweeps (ζ, SNR, pilots, β)
with the linear ADMM, the sparse complex neural model and the baselines; tidy CSV, PNG figures and
summary.md. Re-running with the same ``--out`` skips finished points and resumes neural training
from its last checkpoint."""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from pydantic import ValidationError

from protocol.config import ConfigError, format_validation_error

__all__ = ["add_arguments", "main", "config_from_args"]


def _list(kind):
    def parse(text: str):
        try:
            return tuple(kind(v) for v in text.split(",") if v.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated {kind.__name__} values, got {text!r}") from None
    return parse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, required=True, help="output folder (CSV, PNG, summary.md, points/)")
    p.add_argument("--quick", action="store_true", help="small grid and training budget (< 10 min on 2 cores)")
    p.add_argument("--tx-encoder", dest="tx_encoder", help="transmitter's zoo encoder (default resnet-simclr)")
    p.add_argument("--rx-encoder", dest="rx_encoder", help="receiver's zoo encoder (default convnext-ae)")
    p.add_argument("--antennas", type=int, help="N_T = N_R (default 2)")
    p.add_argument("--snr", dest="snr_db", type=float, help="SNR of the ζ, pilots and β sweeps [dB] (default 20)")
    p.add_argument("--power", type=float, help="power budget P_T (default 1)")
    p.add_argument("--channel-uses", dest="channel_uses", type=_list(int), help="c values of the ζ sweep, e.g. 1,4,16")
    p.add_argument("--snrs", type=_list(float), help="SNR sweep values [dB]")
    p.add_argument("--pilot-fractions", dest="pilot_fractions", type=_list(float),
                   help="pilots as fractions of the training split, e.g. 0.01,0.1,1")
    p.add_argument("--betas", type=_list(float), help="sparsity weights β (τ = lr·β)")
    p.add_argument("--seeds", type=_list(int), help="seeds, e.g. 27,42,100")
    p.add_argument("--methods", type=_list(str), help="subset of neural,linear,unaware-mmse,unaware-zf,first-k,top-k,oracle")
    p.add_argument("--sweeps", type=_list(str), help="subset of zeta,snr,pilots,sparsity")
    p.add_argument("--test-samples", dest="test_samples", type=int, help="held-out samples")
    p.add_argument("--iterations", type=int, help="ADMM iterations of the linear model (default 100)")
    p.add_argument("--rho", type=float, help="ADMM penalty")
    p.add_argument("--steps", type=int, help="neural training steps")
    p.add_argument("--batch-size", dest="batch_size", type=int, help="neural mini-batch (default 256)")
    p.add_argument("--lr", type=float, help="Adam learning rate (default 2e-3)")
    p.add_argument("--hidden", type=int, help="complex hidden width of precoder and decoder")
    p.add_argument("--activation", choices=("gelu", "relu"), help="g of act(z) = g(|z|+b)·e^{i∠z}")
    p.add_argument("--neural-loss", dest="neural_loss", choices=("latent", "whitened"),
                   help="neural MSE in the RX's own latent space (default) or its whitened coordinates")
    p.add_argument("--checkpoint-every", dest="checkpoint_every", type=int, help="steps between checkpoints")
    p.add_argument("--zoo-profile", dest="zoo_profile", choices=("default", "tiny"), help="encoder zoo budget")
    p.add_argument("--cache-dir", dest="cache_dir", type=Path, help="encoder/latent cache folder")
    p.add_argument("--data-dir", dest="data_dir", type=Path, help="Fashion-MNIST folder")
    p.add_argument("--paper", action="store_true", default=None,
                   help="paper setting: ViT-Small TX, ViT-Base RX on CIFAR-10 (needs the three options below)")
    p.add_argument("--cifar-dir", dest="cifar_dir", type=Path, help="folder holding cifar-10-batches-py")
    p.add_argument("--tx-weights", dest="tx_weights", type=Path, help="local vit_small_patch16_224 checkpoint")
    p.add_argument("--rx-weights", dest="rx_weights", type=Path, help="local vit_base_patch16_224 checkpoint")
    p.add_argument("--threads", type=int, help="torch threads (default 1)")
    p.add_argument("--no-progress", dest="progress", action="store_false", default=None, help="no progress bars")


_FIELDS = ("tx_encoder", "rx_encoder", "antennas", "snr_db", "power", "channel_uses", "snrs", "pilot_fractions",
           "betas", "seeds", "methods", "sweeps", "test_samples", "iterations", "rho", "steps", "batch_size", "lr",
           "hidden", "activation", "neural_loss", "checkpoint_every", "zoo_profile", "cache_dir", "data_dir", "paper", "cifar_dir",
           "tx_weights", "rx_weights", "threads", "progress")


def config_from_args(args: argparse.Namespace):
    """The validated :class:`SingleLinkConfig` (``--quick`` or full grid; flags win)."""
    from scenarios.single_link.config import FULL, QUICK, SingleLinkConfig

    values = dict(QUICK if args.quick else FULL)
    values.update({k: getattr(args, k) for k in _FIELDS if getattr(args, k, None) is not None})
    try:
        return SingleLinkConfig(**values)
    except ValidationError as e:
        raise ConfigError(format_validation_error(e)) from None


def _header(cfg, data, args, n_points: int) -> str:
    return (f"TX encoder **{data.ap_name}** (d_T={data.ap_train.shape[1]}), RX encoder **{data.users[0].name}** "
            f"(d_R={data.users[0].dim}), data {data.source}, {data.ap_train.shape[0]} train / "
            f"{min(cfg.test_samples, data.ap_test.shape[0])} test vectors; N_T=N_R={cfg.antennas}, P_T={cfg.power:g}; "
            f"neural: hidden {cfg.hidden}, {cfg.activation}, MSE in {cfg.neural_loss} space, {cfg.steps} steps, batch {cfg.batch_size}, lr {cfg.lr:g}; "
            f"linear: ADMM {cfg.iterations} iterations, ρ={cfg.rho:g}; seeds {', '.join(map(str, cfg.seeds))}; "
            f"{n_points} points. Command: {_command()}")


def _command() -> str:
    if sys.argv[1:3] == ["scenario", "single-link"]:
        return "`semalign scenario single-link " + " ".join(sys.argv[3:]) + "`"
    return "(called from Python)"


def main(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)  # ConfigError → exit 2 before any work
    import torch

    from protocol.atomic import write_bytes_atomic, write_json_atomic
    from scenarios.single_link.data import load_link_latents
    from scenarios.single_link.outputs import claims, summary, write_figures, zeta_at_fraction_of_oracle
    from scenarios.single_link.sweep import make_points, point_key, run_sweep, sweep_rows, write_csv

    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    out = args.out
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"--out {out}: {e}") from None
    start, cpu0 = time.perf_counter(), os.times()
    data = load_link_latents(cfg)
    points = make_points(cfg)
    if not points:
        raise ConfigError("no points: the chosen --sweeps and --methods leave nothing to run")
    ran = run_sweep(cfg, data, points, out)
    rows = sweep_rows(cfg, points, out)
    write_csv(rows, out / "results.csv")
    figs = write_figures(rows, out)
    text = summary(rows, _header(cfg, data, args, len(points)))
    write_bytes_atomic(out / "summary.md", text.encode())
    cpu1 = os.times()
    wall = time.perf_counter() - start
    write_json_atomic(out / "run.json", {
        "config": cfg.model_dump(mode="json"), "points": len(points), "ran": ran, "wall_time_s": wall,
        "cpu_time_s": (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system),
        "zeta_90pct_oracle": zeta_at_fraction_of_oracle(rows),
        "claims": [{"claim": c, "holds": ok, "numbers": n} for c, ok, n in claims(rows)],
    })
    unique = len({point_key(cfg, p.spec) for p in points})
    print(f"single-link: {len(points)} points ({unique} distinct computations), {ran} run now, "
          f"{unique - ran} already stored; {wall:.1f} s wall")
    print(f"wrote {out / 'results.csv'}, {out / 'summary.md'}, " + ", ".join(str(f) for f in figs))
    return 0
