"""The settings of one SAM-scenario experiment (validated once, saved next to its results)."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["SamConfig", "VARIANTS", "quick_overrides"]

#: variant name -> (ASI mode, ASC on). ``ratio-R`` variants are added from ``ratios``.
VARIANTS: dict[str, tuple[str, bool]] = {
    "conventional": ("none", False),    # the same autoencoder without SKB/ASI/ASC
    "lam-sc": ("attention", True),      # SKB + ASI + ASC (the paper's system)
    "no-asc": ("attention", False),     # SKB + ASI, every feature sent
    "no-asi": ("none", True),           # ASC on the plain image (SKB unused)
    "uniform-asi": ("uniform", True),   # SKB + uniform segment weights + ASC
}


class SamConfig(BaseModel):
    """Every setting of ``semalign scenario sam`` (frozen; unknown keys are errors)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = Field(0, ge=0, description="seed of scenes, initialisation, noise")
    data: Literal["scenes", "voc", "folder"] = Field("scenes", description="synthetic scenes or a local folder")
    data_dir: Path | None = Field(None, description="VOC2012 root or an image folder (COCO val2017)")
    image_size: int = Field(64, ge=32, le=256, description="square image side [px], multiple of 4")
    train_images: int = Field(3000, ge=8, le=200_000)
    test_images: int = Field(300, ge=4, le=50_000)
    val_images: int = Field(200, ge=4, le=50_000, description="validation scenes (train objects) for choosing the ASC ratio")
    seeds: int = Field(3, ge=1, le=20, description="training seeds: every compared model is trained once per seed")
    seed_offset: int = Field(0, ge=0, le=1000, description="first training seed: seeds seed_offset … seed_offset+seeds−1 "
                             "(fresh, independent trainings with their own checkpoints s<k>/; 0 = the original seeds)")
    segmenter: Literal["superpixel", "truth", "sam"] = Field("superpixel", description="SKB back-end (truth = "
                                                             "oracle: the ground-truth object masks as segments)")
    sam_checkpoint: Path | None = Field(None, description="SAM .pth checkpoint (segmenter=sam)")
    sam_model_type: Literal["vit_b", "vit_l", "vit_h"] = "vit_b"
    sam_points_per_side: int = Field(32, ge=1, le=128, description="SAM automatic mask generator: point prompts per "
                                     "image side (SAM's default 32 = 1,024 prompts per image)")
    sam_pred_iou_thresh: float = Field(0.88, ge=0, le=1, description="SAM: keep masks whose predicted IoU exceeds this "
                                       "(SAM's default)")
    sam_stability_thresh: float = Field(0.95, ge=0, le=1, description="SAM: keep masks whose stability score exceeds "
                                        "this (SAM's default)")
    max_segments: int = Field(12, ge=2, le=64, description="segments kept per image (the rest merged)")
    latent_channels: int = Field(8, ge=2, le=64, description="real feature maps C (even) at H/4 × W/4")
    mask_levels: int = Field(4, ge=1, le=32, description="ASC mask levels L: groups of the C/2 complex maps sent as a prefix "
                             "(1 = one on/off flag per position, the first design)")
    mask_block: int = Field(4, ge=1, le=64, description="ASC mask block: b×b latent positions share one depth")
    curriculum: float = Field(0.5, ge=0, le=1, description="base models: probability that an image is sent with a random "
                              "prefix depth (mask-ratio curriculum; 0 = off)")
    steps: int = Field(1500, ge=1, le=1_000_000, description="training steps per base model")
    finetune_steps: int = Field(600, ge=1, le=1_000_000, description="ASC fine-tune steps per ratio")
    batch_size: int = Field(16, ge=1, le=4096)
    lr: float = Field(2e-3, gt=0, le=1)
    object_weight: float = Field(1.0, ge=1, le=100, description="semantic-importance-weighted reconstruction loss: pixels "
                                 "inside ground-truth object masks weigh this much, background 1 (1 = plain MSE); every variant alike")
    asi_steer: float = Field(0.0, ge=0, le=100, description="ASI steering β: the segment importance shifts the ASC keep "
                             "logits by β·log Ā (block mean, centred per image), with gradient into the ASI (0 = off: "
                             "the mask sees the importance only as a detached input)")
    asi_supervision: float = Field(0.0, ge=0, le=100, description="human-guided ASI: weight of KL(t‖w) pulling the segment "
                                   "weights towards each segment's ground-truth object share in training (needs object "
                                   "masks; inference uses no labels; 0 = off)")
    ratio_weight: float = Field(10.0, ge=0, description="weight λ of the mask-ratio loss term")
    target_ratio: float | None = Field(None, ge=0, lt=1, description="fraction of feature values masked (ASC); "
                                       "None = the largest sweep ratio whose validation SSIM is within the margin")
    ratio_rule: Literal["ci", "mean"] = Field("ci", description="choosing the ASC ratio on validation: 'ci' = the largest "
                                              "ratio whose lower t 95 % CI end (over training seeds) of ΔSSIM is ≥ −margin; "
                                              "'mean' = the largest whose seed-mean is (the rule before 2026-11-30)")
    asc_budget: Literal["batch", "image", "threshold"] = Field("batch", description="ASC inference mask: exactly (1−r) of the "
                                                              "(level, block) pairs kept per evaluation batch / per image, or "
                                                              "'threshold' P > ½ (ratio on average only; before 2026-11-30)")
    ratios: tuple[float, ...] = Field((0.1, 0.2, 0.4, 0.6, 0.8), description="mask-ratio sweep (the ASC candidates)")
    train_snr_db: tuple[float, float] = Field((0.0, 20.0), description="training SNR range [dB] (uniform)")
    snrs_db: tuple[float, ...] = Field((0.0, 5.0, 10.0, 15.0, 20.0), description="evaluation SNRs [dB]")
    channels: tuple[Literal["awgn", "rayleigh"], ...] = ("awgn", "rayleigh")
    power: float = Field(1.0, gt=0, description="energy P_T per image, spread over its sent symbols")
    quant_bits: int = Field(8, ge=1, le=32, description="bits per real feature value in the bit count")
    threads: int = Field(1, ge=0, le=256, description="torch threads (0 = default)")
    checkpoint_every: int = Field(100, ge=1)

    @property
    def sam_generator_options(self) -> dict:
        """Keyword arguments of segment-anything's ``SamAutomaticMaskGenerator`` set by this config."""
        return dict(points_per_side=self.sam_points_per_side, pred_iou_thresh=self.sam_pred_iou_thresh,
                    stability_score_thresh=self.sam_stability_thresh)

    @property
    def train_seeds(self) -> range:
        """The training seeds ``k`` of this run (checkpoints ``s<k>/``, streams ``train-s<k>-…``; ``k = 0`` unprefixed)."""
        return range(self.seed_offset, self.seed_offset + self.seeds)

    @model_validator(mode="after")
    def _check(self) -> "SamConfig":
        if self.image_size % 4:
            raise ValueError(f"image_size must be a multiple of 4, got {self.image_size}")
        if self.latent_channels % 2:
            raise ValueError(f"latent_channels must be even (real/imag halves), got {self.latent_channels}")
        if (self.latent_channels // 2) % self.mask_levels:
            raise ValueError(f"mask_levels {self.mask_levels} must divide the {self.latent_channels // 2} complex feature maps")
        if (self.image_size // 4) % self.mask_block:
            raise ValueError(f"mask_block {self.mask_block} must divide the latent grid side {self.image_size // 4}")
        if any(not 0 <= r < 1 for r in self.ratios):
            raise ValueError(f"ratios must lie in [0, 1), got {self.ratios}")
        if self.target_ratio is None and not any(r > 0 for r in self.ratios):
            raise ValueError("ratios needs a ratio > 0 to choose the ASC ratio from (or set target_ratio)")
        if self.train_snr_db[0] > self.train_snr_db[1]:
            raise ValueError(f"train_snr_db must be (low, high), got {self.train_snr_db}")
        if self.segmenter == "sam" and self.sam_checkpoint is None:
            raise ValueError("segmenter 'sam' needs sam_checkpoint (a local .pth file)")
        if self.segmenter == "truth" and self.data == "folder":
            raise ValueError("segmenter 'truth' needs ground-truth object masks (data 'scenes' or VOC with SegmentationObject/)")
        if self.data != "scenes" and self.data_dir is None:
            raise ValueError(f"data {self.data!r} needs data_dir (a local folder)")
        if self.object_weight != 1 and self.data == "folder":
            raise ValueError("object_weight needs ground-truth object masks (data 'scenes' or VOC with SegmentationObject/)")
        if self.asi_supervision and self.data == "folder":
            raise ValueError("asi_supervision needs ground-truth object masks (data 'scenes' or VOC with SegmentationObject/)")
        if not self.channels:
            raise ValueError("channels must name at least one of awgn, rayleigh")
        return self


def quick_overrides() -> dict:
    """``--quick``: a run that finishes in minutes on 2 cores (same pipeline, fewer images/steps)."""
    return dict(train_images=1000, test_images=120, val_images=120, seeds=3, steps=400, finetune_steps=250,
                ratios=(0.25, 0.5, 0.625), snrs_db=(0.0, 10.0, 20.0))
