"""Feasible, informed initial pre-equalizers ``F₀`` (DESIGN.md §3, initialisation)."""
from __future__ import annotations

import torch

from ap_server.admm import real_matrix

__all__ = ["initial_f"]


def initial_f(
    kind: str, symbols: int, chol: torch.Tensor, budget: float, generator: torch.Generator | None = None,
    real: bool = False,
) -> torch.Tensor:
    r"""``F₀`` ``[1, M, m]`` with ``tr(F₀F₀^H) = P_T``.

    - ``"pca"``: the leading ``M`` principal directions of the AP pilots, expressed in the
      whitened coordinates the ADMM works in (top eigenvectors of ``L^H L``, ``L`` the
      whitening factor; for unwhitened pilots ``L`` is the covariance's Cholesky factor), each
      with its phase fixed (largest entry real positive) so F₀ does not depend on the eigensolver.
    - ``"first-k"``: the first ``M`` (whitened) features, like the First-K baseline.
    - ``"random"``: i.i.d. complex Gaussian, scaled to the budget.

    When ``M > m`` the extra rows are zero. ``real`` (widely-linear processing, DESIGN.md §2):
    the real part, so F₀ is a real map (for a real ``chol`` the ``"pca"`` and ``"first-k"`` F₀
    already are).
    """
    m = chol.shape[-1]
    dtype, device = chol.dtype, chol.device
    k = min(symbols, m)
    f = torch.zeros(symbols, m, dtype=dtype, device=device)
    if kind == "pca":
        _, vecs = torch.linalg.eigh(chol.mH @ chol)
        vecs = vecs[:, -k:].flip(-1)
        # an eigenvector's phase is arbitrary (it differs between float32/float64, CPU/GPU, LAPACK
        # builds): fix it so that each vector's largest entry is real positive, F0 is then the same
        lead = vecs.gather(0, vecs.abs().argmax(dim=0, keepdim=True))
        f[:k] = (vecs * (lead.conj() / lead.abs().clamp_min(1e-30))).mH
    elif kind == "first-k":
        f[:k, :k] = torch.eye(k, dtype=dtype, device=device)
    elif kind == "random":
        re = torch.randn(symbols, m, generator=generator, dtype=torch.float32, device=device).to(chol.real.dtype)
        im = torch.randn(symbols, m, generator=generator, dtype=torch.float32, device=device).to(chol.real.dtype)
        f = torch.complex(re, im).to(dtype)
    else:
        raise ValueError(f"unknown init {kind!r} (pca, first-k, random)")
    if real:
        f = real_matrix(f)
    f = f * torch.sqrt(budget / f.abs().pow(2).sum())
    return f.unsqueeze(0)
