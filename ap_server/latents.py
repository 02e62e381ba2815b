"""Where the AP finds its own latents: its zoo encoder's cache or the ``ap_*`` arrays of a file."""
from __future__ import annotations

import numpy as np

from protocol.config import ConfigError, RunConfig

__all__ = ["load_ap_latents"]


def load_ap_latents(cfg: RunConfig) -> tuple[str, np.ndarray, np.ndarray]:
    """``(name, train [N, d_T], test [N_te, d_T])`` of the AP."""
    if cfg.latents is not None:
        try:
            with np.load(cfg.latents, allow_pickle=False) as f:
                train, test = f["ap_train"].astype(np.float32), f["ap_test"].astype(np.float32)
                name = str(f["ap_name"]) if "ap_name" in f else "ap"
        except (FileNotFoundError, OSError, KeyError, ValueError) as e:
            raise ConfigError(f"latents: cannot read the AP's arrays from {cfg.latents}: {e}") from None
        if not (np.isfinite(train).all() and np.isfinite(test).all()):
            raise ConfigError("latents: 'ap_train'/'ap_test' contain NaN or Inf")
        return name, train, test
    from zoo import list_encoders, load_latents

    if cfg.ap_encoder not in list_encoders():
        raise ConfigError(f"field 'ap_encoder': unknown encoder {cfg.ap_encoder!r}")
    try:
        lat = load_latents(cfg.ap_encoder, cache_dir=cfg.cache_dir, profile=cfg.zoo_profile, data_root=cfg.data_dir)
    except FileNotFoundError as e:
        raise ConfigError(str(e)) from None
    return cfg.ap_encoder, lat.train, lat.test
