"""Latent data for a run: the AP's and each user's latents, labels and private classifiers.

Sources: the local encoder zoo (default), or a bring-your-own ``.npz`` file whose format is

- ``ap_train`` ``[N, d_T]``, ``ap_test`` ``[N_te, d_T]`` (float): the AP's latents;
- ``user{k}_train`` ``[N, d_k]``, ``user{k}_test`` ``[N_te, d_k]`` for ``k = 0 … K−1``;
- optional ``train_labels`` ``[N]``, ``test_labels`` ``[N_te]`` (int);
- optional ``user{k}_weight`` ``[C, d_k]`` and ``user{k}_bias`` ``[C]``: user k's classifier
  (trained here as a linear probe on its own train latents when absent and labels exist);
- optional ``user{k}_name`` (str).

Row ``i`` of every array is the same data point (the AP's and the users' views of it).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from protocol.config import ConfigError
from user_client.classifier import Classifier

__all__ = ["Classifier", "UserLatents", "LatentData", "load_npz_latents", "save_npz_latents", "check_latents"]


@dataclass(frozen=True)
class UserLatents:
    """One user's private latent space (never leaves the user in the Flower runtime)."""

    name: str
    train: np.ndarray  # [N, d_k]
    test: np.ndarray  # [N_te, d_k]
    classifier: Classifier | None = None

    @property
    def dim(self) -> int:
        return int(self.train.shape[1])


@dataclass(frozen=True)
class LatentData:
    """AP latents, users' latents and labels, rows aligned across all of them."""

    ap_name: str
    ap_train: np.ndarray
    ap_test: np.ndarray
    users: list[UserLatents]
    train_labels: np.ndarray | None = None
    test_labels: np.ndarray | None = None
    source: str = "zoo"
    meta: dict = field(default_factory=dict)


def check_latents(data: LatentData) -> None:
    """Raise :class:`ConfigError` naming the array that is malformed."""
    n, n_te = data.ap_train.shape[0], data.ap_test.shape[0]
    arrays = {"ap_train": data.ap_train, "ap_test": data.ap_test}
    for k, u in enumerate(data.users):
        arrays[f"user{k}_train"] = u.train
        arrays[f"user{k}_test"] = u.test
    for name, a in arrays.items():
        if a.ndim != 2:
            raise ConfigError(f"latents: '{name}' must be 2-D [samples, dim], got shape {a.shape}")
        if not np.isfinite(a).all():
            raise ConfigError(f"latents: '{name}' contains NaN or Inf")
        rows = n if name.endswith("train") else n_te
        if a.shape[0] != rows:
            raise ConfigError(f"latents: '{name}' has {a.shape[0]} rows, expected {rows} (rows must align)")
    if data.ap_test.shape[1] != data.ap_train.shape[1]:
        raise ConfigError("latents: 'ap_test' and 'ap_train' have different dimensions")
    for k, u in enumerate(data.users):
        if u.test.shape[1] != u.train.shape[1]:
            raise ConfigError(f"latents: 'user{k}_test' and 'user{k}_train' have different dimensions")
        if u.classifier is not None and u.classifier.weight.shape[1] != u.dim:
            raise ConfigError(
                f"latents: 'user{k}_weight' has {u.classifier.weight.shape[1]} columns, latent dim is {u.dim}"
            )
    if data.test_labels is not None and data.test_labels.shape[0] != n_te:
        raise ConfigError("latents: 'test_labels' length does not match 'ap_test'")
    if data.train_labels is not None and data.train_labels.shape[0] != n:
        raise ConfigError("latents: 'train_labels' length does not match 'ap_train'")


def load_npz_latents(path: Path, train_probe=None) -> LatentData:
    """Load bring-your-own latents (format in the module docstring).

    ``train_probe(train_latents, labels) -> Classifier`` trains a missing classifier.
    """
    try:
        f = np.load(path, allow_pickle=False)
    except FileNotFoundError as e:
        raise ConfigError(f"latents file not found: {path}") from e
    except (ValueError, OSError) as e:
        raise ConfigError(f"latents file {path} is not a readable .npz: {e}") from e
    with f:
        keys = set(f.keys())
        for key in ("ap_train", "ap_test"):
            if key not in keys:
                raise ConfigError(f"latents: file {path} has no array '{key}'")
        train_labels = f["train_labels"].astype(np.int64) if "train_labels" in keys else None
        test_labels = f["test_labels"].astype(np.int64) if "test_labels" in keys else None
        users = []
        k = 0
        while f"user{k}_train" in keys:
            if f"user{k}_test" not in keys:
                raise ConfigError(f"latents: 'user{k}_train' present but 'user{k}_test' missing")
            train = f[f"user{k}_train"].astype(np.float32)
            clf = None
            if f"user{k}_weight" in keys:
                bias = f[f"user{k}_bias"] if f"user{k}_bias" in keys else np.zeros(f[f"user{k}_weight"].shape[0])
                clf = Classifier(f[f"user{k}_weight"].astype(np.float64), bias.astype(np.float64))
            elif (train_labels is not None and train_probe is not None and np.isfinite(train).all()
                  and train.ndim == 2 and train.shape[0] == train_labels.shape[0]):  # else check_latents says what is wrong
                clf = train_probe(train, train_labels)
            name = str(f[f"user{k}_name"]) if f"user{k}_name" in keys else f"user{k}"
            users.append(UserLatents(name, train, f[f"user{k}_test"].astype(np.float32), clf))
            k += 1
        if not users:
            raise ConfigError(f"latents: file {path} has no user arrays ('user0_train', …)")
        data = LatentData(
            ap_name=str(f["ap_name"]) if "ap_name" in keys else "ap",
            ap_train=f["ap_train"].astype(np.float32),
            ap_test=f["ap_test"].astype(np.float32),
            users=users,
            train_labels=train_labels,
            test_labels=test_labels,
            source=str(path),
        )
    check_latents(data)
    return data


def save_npz_latents(data: LatentData, path: Path) -> Path:
    """Write ``data`` in the bring-your-own format (the inverse of :func:`load_npz_latents`)."""
    arrays: dict[str, np.ndarray] = {"ap_train": data.ap_train, "ap_test": data.ap_test,
                                     "ap_name": np.array(data.ap_name)}
    if data.train_labels is not None:
        arrays["train_labels"] = data.train_labels
    if data.test_labels is not None:
        arrays["test_labels"] = data.test_labels
    for k, u in enumerate(data.users):
        arrays[f"user{k}_train"], arrays[f"user{k}_test"] = u.train, u.test
        arrays[f"user{k}_name"] = np.array(u.name)
        if u.classifier is not None:
            arrays[f"user{k}_weight"], arrays[f"user{k}_bias"] = u.classifier.weight, u.classifier.bias
    from protocol.atomic import write_npz_atomic

    write_npz_atomic(Path(path), **arrays)
    return Path(path)
