"""Given channel matrices from a file, replacing the random draws (for comparisons)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

__all__ = ["load_channels"]


def load_channels(path: Path, users: int, rx_antennas: int, tx_antennas: int, dtype: torch.dtype) -> torch.Tensor:
    """Load ``H`` ``[K, N_R, N_T]`` (complex) from an ``.npz`` file with key ``H``.

    Raises ``ValueError`` naming the mismatch when the file does not fit the run.
    """
    try:
        with np.load(path) as f:
            if "H" not in f:
                raise ValueError(f"channels file {path} has no array 'H' (keys: {list(f.keys())})")
            h = f["H"]
    except FileNotFoundError as e:
        raise ValueError(f"channels file not found: {path}") from e
    if not np.iscomplexobj(h):
        raise ValueError(f"channels: 'H' must be complex, got {h.dtype}")
    if h.shape != (users, rx_antennas, tx_antennas):
        raise ValueError(f"channels: 'H' has shape {h.shape}, expected {(users, rx_antennas, tx_antennas)}")
    if not np.isfinite(h).all():
        raise ValueError("channels: 'H' contains NaN or Inf")
    return torch.from_numpy(np.ascontiguousarray(h)).to(dtype)
