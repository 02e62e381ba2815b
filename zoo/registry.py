"""Registry of the encoder zoo: one frozen spec per encoder and ``create_encoder(name, **overrides)``.

Every zoo encoder is a timm model trained locally with its own objective and label set, so
that the latent spaces really differ (supervised classifiers of one data set are nearly linearly
related). Any other timm model can be used with local weights via :func:`timm_spec`.

Fashion-MNIST classes: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal,
6 Shirt, 7 Sneaker, 8 Bag, 9 Ankle boot.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

import timm
import torch

__all__ = [
    "AP_ENCODER",
    "EncoderSpec",
    "OBJECTIVES",
    "create_encoder",
    "get_spec",
    "latent_dim_of",
    "list_encoders",
    "register_encoder",
    "timm_spec",
]

OBJECTIVES = (
    "supervised",  # cross-entropy on the full label set
    "coarse-labels",  # cross-entropy on a coarser label set (label_map merges classes)
    "partial-labels",  # cross-entropy on a subset of the classes (label_map drops the others)
    "contrastive",  # SimCLR-style NT-Xent between two augmented views
    "reconstruction",  # autoencoder: a small decoder reconstructs the image from the latent
    "rotation",  # self-supervised pretext task: predict the 0/90/180/270° rotation
    "pretrained",  # no training here: weights come from a local checkpoint
)


@dataclass(frozen=True)
class EncoderSpec:
    """How to build and train one encoder of the zoo."""

    name: str  # registry name, e.g. "vit-sup"
    model_name: str  # timm model name passed to timm.create_model
    latent_dim: int  # size of forward_head(forward_features(x), pre_logits=True)
    objective: str  # training objective, one of OBJECTIVES
    description: str = ""  # one line for tables
    timm_kwargs: dict[str, Any] = field(default_factory=dict)  # overrides for timm.create_model
    label_map: tuple[int, ...] | None = None  # original class -> training class, -1 = unused
    lr: float = 2e-3  # AdamW peak learning rate
    weight_decay: float = 0.05  # AdamW weight decay
    image_size: int = 32  # model input size (images are padded to 32, then resized to this)
    checkpoint_path: str | None = None  # local weights file (objective "pretrained")

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(f"{self.name}: unknown objective {self.objective!r}; known {OBJECTIVES}")

    @property
    def in_chans(self) -> int:
        return int(self.timm_kwargs.get("in_chans", 3))

    @property
    def num_train_classes(self) -> int:
        """Outputs of the training head of a label-based objective."""
        if self.label_map is not None:
            return max(self.label_map) + 1
        return int(self.timm_kwargs.get("num_classes", 0))


_REGISTRY: dict[str, EncoderSpec] = {}


def register_encoder(spec: EncoderSpec, *, overwrite: bool = False) -> EncoderSpec:
    """Add ``spec`` to the registry (returns it, so it can be used as an expression)."""
    if spec.name in _REGISTRY and not overwrite:
        raise KeyError(f"encoder {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def list_encoders() -> list[str]:
    """Registered encoder names, in registration order (the AP's default first)."""
    return list(_REGISTRY)


def get_spec(name: str) -> EncoderSpec:
    """The registered spec of ``name``."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown encoder {name!r}; registered: {list_encoders()}") from None


def latent_dim_of(model: torch.nn.Module) -> int:
    """Width of a timm model's pre-logits features."""
    return int(getattr(model, "head_hidden_size", None) or model.num_features)


def timm_spec(
    model_name: str,
    *,
    checkpoint_path: str | os.PathLike[str] | None = None,
    name: str | None = None,
    latent_dim: int | None = None,
    image_size: int = 224,
    **timm_kwargs: Any,
) -> EncoderSpec:
    """A spec for any timm model with local weights (e.g. ``vit_tiny_patch16_224``).

    ``timm_kwargs`` go to ``timm.create_model``; pass ``num_classes`` equal to the checkpoint's
    head (or 0 for a headless one) so the checkpoint loads strictly. ``latent_dim`` is read off
    the model when not given.
    """
    kwargs = {k: v for k, v in timm_kwargs.items() if v is not None}
    if latent_dim is None:
        try:  # no memory or init cost on the meta device; some models need real tensors
            with torch.device("meta"):
                probe_model = timm.create_model(model_name, pretrained=False, **kwargs)
        except Exception:  # noqa: BLE001
            probe_model = timm.create_model(model_name, pretrained=False, **kwargs)
        latent_dim = latent_dim_of(probe_model)
    return EncoderSpec(
        name=name or model_name,
        model_name=model_name,
        latent_dim=latent_dim,
        objective="pretrained",
        description=f"timm {model_name} with local weights",
        timm_kwargs=kwargs,
        image_size=image_size,
        checkpoint_path=None if checkpoint_path is None else os.fspath(checkpoint_path),
    )


def create_encoder(
    name: str | EncoderSpec,
    *,
    checkpoint_path: str | os.PathLike[str] | None = None,
    **overrides: Any,
) -> torch.nn.Module:
    """Build the timm model of a registered encoder (random init unless a checkpoint is given).

    ``name`` may be a registered name, an :class:`EncoderSpec`, or any timm model name (then a
    generic :func:`timm_spec` is used). ``overrides`` update the spec's timm kwargs; ``None``
    values are dropped so unset options keep the spec's defaults. ``checkpoint_path`` (or the
    spec's own) is loaded strictly with ``timm.create_model(..., checkpoint_path=FILE)``.
    """
    if isinstance(name, EncoderSpec):
        spec = name
    elif name in _REGISTRY:
        spec = _REGISTRY[name]
    elif timm.is_model(name):
        spec = timm_spec(name, **overrides)
    else:
        raise KeyError(f"unknown encoder {name!r}: neither registered {list_encoders()} nor a timm model")
    kwargs = {**spec.timm_kwargs, **{k: v for k, v in overrides.items() if v is not None}}
    ckpt = checkpoint_path if checkpoint_path is not None else spec.checkpoint_path
    return timm.create_model(
        spec.model_name, pretrained=False, checkpoint_path=None if ckpt is None else os.fspath(ckpt),
        **kwargs,
    )


def _with_head(spec: EncoderSpec) -> EncoderSpec:
    """Set timm's ``num_classes`` to the objective's head size (0 = no timm head)."""
    label_based = spec.objective in ("supervised", "coarse-labels", "partial-labels", "rotation")
    n = spec.num_train_classes if spec.label_map is not None else (
        4 if spec.objective == "rotation" else 10 if label_based else 0)
    return replace(spec, timm_kwargs={"in_chans": 1, **spec.timm_kwargs, "num_classes": n})


_VIT_32 = dict(img_size=32, patch_size=4, depth=4, mlp_ratio=2, global_pool="avg", class_token=False)

# ---- the zoo (each encoder a different architecture AND objective/label set) --------------------
AP_ENCODER = "vit-sup"

register_encoder(_with_head(EncoderSpec(
    name="vit-sup",
    model_name="vit_tiny_patch16_224",
    latent_dim=128,
    objective="supervised",
    description="4-block ViT (patch 4, 128-d), supervised on the 10 classes; the AP's default",
    timm_kwargs=dict(_VIT_32, embed_dim=128, num_heads=4),
    lr=1e-3,
)))
register_encoder(_with_head(EncoderSpec(
    name="resnet-simclr",
    model_name="resnet10t",
    latent_dim=512,
    objective="contrastive",
    description="ResNet-10t, SimCLR NT-Xent on two augmented views, no labels",
)))
register_encoder(_with_head(EncoderSpec(
    name="convnext-ae",
    model_name="convnext_atto",
    latent_dim=256,
    objective="reconstruction",
    description="ConvNeXt-atto (dims 32-256), autoencoder decoding the image from the latent",
    timm_kwargs=dict(dims=(32, 64, 128, 256)),
)))
register_encoder(_with_head(EncoderSpec(
    name="regnet-coarse",
    model_name="regnetx_002",
    latent_dim=368,
    objective="coarse-labels",
    description="RegNetX-200MF, supervised on 4 coarse groups: tops, bottoms+dress, footwear, bags",
    # T-shirt, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Boot
    label_map=(0, 1, 0, 1, 0, 2, 0, 2, 3, 2),
)))
register_encoder(_with_head(EncoderSpec(
    name="vit64-rotation",
    model_name="vit_tiny_patch16_224",
    latent_dim=64,
    objective="rotation",
    description="4-block ViT (patch 4, 64-d), predicts the image's rotation (0/90/180/270°), no labels",
    timm_kwargs=dict(_VIT_32, embed_dim=64, num_heads=2),
    lr=1e-3,
)))
register_encoder(_with_head(EncoderSpec(
    name="edgenext-partial",
    model_name="edgenext_xx_small",
    latent_dim=168,
    objective="partial-labels",
    description="EdgeNeXt-xx-small (conv + attention), supervised on only 5 classes (no footwear, bags, shirts)",
    # keeps T-shirt, Trouser, Pullover, Dress, Coat; never sees the other five classes
    label_map=(0, 1, 2, 3, 4, -1, -1, -1, -1, -1),
)))
