r"""The AP's local F-step, one per user (DESIGN.md §3, step 2).

``ρ`` is per pilot: the DESIGN.md Sylvester equation with penalty ``n ρ``. Divided by n
and multiplied on the right by ``R_xx = X X^H / n`` it reads

.. math:: (A_k^H A_k)\, F_k\, R_{xx} + ρ F_k = A_k^H R_{yx,k} + ρ (Z - U)

Batched over users: ``gram = A^H A`` ``[K, M, M]``, ``cross = A^H R_yx`` ``[K, M, m]``,
``Z``, ``U`` ``[1 or K, M, m]``.
"""
from __future__ import annotations

import torch

__all__ = ["local_f_step_closed", "local_f_step_sylvester", "solve_hermitian_sylvester", "regularised_inverse"]


def _per_batch(rho: float | torch.Tensor, like: torch.Tensor) -> float | torch.Tensor:
    """A python ``ρ`` as is; a tensor ``ρ`` ``[B]`` as ``[B, 1, 1]`` in ``like``'s real dtype."""
    if isinstance(rho, torch.Tensor):
        return rho.to(device=like.device, dtype=like.real.dtype).reshape(-1, 1, 1)
    return rho


def local_f_step_closed(
    gram: torch.Tensor, cross: torch.Tensor, z: torch.Tensor, u: torch.Tensor, rho: float | torch.Tensor
) -> torch.Tensor:
    r"""Closed form for whitened pilots (``R_xx = I``), DESIGN.md §3 step 2.

    .. math:: F_k = (A_k^H A_k + ρ I)^{-1} (A_k^H R_{yx,k} + ρ (Z - U))

    ``ρ``: a number, or ``[1 or K]`` (one per batch element of ``Z``, step 6).
    """
    r = _per_batch(rho, gram)
    if isinstance(r, torch.Tensor):
        rhs = cross + r * (z - u)
        lhs = gram + r * torch.eye(gram.shape[-1], dtype=gram.dtype, device=gram.device)
    else:
        rhs = torch.add(cross, z - u, alpha=r)
        lhs = gram.clone()
        lhs.diagonal(dim1=-2, dim2=-1).add_(r)
    # M x M and regularised by rho I: inverse-then-multiply is several times faster on CPU
    # than cholesky_solve with the wide [M, m] right-hand side (python -m benchmarks)
    return regularised_inverse(lhs, r) @ rhs


def regularised_inverse(lhs: torch.Tensor, rho: float | torch.Tensor) -> torch.Tensor:
    """``(gram + ρI)⁻¹`` for ``lhs = gram + ρ I`` (``gram`` Hermitian PSD, ``ρ`` a number or ``[B, 1, 1]``),
    by Cholesky. When single-precision round-off has made ``lhs`` indefinite — a gram far larger than
    ρ (large M, the task metric) — Cholesky fails; the inverse is then formed in double precision by a
    Hermitian eigendecomposition with the eigenvalues held at ``≥ ρ``, their exact lower bound (an LU
    inverse of the indefinite matrix made a 4×4, c = 20 widely-linear run diverge)."""
    chol, info = torch.linalg.cholesky_ex(lhs)
    if bool((info != 0).any()):
        return _clamped_inverse(lhs, rho)
    return torch.cholesky_inverse(chol)


def _clamped_inverse(lhs: torch.Tensor, rho: float | torch.Tensor) -> torch.Tensor:
    wide = torch.complex128 if lhs.is_complex() else torch.float64
    lam, v = torch.linalg.eigh(((lhs + lhs.mH) / 2).to(wide))
    floor = rho.to(lam.dtype).reshape(-1, 1) if isinstance(rho, torch.Tensor) else rho
    lam = torch.maximum(lam, torch.as_tensor(floor, dtype=lam.dtype, device=lam.device).expand_as(lam))
    return ((v / lam.unsqueeze(-2).to(v.dtype)) @ v.mH).to(lhs.dtype)


def solve_hermitian_sylvester(
    a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, rho: float | torch.Tensor
) -> torch.Tensor:
    r"""Solve ``A X B + ρ X = C`` for Hermitian PSD ``A`` ``[..., M, M]`` and ``B`` ``[..., m, m]``.

    Eigendecompositions ``A = P Λ P^H``, ``B = Q Μ Q^H`` diagonalise it:
    ``X = P [ (P^H C Q) / (λ_i μ_j + ρ) ] Q^H``. Batched; ``ρ`` scalar or ``[...]``.
    """
    lam, p = torch.linalg.eigh(a)
    mu, q = torch.linalg.eigh(b)
    rho_t = torch.as_tensor(rho, dtype=lam.dtype, device=lam.device)
    if rho_t.dim():
        rho_t = rho_t[..., None, None]
    ct = p.mH @ c @ q
    denom = lam[..., :, None] * mu[..., None, :] + rho_t
    return p @ (ct / denom.to(ct.dtype)) @ q.mH


def local_f_step_sylvester(
    gram: torch.Tensor, cross: torch.Tensor, rxx: torch.Tensor, z: torch.Tensor, u: torch.Tensor,
    rho: float | torch.Tensor,
) -> torch.Tensor:
    r"""General F-step (any ``R_xx``): the Sylvester equation of DESIGN.md §3 step 2,
    solved by eigendecompositions of the two Hermitian matrices (batched); ``ρ`` as in
    :func:`local_f_step_closed`."""
    r = _per_batch(rho, gram)
    if isinstance(r, torch.Tensor):
        return solve_hermitian_sylvester(gram, rxx, cross + r * (z - u), r.expand(gram.shape[0], 1, 1)[:, 0, 0])
    return solve_hermitian_sylvester(gram, rxx, cross + r * (z - u), r)
