"""Semantic pilots: which data points they are, and each device's packed, whitened view of them."""
from __future__ import annotations

import numpy as np
import torch

from protocol.config import ConfigError
from protocol.packing import to_features
from protocol.whitening import Whitener, fit_whitener, identity_whitener

__all__ = ["select_pilots", "complex_columns", "prepare_side"]


def select_pilots(num_train: int, pilots: int, seed: int) -> np.ndarray:
    """Indices of the ``n`` semantic pilots among the train rows (seeded, the same on every device)."""
    if pilots > num_train:
        raise ConfigError(f"field 'pilots': {pilots} requested but only {num_train} train samples exist")
    rng = np.random.default_rng(seed)
    return np.sort(rng.permutation(num_train)[:pilots])


def complex_columns(
    z: np.ndarray, dtype: torch.dtype, device: torch.device | str = "cpu", processing: str = "linear"
) -> torch.Tensor:
    """Real latents ``[N, d]`` → complex feature columns ``[⌈d/2⌉, N]`` packed, or ``[d, N]``
    for widely-linear processing (DESIGN.md §2)."""
    return to_features(torch.from_numpy(np.ascontiguousarray(z)).to(device), dtype, processing).T.contiguous()


def prepare_side(
    train_rows: np.ndarray, test_rows: np.ndarray, whiten: bool, dtype: torch.dtype,
    device: torch.device | str = "cpu", processing: str = "linear",
) -> tuple[torch.Tensor, torch.Tensor, Whitener]:
    """One device's pilots ``[h, n]`` and test latents ``[h, n_te]``, as features
    (:func:`protocol.packing.to_features`) whitened with the statistics of its own pilots only
    (DESIGN.md §2). Used by the AP and by each user."""
    raw = complex_columns(train_rows, dtype, device, processing)
    raw_test = complex_columns(test_rows, dtype, device, processing)
    w = fit_whitener(raw) if whiten else identity_whitener(raw.shape[0], dtype, device)
    return w.whiten(raw), w.whiten(raw_test), w
