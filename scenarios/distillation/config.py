"""The distillation scenario's settings: one frozen pydantic model, quick and full presets."""
from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["DistillConfig", "PRESETS", "PRECISIONS"]

#: Precisions the cloud may use for what it sends (G-KA knowledge: metaword + LoRA matrices).
PRECISIONS = ("fp32", "fp16", "int8", "int2")


class DistillConfig(BaseModel):
    """Every budget of one run (sizes, steps, SNR grids). Saved next to the results."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = 0
    threads: int = Field(1, ge=0, description="torch threads (0 = torch default)")
    train_images: int = Field(12_000, ge=64, description="Fashion-MNIST train images used")
    # tiny autoencoder: 32×32 grey image <-> latent [latent_channels, 8, 8]
    latent_channels: int = Field(4, ge=1, le=16)
    ae_steps: int = Field(600, ge=1)
    ae_width: int = Field(32, ge=4)
    # diffusion models (diffusers UNet2DConditionModel on the latent)
    embed_dim: int = Field(32, ge=8, description="prompt-token embedding width (cross-attention dim)")
    cloud_channels: tuple[int, ...] = (32, 64)
    edge_channels: tuple[int, ...] = (16, 32)
    cloud_steps: int = Field(1200, ge=1)
    edge_steps: int = Field(300, ge=1)
    batch_size: int = Field(64, ge=2)
    sample_steps: int = Field(20, ge=2, description="DDIM steps when generating")
    guidance: float = Field(2.0, ge=1.0, description="classifier-free guidance scale when generating")
    # G-KA / MAKD
    distill_prompts: int = Field(512, ge=8, description="cloud-generated samples used for distillation")
    metaword_steps: int = Field(150, ge=1)
    lora_steps: int = Field(300, ge=1)
    lora_rank: int = Field(4, ge=1, le=64)
    lora_targets: Literal["attention", "attention+ff", "all-linear"] = "attention+ff"
    precision: Literal["fp32", "fp16", "int8", "int2"] = "fp16"
    eval_prompts: int = Field(256, ge=4)
    # T-KA / CALA
    symbols: int = Field(64, ge=4, description="complex channel symbols per latent (= OFDM subcarriers)")
    jscc_hidden: int = Field(256, ge=8)
    jscc_steps: int = Field(800, ge=1)
    cala_steps: int = Field(800, ge=1)
    cala_components: int = Field(4, ge=1, le=32, description="rank-1 LoRA components per JSCC layer")
    train_snr_db: float = Field(10.0, description="SNR of the fixed-SNR JSCC")
    cala_snr_db: tuple[float, ...] = (0.0, 5.0, 10.0, 15.0, 20.0)
    cala_delay_spread_ns: tuple[float, ...] = (30.0, 300.0, 3000.0)
    eval_snr_db: tuple[float, ...] = (0.0, 2.5, 5.0, 7.5, 10.0, 12.5, 15.0, 17.5, 20.0)
    eval_delay_spread_ns: tuple[float, ...] = (30.0, 100.0, 300.0, 1000.0, 3000.0)
    tka_latents: int = Field(1024, ge=16, description="aligned-edge latents generated for T-KA")
    users: int = Field(4, ge=1, le=64, description="users served by one edge (multi-user table)")
    subcarrier_spacing_khz: float = Field(30.0, gt=0)
    carrier_ghz: float = Field(3.5, gt=0)

    @model_validator(mode="after")
    def _check(self) -> "DistillConfig":
        for name in ("train_snr_db", "cala_snr_db", "eval_snr_db", "cala_delay_spread_ns", "eval_delay_spread_ns",
                     "subcarrier_spacing_khz", "carrier_ghz"):
            values = getattr(self, name)
            if not all(math.isfinite(v) for v in (values if isinstance(values, tuple) else (values,))):
                raise ValueError(f"{name} must be finite numbers, got {values}")
        if len(self.cloud_channels) != len(self.edge_channels):
            raise ValueError("cloud_channels and edge_channels need the same number of levels")
        if sum(self.edge_channels) >= sum(self.cloud_channels):
            raise ValueError("the edge model must be smaller than the cloud model")
        for c in (*self.cloud_channels, *self.edge_channels):
            if c % 8:
                raise ValueError(f"UNet channel widths must be multiples of 8 (group norm), got {c}")
        if (self.latent_channels * 64) % 2:
            raise ValueError("latent size must be even")
        for ds in (*self.cala_delay_spread_ns, *self.eval_delay_spread_ns):
            if not 1.0 <= ds <= 10_000.0:
                raise ValueError(f"delay spread {ds} ns outside [1, 10000] ns")
        if not self.cala_snr_db or not self.eval_snr_db:
            raise ValueError("SNR grids must not be empty")
        return self


#: ``--quick`` (tens of seconds of training per stage) and the default full budget.
PRESETS: dict[str, dict] = {
    "quick": dict(train_images=6_000, ae_steps=300, ae_width=24, batch_size=32, cloud_steps=400, edge_steps=100,
                  distill_prompts=192, metaword_steps=60, lora_steps=120, eval_prompts=128, jscc_steps=400,
                  cala_steps=400, tka_latents=512, sample_steps=12),
    "full": {},
    "tiny": dict(train_images=256, ae_steps=4, ae_width=8, embed_dim=16, cloud_channels=(16,), edge_channels=(8,),
                 cloud_steps=3, edge_steps=2, batch_size=16, sample_steps=2, distill_prompts=16,
                 metaword_steps=2, lora_steps=2, lora_rank=2, eval_prompts=8, symbols=16, jscc_hidden=32,
                 jscc_steps=3, cala_steps=20, cala_components=2, tka_latents=32, users=2,
                 eval_snr_db=(0.0, 10.0, 20.0), eval_delay_spread_ns=(30.0, 3000.0)),
}
