"""A user's private classifier: a linear probe (multinomial logistic regression) on frozen latents.

Training standardises the latents, :math:`\\tilde z = (z - \\mu) / \\sigma`, and minimises

.. math:: \\frac{1}{N} \\sum_i \\mathrm{CE}(\\tilde W \\tilde z_i + \\tilde b, y_i)
          + \\frac{\\lambda}{2} \\lVert \\tilde W \\rVert_F^2

by full-batch L-BFGS; the standardisation is then folded into the weights,
:math:`W = \\tilde W \\operatorname{diag}(1/\\sigma)`, :math:`b = \\tilde b - W \\mu`, so the probe
acts on raw latents: :math:`\\hat y = \\arg\\max_c (W z + b)_c`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import overload

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["Probe", "train_probe"]


@dataclass(frozen=True)
class Probe:
    """Linear classifier on raw latents: ``logits = latents @ weight.T + bias``."""

    weight: np.ndarray  # float32, [C, d]
    bias: np.ndarray  # float32, [C]

    @property
    def num_classes(self) -> int:
        return int(self.weight.shape[0])

    @property
    def latent_dim(self) -> int:
        return int(self.weight.shape[1])

    @overload
    def logits(self, latents: np.ndarray) -> np.ndarray: ...
    @overload
    def logits(self, latents: torch.Tensor) -> torch.Tensor: ...

    def logits(self, latents):
        """``[N, d]`` latents (numpy or torch, real) -> ``[N, C]`` logits of the same kind."""
        if torch.is_tensor(latents):
            w = torch.as_tensor(self.weight, dtype=latents.dtype, device=latents.device)
            b = torch.as_tensor(self.bias, dtype=latents.dtype, device=latents.device)
            return latents @ w.T + b
        latents = np.asarray(latents)
        return latents @ self.weight.T.astype(latents.dtype, copy=False) + self.bias

    def predict(self, latents: np.ndarray | torch.Tensor) -> np.ndarray:
        """Predicted labels, int64 ``[N]``."""
        logits = self.logits(latents)
        if torch.is_tensor(logits):
            logits = logits.detach().cpu().numpy()
        return np.asarray(logits).argmax(axis=1).astype(np.int64)

    def accuracy(self, latents: np.ndarray | torch.Tensor, labels: np.ndarray) -> float:
        """Fraction of ``labels`` (``[N]``) predicted right."""
        return float(np.mean(self.predict(latents) == np.asarray(labels)))

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"weight": self.weight, "bias": self.bias}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Probe:
        return cls(weight=np.asarray(arrays["weight"], dtype=np.float32),
                   bias=np.asarray(arrays["bias"], dtype=np.float32))


def train_probe(
    latents: np.ndarray,
    labels: np.ndarray,
    num_classes: int | None = None,
    l2: float = 1e-3,
    max_iter: int = 200,
) -> Probe:
    """Fit a :class:`Probe` on ``latents: [N, d]`` with ``labels: [N]`` int (deterministic)."""
    z = torch.as_tensor(np.asarray(latents), dtype=torch.float32)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
    c = int(num_classes if num_classes is not None else int(y.max()) + 1)
    mu = z.mean(0)
    sigma = z.std(0).clamp_min(1e-6)
    zs = (z - mu) / sigma
    w = torch.zeros(c, z.shape[1], dtype=torch.float32, requires_grad=True)
    b = torch.zeros(c, dtype=torch.float32, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=max_iter, history_size=20,
                            tolerance_grad=1e-6, tolerance_change=1e-9,
                            line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(zs @ w.T + b, y) + 0.5 * l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        weight = w / sigma
        bias = b - weight @ mu
    return Probe(weight=weight.numpy().astype(np.float32), bias=bias.numpy().astype(np.float32))
