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


def from_wire(a: np.ndarray, dtype: torch.dtype, device: torch.device | str = "cpu", real: bool = False) -> torch.Tensor:
    """A received (already validated) array → a complex tensor of ``dtype`` for the math core.
    ``real``: the run is widely-linear and the array must be real; otherwise it must be complex."""
    if real == np.iscomplexobj(a):
        want = "real" if real else "complex"
        raise ValueError(f"expected a {want} array in a {'widely-linear' if real else 'linear'} run, got {a.dtype}")
    t = torch.from_numpy(np.ascontiguousarray(a))
    if not t.is_complex():
        t = torch.complex(t, torch.zeros_like(t))
    return t.to(device=device, dtype=dtype)
