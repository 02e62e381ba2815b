"""Named, seeded random streams: one explicit generator per purpose, no global state."""
from __future__ import annotations

import zlib

import torch

__all__ = ["stream_seed", "make_generator", "OwnGenerator"]


def stream_seed(seed: int, stream: str) -> int:
    """A 63-bit seed for the named ``stream`` of run ``seed`` (stable across runs and machines)."""
    return (int(seed) * 1_000_003 + zlib.crc32(stream.encode())) % (2**63 - 1)


def make_generator(seed: int, stream: str, device: torch.device | str = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded for ``(seed, stream)``."""
    g = torch.Generator(device=device)
    g.manual_seed(stream_seed(seed, stream))
    return g


class OwnGenerator:
    """Mixin for a Sionna block that draws from a generator owned by the caller instead of
    Sionna's global one (``generator=`` keyword), so a run's draws are reproducible per stream."""

    def __init__(self, *args, generator: torch.Generator, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._generator = generator

    @property
    def torch_rng(self) -> torch.Generator:  # type: ignore[override]
        return self._generator
