"""Channel uses: the block-diagonal ``H_k = I_c ⊗ H̄_k`` of c uses of one fading block."""
from __future__ import annotations

import torch

__all__ = ["expand_uses", "symbols_to_uses", "uses_to_symbols"]


def expand_uses(h_bar: torch.Tensor, c: int) -> torch.Tensor:
    r"""``H = I_c ⊗ H̄`` (DESIGN.md §2).

    Input ``h_bar: [..., N_R, N_T]``; output ``[..., N_R c, N_T c]`` (block diagonal).
    Symbol ``j`` of use ``u`` sits at row/column ``u·N + j``.
    """
    if c < 1:
        raise ValueError(f"channel uses must be >= 1, got {c}")
    eye = torch.eye(c, dtype=h_bar.dtype, device=h_bar.device)
    nr, nt = h_bar.shape[-2:]
    out = eye[:, None, :, None] * h_bar[..., None, :, None, :]
    return out.reshape(*h_bar.shape[:-2], c * nr, c * nt)


def symbols_to_uses(s: torch.Tensor, n_ant: int) -> torch.Tensor:
    """``[..., N c, n] -> [..., c, N, n]``: split stacked symbols into channel uses."""
    total = s.shape[-2]
    if total % n_ant:
        raise ValueError(f"{total} symbols do not split into uses of {n_ant} antennas")
    return s.reshape(*s.shape[:-2], total // n_ant, n_ant, s.shape[-1])


def uses_to_symbols(s: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`symbols_to_uses`."""
    return s.reshape(*s.shape[:-3], s.shape[-3] * s.shape[-2], s.shape[-1])
