"""The real SKB: ``segment-anything``'s automatic mask generator behind the :class:`Segmenter` interface.

SAM weights cannot be downloaded here; give a local checkpoint (``sam_vit_b_01ec64.pth`` etc.,
from the segment-anything release). The file is checked *before* the (large) model is built, so
a wrong path or a file that is not a SAM state dict fails in well under a second, with the reason.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from scenarios.sam.segmenter import SegmenterError, _check_image, labels_to_masks

__all__ = ["SamSegmenter", "masks_from_sam_records", "load_sam_state_dict"]

_SAM_KEY_PREFIXES = ("image_encoder.", "prompt_encoder.", "mask_decoder.")


def masks_from_sam_records(records: Iterable[Mapping[str, Any]], shape: tuple[int, int], max_segments: int) -> np.ndarray:
    """SAM's output (dicts with a bool ``"segmentation"`` ``[H, W]`` and an ``"area"``) → bool ``[S, H, W]``.

    SAM masks may overlap and leave holes: each pixel goes to the largest mask covering it
    (the order SAM's own visualisation paints them), uncovered pixels to the "rest" segment.
    """
    labels = np.full(shape, -1, dtype=np.int64)
    recs = sorted(records, key=lambda r: -int(r.get("area", np.asarray(r["segmentation"]).sum())))
    for i, rec in enumerate(recs):
        seg = np.asarray(rec["segmentation"], dtype=bool)
        if seg.shape != tuple(shape):
            raise SegmenterError(f"SAM mask has shape {seg.shape}, image is {tuple(shape)}")
        labels[seg & (labels < 0)] = i
    return labels_to_masks(labels, max_segments)


def load_sam_state_dict(path: Path | str | None) -> dict:
    """Read and check a SAM checkpoint; raise :class:`SegmenterError` saying what is wrong."""
    import torch

    if path is None:
        raise SegmenterError("segmenter 'sam' needs a checkpoint: pass --sam-checkpoint FILE (weights cannot be downloaded here)")
    p = Path(path).expanduser()
    if not p.is_file():
        raise SegmenterError(f"SAM checkpoint not found: {p} (give the local .pth file, e.g. sam_vit_b_01ec64.pth)")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file is the same user error
        raise SegmenterError(f"SAM checkpoint {p} is not a readable torch checkpoint ({type(e).__name__})") from e
    if not isinstance(state, dict) or not any(str(k).startswith(_SAM_KEY_PREFIXES) for k in state):
        raise SegmenterError(f"SAM checkpoint {p} is not a SAM state dict (no image_encoder./mask_decoder. keys)")
    return state


class SamSegmenter:
    """SAM as the SKB (``SamAutomaticMaskGenerator``). ``generator`` is any object with
    ``generate(image) -> list[dict]`` in SAM's output format."""

    name = "SAM (segment-anything automatic mask generator)"

    def __init__(self, generator: Any, max_segments: int = 12) -> None:
        self.generator, self.max_segments = generator, max_segments

    @classmethod
    def from_checkpoint(cls, path: Path | str | None, model_type: str = "vit_b", max_segments: int = 12,
                        **generator_kwargs: Any) -> "SamSegmenter":
        if model_type not in ("vit_b", "vit_l", "vit_h"):
            raise SegmenterError(f"unknown SAM model type {model_type!r} (vit_b, vit_l, vit_h)")
        state = load_sam_state_dict(path)  # checked first: works (and fails clearly) without segment-anything
        try:
            from segment_anything import SamAutomaticMaskGenerator, sam_model_registry
        except ModuleNotFoundError as e:
            raise SegmenterError("segmenter 'sam' needs the segment-anything package (pip install 'semalign[sam-real]')") from e
        model = sam_model_registry[model_type](checkpoint=None)
        try:
            model.load_state_dict(state)
        except RuntimeError as e:
            raise SegmenterError(f"SAM checkpoint {path} does not fit model type {model_type!r}: "
                                 f"{str(e).splitlines()[0]}") from e
        import torch

        model.to("cuda" if torch.cuda.is_available() else "cpu").eval()  # the SKB pass runs on the GPU when present
        return cls(SamAutomaticMaskGenerator(model, **generator_kwargs), max_segments)

    def segment(self, image: np.ndarray) -> np.ndarray:
        image = _check_image(image)
        return masks_from_sam_records(self.generator.generate(image), image.shape[:2], self.max_segments)
