"""Imperfect channel state information: ``Ĥ = H + E`` at a given NMSE."""
from __future__ import annotations

import torch

__all__ = ["estimate_channel"]


def estimate_channel(h: torch.Tensor, nmse: float, generator: torch.Generator) -> torch.Tensor:
    r"""Channel estimate ``Ĥ = H + E``, ``E`` i.i.d. CN(0, NMSE · E|h|²) with ``E|h|² = 1``.

    ``NMSE = E‖Ĥ − H‖² / E‖H‖²``. Input and output ``[..., N_R, N_T]`` complex.
    ``nmse = 0`` returns ``h`` unchanged. The error is drawn in single precision and cast, so
    single- and double-precision runs of one seed see the same estimate.
    """
    if nmse < 0:
        raise ValueError(f"CSI NMSE must be >= 0, got {nmse}")
    if nmse == 0:
        return h
    std = (nmse / 2) ** 0.5
    # drawn in single precision whatever h's dtype: single and double runs see the same error
    re = torch.randn(h.shape, generator=generator, dtype=torch.float32, device=h.device)
    im = torch.randn(h.shape, generator=generator, dtype=torch.float32, device=h.device)
    return h + std * torch.complex(re, im).to(h.dtype)

