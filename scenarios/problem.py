"""A run's problem in the math core's form: whitened complex pilots, statistics and channels.

Built once per run from :class:`LatentData` and :class:`RunConfig`; every piece comes
from the same per-device functions the Flower runtime's AP and users call
(:func:`protocol.pilots.prepare_side`, :func:`channel.user_link`).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from channel import all_links, composite_link, expand_uses, noise_variance
from protocol.config import ConfigError, RunConfig
from protocol.packing import feature_dim, from_features
from protocol.pilots import prepare_side, select_pilots
from protocol.whitening import Whitener
from scenarios.latents import LatentData
from user_client.gstep import ryx_gram
from user_client.metric import MetricWhitener, prepare_user_side

__all__ = ["Problem", "build_problem", "resolve_device"]


def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA when available, else CPU; ``cuda`` without a GPU is a user error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"field 'device': {name} requested but CUDA is not available")
    return torch.device(name)


@dataclass
class Problem:
    """Tensors of one run. ``K`` users, ``m`` AP features, ``p`` = max user features (zero-padded)."""

    x: torch.Tensor  # [m, n] whitened AP pilots
    x_test: torch.Tensor  # [m, n_te] whitened AP test latents
    ap_whitener: Whitener
    y: torch.Tensor  # [K, p, n] whitened user pilots (padded)
    y_test: torch.Tensor  # [K, p, n_te] whitened user test latents (padded)
    user_whiteners: list[Whitener | MetricWhitener]  # a user's metric (DESIGN.md §3) lives in its whitener
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
    processing: str = "linear"  # "widely-linear": real features, real-composite channels (DESIGN.md §2)

    @property
    def users(self) -> int:
        return self.y.shape[0]

    @property
    def n(self) -> int:
        return self.x.shape[-1]

    @cached_property
    def tyy(self) -> torch.Tensor:
        """``R_yxᴴ R_yx`` ``[K, m, m]``, formed once: rounds then cost O(R m²) per user (DESIGN.md §3)."""
        return ryx_gram(self.ryx)

    def decode_user(self, k: int, y_hat_w: torch.Tensor) -> np.ndarray:
        """User k's whitened complex estimate ``[p, N]`` → its real latents ``[N, d_k]``."""
        pk = feature_dim(self.user_dims[k], self.processing)
        y = self.user_whiteners[k].unwhiten(y_hat_w[:pk])
        return from_features(y.T, self.user_dims[k], self.processing).cpu().double().numpy()


def build_problem(cfg: RunConfig, data: LatentData, dtype: torch.dtype, device: torch.device) -> Problem:
    """Pilots, whitening (and each user's private metric), statistics, channels and noise for
    ``cfg`` (DESIGN.md §2–§3)."""
    if len(data.users) < cfg.users:
        raise ConfigError(f"field 'users': {cfg.users} requested but the latents hold {len(data.users)} users")
    users = data.users[: cfg.users]
    idx = select_pilots(data.ap_train.shape[0], cfg.pilots, cfg.seed)
    n_te = min(cfg.test_samples, data.ap_test.shape[0])
    proc = cfg.processing
    x, x_test, ap_w = prepare_side(data.ap_train[idx], data.ap_test[:n_te], cfg.whiten, dtype, device, proc)

    p = max(feature_dim(u.dim, proc) for u in users)
    ys, yts, uws = [], [], []
    for k, u in enumerate(users):
        yk, ytk, w = prepare_user_side(u.train[idx], u.test[:n_te], cfg.whiten, dtype, device,
                                       u.classifier, cfg.user_metric, cfg.metric_eps, k, proc)
        pad = p - yk.shape[0]
        ys.append(torch.nn.functional.pad(yk, (0, 0, 0, pad)))
        yts.append(torch.nn.functional.pad(ytk, (0, 0, 0, pad)))
        uws.append(w)
    y, y_test = torch.stack(ys), torch.stack(yts)
    n = x.shape[-1]
    try:
        h_bar, h_est_bar = all_links(cfg.users, cfg.rx_antennas, cfg.tx_antennas, cfg.seed, cfg.csi_nmse,
                                     dtype, device, cfg.channels)
    except ValueError as e:
        raise ConfigError(str(e)) from e
    h, h_est = expand_uses(h_bar, cfg.channel_uses), expand_uses(h_est_bar, cfg.channel_uses)
    noise_var = noise_variance(cfg.snrs(), cfg.power, cfg.channel_uses).to(device)
    if proc == "widely-linear":  # the same links on real and imaginary parts (channel.composite)
        h, h_est, noise_var = composite_link(h, h_est, noise_var)
    return Problem(
        x=x, x_test=x_test, ap_whitener=ap_w,
        y=y, y_test=y_test, user_whiteners=uws, user_dims=[u.dim for u in users],
        rxx=x @ x.mH / n, ryx=y @ x.mH / n, ryy_trace=y.abs().pow(2).sum(dim=(-2, -1)) / n,
        h_bar=h_bar, h=h, h_est_bar=h_est_bar, h_est=h_est, noise_var=noise_var,
        pilot_index=idx, processing=proc,
    )
