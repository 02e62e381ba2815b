"""``semalign scenario distillation [--quick] --out DIR``: DeKA-g scaled down (G-KA MAKD + T-KA CALA)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from scenarios.arglists import floats

__all__ = ["add_arguments", "main", "build_config"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, required=True, help="output folder (CSV, PNG, summary.md, checkpoints)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_const", dest="preset", const="quick",
                      help="small budgets (< 15 min on 2 idle cores)")
    size.add_argument("--preset", choices=("quick", "full", "tiny"), default="full",
                      help="budget preset (tiny: seconds, for tests)")
    p.add_argument("--seed", type=int, help="training seed (the first one with --seeds; default 0)")
    p.add_argument("--seeds", type=int, default=1,
                   help="train and evaluate K times (seeds seed … seed+K−1, each in OUT/seed-<k>/) and decide the "
                        "must-hold claims with a t 95%% CI over the seeds (default 1)")
    p.add_argument("--threads", type=int, help="torch threads (0 = torch default; default 1)")
    p.add_argument("--lora-rank", dest="lora_rank", type=int, help="G-LoRA rank budget")
    p.add_argument("--lora-targets", dest="lora_targets", choices=("attention", "attention+ff", "all-linear"))
    p.add_argument("--precision", choices=("fp32", "fp16", "int8", "int2"),
                   help="precision of the knowledge the cloud sends (shown in the grid)")
    p.add_argument("--symbols", type=int, help="complex channel symbols per latent (subcarriers)")
    p.add_argument("--train-snr", dest="train_snr_db", type=float, help="SNR of the fixed-SNR JSCC (dB)")
    p.add_argument("--eval-snr", dest="eval_snr_db", type=floats, help="evaluation SNRs, comma-separated (dB)")
    p.add_argument("--eval-delay-spread", dest="eval_delay_spread_ns", type=floats,
                   help="evaluation delay spreads, comma-separated (ns)")
    p.add_argument("--users", type=int, help="users served by the edge (multi-user table)")
    p.add_argument("--feature-encoder", dest="feature_encoder", default="resnet-simclr",
                   help="zoo encoder for consistency/class accuracy, or 'pixels' (default resnet-simclr)")
    p.add_argument("--cache-dir", dest="cache_dir", help="zoo cache folder")
    p.add_argument("--data-dir", dest="data_dir", help="Fashion-MNIST folder")
    p.add_argument("--cloud-model", dest="cloud_model", type=Path,
                   help="local diffusers Stable Diffusion folder for the cloud (real-model G-KA)")
    p.add_argument("--edge-model", dest="edge_model", type=Path,
                   help="local diffusers Stable Diffusion folder for the edge (real-model G-KA)")
    p.add_argument("--real-resolution", dest="real_resolution", type=int, default=256,
                   help="image size generated on the real-model path (default 256)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")


_FIELDS = ("seed", "threads", "lora_rank", "lora_targets", "precision", "symbols", "train_snr_db", "eval_snr_db",
           "eval_delay_spread_ns", "users")


def build_config(args: argparse.Namespace):
    """Preset < CLI flags, validated; raises ``pydantic.ValidationError``."""
    from scenarios.distillation.config import PRESETS, DistillConfig

    values = dict(PRESETS[args.preset or "full"])
    values |= {k: getattr(args, k) for k in _FIELDS if getattr(args, k, None) is not None}
    return DistillConfig(**values)


def main(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    try:
        cfg = build_config(args)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "config"
        print(f"semalign scenario distillation: invalid option {where}: {first['msg']}", file=sys.stderr)
        return 2
    if args.seeds < 1:
        print("semalign scenario distillation: --seeds must be at least 1", file=sys.stderr)
        return 2
    if args.seeds > 1 and args.cloud_model is not None:
        print("semalign scenario distillation: --seeds is for the scaled-down scenario, not the real-model path",
              file=sys.stderr)
        return 2
    if (args.cloud_model is None) != (args.edge_model is None):
        print("semalign scenario distillation: --cloud-model and --edge-model go together", file=sys.stderr)
        return 2
    if args.cloud_model is not None:
        for p in (args.cloud_model, args.edge_model):
            if not (p / "model_index.json").is_file():
                print(f"semalign scenario distillation: {p} is not a diffusers pipeline folder (no model_index.json)",
                      file=sys.stderr)
                return 2
        from scenarios.distillation.real_models import run_real_gka

        if args.real_resolution < 8 or args.real_resolution % 8:
            print("semalign scenario distillation: --real-resolution must be a positive multiple of 8", file=sys.stderr)
            return 2
        result = run_real_gka(cfg, args.cloud_model, args.edge_model, args.out, progress=args.progress,
                              resolution=args.real_resolution, feature_encoder=args.feature_encoder)
        print(json.dumps(result, indent=2))
        return 0
    if problem := _layout_problem(args.out, args.seeds):  # cheap checks first, before the encoder is loaded
        print(f"semalign scenario distillation: {problem}", file=sys.stderr)
        return 2
    if args.feature_encoder != "pixels":
        from zoo.registry import get_spec

        try:
            get_spec(args.feature_encoder)
        except KeyError as e:
            print(f"semalign scenario distillation: --feature-encoder: {e.args[0]} or 'pixels'", file=sys.stderr)
            return 2
    from scenarios.distillation.metrics import load_feature_space

    try:
        load_feature_space(args.feature_encoder, args.cache_dir)
    except (FileNotFoundError, KeyError) as e:
        print(f"semalign scenario distillation: feature encoder {args.feature_encoder!r} unavailable: "
              f"{str(e).splitlines()[0]} (use --feature-encoder pixels, or build the zoo)", file=sys.stderr)
        return 2
    from scenarios.distillation.pipeline import resume_differences, run_scenario
    from scenarios.distillation.seeds import seed_dir

    preset = args.preset or "full"
    targets = {args.out: cfg} if args.seeds == 1 else {
        seed_dir(args.out, s): cfg.model_copy(update={"seed": s}) for s in range(cfg.seed, cfg.seed + args.seeds)}
    for folder, c in targets.items():  # every folder checked before any work
        if diff := resume_differences(folder, c):
            print(f"semalign scenario distillation: {folder} holds checkpoints trained with other settings "
                  f"({', '.join(diff)}); use the same settings to resume, or another --out", file=sys.stderr)
            return 2
    if args.seeds == 1:
        headline = run_scenario(cfg, args.out, args.feature_encoder, args.cache_dir, args.data_dir, args.progress, preset)
        print(f"wrote {args.out}/summary.md")
        print(json.dumps({k: v for k, v in headline.items() if not isinstance(v, dict)}, indent=2))
        return 0
    return _run_seeds(cfg, args, preset)


def _layout_problem(out: Path, seeds: int) -> str | None:
    """A single run and a multi-seed run must not share ``--out``: each would leave files contradicting the other."""
    if seeds == 1 and ((out / "seeds.csv").exists() or any(out.glob("seed-*"))):
        return f"{out} holds a multi-seed run (seed-*/, seeds.csv); use --seeds with it, or another --out"
    if seeds > 1 and (out / "checkpoints").is_dir():
        return f"{out} holds a single run (checkpoints/); use another --out for --seeds"
    return None


def _run_seeds(cfg, args: argparse.Namespace, preset: str) -> int:
    """The scenario once per seed (each resumable in its own folder), then the claims over the seeds."""
    from protocol.atomic import write_json_atomic
    from scenarios.distillation.pipeline import run_scenario
    from scenarios.distillation.seeds import format_number as num
    from scenarios.distillation.seeds import seed_dir, write_seed_outputs

    seeds = list(range(cfg.seed, cfg.seed + args.seeds))
    args.out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.out / "config.json", {"preset": preset, "feature_encoder": args.feature_encoder,
                                                 "seeds": seeds, **cfg.model_dump(mode="json", exclude={"seed"})})
    heads = {}
    for i, s in enumerate(seeds):
        print(f"seed {s} ({i + 1}/{len(seeds)}) -> {seed_dir(args.out, s)}", file=sys.stderr, flush=True)
        heads[s] = run_scenario(cfg.model_copy(update={"seed": s}), seed_dir(args.out, s), args.feature_encoder,
                                args.cache_dir, args.data_dir, args.progress, preset)
    agg = write_seed_outputs(heads, args.out, preset)
    print(f"wrote {args.out}/summary.md")
    for c in agg["claims"].values():
        print(f"{c['label']}: {num(c['mean'])} [{num(c['lo'])}, {num(c['hi'])}] {c['unit']} — {c['verdict']}"
              + (" (must hold)" if c["must_hold"] else ""))
    return 0
