"""Each user's link: the true channel and the estimate used in training, from the run seed or a file."""
from __future__ import annotations

from pathlib import Path

import torch

from channel.csi import estimate_channel
from channel.fading import draw_user_channel
from channel.given import load_channels
from channel.rng import make_generator

__all__ = ["user_link", "all_links"]


def user_link(
    user: int, rx_antennas: int, tx_antennas: int, seed: int, csi_nmse: float,
    dtype: torch.dtype = torch.complex64, device: torch.device | str = "cpu",
    channels: Path | None = None, users: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """User k's ``(H̄_k, Ĥ̄_k)``, ``[N_R, N_T]`` each: the draw of stream ``channel-k`` (or row
    k of a given ``channels`` file of ``users`` rows) and its estimate with error from stream
    ``csi-error-k`` at ``csi_nmse``. The AP and the user compute the same matrices."""
    if channels is not None:
        h = load_channels(channels, users if users is not None else user + 1, rx_antennas, tx_antennas, dtype)[user]
        h = h.to(device)
    else:
        precision = "double" if dtype == torch.complex128 else "single"
        h = draw_user_channel(user, rx_antennas, tx_antennas, seed, precision, device)
    if csi_nmse == 0:
        return h, h
    return h, estimate_channel(h, csi_nmse, make_generator(seed, f"csi-error-{user}", h.device))


def all_links(
    users: int, rx_antennas: int, tx_antennas: int, seed: int, csi_nmse: float,
    dtype: torch.dtype = torch.complex64, device: torch.device | str = "cpu", channels: Path | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`user_link` for users ``0 … K−1`` stacked: ``([K, N_R, N_T], [K, N_R, N_T])``."""
    if channels is not None:
        h = load_channels(channels, users, rx_antennas, tx_antennas, dtype).to(device)
        est = torch.stack([
            h[k] if csi_nmse == 0 else estimate_channel(h[k], csi_nmse, make_generator(seed, f"csi-error-{k}", h.device))
            for k in range(users)
        ])
        return h, est
    pairs = [user_link(k, rx_antennas, tx_antennas, seed, csi_nmse, dtype, device) for k in range(users)]
    return torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])
