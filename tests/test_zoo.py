"""Tests of the zoo package: data readers, registry, objectives, probe, CKA and the cache."""

from __future__ import annotations

import gzip
import json
import pickle
import struct
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from rich.console import Console

import zoo
from zoo import cache as zoo_cache
from zoo import datasets as zoo_datasets
from zoo import registry as zoo_registry
from zoo.objectives import make_objective, nt_xent
from zoo.preprocess import make_transform
from zoo.profiles import ZooProfile
from zoo.training import torch_threads

# the two fastest encoders of the zoo, used for the cache tests
FAST = ["edgenext-partial", "vit64-rotation"]
# a profile smaller than "tiny", for tests that build several times
MICRO = ZooProfile(name="micro", train_images=256, max_steps=3, batch_size=32, warmup_steps=1,
                   latent_train=200, latent_test=100, probe_iters=10)


@pytest.fixture(autouse=True)
def _one_thread():
    """Small tensors: one thread is as fast, and robust when other jobs load the cores."""
    with torch_threads(1):
        yield


def _fashion_or_skip() -> tuple[zoo.ImageSplit, zoo.ImageSplit]:
    try:
        return zoo.load_dataset("fashion-mnist")
    except FileNotFoundError as err:
        pytest.skip(f"Fashion-MNIST not installed: {err}")


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory) -> Path:
    """A tiny-profile cache holding the two fastest encoders (built once per module)."""
    _fashion_or_skip()
    cache_dir = tmp_path_factory.mktemp("zoo-cache")
    zoo.build_zoo(FAST, cache_dir, "tiny", progress=False, threads=1)
    return cache_dir


# ---- data ---------------------------------------------------------------------------------------

def _write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def _write_fake_fashion(folder: Path, n_train: int = 12, n_test: int = 5) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        _write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n) % 10)


def test_reads_real_fashion_mnist():
    train, test = _fashion_or_skip()
    assert train.images.shape == (60_000, 28, 28) and test.images.shape == (10_000, 28, 28)
    assert train.images.dtype == np.uint8 and train.labels.dtype == np.int64
    assert np.array_equal(np.bincount(train.labels), np.full(10, 6000))
    assert np.array_equal(np.bincount(test.labels), np.full(10, 1000))
    assert train.labels[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]  # the known first labels
    assert train.class_names[9] == "Ankle boot" and train.channels == 1


def test_read_idx_roundtrip(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    _write_idx(tmp_path / "a.gz", array)
    assert np.array_equal(zoo.read_idx(tmp_path / "a.gz"), array)


def test_data_dir_search_order(tmp_path, monkeypatch):
    _write_fake_fashion(tmp_path / "env", n_train=12)
    _write_fake_fashion(tmp_path / "arg", n_train=7)
    monkeypatch.setenv(zoo.DATA_DIR_ENV, str(tmp_path / "env"))
    assert len(zoo.load_dataset("fashion-mnist")[0]) == 12  # env beats the Debian path
    assert len(zoo.load_dataset("fashion-mnist", root=tmp_path / "arg")[0]) == 7  # root beats env


def test_missing_data_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.delenv(zoo.DATA_DIR_ENV, raising=False)
    monkeypatch.setattr(zoo_datasets, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist") as err:
        zoo.load_dataset("fashion-mnist", root=tmp_path)
    assert zoo.DATA_DIR_ENV in str(err.value)


def test_cifar10_reader(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name, n in (("data_batch_1", 4), ("data_batch_2", 3), ("test_batch", 2)):
        batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": list(range(n))}
        (folder / name).write_bytes(pickle.dumps(batch))
    train, test = zoo.load_dataset("cifar-10", root=tmp_path)
    assert train.images.shape == (7, 32, 32, 3) and test.images.shape == (2, 32, 32, 3)
    assert train.channels == 3 and train.class_names[0] == "airplane"
    raw = pickle.loads((folder / "test_batch").read_bytes())[b"data"][1]
    assert np.array_equal(test.images[1], raw.reshape(3, 32, 32).transpose(1, 2, 0))


def test_transform_pads_and_normalises():
    tf = make_transform("fashion-mnist")
    x = tf(np.zeros((2, 28, 28), dtype=np.uint8))
    assert x.shape == (2, 1, 32, 32) and x.dtype == torch.float32
    assert torch.allclose(x, torch.full_like(x, tf.background))  # black stays black, padding too
    assert replace(tf, in_chans=3, image_size=64)(np.zeros((1, 28, 28), np.uint8)).shape == (1, 3, 64, 64)


# ---- CKA ----------------------------------------------------------------------------------------

def test_cka_identity_and_invariances():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 16)) @ rng.standard_normal((16, 16))
    q, _ = np.linalg.qr(rng.standard_normal((16, 16)))
    assert zoo.linear_cka(x, x) == pytest.approx(1.0)
    assert zoo.linear_cka(x, x @ q) == pytest.approx(1.0)
    assert zoo.linear_cka(x, 3.7 * x + 5.0) == pytest.approx(1.0)  # scaling and a mean shift
    assert zoo.linear_cka(x, rng.standard_normal((500, 32))) < 0.2


def test_cka_matrix_is_symmetric_with_unit_diagonal():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((200, 8))
    names, m = zoo.cka_matrix({"a": x, "b": x[:, :4], "c": rng.standard_normal((200, 5))})
    assert names == ["a", "b", "c"] and np.allclose(m, m.T) and np.allclose(np.diag(m), 1.0)
    assert m[0, 1] == pytest.approx(zoo.linear_cka(x, x[:, :4]))


# ---- registry and objectives --------------------------------------------------------------------

def test_registry_is_diverse():
    names = zoo.list_encoders()
    specs = [zoo.get_spec(n) for n in names]
    assert len(names) >= 6 and names[0] == zoo.AP_ENCODER
    assert len({s.objective for s in specs}) == len(specs)  # one objective / label set each
    dims = [s.latent_dim for s in specs]
    assert min(dims) <= 64 and max(dims) >= 512
    with pytest.raises(KeyError, match="unknown encoder"):
        zoo.get_spec("nope")


@pytest.mark.parametrize("name", zoo.list_encoders())
def test_encoder_latent_dim_and_objective(name):
    spec = zoo.get_spec(name)
    torch.manual_seed(0)
    model = zoo.create_encoder(name, in_chans=None)  # None overrides are dropped
    tf = make_transform("fashion-mnist")
    x = tf(np.random.default_rng(0).integers(0, 256, (4, 28, 28), dtype=np.uint8))
    z = zoo.extract_latents(model, np.zeros((3, 28, 28), np.uint8), tf)
    assert z.shape == (3, spec.latent_dim) and z.dtype == np.float32
    objective = make_objective(spec, tf.background)
    model.train()
    loss = objective.loss(model, x, torch.tensor([0, 1, 3, 4]), torch.Generator().manual_seed(0))
    loss.backward()
    assert torch.isfinite(loss)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_nt_xent_matches_definition():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    z = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
    s = torch.exp(z @ z.T / 0.5)
    terms = [-torch.log(s[i, (i + 5) % 10] / (s[i].sum() - s[i, i])) for i in range(10)]
    assert nt_xent(z1, z2, 0.5) == pytest.approx(float(torch.stack(terms).mean()), rel=1e-5)
    assert nt_xent(z1, z1, 0.05) < nt_xent(z1, z2, 0.05)


def test_local_checkpoint_loads_saved_weights(tmp_path, monkeypatch):
    kwargs = dict(depth=2, num_classes=10)  # the paper's vit_tiny_patch16_224, made shallow
    torch.manual_seed(123)
    source = zoo.create_encoder("vit_tiny_patch16_224", **kwargs)
    path = tmp_path / "vit_tiny.pth"
    torch.save(source.state_dict(), path)
    torch.manual_seed(999)  # a different random init, which the checkpoint must overwrite
    loaded = zoo.create_encoder("vit_tiny_patch16_224", checkpoint_path=path, **kwargs)
    assert torch.equal(loaded.patch_embed.proj.weight, source.patch_embed.proj.weight)
    assert torch.equal(loaded.head.weight, source.head.weight)

    spec = zoo.timm_spec("vit_tiny_patch16_224", checkpoint_path=path, name="paper-vit", **kwargs)
    assert spec.objective == "pretrained" and spec.latent_dim == 192
    monkeypatch.setitem(zoo_registry._REGISTRY, spec.name, spec)
    from_registry = zoo.create_encoder("paper-vit")
    assert torch.equal(from_registry.blocks[1].mlp.fc1.weight, source.blocks[1].mlp.fc1.weight)


# ---- probe --------------------------------------------------------------------------------------

def test_probe_folds_standardisation():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 600)
    centres = rng.standard_normal((3, 5)) * 3
    z = (centres[y] + rng.standard_normal((600, 5))) * np.array([1e3, 1, 1e-3, 5, 1]) + 50
    probe = zoo.train_probe(z.astype(np.float32), y, num_classes=3)
    assert probe.weight.shape == (3, 5) and probe.bias.shape == (3,)
    assert probe.accuracy(z, y) > 0.9
    torch_pred = probe.predict(torch.as_tensor(z, dtype=torch.float64))
    assert np.array_equal(torch_pred, probe.predict(z))


# ---- cache --------------------------------------------------------------------------------------

def test_atomic_write_leaves_no_partial_file(tmp_path):
    target = tmp_path / "sub" / "data.bin"

    def failing(f):
        f.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        zoo.atomic_write(target, failing)
    assert not target.exists() and list(target.parent.iterdir()) == []
    zoo.atomic_write(target, lambda f: f.write(b"old"))
    with pytest.raises(RuntimeError):
        zoo.atomic_write(target, failing)
    assert target.read_bytes() == b"old" and [p.name for p in target.parent.iterdir()] == ["data.bin"]


def test_cache_dir_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv(zoo.CACHE_DIR_ENV, str(tmp_path / "env"))
    assert zoo.resolve_cache_dir() == tmp_path / "env"
    assert zoo.resolve_cache_dir(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv(zoo.CACHE_DIR_ENV)
    assert zoo.resolve_cache_dir() == Path.home() / ".cache" / "semalign"


def test_tiny_latents_share_images_and_probe_beats_chance(tiny_cache):
    sets = [zoo.load_latents(n, tiny_cache, "tiny", build=False) for n in FAST]
    tiny = zoo.get_profile("tiny")
    for s in sets:
        assert s.train.shape == (tiny.latent_train, zoo.get_spec(s.name).latent_dim)
        assert s.test.shape == (tiny.latent_test, s.latent_dim) and s.train.dtype == np.float32
        assert s.probe.accuracy(s.test, s.test_labels) > 0.3  # chance is 0.1
        assert s.meta["probe_test_accuracy"] == pytest.approx(s.probe.accuracy(s.test, s.test_labels))
    a, b = sets
    assert np.array_equal(a.train_index, b.train_index) and np.array_equal(a.test_index, b.test_index)
    train, _ = zoo.load_dataset()
    assert np.array_equal(a.train_labels, train.labels[a.train_index])


def test_cached_weights_reproduce_latents(tiny_cache):
    name = FAST[0]
    latents = zoo.load_latents(name, tiny_cache, "tiny", build=False)
    model = zoo.load_encoder(name, tiny_cache, "tiny")
    train, _ = zoo.load_dataset()
    z = zoo.extract_latents(model, train.images[latents.train_index[:8]], make_transform("fashion-mnist"))
    np.testing.assert_allclose(z, latents.train[:8], rtol=1e-4, atol=1e-5)


def test_second_build_does_not_retrain(tiny_cache, monkeypatch):
    before = {n: zoo.read_meta(n, tiny_cache, "tiny")["built_at"] for n in FAST}
    calls = []
    monkeypatch.setattr(zoo_cache, "train_encoder", lambda *a, **k: calls.append(a) or None)
    metas = zoo.build_zoo(FAST, tiny_cache, "tiny", progress=False, threads=1)
    assert calls == [] and {n: m["built_at"] for n, m in metas.items()} == before


def test_stale_or_missing_entries_are_rebuilt(tmp_path):
    names = FAST
    first = zoo.build_zoo(names, tmp_path, MICRO, progress=False, threads=1)
    meta_path = zoo.entry_dir(names[0], tmp_path, MICRO) / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["fingerprint"] = "changed-spec"
    meta_path.write_text(json.dumps(meta))
    (zoo.entry_dir(names[1], tmp_path, MICRO) / "latents.npz").unlink()
    assert not zoo.is_fresh(names[0], tmp_path, MICRO) and not zoo.is_fresh(names[1], tmp_path, MICRO)
    second = zoo.build_zoo(names, tmp_path, MICRO, progress=False, threads=1)
    for n in names:
        assert second[n]["built_at"] > first[n]["built_at"] and zoo.is_fresh(n, tmp_path, MICRO)
    # a changed budget gives another fingerprint, so the entry would be stale
    assert zoo_cache.fingerprint(zoo.get_spec(names[0]), replace(MICRO, max_steps=4), "fashion-mnist") \
        != second[names[0]]["fingerprint"]


def test_build_is_deterministic(tmp_path):
    for sub in ("a", "b"):
        zoo.build_zoo([FAST[1]], tmp_path / sub, MICRO, progress=False, threads=1)
    a = zoo.load_latents(FAST[1], tmp_path / "a", MICRO, build=False)
    b = zoo.load_latents(FAST[1], tmp_path / "b", MICRO, build=False)
    np.testing.assert_array_equal(a.train, b.train)
    np.testing.assert_array_equal(a.probe.weight, b.probe.weight)


def test_load_without_build_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="semalign encoders build --zoo-profile"):
        zoo.load_latents(FAST[0], tmp_path, "tiny", build=False)


def test_commands_print_tables_and_cka(tiny_cache):
    console = Console(record=True, width=200)
    assert zoo.list_command(tiny_cache, "tiny", console=console) == 0
    text = console.export_text()
    assert "linear CKA" in text and all(n in text for n in zoo.list_encoders())
    assert (tiny_cache / "fashion-mnist" / "tiny" / "cka.json").is_file()
    names, m = zoo.load_cka_matrix(tiny_cache, "tiny")
    assert names == [n for n in zoo.list_encoders() if n in FAST] and m.shape == (2, 2)
    assert 0.0 < m[0, 1] < 1.0
    console = Console(record=True, width=200)
    assert zoo.build_command(tiny_cache, "tiny", FAST, console=console) == 0
    assert "cached" in console.export_text()
    assert zoo.build_command(tiny_cache, "tiny", ["nope"], console=console) == 2


@pytest.mark.slow
def test_whole_tiny_zoo(tmp_path):
    metas = zoo.build_zoo(None, tmp_path, "tiny", progress=False, threads=1)
    assert list(metas) == zoo.list_encoders()
    sets = {n: zoo.load_latents(n, tmp_path, "tiny", build=False) for n in metas}
    ref = sets[zoo.AP_ENCODER]
    for s in sets.values():
        assert np.array_equal(s.train_index, ref.train_index)
        assert np.array_equal(s.test_index, ref.test_index)
        assert s.latent_dim == zoo.get_spec(s.name).latent_dim
        assert s.probe.accuracy(s.test, s.test_labels) > 0.3
    names, m = zoo.load_cka_matrix(tmp_path, "tiny")
    assert names == zoo.list_encoders() and np.allclose(np.diag(m), 1.0)
