"""Build profiles of the zoo: every training, latent and probe budget in one place."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PROFILES", "ZooProfile", "get_profile"]


@dataclass(frozen=True)
class ZooProfile:
    """Budgets for building every encoder of the zoo once."""

    name: str  # "default" (the real zoo) or "tiny" (tests)
    train_images: int  # images of the train split an encoder may see (before objective filters)
    max_steps: int  # optimizer steps per encoder (AdamW, cosine schedule)
    batch_size: int  # images per step
    warmup_steps: int  # linear learning-rate warm-up
    latent_train: int  # train-split images whose latents are cached (same for every encoder)
    latent_test: int  # test-split images whose latents are cached (same for every encoder)
    probe_iters: int  # L-BFGS iterations of the linear probe
    seed: int = 0  # seeds image subsets, initialisation and augmentation


PROFILES: dict[str, ZooProfile] = {
    p.name: p
    for p in (
        ZooProfile(name="default", train_images=16_000, max_steps=200, batch_size=128,
                   warmup_steps=20, latent_train=20_000, latent_test=10_000, probe_iters=200),
        ZooProfile(name="tiny", train_images=2_048, max_steps=16, batch_size=64,
                   warmup_steps=2, latent_train=3_000, latent_test=1_000, probe_iters=50),
    )
}


def get_profile(profile: str | ZooProfile) -> ZooProfile:
    """Look a profile up by name (a :class:`ZooProfile` is returned unchanged)."""
    if isinstance(profile, ZooProfile):
        return profile
    try:
        return PROFILES[profile]
    except KeyError:
        raise KeyError(f"unknown zoo profile {profile!r}; known: {sorted(PROFILES)}") from None
