"""Natural images from a local folder: PASCAL VOC2012 (with its object masks) or any image folder (COCO val2017).

Nothing is downloaded. Images are centre-cropped to a square and resized to ``size`` (RGB uint8).
A missing or malformed folder raises :class:`FileNotFoundError` / :class:`ValueError` saying what
was expected where.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["find_voc_root", "load_voc", "load_image_folder"]

_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def _square(path: Path, size: int, resample: str = "bilinear") -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        im = im if resample == "nearest" else im.convert("RGB")  # label maps keep their palette indices
        w, h = im.size
        s = min(w, h)
        im = im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
        im = im.resize((size, size), Image.NEAREST if resample == "nearest" else Image.BILINEAR)
        return np.asarray(im)


def find_voc_root(root: Path) -> Path:
    """The folder holding ``JPEGImages`` and ``ImageSets/Segmentation``: ``root`` itself,
    ``root/VOC2012`` or ``root/VOCdevkit/VOC2012``."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"VOC folder not found: {root}")
    for cand in (root, root / "VOC2012", root / "VOCdevkit" / "VOC2012"):
        if (cand / "JPEGImages").is_dir() and (cand / "ImageSets" / "Segmentation").is_dir():
            return cand
    raise ValueError(f"{root} is not a VOC2012 folder: expected JPEGImages/ and ImageSets/Segmentation/ "
                     "in it, in VOC2012/ or in VOCdevkit/VOC2012/")


def load_voc(root: Path, split: str, n: int, size: int = 64) -> tuple[np.ndarray, np.ndarray | None]:
    """The first ``n`` images of VOC2012's segmentation ``split`` (train/val): ``(images uint8
    [n, size, size, 3], object labels int16 [n, size, size] or None)`` — labels from
    ``SegmentationObject/*.png`` (0 background, 255 boundary → 0, i = object i)."""
    voc = find_voc_root(root)
    ids_file = voc / "ImageSets" / "Segmentation" / f"{split}.txt"
    if not ids_file.is_file():
        raise ValueError(f"VOC split list missing: {ids_file}")
    ids = [s.strip() for s in ids_file.read_text().split() if s.strip()][:n]
    if not ids:
        raise ValueError(f"VOC split list {ids_file} is empty")
    images = np.stack([_square(voc / "JPEGImages" / f"{i}.jpg", size) for i in ids])
    obj_dir = voc / "SegmentationObject"
    labels = None
    if obj_dir.is_dir() and all((obj_dir / f"{i}.png").is_file() for i in ids):
        labels = np.stack([_square(obj_dir / f"{i}.png", size, "nearest") for i in ids]).astype(np.int16)
        labels[labels == 255] = 0
    return images, labels


def load_image_folder(root: Path, n: int, offset: int = 0, size: int = 64) -> np.ndarray:
    """Images ``offset … offset+n−1`` (sorted by name) of a flat folder (e.g. COCO ``val2017``)."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"image folder not found: {root}")
    files = sorted(p for p in root.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
    if len(files) < offset + n:
        raise ValueError(f"{root} holds {len(files)} images (.jpg/.png); {offset + n} needed")
    return np.stack([_square(p, size) for p in files[offset : offset + n]])
