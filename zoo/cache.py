"""On-disk cache of the zoo: weights, latents, probe and meta per (dataset, profile, encoder).

Layout (``cache_dir``: explicit argument, else ``$SEMALIGN_CACHE_DIR``, else ``~/.cache/semalign``)::

    <cache_dir>/<dataset>/<profile>/
        cka.json                        linear-CKA matrix of the built encoders (test latents)
        <encoder>/weights.pt            the timm encoder's state dict
        <encoder>/latents.npz           train, test [N, d] float32; *_labels, *_index int64
        <encoder>/probe.npz             weight [C, d], bias [C] float32
        <encoder>/meta.json             spec, budget, seed, accuracies, times, fingerprint

``train_index``/``test_index`` index the original splits and are the same for every encoder of
a profile, so row ``i`` of every encoder's latents is the same image. Every file is written
atomically (temp file in the same folder, then ``os.replace``) and ``meta.json`` is written last:
an entry is fresh when its meta exists, its fingerprint (spec + profile + data set + version)
matches and all files exist; anything else is rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

import numpy as np
import timm
import torch
from tqdm.auto import tqdm

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

from .datasets import ImageSplit, load_dataset
from .latents import extract_latents
from .preprocess import make_transform
from .probe import Probe, train_probe
from .profiles import ZooProfile, get_profile
from .registry import EncoderSpec, create_encoder, get_spec, list_encoders
from .similarity import cka_matrix
from .training import default_threads, torch_threads, train_encoder

__all__ = [
    "CACHE_DIR_ENV",
    "ZOO_VERSION",
    "LatentSet",
    "atomic_write",
    "build_encoder",
    "build_zoo",
    "entry_dir",
    "fingerprint",
    "is_fresh",
    "load_cka_matrix",
    "load_encoder",
    "load_latents",
    "read_meta",
    "resolve_cache_dir",
    "sample_indices",
]

CACHE_DIR_ENV = "SEMALIGN_CACHE_DIR"
ZOO_VERSION = 2  # bump when training/extraction code changes meaning: every entry goes stale
_FILES = ("weights.pt", "latents.npz", "probe.npz", "meta.json")
_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read the process umask once, so cache files get the usual 0o666 & ~umask mode

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class LatentSet:
    """Cached latents of one encoder; row ``i`` of every encoder's arrays is the same image."""

    name: str  # encoder name
    train: np.ndarray  # float32 [N_train, d], latents of train-split images train_index
    test: np.ndarray  # float32 [N_test, d], latents of test-split images test_index
    train_labels: np.ndarray  # int64 [N_train]
    test_labels: np.ndarray  # int64 [N_test]
    train_index: np.ndarray  # int64 [N_train], indices into the original train split
    test_index: np.ndarray  # int64 [N_test], indices into the original test split
    probe: Probe  # the user's private classifier, trained on `train`
    meta: dict[str, Any] = field(repr=False)  # the entry's meta.json

    @property
    def latent_dim(self) -> int:
        return int(self.train.shape[1])


# ---- paths, atomic writes, fingerprints ---------------------------------------------------------

def resolve_cache_dir(cache_dir: PathLike | None = None) -> Path:
    """Explicit ``cache_dir``, else ``$SEMALIGN_CACHE_DIR``, else ``~/.cache/semalign``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV]).expanduser()
    return Path.home() / ".cache" / "semalign"


def _profile_dir(cache_dir: PathLike | None, profile: ZooProfile, dataset: str) -> Path:
    return resolve_cache_dir(cache_dir) / dataset / profile.name


def entry_dir(
    name: str, cache_dir: PathLike | None = None, profile: str | ZooProfile = "default",
    dataset: str = "fashion-mnist",
) -> Path:
    """Folder of one encoder's cache entry."""
    return _profile_dir(cache_dir, get_profile(profile), dataset) / name


def atomic_write(path: PathLike, write: Callable[[IO[bytes]], Any]) -> None:
    """Call ``write(fileobj)`` on a temp file beside ``path``, fsync, then ``os.replace`` it.

    On any error the temp file is removed and ``path`` keeps its previous content (if any).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0o600
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _write_json(path: Path, obj: Any) -> None:
    atomic_write(path, lambda f: f.write(json.dumps(obj, indent=2, sort_keys=True).encode()))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    return obj


def fingerprint(spec: EncoderSpec, profile: ZooProfile, dataset: str) -> str:
    """Hash of everything an entry depends on; a change makes the entry stale."""
    payload: dict[str, Any] = {
        "version": ZOO_VERSION, "dataset": dataset, "spec": asdict(spec), "profile": asdict(profile),
    }
    if spec.checkpoint_path:
        st = Path(spec.checkpoint_path).stat()
        payload["checkpoint"] = [st.st_size, st.st_mtime_ns]
    text = json.dumps(_jsonable(payload), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_meta(
    name: str, cache_dir: PathLike | None = None, profile: str | ZooProfile = "default",
    dataset: str = "fashion-mnist",
) -> dict[str, Any] | None:
    """The entry's meta.json, or ``None`` when absent or unreadable."""
    path = entry_dir(name, cache_dir, profile, dataset) / "meta.json"
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def is_fresh(
    name: str, cache_dir: PathLike | None = None, profile: str | ZooProfile = "default",
    dataset: str = "fashion-mnist",
) -> bool:
    """True when the entry exists completely and matches the current spec and profile."""
    prof = get_profile(profile)
    meta = read_meta(name, cache_dir, prof, dataset)
    if meta is None or meta.get("fingerprint") != fingerprint(get_spec(name), prof, dataset):
        return False
    folder = entry_dir(name, cache_dir, prof, dataset)
    return all((folder / f).is_file() for f in _FILES)


def sample_indices(total: int, keep: int, seed: int) -> np.ndarray:
    """Sorted int64 indices of a seeded random subset of ``range(total)`` (all if ``keep >= total``)."""
    if keep >= total:
        return np.arange(total, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return np.sort(rng.permutation(total)[:keep]).astype(np.int64)


def _encoder_seed(profile: ZooProfile, name: str) -> int:
    return profile.seed * 1_000_003 + zlib.crc32(name.encode()) % 1_000_003


@contextlib.contextmanager
def _entry_lock(folder: Path) -> Iterator[None]:
    """Exclusive lock on an entry while it is built, so concurrent users (e.g. one process per
    simulated device) build it once; a no-op where ``fcntl`` is missing."""
    folder.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        yield
        return
    with open(folder / ".lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ---- building -----------------------------------------------------------------------------------

def build_encoder(
    name: str,
    splits: tuple[ImageSplit, ImageSplit],
    cache_dir: PathLike | None = None,
    profile: str | ZooProfile = "default",
    dataset: str = "fashion-mnist",
    progress: bool = True,
) -> dict[str, Any]:
    """Train (or load), encode and probe one encoder, write its entry, return its meta."""
    prof = get_profile(profile)
    spec = get_spec(name)
    train, test = splits
    folder = entry_dir(name, cache_dir, prof, dataset)
    seed = _encoder_seed(prof, name)
    in_chans = train.channels if spec.objective != "pretrained" else spec.in_chans
    transform = make_transform(dataset, in_chans=in_chans, image_size=spec.image_size,
                               images=train.images)
    t0 = time.perf_counter()
    model, stats = train_encoder(spec, train, prof, transform, seed=seed, progress=progress,
                                 **({"in_chans": in_chans} if spec.objective != "pretrained" else {}))
    atomic_write(folder / "weights.pt", lambda f: torch.save(model.state_dict(), f))

    t1 = time.perf_counter()
    train_index = sample_indices(len(train), prof.latent_train, prof.seed)
    test_index = sample_indices(len(test), prof.latent_test, prof.seed + 1)
    z_train = extract_latents(model, train.images[train_index], transform)
    z_test = extract_latents(model, test.images[test_index], transform)
    y_train, y_test = train.labels[train_index], test.labels[test_index]
    atomic_write(folder / "latents.npz", lambda f: np.savez(
        f, train=z_train, test=z_test, train_labels=y_train, test_labels=y_test,
        train_index=train_index, test_index=test_index))

    t2 = time.perf_counter()
    probe = train_probe(z_train, y_train, num_classes=train.num_classes, max_iter=prof.probe_iters)
    atomic_write(folder / "probe.npz", lambda f: np.savez(f, **probe.to_arrays()))
    t3 = time.perf_counter()

    meta = {
        "name": name,
        "dataset": dataset,
        "profile": asdict(prof),
        "spec": asdict(spec),
        "fingerprint": fingerprint(spec, prof, dataset),
        "version": ZOO_VERSION,
        "seed": seed,
        "in_chans": in_chans,
        "latent_dim": int(z_train.shape[1]),
        "n_train": int(len(train_index)),
        "n_test": int(len(test_index)),
        "train": asdict(stats),
        "probe_train_accuracy": probe.accuracy(z_train, y_train),
        "probe_test_accuracy": probe.accuracy(z_test, y_test),
        "seconds": {"train": t1 - t0, "latents": t2 - t1, "probe": t3 - t2, "total": t3 - t0},
        "threads": torch.get_num_threads(),
        "built_at": time.time(),
        "built_at_iso": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "torch": torch.__version__,
        "timm": timm.__version__,
    }
    meta = _jsonable(meta)
    _write_json(folder / "meta.json", meta)
    return meta


def build_zoo(
    names: Iterable[str] | None = None,
    cache_dir: PathLike | None = None,
    profile: str | ZooProfile = "default",
    progress: bool = True,
    *,
    dataset: str = "fashion-mnist",
    data_root: PathLike | None = None,
    threads: int | None = None,
) -> dict[str, dict[str, Any]]:
    """Build the missing or stale entries of ``names`` (default: every registered encoder).

    Returns ``{name: meta}`` for all requested encoders, fresh ones read from disk.
    """
    prof = get_profile(profile)
    names = list(names) if names is not None else list_encoders()
    for n in names:
        get_spec(n)  # fail early on unknown names
    todo = [n for n in names if not is_fresh(n, cache_dir, prof, dataset)]
    metas: dict[str, dict[str, Any]] = {}
    if todo:
        splits = load_dataset(dataset, data_root)
        for n in todo:
            with _entry_lock(entry_dir(n, cache_dir, prof, dataset)):
                if is_fresh(n, cache_dir, prof, dataset):  # another process built it meanwhile
                    continue
                with torch_threads(threads or default_threads()):  # re-chosen per encoder
                    meta = build_encoder(n, splits, cache_dir, prof, dataset, progress)
            if progress:
                tqdm.write(f"built {n}: {meta['latent_dim']}-d {meta['spec']['objective']}, "
                           f"{meta['seconds']['total']:.1f} s with {meta['threads']} thread(s), "
                           f"probe test acc {meta['probe_test_accuracy']:.3f}")
            metas[n] = meta
    for n in names:
        if n not in metas:
            metas[n] = read_meta(n, cache_dir, prof, dataset)  # type: ignore[assignment]
    return {n: metas[n] for n in names}


# ---- loading ------------------------------------------------------------------------------------

def load_latents(
    name: str,
    cache_dir: PathLike | None = None,
    profile: str | ZooProfile = "default",
    build: bool = True,
    *,
    dataset: str = "fashion-mnist",
    data_root: PathLike | None = None,
) -> LatentSet:
    """The cached latents and probe of ``name``, building the entry first if needed."""
    prof = get_profile(profile)
    if not is_fresh(name, cache_dir, prof, dataset):
        if not build:
            raise FileNotFoundError(
                f"no fresh zoo entry for {name!r} ({dataset}/{prof.name}) in "
                f"{resolve_cache_dir(cache_dir)}; run `semalign encoders build --zoo-profile {prof.name}`")
        build_zoo([name], cache_dir, prof, progress=True, dataset=dataset, data_root=data_root)
    folder = entry_dir(name, cache_dir, prof, dataset)
    with np.load(folder / "latents.npz") as z:
        arrays = {k: z[k] for k in z.files}
    with np.load(folder / "probe.npz") as p:
        probe = Probe.from_arrays({k: p[k] for k in p.files})
    meta = read_meta(name, cache_dir, prof, dataset) or {}
    return LatentSet(name=name, probe=probe, meta=meta, **arrays)


def load_encoder(
    name: str, cache_dir: PathLike | None = None, profile: str | ZooProfile = "default",
    dataset: str = "fashion-mnist",
) -> torch.nn.Module:
    """The trained timm encoder of a built entry (eval mode)."""
    prof = get_profile(profile)
    meta = read_meta(name, cache_dir, prof, dataset)
    if meta is None:
        raise FileNotFoundError(f"zoo entry {name!r} ({dataset}/{prof.name}) is not built")
    spec = get_spec(name)
    overrides = {"in_chans": meta["in_chans"]} if spec.objective != "pretrained" else {}
    model = create_encoder(spec, **overrides)
    state = torch.load(entry_dir(name, cache_dir, prof, dataset) / "weights.pt",
                       map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.eval()


def load_cka_matrix(
    cache_dir: PathLike | None = None,
    profile: str | ZooProfile = "default",
    names: Iterable[str] | None = None,
    dataset: str = "fashion-mnist",
) -> tuple[list[str], np.ndarray]:
    """Linear CKA between the test latents of the built (fresh) encoders among ``names``.

    Cached in ``<profile dir>/cka.json`` keyed by the entries' fingerprints.
    """
    prof = get_profile(profile)
    names = [n for n in (names if names is not None else list_encoders())
             if is_fresh(n, cache_dir, prof, dataset)]
    prints = {n: read_meta(n, cache_dir, prof, dataset)["fingerprint"] for n in names}  # type: ignore[index]
    path = _profile_dir(cache_dir, prof, dataset) / "cka.json"
    with contextlib.suppress(FileNotFoundError, json.JSONDecodeError, KeyError):
        cached = json.loads(path.read_text())
        if cached["names"] == names and cached["fingerprints"] == prints:
            return names, np.asarray(cached["matrix"], dtype=np.float64).reshape(len(names), len(names))
    latents = {n: load_latents(n, cache_dir, prof, build=False, dataset=dataset).test for n in names}
    names, matrix = cka_matrix(latents)
    if names:
        _write_json(path, {"names": names, "fingerprints": prints, "matrix": matrix.tolist()})
    return names, matrix

