"""Linear CKA (centred kernel alignment) between latent spaces, and a matrix over the zoo.

.. math:: \\mathrm{CKA}(X, Y) = \\frac{\\lVert \\tilde Y^\\top \\tilde X \\rVert_F^2}
          {\\lVert \\tilde X^\\top \\tilde X \\rVert_F \\, \\lVert \\tilde Y^\\top \\tilde Y \\rVert_F}

with :math:`\\tilde X, \\tilde Y` the column-centred ``[N, d1]`` and ``[N, d2]`` latents of the
same ``N`` images (Kornblith et al., 2019). It is 1 for identical spaces, invariant to orthogonal
transforms and isotropic scaling, but not to arbitrary invertible linear maps.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["cka_matrix", "linear_cka"]


def _centred(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"latents must be [N, d], got shape {x.shape}")
    return x - x.mean(axis=0, keepdims=True)


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA of ``x: [N, d1]`` and ``y: [N, d2]`` (rows = the same images); in [0, 1]."""
    if len(x) != len(y):
        raise ValueError(f"row counts differ: {len(x)} vs {len(y)}")
    xc, yc = _centred(x), _centred(y)
    cross = np.linalg.norm(yc.T @ xc) ** 2
    norm = np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc)
    return float(cross / norm) if norm > 0 else 0.0


def cka_matrix(latents: Mapping[str, np.ndarray]) -> tuple[list[str], np.ndarray]:
    """Pairwise linear CKA: returns ``(names, [M, M] float64)`` in the mapping's order."""
    names = list(latents)
    centred = {n: _centred(latents[n]) for n in names}
    self_norm = {n: np.linalg.norm(centred[n].T @ centred[n]) for n in names}
    m = np.eye(len(names))
    for i, a in enumerate(names):
        for j in range(i + 1, len(names)):
            b = names[j]
            denom = self_norm[a] * self_norm[b]
            val = np.linalg.norm(centred[b].T @ centred[a]) ** 2 / denom if denom > 0 else 0.0
            m[i, j] = m[j, i] = val
    return names, m
