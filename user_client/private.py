"""Where a user device finds its private data: its zoo encoder's cached latents and probe,
or its arrays in a bring-your-own latents file (``user{k}_*`` keys, see scenarios/latents.py)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from protocol.config import ConfigError, RunConfig, user_encoder_names
from protocol.runtime_config import UserSettings
from user_client.classifier import Classifier
from user_client.device import PrivateData

__all__ = ["load_private"]


def _from_npz(path: Path, k: int) -> PrivateData:
    try:
        f = np.load(path, allow_pickle=False)
    except (FileNotFoundError, OSError, ValueError) as e:
        raise ConfigError(f"latents file {path} cannot be read: {e}") from None
    with f:
        keys = set(f.keys())
        if f"user{k}_train" not in keys or f"user{k}_test" not in keys:
            raise ConfigError(f"latents: {path} has no arrays for user {k} ('user{k}_train', 'user{k}_test')")
        train, test = f[f"user{k}_train"].astype(np.float32), f[f"user{k}_test"].astype(np.float32)
        labels = f["test_labels"].astype(np.int64) if "test_labels" in keys else None
        clf = None
        if f"user{k}_weight" in keys:
            bias = f[f"user{k}_bias"] if f"user{k}_bias" in keys else np.zeros(f[f"user{k}_weight"].shape[0])
            clf = Classifier(f[f"user{k}_weight"].astype(np.float64), bias.astype(np.float64))
        elif "train_labels" in keys:
            from zoo import train_probe

            p = train_probe(train, f["train_labels"].astype(np.int64))
            clf = Classifier(p.weight, p.bias)
        name = str(f[f"user{k}_name"]) if f"user{k}_name" in keys else f"user{k}"
    if not (np.isfinite(train).all() and np.isfinite(test).all()):
        raise ConfigError(f"latents: user {k}'s arrays contain NaN or Inf")
    return PrivateData(name, train, test, labels, clf)


def load_private(settings: UserSettings, run: RunConfig) -> PrivateData:
    """User ``settings.user_id``'s private data; node settings win over the run's defaults."""
    latents = settings.latents or run.latents
    if latents is not None:
        return _from_npz(Path(latents), settings.user_id)
    from zoo import list_encoders, load_latents

    known = list_encoders()
    if settings.encoder is not None:
        if settings.encoder not in known:
            raise ConfigError(f"field 'encoder': unknown encoder {settings.encoder!r} (known: {', '.join(known)})")
        name = settings.encoder
    else:
        cycled = user_encoder_names(run.model_copy(update={"users": settings.user_id + 1}), known)
        name = cycled[settings.user_id]
    try:
        lat = load_latents(name, cache_dir=settings.cache_dir or run.cache_dir,
                           profile=settings.zoo_profile or run.zoo_profile, data_root=settings.data_dir or run.data_dir)
    except FileNotFoundError as e:
        raise ConfigError(str(e)) from None
    return PrivateData(name, lat.train, lat.test, lat.test_labels, Classifier(lat.probe.weight, lat.probe.bias))
