r"""Robust global F-steps (beyond the paper): combine the users' local ``F_k`` so that one
faulty or adversarial user cannot drag the shared pre-equalizer arbitrarily far
(DESIGN.md §3 step 3, robust variant; docs/reliability.md).

Pure batched tensor functions over the user axis ``K`` of ``f_local`` ``[K, M, m]``
(complex), with ``weights`` ``[K]`` (0 = user left out this round). Output ``[1, M, m]``.
"""
from __future__ import annotations

import torch

__all__ = ["trimmed_mean", "geometric_median", "AGGREGATIONS"]

AGGREGATIONS = ("mean", "trimmed-mean", "geomedian")


def _answered(f_local: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    if weights is None:
        return f_local
    keep = weights.to(f_local.device) > 0
    if not bool(keep.any()):
        raise ValueError("no user answered this round")
    return f_local[keep]


def trimmed_mean(f_local: torch.Tensor, trim: float, weights: torch.Tensor | None = None) -> torch.Tensor:
    r"""Coordinate-wise trimmed mean, real and imaginary parts separately.

    With the ``K'`` answering users sorted per entry, ``F^{(1)} ≤ … ≤ F^{(K')}`` and
    ``b = ⌊trim · K'⌋``:

    .. math:: [F]_{ij} = \frac{1}{K' - 2b} \sum_{r=b+1}^{K'-b} [F^{(r)}]_{ij}

    ``trim = 0`` is the mean. Tolerates up to ``b`` arbitrary users per entry.
    """
    if not 0 <= trim < 0.5:
        raise ValueError(f"trim must be in [0, 0.5), got {trim}")
    pts = _answered(f_local, weights)
    k = pts.shape[0]
    b = int(trim * k)
    parts = []
    for part in (pts.real, pts.imag):
        s = part.sort(dim=0).values
        parts.append(s[b:k - b].mean(dim=0, keepdim=True))
    return torch.complex(parts[0], parts[1]).to(f_local.dtype)


def geometric_median(f_local: torch.Tensor, weights: torch.Tensor | None = None, iters: int = 100,
                     eps: float = 1e-12, tol: float = 1e-9) -> torch.Tensor:
    r"""Geometric median of the answering users' ``F_k`` (Frobenius norm), by Weiszfeld's
    iteration from the coordinate-wise mean:

    .. math:: F = \arg\min_F \sum_k \|F_k - F\|_F, \qquad
              F^{(t+1)} = \frac{\sum_k F_k / \max(\|F_k - F^{(t)}\|_F, ε)}
                               {\sum_k 1 / \max(\|F_k - F^{(t)}\|_F, ε)}

    Stops when the relative step is below ``tol`` or after ``iters`` steps. Breakdown
    point 1/2: fewer than half of the users cannot move it arbitrarily far.
    """
    pts = _answered(f_local, weights)
    flat = pts.reshape(pts.shape[0], -1)
    z = flat.mean(dim=0)
    for _ in range(iters):
        d = torch.linalg.vector_norm(flat - z, dim=1).clamp_min(eps)
        w = (1.0 / d).to(flat.dtype)
        new = (w[:, None] * flat).sum(dim=0) / w.sum()
        step = float(torch.linalg.vector_norm(new - z)) / max(float(torch.linalg.vector_norm(new)), 1e-30)
        z = new
        if step < tol:
            break
    return z.reshape(1, *pts.shape[1:])
