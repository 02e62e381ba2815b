"""Imperfect channel state information: ``Ĥ = H + E`` at a given NMSE."""
from __future__ import annotations

import torch

__all__ = ["estimate_channel"]


def estimate_channel(h: torch.Tensor, nmse: float, generator: torch.Generator) -> torch.Tensor:
    r"""Channel estimate ``Ĥ = H + E``, ``E`` i.i.d. CN(0, NMSE · E|h|²) with ``E|h|² = 1``.

    ``NMSE = E‖Ĥ − H‖² / E‖H‖²``. Input and output ``[..., N_R, N_T]`` complex.
    ``nmse = 0`` returns ``h`` unchanged.
    """
    if nmse < 0:
        raise ValueError(f"CSI NMSE must be >= 0, got {nmse}")
    if nmse == 0:
        return h
    std = (nmse / 2) ** 0.5
    re = torch.randn(h.shape, generator=generator, dtype=h.real.dtype, device=h.device)
    im = torch.randn(h.shape, generator=generator, dtype=h.real.dtype, device=h.device)
    return h + std * torch.complex(re, im)

