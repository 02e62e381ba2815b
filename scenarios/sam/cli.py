"""``semalign scenario sam``: LAM-SC (SKB + ASI + ASC) against a conventional JSCC autoencoder.

Writes ``results.csv`` (tidy: variant × channel × SNR), ``training.csv``, ``results.json``,
``summary.md``, ``psnr_vs_snr.png``, ``ssim_vs_snr.png``, ``ssim_vs_bits.png``,
``training_loss.png``, ``grid.png`` and resumable ``checkpoints/`` into ``--out``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scenarios.arglists import floats

__all__ = ["add_arguments", "main", "config_from_args"]


def _names(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, required=True, help="output folder (resumes what is already there)")
    p.add_argument("--quick", action="store_true", help="small run (minutes on 2 cores): fewer images, steps and points")
    p.add_argument("--seed", type=int)
    p.add_argument("--data", choices=("scenes", "voc", "folder"), help="synthetic scenes (default), VOC2012 or an image folder")
    p.add_argument("--data-dir", dest="data_dir", type=Path, help="VOC2012 root or an image folder (e.g. COCO val2017)")
    p.add_argument("--train-images", dest="train_images", type=int)
    p.add_argument("--test-images", dest="test_images", type=int)
    p.add_argument("--seeds", type=int, help="training seeds per compared model (verdicts use the CI over seeds)")
    p.add_argument("--seed-offset", dest="seed_offset", type=int,
                   help="first training seed (default 0): e.g. 5 with --seeds 5 trains fresh seeds 5..9 (own checkpoints)")
    p.add_argument("--ratio-rule", dest="ratio_rule", choices=("ci", "mean"),
                   help="ASC ratio on validation: ci = largest whose lower 95%% CI end of ΔSSIM ≥ −margin (default); mean = seed-mean only")
    p.add_argument("--asc-budget", dest="asc_budget", choices=("batch", "image", "threshold"),
                   help="ASC inference mask: exactly (1−r) kept per batch (default) / per image, or threshold P>½ (ratio on average)")
    p.add_argument("--val-images", dest="val_images", type=int, help="validation images for choosing the ASC ratio")
    p.add_argument("--steps", type=int, help="training steps per base model")
    p.add_argument("--finetune-steps", dest="finetune_steps", type=int, help="steps per final variant")
    p.add_argument("--batch-size", dest="batch_size", type=int)
    p.add_argument("--segmenter", choices=("superpixel", "truth", "sam"),
                   help="SKB back-end (default superpixel, offline substitute; truth = oracle: the data's object masks)")
    p.add_argument("--sam-checkpoint", dest="sam_checkpoint", type=Path, help="local SAM checkpoint (.pth)")
    p.add_argument("--sam-model-type", dest="sam_model_type", choices=("vit_b", "vit_l", "vit_h"))
    p.add_argument("--sam-points-per-side", dest="sam_points_per_side", type=int,
                   help="SAM point prompts per image side (default 32, SAM's own)")
    p.add_argument("--sam-pred-iou-thresh", dest="sam_pred_iou_thresh", type=float,
                   help="SAM: minimum predicted mask IoU (default 0.88, SAM's own)")
    p.add_argument("--sam-stability-thresh", dest="sam_stability_thresh", type=float,
                   help="SAM: minimum mask stability score (default 0.95, SAM's own)")
    p.add_argument("--image-size", dest="image_size", type=int,
                   help="square image side in pixels (default 64; the paper used 128); a multiple of 4 × --mask-block, "
                        "so of 16 with the default mask block")
    p.add_argument("--latent-channels", dest="latent_channels", type=int, help="real feature maps C at H/4×W/4 (default 8)")
    p.add_argument("--mask-levels", dest="mask_levels", type=int, help="ASC feature levels L sent as a prefix (default 4; 1 = per-position on/off)")
    p.add_argument("--mask-block", dest="mask_block", type=int, help="ASC mask block side in latent positions (default 4)")
    p.add_argument("--curriculum", type=float, help="base models: share of images sent with a random prefix depth (default 0.5; 0 = off)")
    p.add_argument("--object-weight", dest="object_weight", type=float,
                   help="training loss: weight of pixels inside ground-truth object masks (background 1; default 1 = plain MSE)")
    p.add_argument("--asi-steer", dest="asi_steer", type=float,
                   help="ASI steering β: segment importance shifts the ASC keep logits by β·log(importance), with gradient (default 0 = off)")
    p.add_argument("--asi-supervision", dest="asi_supervision", type=float,
                   help="human-guided ASI: weight of a training loss pulling segment weights to their object share (default 0 = off)")
    p.add_argument("--target-ratio", dest="target_ratio", type=float, help="ASC mask ratio (fraction masked); default: chosen on the validation split")
    p.add_argument("--ratios", type=floats, help="mask-ratio sweep, e.g. 0,0.2,0.4,0.6,0.8")
    p.add_argument("--snrs", dest="snrs_db", type=floats, help="evaluation SNRs [dB], comma-separated")
    p.add_argument("--channels", type=_names, help="awgn,rayleigh (default both)")
    p.add_argument("--threads", type=int, help="torch threads (default 1; 0 = torch default)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


_FIELDS = ("seed", "seeds", "seed_offset", "ratio_rule", "asc_budget", "val_images", "data", "data_dir", "train_images", "test_images", "steps", "finetune_steps", "batch_size",
           "segmenter", "sam_checkpoint", "sam_model_type", "sam_points_per_side", "sam_pred_iou_thresh",
           "sam_stability_thresh", "image_size", "latent_channels", "mask_levels", "mask_block", "curriculum", "object_weight", "asi_steer", "asi_supervision", "target_ratio", "ratios", "snrs_db", "channels", "threads")


def config_from_args(args: argparse.Namespace):
    """Defaults < ``--quick`` < explicit flags; raises pydantic's ``ValidationError``."""
    from scenarios.sam.config import SamConfig, quick_overrides

    values = quick_overrides() if args.quick else {}
    values.update({k: getattr(args, k) for k in _FIELDS if getattr(args, k, None) is not None})
    return SamConfig(**values)


def main(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from protocol.config import format_validation_error
    from scenarios.sam.segmenter import SegmenterError, make_segmenter

    try:
        cfg = config_from_args(args)
    except ValidationError as e:
        print(f"semalign scenario sam: {format_validation_error(e)}", file=sys.stderr)
        return 2
    try:
        segmenter = make_segmenter(cfg.segmenter, cfg.max_segments, cfg.sam_checkpoint, cfg.sam_model_type,
                                   cfg.sam_generator_options)
        if cfg.data == "voc":
            from scenarios.sam.local_images import find_voc_root

            root = find_voc_root(cfg.data_dir)
            needs = [o for o, on in (("--segmenter truth", cfg.segmenter == "truth"), ("--object-weight", cfg.object_weight != 1),
                                     ("--asi-supervision", cfg.asi_supervision > 0)) if on]
            if needs and not (root / "SegmentationObject").is_dir():
                raise FileNotFoundError(f"{', '.join(needs)} needs VOC's object masks: no SegmentationObject/ in {root}")
        elif cfg.data == "folder" and not cfg.data_dir.is_dir():
            raise FileNotFoundError(f"image folder not found: {cfg.data_dir}")
    except (SegmenterError, FileNotFoundError, ValueError) as e:
        print(f"semalign scenario sam: {e}", file=sys.stderr)
        return 2

    from protocol.atomic import OutputError
    from scenarios.sam.experiment import NoGroundTruth, ResumeMismatch, run_experiment

    try:
        result = run_experiment(cfg, args.out, progress=not args.quiet, segmenter=segmenter)
    except (SegmenterError, FileNotFoundError, ResumeMismatch, NoGroundTruth) as e:  # e.g. a malformed data folder found while loading
        print(f"semalign scenario sam: {e}", file=sys.stderr)
        return 2
    except OutputError as e:  # e.g. disk full while saving a checkpoint or the SKB pass; the files before stay intact
        print(f"semalign scenario sam: {e}", file=sys.stderr)
        return 1
    a, s = result["checks"]["asc"], result["checks"]["asi"]
    print(f"SKB: {result['segmenter']}")
    print(f"bits/image: raw {result['raw_bits']:,}, conventional {result['bits']['conventional']:,.0f}, "
          f"no-asc {result['bits']['no-asc']:,.0f}, lam-sc {result['bits']['lam-sc']:,.0f}")
    ad, sd = a["ssim_diff"], s["ssim_diff_vs_uniform"]
    print(f"ASC ratio {result['checks']['selection']['ratio']:.0%} (chosen on validation unless --target-ratio)")
    print(f"ASC within SSIM margin {a['margin']}: {a['verdict']} (ΔSSIM {ad['mean']:+.4f} [{ad['lo']:+.4f}, {ad['hi']:+.4f}]); "
          f"ASI beats uniform weights: {s['verdict']} (ΔSSIM {sd['mean']:+.4f} [{sd['lo']:+.4f}, {sd['hi']:+.4f}]); "
          f"CI over {ad['n_seeds']} training seed(s)")
    if "verdict_object_region" in s:
        od = s["ssim_obj_diff_vs_uniform"]
        print(f"ASI beats uniform weights inside the object masks (object-region SSIM): {s['verdict_object_region']} "
              f"(ΔSSIM_obj {od['mean']:+.4f} [{od['lo']:+.4f}, {od['hi']:+.4f}])")
    print(f"wall {result['timing']['wall_s']} s, CPU {result['timing']['cpu_s']} s -> {args.out}/summary.md")
    return 0
