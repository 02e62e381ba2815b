"""Matrices on the wire: complex for the paper's complex-linear processing; real for
widely-linear processing, whose matrices have zero imaginary parts (DESIGN.md §2, §4), so only
the real parts travel and are counted."""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["to_wire", "from_wire"]


def to_wire(t: torch.Tensor, real: bool) -> np.ndarray:
    """A math-core matrix → the array a message carries (its real part when ``real``)."""
    t = t.detach().resolve_conj().cpu()
    return (t.real if real else t).contiguous().numpy()


def from_wire(a: np.ndarray, dtype: torch.dtype, device: torch.device | str = "cpu") -> torch.Tensor:
    """A received array, already validated as the run's kind (``protocol.messages``, context
    ``real``) → a complex tensor of ``dtype`` for the math core."""
    t = torch.from_numpy(np.ascontiguousarray(a))
    if not t.is_complex():
        t = torch.complex(t, torch.zeros_like(t))
    return t.to(device=device, dtype=dtype)
