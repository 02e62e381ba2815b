"""Offline multi-object scenes with ground-truth masks: Fashion-MNIST objects on textured backgrounds.

Natural images (VOC/COCO) are not reachable here, so each scene is composed deterministically
from a seed: a smooth coloured texture (low-pass noise plus oriented stripes) and 2–4 tinted,
rescaled Fashion-MNIST objects (from ``zoo/datasets.py``) pasted with hard masks, later ones
occluding earlier ones. Images are **RGB**, uint8, ``[H, W, 3]``. Object ``i`` (1-based) owns the
pixels where ``labels == i``; outside every object the image *is* the background, bit for bit.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SceneSet", "make_scenes"]

_SPLIT_IDS = {"train": 0, "test": 1, "val": 2}
#: Fashion-MNIST split the objects of a scene split come from (validation scenes reuse train objects)
_OBJECTS = {"train": 0, "test": 1, "val": 0}


@dataclass(frozen=True)
class SceneSet:
    """``images``/``backgrounds`` uint8 ``[N, H, W, 3]``; ``labels`` int16 ``[N, H, W]`` (0 = background,
    i = object i); ``classes`` int64 ``[N, 4]`` (Fashion-MNIST class of object i at column i−1, −1 = none)."""

    images: np.ndarray
    backgrounds: np.ndarray
    labels: np.ndarray
    classes: np.ndarray

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def object_masks(self, n: int) -> np.ndarray:
        """Bool ``[objects, H, W]`` ground-truth masks of scene ``n`` (visible objects only)."""
        ids = [i for i in range(1, self.classes.shape[1] + 1) if self.classes[n, i - 1] >= 0]
        return np.stack([self.labels[n] == i for i in ids]) if ids else np.zeros((0, *self.labels.shape[1:]), bool)


def _texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """A smooth two-colour texture with stripes, float ``[H, W, 3]`` in [0, 1]."""
    from scipy.ndimage import gaussian_filter

    field = gaussian_filter(rng.standard_normal((size, size)), sigma=rng.uniform(3, 8), mode="wrap")
    field = (field - field.min()) / (np.ptp(field) + 1e-9)
    yy, xx = np.mgrid[0:size, 0:size] / size
    angle, freq = rng.uniform(0, np.pi), rng.uniform(2, 6)
    stripes = 0.5 + 0.5 * np.sin(2 * np.pi * freq * (xx * np.cos(angle) + yy * np.sin(angle)) + rng.uniform(0, 6.3))
    mix = 0.75 * field + 0.25 * stripes * rng.uniform(0.3, 1.0)
    c0, c1 = rng.uniform(0.05, 0.95, 3), rng.uniform(0.05, 0.95, 3)
    return c0 * (1 - mix[..., None]) + c1 * mix[..., None]


def _object(rng: np.random.Generator, sprite: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, int, int]:
    """A rescaled sprite: (intensity [h, w] in [0,1], mask [h, w], top, left)."""
    from scipy.ndimage import zoom

    scale = rng.uniform(0.9, 1.5) * size / 64
    v = np.clip(zoom(sprite.astype(np.float64) / 255.0, scale, order=1), 0, 1)
    h, w = v.shape
    top, left = int(rng.integers(-h // 4, size - 3 * h // 4)), int(rng.integers(-w // 4, size - 3 * w // 4))
    return v, v > 0.12, top, left


def make_scenes(n: int, seed: int = 0, split: str = "train", size: int = 64, data_root=None) -> SceneSet:
    """``n`` scenes of ``split`` (objects from the Fashion-MNIST split of the same name; "val" scenes
    are new scenes of *train* objects, so validation never sees a test object).

    Scene ``i`` depends only on ``(seed, split, i)``: asking for more scenes keeps the first ones.
    """
    from zoo.datasets import load_dataset

    objects = load_dataset("fashion-mnist", data_root)[_OBJECTS[split]]
    images = np.empty((n, size, size, 3), np.uint8)
    backgrounds = np.empty_like(images)
    labels = np.zeros((n, size, size), np.int16)
    classes = np.full((n, 4), -1, np.int64)
    for i in range(n):
        rng = np.random.default_rng([seed, _SPLIT_IDS[split], i])
        bg = _texture(rng, size)
        img, lab = bg.copy(), np.zeros((size, size), np.int16)
        for j in range(int(rng.integers(2, 5))):
            k = int(rng.integers(len(objects)))
            v, m, top, left = _object(rng, objects.images[k], size)
            tint = rng.uniform(0.1, 1.0, 3)
            ys, xs = slice(max(top, 0), min(top + v.shape[0], size)), slice(max(left, 0), min(left + v.shape[1], size))
            vv = v[ys.start - top : ys.stop - top, xs.start - left : xs.stop - left]
            mm = m[ys.start - top : ys.stop - top, xs.start - left : xs.stop - left]
            patch = img[ys, xs]
            patch[mm] = tint * (0.3 + 0.7 * vv[mm, None])
            lab[ys, xs][mm] = j + 1
            classes[i, j] = int(objects.labels[k])
        for j in range(4):  # fully occluded objects are not in the scene
            if classes[i, j] >= 0 and not (lab == j + 1).any():
                classes[i, j] = -1
        images[i] = np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)
        backgrounds[i] = np.round(np.clip(bg, 0, 1) * 255).astype(np.uint8)
        labels[i] = lab
    return SceneSet(images, backgrounds, labels, classes)
