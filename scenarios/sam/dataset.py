"""The experiment's data: images with their SKB segments (label maps), built once and cached atomically."""
from __future__ import annotations

import hashlib
import json
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from protocol.atomic import write_npz_atomic
from scenarios.sam.config import SamConfig
from scenarios.sam.segmenter import Segmenter, SegmenterError, make_segmenter, needs_truth

__all__ = ["SegmentedImages", "masks_to_labels", "segment_all", "load_split", "prepare"]


@dataclass(frozen=True)
class SegmentedImages:
    """``images`` uint8 ``[N, H, W, 3]``; ``segments`` int8 ``[N, H, W]`` (SKB segment id, 0 = largest);
    ``truth`` int16 ``[N, H, W]`` ground-truth objects (0 = background) or None."""

    images: np.ndarray
    segments: np.ndarray
    truth: np.ndarray | None

    def __len__(self) -> int:
        return int(self.images.shape[0])


def masks_to_labels(masks: np.ndarray) -> np.ndarray:
    """A partition bool ``[S, H, W]`` → label map int8 ``[H, W]``."""
    if masks.ndim != 3 or masks.dtype != bool or not (masks.sum(0) == 1).all():
        raise ValueError("segment masks must be a bool [S, H, W] partition of the image")
    return masks.argmax(0).astype(np.int8)


def segment_all(images: np.ndarray, segmenter: Segmenter, desc: str = "SKB", progress: bool = True,
                partial: Path | None = None, save_every_s: float = 30.0, truth: np.ndarray | None = None) -> np.ndarray:
    """Run the SKB on every image (with a progress bar): int8 ``[N, H, W]``. ``truth`` ``[N, H, W]``: the ground-truth
    object labels, passed on to a segmenter that needs them (the oracle SKB).

    With ``partial``, the label maps done so far are written there atomically at most every
    ``save_every_s`` seconds and when the pass stops on an error or Ctrl-C, and a rerun over the same
    images continues after them: SAM takes from half a minute to minutes per image on a CPU
    (``benchmarks/sam_skb_cost.py``), so a crash loses at most ``save_every_s`` or one image of work."""
    from tqdm import tqdm

    use_truth = needs_truth(segmenter)
    if use_truth and (truth is None or len(truth) != len(images)):
        raise SegmenterError("the ground-truth SKB (--segmenter truth) needs an object mask for every image; "
                             f"{'this data has none' if truth is None else f'{len(truth)} masks for {len(images)} images'} "
                             "(use data 'scenes' or VOC with SegmentationObject/)")
    sha = _sha(images) if partial is not None else ""
    labels = np.zeros(images.shape[:3], np.int8)
    start = done = _resume(partial, sha, labels)

    def save() -> None:
        write_npz_atomic(partial, segments=labels[:done], images_sha=sha)

    last = time.monotonic()
    try:
        for i in tqdm(range(start, len(images)), desc=desc, leave=False, disable=not progress,
                      initial=start, total=len(images)):
            masks = segmenter.segment(images[i], truth[i]) if use_truth else segmenter.segment(images[i])
            labels[i] = masks_to_labels(masks)
            done = i + 1
            if partial is not None and done < len(images) and time.monotonic() - last >= save_every_s:
                save()
                last = time.monotonic()
    except BaseException:
        if partial is not None and done > start:  # keep the new work; the original error still propagates
            try:
                save()
                print(f"{desc}: {done} of {len(images)} images segmented, saved in {partial}; "
                      "the same command continues from there", file=sys.stderr)
            except OSError as e:
                print(f"{desc}: the progress could not be saved ({e})", file=sys.stderr)
        raise
    return labels


def _sha(images: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(images)).hexdigest()  # hashes the buffer, no copy


def _resume(partial: Path | None, sha: str, labels: np.ndarray) -> int:
    """Copy the label maps of an interrupted pass over the same images (``sha``) into ``labels``;
    how many. A partial file for other images, or one that cannot be read, is ignored (with a line)."""
    if partial is None or not partial.is_file():
        return 0
    try:
        with np.load(partial) as f:
            if str(f["images_sha"]) != sha:
                return 0
            done = f["segments"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
        print(f"ignoring the unreadable partial SKB pass {partial} ({type(e).__name__}); starting over", file=sys.stderr)
        return 0
    if done.ndim != 3 or len(done) > len(labels) or done.shape[1:] != labels.shape[1:]:
        return 0
    labels[: len(done)] = done
    return len(done)


def load_split(cfg: SamConfig, split: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Images (and ground-truth objects when known) of ``split`` ("train"/"val"/"test") for ``cfg.data``.

    Validation images never overlap the test images: scenes of train objects, the VOC train list after the
    training images, or the folder images after the training and test images."""
    n = _size(cfg, split)
    if cfg.data == "scenes":
        from scenarios.sam.scenes import make_scenes

        s = make_scenes(n, seed=cfg.seed, split=split, size=cfg.image_size)
        return s.images, s.labels
    if cfg.data == "voc":
        from scenarios.sam.local_images import load_voc

        if split == "val":
            images, truth = load_voc(cfg.data_dir, "train", cfg.train_images + n, cfg.image_size)
            return images[cfg.train_images :], None if truth is None else truth[cfg.train_images :]
        return load_voc(cfg.data_dir, "train" if split == "train" else "val", n, cfg.image_size)
    from scenarios.sam.local_images import load_image_folder

    offset = {"train": 0, "test": cfg.train_images, "val": cfg.train_images + cfg.test_images}[split]
    return load_image_folder(cfg.data_dir, n, offset, cfg.image_size), None


def _size(cfg: SamConfig, split: str) -> int:
    return {"train": cfg.train_images, "test": cfg.test_images, "val": cfg.val_images}[split]


def _key(cfg: SamConfig, split: str, segmenter: Segmenter) -> str:
    fields = dict(split=split, seed=cfg.seed, data=cfg.data, data_dir=str(cfg.data_dir), size=cfg.image_size,
                  n=_size(cfg, split), seg=segmenter.name,
                  ckpt=str(cfg.sam_checkpoint), s=cfg.max_segments)
    if cfg.segmenter == "sam":  # the generator's settings change the segments (key unchanged for the superpixels)
        fields["sam"] = [cfg.sam_model_type, cfg.sam_generator_options]
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def prepare(cfg: SamConfig, out: Path, segmenter: Segmenter | None = None, progress: bool = True) -> tuple[SegmentedImages, SegmentedImages, SegmentedImages, str]:
    """(train, val, test, segmenter name), from ``out/data-*.npz`` when already built for this config."""
    segmenter = segmenter or make_segmenter(cfg.segmenter, cfg.max_segments, cfg.sam_checkpoint, cfg.sam_model_type,
                                            cfg.sam_generator_options)
    result = []
    for split in ("train", "val", "test"):
        path = out / f"data-{split}-{_key(cfg, split, segmenter)}.npz"
        partial = path.with_name(path.stem + ".partial.npz")
        if path.is_file():
            partial.unlink(missing_ok=True)  # left by a crash between the final write and its removal
            with np.load(path) as f:
                result.append(SegmentedImages(f["images"], f["segments"], f["truth"] if "truth" in f else None))
            continue
        images, truth = load_split(cfg, split)
        segments = segment_all(images, segmenter, f"SKB {split}", progress, partial, truth=truth)
        arrays = dict(images=images, segments=segments) | ({"truth": truth} if truth is not None else {})
        write_npz_atomic(path, **arrays)
        partial.unlink(missing_ok=True)
        result.append(SegmentedImages(images, segments, truth))
    return result[0], result[1], result[2], segmenter.name
