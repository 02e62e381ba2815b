"""Validated options of the single-link scenario, with the full and ``--quick`` sweep grids."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["SingleLinkConfig", "METHODS", "QUICK", "FULL"]

#: methods of a point; ``oracle`` is the receiver's classifier on its own clean latents.
METHODS = ("neural", "linear", "unaware-mmse", "unaware-zf", "first-k", "top-k", "oracle")

FULL = dict(channel_uses=(1, 2, 4, 8, 16, 32, 64), snrs=(-10.0, 0.0, 10.0, 20.0, 30.0),
            pilot_fractions=(0.01, 0.1, 1.0), betas=(0.0, 1.0, 3.0, 10.0, 30.0, 60.0, 100.0),
            seeds=(27, 42, 100), steps=3000, hidden=256, test_samples=5000)
QUICK = dict(channel_uses=(1, 4, 16, 64), snrs=(0.0, 20.0), pilot_fractions=(0.01, 0.1, 1.0),
             betas=(0.0, 10.0, 30.0, 60.0, 100.0), seeds=(42,), steps=800, hidden=128, test_samples=2000)


class SingleLinkConfig(BaseModel):
    """Everything a single-link sweep depends on (DESIGN.md §2 notation)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tx_encoder: str = Field("resnet-simclr", min_length=1, description="transmitter's zoo encoder")
    rx_encoder: str = Field("convnext-ae", min_length=1, description="receiver's zoo encoder")
    antennas: int = Field(2, ge=1, le=64, description="N_T = N_R")
    snr_db: float = Field(20.0, ge=-60, le=100, description="SNR of the ζ, pilots and β sweeps [dB]")
    power: float = Field(1.0, gt=0, description="P_T")
    channel_uses: tuple[int, ...] = Field(QUICK["channel_uses"], min_length=1, description="c values of the ζ sweep")
    snrs: tuple[float, ...] = Field(QUICK["snrs"], min_length=1)
    pilot_fractions: tuple[float, ...] = Field(QUICK["pilot_fractions"], min_length=1)
    betas: tuple[float, ...] = Field(QUICK["betas"], min_length=1)
    seeds: tuple[int, ...] = Field(QUICK["seeds"], min_length=1)
    methods: tuple[str, ...] = Field(METHODS, min_length=1)
    sweeps: tuple[Literal["zeta", "snr", "pilots", "sparsity"], ...] = ("zeta", "snr", "pilots", "sparsity")
    test_samples: int = Field(QUICK["test_samples"], ge=10)
    iterations: int = Field(100, ge=1, le=100_000, description="ADMM iterations (linear model)")
    rho: float = Field(1.0, gt=0)
    steps: int = Field(QUICK["steps"], ge=1, le=1_000_000, description="neural training steps")
    batch_size: int = Field(256, ge=2)
    lr: float = Field(2e-3, gt=0, lt=1)
    hidden: int = Field(QUICK["hidden"], ge=1, le=8192)
    activation: Literal["gelu", "relu"] = "gelu"
    neural_loss: Literal["latent", "whitened"] = Field(
        "latent", description="MSE of the RX's own latents (un-whitened) or of its whitened coordinates")
    checkpoint_every: int = Field(100, ge=1)
    zoo_profile: Literal["default", "tiny"] = "default"
    cache_dir: Path | None = None
    data_dir: Path | None = None
    paper: bool = Field(False, description="paper setting: ViT-Small TX, ViT-Base RX on CIFAR-10")
    cifar_dir: Path | None = None
    tx_weights: Path | None = None
    rx_weights: Path | None = None
    threads: int = Field(1, ge=0, le=256)
    progress: bool = True

    @model_validator(mode="after")
    def _check(self) -> "SingleLinkConfig":
        if not self.paper and self.tx_encoder == self.rx_encoder:
            raise ValueError("tx_encoder and rx_encoder must differ (two different encoders)")
        for m in self.methods:
            if m not in METHODS:
                raise ValueError(f"methods: unknown method {m!r} (known: {', '.join(METHODS)})")
        for c in self.channel_uses:
            if c < 1:
                raise ValueError(f"channel_uses: {c} must be >= 1")
        for f in self.pilot_fractions:
            if not 0 < f <= 1:
                raise ValueError(f"pilot_fractions: {f} must be in (0, 1]")
        for b in self.betas:
            if not (math.isfinite(b) and b >= 0):
                raise ValueError(f"betas: {b} must be finite and >= 0")
        for s in self.snrs:
            if not math.isfinite(s):
                raise ValueError("snrs must be finite")
        for s in self.seeds:
            if s < 0:
                raise ValueError(f"seeds: {s} must be >= 0")
        return self

    @property
    def base_uses(self) -> int:
        """c of the pilots and β sweeps: the smallest of the ζ sweep (where compression is hardest)."""
        return min(self.channel_uses)

    @property
    def snr_uses(self) -> int:
        """c of the SNR sweep: the middle of the ζ sweep."""
        cs = sorted(self.channel_uses)
        return cs[(len(cs) - 1) // 2]
