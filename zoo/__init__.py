"""The offline data and encoder zoo: locally trained timm encoders, cached latents and probes."""

from .cache import (
    CACHE_DIR_ENV,
    LatentSet,
    atomic_write,
    build_zoo,
    entry_dir,
    is_fresh,
    load_cka_matrix,
    load_encoder,
    load_latents,
    read_meta,
    resolve_cache_dir,
)
from .commands import build_command, list_command
from .datasets import DATA_DIR_ENV, ImageSplit, list_datasets, load_dataset, read_idx
from .latents import extract_latents
from .preprocess import ImageTransform, make_transform
from .probe import Probe, train_probe
from .profiles import PROFILES, ZooProfile, get_profile
from .registry import (
    AP_ENCODER,
    EncoderSpec,
    create_encoder,
    get_spec,
    list_encoders,
    register_encoder,
    timm_spec,
)
from .similarity import cka_matrix, linear_cka
from .training import TrainStats, train_encoder

__all__ = [
    "AP_ENCODER",
    "CACHE_DIR_ENV",
    "DATA_DIR_ENV",
    "EncoderSpec",
    "ImageSplit",
    "ImageTransform",
    "LatentSet",
    "PROFILES",
    "Probe",
    "TrainStats",
    "ZooProfile",
    "atomic_write",
    "build_command",
    "build_zoo",
    "cka_matrix",
    "create_encoder",
    "entry_dir",
    "extract_latents",
    "get_profile",
    "get_spec",
    "is_fresh",
    "linear_cka",
    "list_command",
    "list_datasets",
    "list_encoders",
    "load_cka_matrix",
    "load_dataset",
    "load_encoder",
    "load_latents",
    "make_transform",
    "read_idx",
    "read_meta",
    "register_encoder",
    "resolve_cache_dir",
    "timm_spec",
    "train_encoder",
    "train_probe",
]
