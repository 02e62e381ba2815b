"""What the cloud sends: tensors at fp32 / fp16 / int8 / 2-bit, and exactly how many bytes that is.

Integer formats quantise each row (last dimension) uniformly with its own fp16 scale
``s = max|w_row| / q_max``: int8 rounds ``w/s`` to ``[-127, 127]``; 2-bit uses the four
mid-rise levels ``{-1.5, -0.5, 0.5, 1.5}·s`` with ``s = max|w_row| / 1.5``.
Payload bytes: fp32 ``4n``, fp16 ``2n``, int8 ``n + 2·rows``, int2 ``⌈n/4⌉ + 2·rows``.
"""
from __future__ import annotations

import math

import torch

__all__ = ["quantize_dequantize", "payload_bytes", "knowledge_bytes"]

_BITS = {"fp32": 32, "fp16": 16, "int8": 8, "int2": 2}


def _rows(t: torch.Tensor) -> int:
    return int(t.numel() // t.shape[-1]) if t.dim() else 1


def payload_bytes(t: torch.Tensor, precision: str) -> int:
    """Bytes of ``t`` sent at ``precision`` (values + per-row fp16 scales for integer formats)."""
    if precision not in _BITS:
        raise ValueError(f"unknown precision {precision!r}; known: {sorted(_BITS)}")
    n = t.numel()
    values = math.ceil(n * _BITS[precision] / 8)
    return values + (2 * _rows(t) if precision.startswith("int") else 0)


def knowledge_bytes(tensors: dict[str, torch.Tensor], precision: str) -> int:
    """Total bytes of a named set of tensors (metaword + LoRA matrices)."""
    return sum(payload_bytes(t, precision) for t in tensors.values())


def quantize_dequantize(t: torch.Tensor, precision: str) -> torch.Tensor:
    """The tensor the edge reconstructs from the payload (same shape, float32)."""
    if precision == "fp32":
        return t.detach().float().clone()
    if precision == "fp16":
        return t.detach().half().float()
    x = t.detach().float().reshape(-1, t.shape[-1]) if t.dim() else t.detach().float().reshape(1, 1)
    amax = x.abs().amax(dim=1, keepdim=True).clamp_min(1e-12)
    if precision == "int8":
        s = (amax / 127).half().float()
        q = torch.clamp(torch.round(x / s), -127, 127) * s
    elif precision == "int2":
        s = (amax / 1.5).half().float()
        q = (torch.clamp(torch.floor(x / s), -2, 1) + 0.5) * s
    else:
        raise ValueError(f"unknown precision {precision!r}; known: {sorted(_BITS)}")
    return q.reshape(t.shape)
