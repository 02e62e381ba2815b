"""Offline image data sets: Fashion-MNIST from gzipped idx files, CIFAR-10 from pickle batches.

Nothing here downloads anything. Fashion-MNIST is looked up, in this order, in

1. the explicit ``root`` argument,
2. the directory named by the environment variable ``SEMALIGN_DATA_DIR``,
3. ``/usr/share/datasets/fashion-mnist`` (Debian package ``dataset-fashion-mnist``).

CIFAR-10 is read only when asked for, from a local ``cifar-10-batches-py`` folder found under
the same first two places.
"""

from __future__ import annotations

import gzip
import os
import pickle
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = [
    "CIFAR10_CLASSES",
    "DATA_DIR_ENV",
    "DEBIAN_FASHION_MNIST_DIR",
    "FASHION_MNIST_CLASSES",
    "ImageSplit",
    "list_datasets",
    "load_dataset",
    "read_idx",
]

DATA_DIR_ENV = "SEMALIGN_DATA_DIR"
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

FASHION_MNIST_CLASSES: tuple[str, ...] = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)

# idx type codes (third byte of the magic number) -> numpy dtype (big-endian)
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@dataclass(frozen=True)
class ImageSplit:
    """One split (train or test) of an image data set."""

    images: np.ndarray  # uint8, [N, H, W] (grey) or [N, H, W, C] (colour)
    labels: np.ndarray  # int64, [N], values in 0..len(class_names)-1
    class_names: tuple[str, ...]  # human-readable name of each label

    def __post_init__(self) -> None:
        if self.images.dtype != np.uint8:
            raise TypeError(f"images must be uint8, got {self.images.dtype}")
        if self.images.ndim not in (3, 4):
            raise ValueError(f"images must be [N,H,W] or [N,H,W,C], got shape {self.images.shape}")
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError(f"labels shape {self.labels.shape} != ({self.images.shape[0]},)")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def channels(self) -> int:
        """Number of colour channels (1 for [N,H,W] images)."""
        return 1 if self.images.ndim == 3 else int(self.images.shape[3])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one idx file (optionally gzipped) into a numpy array of its native shape."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, type_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or type_code not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an idx file (magic {data[:4].hex()})")
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    dtype = np.dtype(_IDX_DTYPES[type_code])
    array = np.frombuffer(data, dtype=dtype, offset=4 + 4 * ndim, count=int(np.prod(shape)))
    return array.reshape(shape).astype(dtype.newbyteorder("="))  # writable native-endian copy


def _candidate_dirs(root: str | os.PathLike[str] | None, subdirs: tuple[str, ...]) -> list[Path]:
    bases: list[Path] = []
    if root is not None:
        bases.append(Path(root).expanduser())
    if os.environ.get(DATA_DIR_ENV):
        bases.append(Path(os.environ[DATA_DIR_ENV]).expanduser())
    return [base / sub for base in bases for sub in ("", *subdirs)]


def _find_idx(directory: Path, stem: str) -> Path | None:
    for name in (f"{stem}.gz", stem):
        if (directory / name).is_file():
            return directory / name
    return None


def _read_images_labels(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    st = images_path.stat()
    return _read_images_labels_cached(images_path, labels_path, st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=4)
def _read_images_labels_cached(
    images_path: Path, labels_path: Path, size: int, mtime_ns: int
) -> tuple[np.ndarray, np.ndarray]:
    """Read once per process (keyed by path, size and mtime); arrays are made read-only."""
    images = read_idx(images_path).astype(np.uint8, copy=False)
    labels = read_idx(labels_path).astype(np.int64)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def _load_fashion_mnist(root: str | os.PathLike[str] | None) -> tuple[ImageSplit, ImageSplit]:
    dirs = [*_candidate_dirs(root, ("fashion-mnist", "fashion_mnist", "FashionMNIST/raw")),
            DEBIAN_FASHION_MNIST_DIR]
    stems = {
        "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    }
    for directory in dirs:
        files = {split: tuple(_find_idx(directory, s) for s in pair) for split, pair in stems.items()}
        if all(f is not None for pair in files.values() for f in pair):
            return tuple(  # type: ignore[return-value]
                ImageSplit(*_read_images_labels(*files[split]), FASHION_MNIST_CLASSES)  # type: ignore[misc]
                for split in ("train", "test")
            )
    searched = "\n  ".join(str(d) for d in dirs)
    raise FileNotFoundError(
        "Fashion-MNIST idx files (train-images-idx3-ubyte.gz, ...) not found. Searched:\n  "
        f"{searched}\nInstall them with `apt-get install dataset-fashion-mnist`, or set "
        f"{DATA_DIR_ENV} to a folder holding the four idx files."
    )


def _unpickle(path: Path) -> dict:
    with open(path, "rb") as f:
        return pickle.load(f, encoding="bytes")


def _cifar_split(batch_paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    images, labels = [], []
    for path in batch_paths:
        batch = _unpickle(path)
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.append(np.asarray(batch[b"labels"], dtype=np.int64))
    return np.ascontiguousarray(np.concatenate(images)), np.concatenate(labels)


def _load_cifar10(root: str | os.PathLike[str] | None) -> tuple[ImageSplit, ImageSplit]:
    dirs = _candidate_dirs(root, ("cifar-10-batches-py", "cifar10/cifar-10-batches-py"))
    for directory in dirs:
        train_paths = sorted(directory.glob("data_batch_*"))
        test_path = directory / "test_batch"
        if train_paths and test_path.is_file():
            names = CIFAR10_CLASSES
            if (directory / "batches.meta").is_file():
                meta = _unpickle(directory / "batches.meta")
                names = tuple(n.decode() for n in meta.get(b"label_names", [])) or names
            train = ImageSplit(*_cifar_split(train_paths), names)
            test = ImageSplit(*_cifar_split([test_path]), names)
            return train, test
    searched = "\n  ".join(str(d) for d in dirs) or "(no folder given)"
    raise FileNotFoundError(
        "CIFAR-10 python batches (cifar-10-batches-py/data_batch_1, ..., test_batch) not found. "
        f"Searched:\n  {searched}\nIt cannot be downloaded here: copy the extracted folder to a "
        f"local directory and pass it as `root` or set {DATA_DIR_ENV}."
    )


_LOADERS = {"fashion-mnist": _load_fashion_mnist, "cifar-10": _load_cifar10}
_ALIASES = {"fashion_mnist": "fashion-mnist", "fmnist": "fashion-mnist", "cifar10": "cifar-10"}


def list_datasets() -> list[str]:
    """Names accepted by :func:`load_dataset`."""
    return sorted(_LOADERS)


def load_dataset(
    name: str = "fashion-mnist", root: str | os.PathLike[str] | None = None
) -> tuple[ImageSplit, ImageSplit]:
    """Load ``(train, test)`` of a local data set; raises ``FileNotFoundError`` with a fix."""
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in _LOADERS:
        raise KeyError(f"unknown dataset {name!r}; known: {list_datasets()}")
    return _LOADERS[key](root)
