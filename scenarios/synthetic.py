"""Synthetic latent spaces for unit tests and benchmarks (clearly not real encoders).

A shared class-structured factor ``s`` is seen by the AP through one random nonlinear
map and by each user through another, plus noise; labels come from the classes and each
user's classifier is a least-squares probe on its own train latents.
"""
from __future__ import annotations

import numpy as np

from scenarios.latents import Classifier, LatentData, UserLatents

__all__ = ["make_synthetic", "least_squares_probe"]


def least_squares_probe(train: np.ndarray, labels: np.ndarray, ridge: float = 1e-2) -> Classifier:
    """A ridge least-squares classifier on one-hot targets (fast, deterministic)."""
    classes = int(labels.max()) + 1
    x = np.hstack([train, np.ones((train.shape[0], 1))]).astype(np.float64)
    t = np.eye(classes)[labels]
    w = np.linalg.solve(x.T @ x + ridge * len(x) * np.eye(x.shape[1]), x.T @ t)
    return Classifier(weight=w[:-1].T.copy(), bias=w[-1].copy())


def make_synthetic(
    users: int = 4,
    ap_dim: int = 32,
    user_dims: tuple[int, ...] = (24, 40, 16, 32),
    train: int = 2000,
    test: int = 500,
    factors: int = 12,
    classes: int = 5,
    noise: float = 0.1,
    seed: int = 0,
) -> LatentData:
    """Synthetic :class:`LatentData` with ``users`` users (dims cycled from ``user_dims``)."""
    rng = np.random.default_rng(seed)
    n = train + test
    labels = rng.integers(0, classes, n)
    centres = rng.normal(size=(classes, factors)) * 1.5
    s = centres[labels] + rng.normal(size=(n, factors))

    def view(dim: int) -> np.ndarray:
        a = rng.normal(size=(factors, dim)) / np.sqrt(factors)
        b = rng.normal(size=dim) * 0.1
        return (np.tanh(s @ a + b) + noise * rng.normal(size=(n, dim))).astype(np.float32)

    ap = view(ap_dim)
    us = []
    for k in range(users):
        z = view(user_dims[k % len(user_dims)])
        us.append(UserLatents(f"synthetic-{k}", z[:train], z[train:], least_squares_probe(z[:train], labels[:train])))
    return LatentData(
        ap_name="synthetic-ap", ap_train=ap[:train], ap_test=ap[train:], users=us,
        train_labels=labels[:train], test_labels=labels[train:], source="synthetic",
    )
