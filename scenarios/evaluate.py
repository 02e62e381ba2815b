"""Per-user metrics on held-out data: alignment MSE and task accuracy (DESIGN.md §6)."""
from __future__ import annotations

import numpy as np
import torch

from scenarios.latents import LatentData
from scenarios.problem import Problem

__all__ = ["evaluate_users"]


def evaluate_users(prob: Problem, data: LatentData, y_hat: torch.Tensor) -> list[dict]:
    """MSE, NMSE, accuracy and oracle accuracy per user from decoded test latents
    ``y_hat`` ``[K, p, n_te]`` (whitened user space)."""
    n_te = y_hat.shape[-1]
    labels = data.test_labels[:n_te] if data.test_labels is not None else None
    rows = []
    for k in range(prob.users):
        user = data.users[k]
        truth = user.test[:n_te].astype(np.float64)
        est = prob.decode_user(k, y_hat[k])
        err = ((est - truth) ** 2).sum(1)
        spread = ((truth - truth.mean(0)) ** 2).sum(1).mean()
        row = {
            "id": k,
            "encoder": user.name,
            "latent_dim": user.dim,
            "mse": float(err.mean() / user.dim),
            "nmse": float(err.mean() / max(spread, 1e-30)),
            "accuracy": None,
            "oracle_accuracy": None,
        }
        if labels is not None and user.classifier is not None:
            row["accuracy"] = user.classifier.accuracy(est, labels)
            row["oracle_accuracy"] = user.classifier.accuracy(truth, labels)
        rows.append(row)
    return rows
