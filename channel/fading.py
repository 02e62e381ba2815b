"""Per-user flat Rayleigh block-fading MIMO draws on Sionna's channel blocks (DESIGN.md §2)."""
from __future__ import annotations

import torch
from sionna.phy.channel import RayleighBlockFading

from channel.rng import OwnGenerator, make_generator

__all__ = ["SeededRayleighBlockFading", "draw_channels", "draw_user_channel", "PRECISION_DTYPES"]

#: Sionna precision name -> complex dtype.
PRECISION_DTYPES = {"single": torch.complex64, "double": torch.complex128}


class SeededRayleighBlockFading(OwnGenerator, RayleighBlockFading):
    """Sionna's :class:`RayleighBlockFading` drawing from an explicit generator.

    Sionna draws from its global config generator; the run's reproducibility needs a
    generator owned by the caller, so this block takes one.
    """


def draw_user_channel(
    user: int,
    rx_antennas: int,
    tx_antennas: int,
    seed: int,
    precision: str = "single",
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    r"""User ``k``'s ``H̄_k ∈ C^{N_R×N_T}``, entries i.i.d. CN(0,1) (DESIGN.md §2).

    Drawn from the stream ``channel-k`` of the run seed, so a user's channel does not
    depend on how many other users there are, and the AP and the user (each simulating
    its side of the same physical link) draw the same matrix. Output ``[N_R, N_T]``.
    """
    device = torch.device(device)
    gen = make_generator(seed, f"channel-{user}", device)
    if precision not in PRECISION_DTYPES:
        raise ValueError(f"precision must be one of {sorted(PRECISION_DTYPES)}, got {precision!r}")
    # drawn in single precision and cast: a seed gives the same channel in single and double runs
    block = SeededRayleighBlockFading(
        num_rx=1, num_rx_ant=rx_antennas, num_tx=1, num_tx_ant=tx_antennas,
        precision="single", device=str(device), generator=gen,
    )
    a, _ = block(batch_size=1, num_time_steps=1)
    # a: [batch=1, num_rx=1, N_R, num_tx=1, N_T, paths=1, time=1]
    return a[0, 0, :, 0, :, 0, 0].to(PRECISION_DTYPES[precision]).contiguous()


def draw_channels(
    users: int,
    rx_antennas: int,
    tx_antennas: int,
    seed: int,
    precision: str = "single",
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    r"""``H̄_k`` for users ``0 … K−1`` stacked: ``[K, N_R, N_T]`` complex (complex64 for
    ``"single"``, complex128 for ``"double"``). Same seed → same draws.

    >>> draw_channels(3, 4, 4, seed=42).shape
    torch.Size([3, 4, 4])
    """
    return torch.stack([draw_user_channel(k, rx_antennas, tx_antennas, seed, precision, device) for k in range(users)])
