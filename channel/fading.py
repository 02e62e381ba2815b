"""Per-user flat Rayleigh block-fading MIMO draws on Sionna's channel blocks (DESIGN.md §2)."""
from __future__ import annotations

import torch
from sionna.phy.channel import RayleighBlockFading

from channel.rng import make_generator

__all__ = ["SeededRayleighBlockFading", "draw_channels", "PRECISION_DTYPES"]

#: Sionna precision name -> complex dtype.
PRECISION_DTYPES = {"single": torch.complex64, "double": torch.complex128}


class SeededRayleighBlockFading(RayleighBlockFading):
    """Sionna's :class:`RayleighBlockFading` drawing from an explicit generator.

    Sionna draws from its global config generator; the run's reproducibility needs a
    generator owned by the caller, so this block takes one.
    """

    def __init__(self, *args, generator: torch.Generator, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._generator = generator

    @property
    def torch_rng(self) -> torch.Generator:  # type: ignore[override]
        return self._generator


def draw_channels(
    users: int,
    rx_antennas: int,
    tx_antennas: int,
    seed: int,
    precision: str = "single",
    device: str | torch.device = "cpu",
    stream: str = "channels",
) -> torch.Tensor:
    r"""Draw ``H̄_k ∈ C^{N_R×N_T}``, entries i.i.d. CN(0,1), one per user (DESIGN.md §2).

    Output: ``[K, N_R, N_T]`` complex (complex64 for ``"single"``, complex128 for
    ``"double"``). Same ``(seed, stream)`` → same draws.

    >>> draw_channels(3, 4, 4, seed=42).shape
    torch.Size([3, 4, 4])
    """
    device = torch.device(device)
    gen = make_generator(seed, stream, device)
    block = SeededRayleighBlockFading(
        num_rx=1, num_rx_ant=rx_antennas, num_tx=1, num_tx_ant=tx_antennas,
        precision=precision, device=str(device), generator=gen,
    )
    a, _ = block(batch_size=users, num_time_steps=1)
    # a: [K, num_rx=1, N_R, num_tx=1, N_T, paths=1, time=1]
    return a[:, 0, :, 0, :, 0, 0].contiguous()
