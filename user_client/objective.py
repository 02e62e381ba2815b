"""The user's alignment objective in sufficient-statistics form (DESIGN.md §3, problem)."""
from __future__ import annotations

import torch

__all__ = ["user_objective", "profiled_objective"]


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


def profiled_objective(
    f: torch.Tensor, h: torch.Tensor, rxx: torch.Tensor | None, tyy: torch.Tensor, ryy_trace: torch.Tensor,
    noise_var: torch.Tensor,
) -> torch.Tensor:
    r""":func:`user_objective` at the optimal ``G_k`` (the G-step), in ``M``-dimensional form.

    With ``C = H F R_xx Fᴴ Hᴴ + σ² I``, ``G = R_yx (H F)ᴴ C⁻¹`` and ``T = R_yxᴴ R_yx``, both the
    cross and the quadratic + noise terms equal ``tr(C⁻¹ H F T Fᴴ Hᴴ)``, so

    .. math:: J_k = \mathrm{tr} R_{yy} - \mathrm{tr}\big(C^{-1} H F T F^H H^H\big).

    Inputs: ``f`` ``[1 or K, M, m]``, ``h`` ``[K, R, M]``, ``rxx`` ``[m, m]`` or None (whitened,
    ``I``), ``tyy`` ``[K, m, m]``, ``ryy_trace`` ``[K]``, ``noise_var`` ``[K]``. Output ``[K]`` real.
    """
    from user_client.gstep import hermitian_inverse

    r = h.shape[-2]
    eye = torch.eye(r, dtype=h.dtype, device=h.device)
    w = f @ f.mH if rxx is None else f @ rxx @ f.mH
    cov = h @ w @ h.mH + noise_var.to(h.real.dtype).reshape(-1, 1, 1) * eye
    q = h @ (f @ tyy @ f.mH) @ h.mH
    explained = (hermitian_inverse(cov) * q.mT).sum(dim=(-2, -1)).real
    return ryy_trace.to(h.real.dtype) - explained
