"""The user's alignment objective in sufficient-statistics form (DESIGN.md §3, problem)."""
from __future__ import annotations

import torch

__all__ = ["user_objective"]


def user_objective(
    g: torch.Tensor, hf: torch.Tensor, rxx: torch.Tensor, ryx: torch.Tensor, ryy_trace: torch.Tensor, noise_var: torch.Tensor
) -> torch.Tensor:
    r"""Per-user objective divided by n (DESIGN.md §3):

    .. math:: J_k = \tfrac1n‖Y_k − G_k H_k F X‖_F^2 + σ_k^2 ‖G_k‖_F^2
              = \mathrm{tr} R_{yy} − 2\,\mathrm{Re\,tr}(G H F R_{xy}) + \mathrm{tr}(G H F R_{xx} F^H H^H G^H) + σ^2‖G‖^2

    Inputs: ``g`` ``[K, p, R]``, ``hf`` ``[K, R, m]``, ``rxx`` ``[m, m]``, ``ryx`` ``[K, p, m]``,
    ``ryy_trace`` ``[K]`` real, ``noise_var`` ``[K]``. Output ``[K]`` real.
    """
    a = g @ hf
    cross = (a * ryx.conj()).sum(dim=(-2, -1)).real
    quad = ((a @ rxx) * a.conj()).sum(dim=(-2, -1)).real
    reg = noise_var.to(g.real.dtype) * g.abs().pow(2).sum(dim=(-2, -1))
    return ryy_trace.to(g.real.dtype) - 2 * cross + quad + reg
