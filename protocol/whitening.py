"""Pre-whitening of pilot matrices with their own statistics (DESIGN.md §2)."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from protocol.config import ConfigError

__all__ = ["Whitener", "fit_whitener", "identity_whitener"]


@dataclass(frozen=True)
class Whitener:
    r"""Affine whitening ``X_w = L^{-1}(X - μ)`` with ``L L^H = cov(X)`` (DESIGN.md §2).

    Columns are samples: ``X`` is ``[..., m, n]``. ``mean`` is ``[..., m, 1]`` and
    ``chol`` the lower-triangular ``L``, ``[..., m, m]``.
    """

    mean: torch.Tensor
    chol: torch.Tensor

    def whiten(self, x: torch.Tensor) -> torch.Tensor:
        """``[..., m, n] -> [..., m, n]``: ``L⁻¹(x − μ)`` by a triangular solve."""
        return torch.linalg.solve_triangular(self.chol, x - self.mean, upper=False)

    def unwhiten(self, xw: torch.Tensor) -> torch.Tensor:
        """Exact inverse of :meth:`whiten`: ``L x_w + μ``."""
        return self.chol @ xw + self.mean


def fit_whitener(x: torch.Tensor, ridge: float | None = None) -> Whitener:
    r"""Fit a :class:`Whitener` on pilots ``x: [..., m, n]`` (complex).

    ``cov = (x−μ)(x−μ)^H / n + ε I`` with ``ε = ridge · tr(cov)/m`` so that dead
    features (constant over the pilots) do not make ``L`` singular; ``ridge`` defaults to
    1e-6 in complex64 and 1e-10 in complex128. Raises :class:`~protocol.config.ConfigError` if ``cov`` is still not
    positive definite at the working precision (too few pilots for the dimension).
    """
    if ridge is None:
        ridge = 1e-10 if x.dtype == torch.complex128 else 1e-6
    n = x.shape[-1]
    m = x.shape[-2]
    mean = x.mean(dim=-1, keepdim=True)
    xc = x - mean
    cov = xc @ xc.mH / n
    scale = torch.diagonal(cov, dim1=-2, dim2=-1).real.sum(-1).clamp_min(1e-30) / m
    eye = torch.eye(m, dtype=x.dtype, device=x.device)
    cov = cov + (ridge * scale)[..., None, None] * eye
    chol, info = torch.linalg.cholesky_ex(cov)
    if bool((info != 0).any()):
        raise ConfigError(f"cannot whiten the pilots: the covariance of {n} pilots of a {m}-dimensional latent is "
                          f"singular at {x.dtype} precision; use clearly more pilots than {m}, or --no-whiten")
    return Whitener(mean=mean, chol=chol)


def identity_whitener(m: int, dtype: torch.dtype, device: torch.device | str = "cpu") -> Whitener:
    """A no-op whitener (whitening switched off)."""
    return Whitener(
        mean=torch.zeros(m, 1, dtype=dtype, device=device),
        chol=torch.eye(m, dtype=dtype, device=device),
    )
