"""G-LoRA: ``peft`` low-rank adapters on the edge UNet's linear layers (DeKA-g §III-B).

Each adapted ``nn.Linear`` ``W ∈ R^{out×in}`` becomes ``W + (α/r) B A`` with ``A ∈ R^{r×in}``,
``B ∈ R^{out×r}`` (B initialised to zero, so the edge starts unchanged): ``r·(in+out)``
trainable parameters per layer, which is what the cloud sends.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["LORA_TARGETS", "add_lora", "adapted_linears", "lora_parameters", "lora_state", "load_lora_state"]

#: ``--lora-targets`` -> module-name suffixes of the diffusers UNet
LORA_TARGETS: dict[str, tuple[str, ...]] = {
    "attention": ("to_q", "to_k", "to_v", "to_out.0"),
    "attention+ff": ("to_q", "to_k", "to_v", "to_out.0", "ff.net.0.proj", "ff.net.2", "proj_in", "proj_out"),
    "all-linear": ("to_q", "to_k", "to_v", "to_out.0", "ff.net.0.proj", "ff.net.2", "proj_in", "proj_out",
                   "time_emb_proj", "linear_1", "linear_2"),
}

ADAPTER = "gka"


def add_lora(unet: nn.Module, rank: int, targets: str = "attention+ff", adapter: str = ADAPTER) -> list[str]:
    """Inject a rank-``rank`` LoRA into ``unet``'s target linear layers; freeze everything else.

    Returns the names of the adapted layers.
    """
    from peft import LoraConfig

    if targets not in LORA_TARGETS:
        raise ValueError(f"unknown LoRA targets {targets!r}; known: {sorted(LORA_TARGETS)}")
    config = LoraConfig(r=rank, lora_alpha=rank, lora_dropout=0.0, init_lora_weights=True,
                        target_modules=list(LORA_TARGETS[targets]))
    unet.add_adapter(config, adapter_name=adapter)
    for name, p in unet.named_parameters():
        p.requires_grad_("lora_" in name)
    return adapted_linears(unet)


def adapted_linears(unet: nn.Module) -> list[str]:
    """Names of the modules that carry a LoRA (a ``lora_A`` child)."""
    return [n for n, m in unet.named_modules() if hasattr(m, "lora_A") and len(getattr(m, "lora_A")) > 0]


def lora_parameters(unet: nn.Module) -> list[nn.Parameter]:
    return [p for n, p in unet.named_parameters() if "lora_" in n]


def lora_state(unet: nn.Module) -> dict[str, torch.Tensor]:
    """The LoRA matrices only (what the cloud transmits), detached copies keyed by name."""
    return {n: p.detach().clone() for n, p in unet.named_parameters() if "lora_" in n}


def load_lora_state(unet: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Overwrite the LoRA matrices of ``unet`` with ``state`` (e.g. the dequantised received ones)."""
    params = dict(unet.named_parameters())
    with torch.no_grad():
        for n, v in state.items():
            params[n].copy_(v)
