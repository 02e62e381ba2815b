"""The transmitter's and the receiver's latents: two different encoders of the local zoo, or the
paper's setting (ViT-Small TX, ViT-Base RX on CIFAR-10) from local files.

The result is a :class:`scenarios.latents.LatentData` with the TX as "AP" and one user, the RX,
whose private classifier is its zoo probe (trained on its own frozen train latents).
"""
from __future__ import annotations

from pathlib import Path

from protocol.config import ConfigError
from scenarios.latents import Classifier, LatentData, UserLatents, check_latents
from scenarios.single_link.config import SingleLinkConfig

__all__ = ["load_link_latents", "check_paper_files", "PAPER_TX", "PAPER_RX"]

PAPER_TX = ("paper-vit-small", "vit_small_patch16_224")
PAPER_RX = ("paper-vit-base", "vit_base_patch16_224")


def _pair(tx: str, rx: str, cfg: SingleLinkConfig, dataset: str, data_root: Path | None) -> LatentData:
    from zoo import load_latents

    kw = dict(cache_dir=cfg.cache_dir, profile=cfg.zoo_profile, dataset=dataset, data_root=data_root)
    try:
        a = load_latents(tx, **kw)
        b = load_latents(rx, **kw)
    except FileNotFoundError as e:
        raise ConfigError(str(e)) from None
    user = UserLatents(rx, b.train, b.test, Classifier(b.probe.weight, b.probe.bias))
    data = LatentData(ap_name=tx, ap_train=a.train, ap_test=a.test, users=[user], train_labels=a.train_labels,
                      test_labels=a.test_labels, source=f"zoo:{dataset}/{cfg.zoo_profile}")
    check_latents(data)
    return data


def check_paper_files(cfg: SingleLinkConfig) -> Path:
    """The CIFAR-10 folder of the paper setting; a :class:`ConfigError` naming what is missing."""
    missing = []
    if cfg.cifar_dir is None:
        missing.append("--cifar-dir (folder holding cifar-10-batches-py)")
    elif not ((cfg.cifar_dir / "cifar-10-batches-py" / "test_batch").exists()
              or (cfg.cifar_dir / "test_batch").exists()):
        missing.append(f"CIFAR-10 python batches under {cfg.cifar_dir} (cifar-10-batches-py/data_batch_1…5, test_batch)")
    for flag, path in (("--tx-weights", cfg.tx_weights), ("--rx-weights", cfg.rx_weights)):
        if path is None:
            missing.append(f"{flag} (local timm checkpoint file)")
        elif not path.is_file():
            missing.append(f"{flag} file {path}")
    if missing:
        raise ConfigError("paper setting needs local files; missing: " + "; ".join(missing))
    return cfg.cifar_dir.parent if (cfg.cifar_dir / "test_batch").exists() else cfg.cifar_dir


def _register_paper_encoders(cfg: SingleLinkConfig) -> None:
    from zoo import register_encoder, timm_spec

    for (name, model), weights in ((PAPER_TX, cfg.tx_weights), (PAPER_RX, cfg.rx_weights)):
        register_encoder(timm_spec(model, checkpoint_path=weights, name=name, num_classes=1000), overwrite=True)


def load_link_latents(cfg: SingleLinkConfig) -> LatentData:
    """TX and RX latents of ``cfg``: the zoo pair, or the paper's ViTs on CIFAR-10 (``cfg.paper``)."""
    if cfg.paper:
        root = check_paper_files(cfg)
        _register_paper_encoders(cfg)
        return _pair(PAPER_TX[0], PAPER_RX[0], cfg, "cifar-10", root)
    from zoo import list_encoders

    known = list_encoders()
    for field, name in (("tx_encoder", cfg.tx_encoder), ("rx_encoder", cfg.rx_encoder)):
        if name not in known:
            raise ConfigError(f"field '{field}': unknown encoder {name!r} (known: {', '.join(known)})")
    return _pair(cfg.tx_encoder, cfg.rx_encoder, cfg, "fashion-mnist", cfg.data_dir)
