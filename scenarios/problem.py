"""A run's problem in the math core's form: whitened complex pilots, statistics and channels.

Built once per run from :class:`LatentData` and :class:`RunConfig` by every runtime, so
the in-process engine and the Flower runtime see the same numbers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from channel import draw_channels, estimate_channels, expand_uses, load_channels, noise_variance
from protocol.config import ConfigError, RunConfig
from protocol.packing import complex_dim, pack, unpack
from protocol.whitening import Whitener, fit_whitener, identity_whitener
from scenarios.latents import LatentData

__all__ = ["Problem", "build_problem", "resolve_device", "select_pilots"]


def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA when available, else CPU; ``cuda`` without a GPU is a user error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"field 'device': {name} requested but CUDA is not available")
    return torch.device(name)


def select_pilots(num_train: int, pilots: int, seed: int) -> np.ndarray:
    """Indices of the ``n`` semantic pilots among the train rows (seeded, shared by all devices)."""
    if pilots > num_train:
        raise ConfigError(f"field 'pilots': {pilots} requested but only {num_train} train samples exist")
    rng = np.random.default_rng(seed)
    return np.sort(rng.permutation(num_train)[:pilots])


@dataclass
class Problem:
    """Tensors of one run. ``K`` users, ``m`` AP features, ``p`` = max user features (zero-padded)."""

    x: torch.Tensor  # [m, n] whitened AP pilots
    x_test: torch.Tensor  # [m, n_te] whitened AP test latents
    ap_whitener: Whitener
    y: torch.Tensor  # [K, p, n] whitened user pilots (padded)
    y_test: torch.Tensor  # [K, p, n_te] whitened user test latents (padded)
    user_whiteners: list[Whitener]
    user_dims: list[int]  # real latent dims d_k
    rxx: torch.Tensor  # [m, m]
    ryx: torch.Tensor  # [K, p, m]
    ryy_trace: torch.Tensor  # [K]
    h_bar: torch.Tensor  # [K, N_R, N_T] true channels
    h: torch.Tensor  # [K, N_R c, N_T c] true, block diagonal
    h_est_bar: torch.Tensor  # [K, N_R, N_T] channel estimate used in training
    h_est: torch.Tensor  # [K, N_R c, N_T c] estimate, block diagonal
    noise_var: torch.Tensor  # [K] float64
    pilot_index: np.ndarray

    @property
    def users(self) -> int:
        return self.y.shape[0]

    @property
    def n(self) -> int:
        return self.x.shape[-1]

    def decode_user(self, k: int, y_hat_w: torch.Tensor) -> np.ndarray:
        """User k's whitened complex estimate ``[p, N]`` → its real latents ``[N, d_k]``."""
        pk = complex_dim(self.user_dims[k])
        y = self.user_whiteners[k].unwhiten(y_hat_w[:pk])
        return unpack(y.T, self.user_dims[k]).cpu().double().numpy()


def _complex_columns(z: np.ndarray, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    return pack(torch.from_numpy(np.ascontiguousarray(z)).to(device), dtype).T.contiguous()


def build_problem(cfg: RunConfig, data: LatentData, dtype: torch.dtype, device: torch.device) -> Problem:
    """Pilots, whitening, statistics, channels and noise for ``cfg`` (DESIGN.md §2–§3)."""
    if len(data.users) < cfg.users:
        raise ConfigError(f"field 'users': {cfg.users} requested but the latents hold {len(data.users)} users")
    users = data.users[: cfg.users]
    idx = select_pilots(data.ap_train.shape[0], cfg.pilots, cfg.seed)
    n_te = min(cfg.test_samples, data.ap_test.shape[0])

    x_raw = _complex_columns(data.ap_train[idx], dtype, device)
    xt_raw = _complex_columns(data.ap_test[:n_te], dtype, device)
    m = x_raw.shape[0]
    ap_w = fit_whitener(x_raw) if cfg.whiten else identity_whitener(m, dtype, device)
    x, x_test = ap_w.whiten(x_raw), ap_w.whiten(xt_raw)

    p = max(complex_dim(u.dim) for u in users)
    ys, yts, uws = [], [], []
    for u in users:
        y_raw = _complex_columns(u.train[idx], dtype, device)
        yt_raw = _complex_columns(u.test[:n_te], dtype, device)
        w = fit_whitener(y_raw) if cfg.whiten else identity_whitener(y_raw.shape[0], dtype, device)
        pad = p - y_raw.shape[0]
        ys.append(torch.nn.functional.pad(w.whiten(y_raw), (0, 0, 0, pad)))
        yts.append(torch.nn.functional.pad(w.whiten(yt_raw), (0, 0, 0, pad)))
        uws.append(w)
    y, y_test = torch.stack(ys), torch.stack(yts)
    n = x.shape[-1]

    precision = "double" if dtype == torch.complex128 else "single"
    if cfg.channels is not None:
        try:
            h_bar = load_channels(cfg.channels, cfg.users, cfg.rx_antennas, cfg.tx_antennas, dtype).to(device)
        except ValueError as e:
            raise ConfigError(str(e)) from e
    else:
        h_bar = draw_channels(cfg.users, cfg.rx_antennas, cfg.tx_antennas, cfg.seed, precision, device)
    h_est_bar = estimate_channels(h_bar, cfg.csi_nmse, cfg.seed)
    return Problem(
        x=x, x_test=x_test, ap_whitener=ap_w,
        y=y, y_test=y_test, user_whiteners=uws, user_dims=[u.dim for u in users],
        rxx=x @ x.mH / n, ryx=y @ x.mH / n, ryy_trace=y.abs().pow(2).sum(dim=(-2, -1)) / n,
        h_bar=h_bar, h=expand_uses(h_bar, cfg.channel_uses), h_est_bar=h_est_bar, h_est=expand_uses(h_est_bar, cfg.channel_uses),
        noise_var=noise_variance(cfg.snrs(), cfg.power, cfg.channel_uses).to(device),
        pilot_index=idx,
    )
