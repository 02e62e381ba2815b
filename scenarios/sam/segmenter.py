"""The semantic knowledge base (SKB) interface: an image in, a partition into segments out.

LAM-SC §II uses SAM as the SKB. Every back-end returns the same type — a boolean array
``[S, H, W]`` whose masks are disjoint and cover the image — so ASI never knows which one ran.
The offline default is a graph-based superpixel segmenter (Felzenszwalb & Huttenlocher 2004,
scikit-image): a *substitute* for SAM, named so in every output. The *ground-truth* back-end is an
oracle for experiments: the data's own object masks as segments (each object one segment, the
background one), i.e. an ideal object-level segmentation of these images; it needs object masks.
"""
from __future__ import annotations

from typing import Any, Mapping, Protocol, runtime_checkable

import numpy as np

__all__ = ["GroundTruthSegmenter", "Segmenter", "SegmenterError", "SuperpixelSegmenter", "labels_to_masks", "make_segmenter",
           "needs_truth"]


class SegmenterError(ValueError):
    """A segmenter could not be built or run (bad checkpoint, bad image); the message says why."""


@runtime_checkable
class Segmenter(Protocol):
    """``segment(image) -> masks``: ``image`` uint8 ``[H, W, 3]``; ``masks`` bool ``[S, H, W]``,
    disjoint, covering every pixel, at most ``max_segments``, largest first."""

    name: str
    max_segments: int

    def segment(self, image: np.ndarray) -> np.ndarray: ...


def needs_truth(segmenter: Segmenter) -> bool:
    """Whether ``segmenter.segment`` also needs the image's ground-truth object labels (``truth=``)."""
    return bool(getattr(segmenter, "needs_truth", False))


def _check_image(image: np.ndarray) -> np.ndarray:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise SegmenterError(f"expected a uint8 [H, W, 3] image, got {image.dtype} {image.shape}")
    return image


def labels_to_masks(labels: np.ndarray, max_segments: int) -> np.ndarray:
    """A label map ``[H, W]`` (any ints, ``-1`` = unassigned) → bool masks ``[S, H, W]``.

    Segments sorted by area (largest first); beyond ``max_segments − 1`` the smaller ones and
    the unassigned pixels are merged into one last "rest" segment, so the masks always
    partition the image.
    """
    ids, counts = np.unique(labels[labels >= 0], return_counts=True)
    order = ids[np.argsort(-counts, kind="stable")]
    unassigned = labels < 0
    if len(order) > max_segments or (unassigned.any() and len(order) >= max_segments):
        keep, rest_ids = order[: max_segments - 1], order[max_segments - 1 :]
        rest = np.isin(labels, rest_ids) | unassigned
    else:
        keep, rest = order, unassigned
    masks = [labels == i for i in keep]
    if rest.any():
        masks.append(rest)
    return np.stack(masks).astype(bool)


class SuperpixelSegmenter:
    """Offline SKB substitute: Felzenszwalb graph segmentation (scikit-image) — NOT SAM."""

    name = "superpixel (felzenszwalb; substitute for SAM)"

    def __init__(self, max_segments: int = 12, scale: float = 60.0, sigma: float = 0.6, min_size: int = 20) -> None:
        self.max_segments, self.scale, self.sigma, self.min_size = max_segments, scale, sigma, min_size

    def segment(self, image: np.ndarray) -> np.ndarray:
        from skimage.segmentation import felzenszwalb

        labels = felzenszwalb(_check_image(image), scale=self.scale, sigma=self.sigma, min_size=self.min_size)
        return labels_to_masks(labels, self.max_segments)


class GroundTruthSegmenter:
    """Oracle SKB: the ground-truth object masks as segments (an ideal object-level segmentation) — NOT SAM, and not available
    without labels. ``segment(image, truth)``: ``truth`` int ``[H, W]``, 0 = background, ``i`` = object ``i``;
    each object becomes one segment and the background one (objects beyond ``max_segments − 1`` are merged
    into the last segment, as for every back-end)."""

    name = "ground truth (object masks; oracle SKB, not SAM)"
    needs_truth = True

    def __init__(self, max_segments: int = 12) -> None:
        self.max_segments = max_segments

    def segment(self, image: np.ndarray, truth: np.ndarray | None = None) -> np.ndarray:
        image = _check_image(image)
        if truth is None:
            raise SegmenterError("the ground-truth SKB segments with the data's object masks; this image has none "
                                 "(use data 'scenes' or VOC with SegmentationObject/)")
        if truth.shape != image.shape[:2] or not np.issubdtype(truth.dtype, np.integer):
            raise SegmenterError(f"object labels must be ints of the image's shape {image.shape[:2]}, got "
                                 f"{truth.dtype} {truth.shape}")
        return labels_to_masks(np.where(truth < 0, 0, truth), self.max_segments)


def make_segmenter(kind: str, max_segments: int, checkpoint=None, model_type: str = "vit_b",
                   sam_options: Mapping[str, Any] | None = None) -> Segmenter:
    """The configured SKB: ``"superpixel"`` (offline default), ``"truth"`` (oracle: the object masks) or ``"sam"``
    (needs a checkpoint; ``sam_options`` go to SAM's automatic mask generator)."""
    if kind == "superpixel":
        return SuperpixelSegmenter(max_segments)
    if kind == "truth":
        return GroundTruthSegmenter(max_segments)
    if kind == "sam":
        from scenarios.sam.sam_backend import SamSegmenter

        return SamSegmenter.from_checkpoint(checkpoint, model_type=model_type, max_segments=max_segments,
                                            **dict(sam_options or {}))
    raise SegmenterError(f"unknown segmenter {kind!r} (superpixel, truth, sam)")
