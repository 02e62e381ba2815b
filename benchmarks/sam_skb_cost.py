"""What the real SKB costs: segment-anything's automatic mask generator per image, against the offline
superpixel substitute measured on the same images in the same run.

The released SAM weights cannot be fetched here, so without ``--checkpoint`` the model is SAM of the given
type with *random* weights, saved to a temporary file and loaded through ``SamSegmenter.from_checkpoint``
exactly as ``--segmenter sam`` does. The compute is that of the released model, except that almost no
random mask passes SAM's quality filters, so the filtering / NMS / mask conversion of kept masks (small
next to the prompts' decoding) is not in the numbers. The image encoder's share is timed on its own
(``SamPredictor.set_image``, once per image; the rest is the point prompts).

    PYTHONPATH=$PWD python benchmarks/sam_skb_cost.py --points 32,16,8 --images 2 --threads 1
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from segment_anything import SamAutomaticMaskGenerator

from scenarios.sam.config import quick_overrides
from scenarios.sam.sam_backend import SamSegmenter
from scenarios.sam.scenes import make_scenes
from scenarios.sam.segmenter import SuperpixelSegmenter


def _seconds(fn, items, warm_up: bool = True) -> list[float]:
    """Wall seconds of ``fn(item)`` per item, after one untimed warm-up call (lazy imports, first allocations)."""
    if warm_up:
        fn(items[0])
    out = []
    for item in items:
        t = time.perf_counter()
        fn(item)
        out.append(time.perf_counter() - t)
    return out


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", type=Path, help="a local SAM checkpoint (default: random weights of --model-type)")
    p.add_argument("--model-type", default="vit_b", choices=("vit_b", "vit_l", "vit_h"))
    p.add_argument("--points", default="32,16,8", help="points per side to time (SAM's default is 32)")
    p.add_argument("--images", type=int, default=2, help="scenes timed per setting")
    p.add_argument("--size", type=int, default=64, help="image side [px]")
    p.add_argument("--threads", type=int, default=1, help="torch threads (the scenario's default is 1)")
    p.add_argument("--json", type=Path, help="also write the numbers here")
    a = p.parse_args(argv)
    threads = torch.get_num_threads()
    torch.set_num_threads(a.threads)
    try:
        return _measure(a)
    finally:
        torch.set_num_threads(threads)


def _measure(a: argparse.Namespace) -> dict:
    scenes = make_scenes(max(a.images, 20), seed=0, split="test", size=a.size).images
    images = scenes[: a.images]
    base = float(np.mean(_seconds(SuperpixelSegmenter(12).segment, scenes)))  # the baseline: ≥ 20 images
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = a.checkpoint
        if ckpt is None:
            from segment_anything import sam_model_registry

            torch.manual_seed(0)
            ckpt = Path(tmp) / f"sam_{a.model_type}_random.pth"
            torch.save(sam_model_registry[a.model_type]().state_dict(), ckpt)
        t = time.perf_counter()
        sam = SamSegmenter.from_checkpoint(ckpt, a.model_type, 12)
        load_s = time.perf_counter() - t
    encoder = float(np.mean(_seconds(sam.generator.predictor.set_image, images)))
    n_quick = sum(quick_overrides()[k] for k in ("train_images", "test_images", "val_images"))
    rows = []
    print(f"superpixel substitute: {base * 1e3:.1f} ms/image; SAM {a.model_type} loaded in {load_s:.1f} s; "
          f"image encoder {encoder:.1f} s/image ({a.size}×{a.size} upsampled to 1024×1024), {a.threads} thread(s)")
    for pps in (int(v) for v in a.points.split(",") if v.strip()):
        grid = SamSegmenter(SamAutomaticMaskGenerator(sam.generator.predictor.model, points_per_side=pps), 12)
        per_image = float(np.mean(_seconds(grid.segment, images, warm_up=False)))  # warmed up by the encoder timing
        row = dict(points_per_side=pps, prompts=pps * pps, s_per_image=round(per_image, 2),
                   encoder_s=round(encoder, 2), prompts_s=round(per_image - encoder, 2),
                   ratio_to_superpixel=round(per_image / base, 1), quick_preset_hours=round(per_image * n_quick / 3600, 1))
        rows.append(row)
        print(f"points per side {pps:3d} ({pps * pps:4d} prompts): {per_image:7.1f} s/image = "
              f"{per_image / base:,.0f}× the superpixels; --quick's {n_quick:,} images: {row['quick_preset_hours']} h")
    result = dict(model_type=a.model_type, random_weights=a.checkpoint is None, size=a.size, threads=a.threads,
                  images=a.images, superpixel_s=round(base, 4), load_s=round(load_s, 1), rows=rows)
    if a.json:
        a.json.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
