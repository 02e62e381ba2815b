"""Where a run's latents come from: the local encoder zoo or a bring-your-own file."""
from __future__ import annotations

import dataclasses

from protocol.config import ConfigError, RunConfig, user_encoder_names
from scenarios.latents import Classifier, LatentData, UserLatents, check_latents, load_npz_latents

__all__ = ["load_run_latents", "zoo_latents", "candidate_users"]


def zoo_latents(cfg: RunConfig) -> LatentData:
    """Latents of the AP's and the users' zoo encoders (built on first use)."""
    from zoo import list_encoders, load_latents

    names = user_encoder_names(cfg, list_encoders())
    kw = dict(cache_dir=cfg.cache_dir, profile=cfg.zoo_profile, data_root=cfg.data_dir)
    try:
        ap = load_latents(cfg.ap_encoder, **kw)
        cache = {n: load_latents(n, **kw) for n in dict.fromkeys(names)}
    except FileNotFoundError as e:
        raise ConfigError(str(e)) from None
    users = [
        UserLatents(n, cache[n].train, cache[n].test, Classifier(cache[n].probe.weight, cache[n].probe.bias))
        for n in names
    ]
    data = LatentData(
        ap_name=cfg.ap_encoder, ap_train=ap.train, ap_test=ap.test, users=users,
        train_labels=ap.train_labels, test_labels=ap.test_labels, source=f"zoo:{cfg.zoo_profile}",
    )
    check_latents(data)
    return data


def _probe(train, labels) -> Classifier:
    from zoo import train_probe

    p = train_probe(train, labels)
    return Classifier(p.weight, p.bias)


def _select_users(data: LatentData, cfg: RunConfig) -> LatentData:
    """The file's users named in ``cfg.user_encoders``, cycled to ``cfg.users`` (names may repeat)."""
    by_name = {u.name: u for u in data.users}
    for name in cfg.user_encoders:
        if name not in by_name:
            raise ConfigError(f"field 'user_encoders': no user {name!r} in {cfg.latents} (has: {', '.join(by_name)})")
    users = [by_name[cfg.user_encoders[k % len(cfg.user_encoders)]] for k in range(cfg.users)]
    return dataclasses.replace(data, users=users)


def load_run_latents(cfg: RunConfig) -> LatentData:
    """Bring-your-own latents when ``cfg.latents`` is set (``cfg.user_encoders`` then picks the
    file's users by name), else the zoo."""
    if cfg.latents is not None:
        data = load_npz_latents(cfg.latents, train_probe=_probe)
        if cfg.user_encoders:
            return _select_users(data, cfg)
        if len(data.users) < cfg.users:
            raise ConfigError(f"field 'users': {cfg.users} requested but {cfg.latents} holds {len(data.users)} users")
        return data
    return zoo_latents(cfg)


def candidate_users(cfg: RunConfig) -> LatentData:
    """Every user latent space on offer, once each: the zoo's encoders but the AP's, or every
    user of a ``--latents`` file."""
    if cfg.latents is not None:
        return load_npz_latents(cfg.latents, train_probe=_probe)
    from zoo import list_encoders

    pool = [n for n in list_encoders() if n != cfg.ap_encoder]
    return zoo_latents(cfg.model_copy(update={"user_encoders": tuple(pool), "users": len(pool)}))
