"""Where a run's latents come from: the local encoder zoo or a bring-your-own file."""
from __future__ import annotations

from protocol.config import ConfigError, RunConfig, user_encoder_names
from scenarios.latents import Classifier, LatentData, UserLatents, check_latents, load_npz_latents

__all__ = ["load_run_latents", "zoo_latents"]


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


def load_run_latents(cfg: RunConfig) -> LatentData:
    """Bring-your-own latents when ``cfg.latents`` is set, else the zoo."""
    if cfg.latents is not None:
        data = load_npz_latents(cfg.latents, train_probe=_probe)
        if len(data.users) < cfg.users:
            raise ConfigError(f"field 'users': {cfg.users} requested but {cfg.latents} holds {len(data.users)} users")
        return data
    return zoo_latents(cfg)
