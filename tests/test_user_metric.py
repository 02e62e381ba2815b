"""The user-private task metric (DESIGN.md §3 *User metric*): its algebra, its equivalence with the
paper's problem on transformed latents, baselines untouched, the UserDevice path and config errors."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from protocol.config import RunConfig
from protocol.packing import pack, unpack
from protocol.whitening import fit_whitener
from scenarios.cli import main
from scenarios.engine import run
from scenarios.latents import Classifier, UserLatents
from scenarios.loopback import run_loopback
from scenarios.admm import admm_solve
from scenarios.problem import build_problem
from user_client.metric import packed_classifier, task_metric

BASE = dict(users=4, tx_antennas=2, rx_antennas=2, channel_uses=1, pilots=1500, test_samples=600, iterations=30)


def _random_case(seed: int, d: int = 23, classes: int = 7):
    g = np.random.default_rng(seed)
    weight = g.normal(size=(classes, d)) * g.uniform(0.1, 3.0, size=d)
    z = torch.from_numpy(g.normal(size=(400, d)) @ g.normal(size=(d, d)))
    chol = fit_whitener(pack(z, torch.complex128).T).chol  # a realistic un-whitening map L
    return weight, chol, g


@pytest.mark.parametrize("seed, eps", [(0, 0.1), (1, 1e-3), (2, 10.0)])
def test_metric_is_hermitian_pd_invertible_and_bounds_the_logit_error(seed, eps):
    weight, chol, g = _random_case(seed)
    w = packed_classifier(weight, torch.complex128)
    m, m_inv = task_metric(w, chol, eps)
    h = m.shape[-1]
    eye = torch.eye(h, dtype=m.dtype)
    assert torch.allclose(m, m.mH, atol=1e-12)
    assert float(torch.linalg.eigvalsh(m).min()) >= np.sqrt(eps / (1 + eps)) * (1 - 1e-9)
    assert torch.allclose(m_inv @ m, eye, atol=1e-9)
    assert float(torch.diagonal(m @ m).real.sum()) == pytest.approx(h, rel=1e-9)  # tr M² = h: scale kept
    # errors in whitened coordinates e_w; the real latent error is unpack(L e_w)
    e_w = torch.complex(torch.from_numpy(g.normal(size=(h, 50))), torch.from_numpy(g.normal(size=(h, 50))))
    logit_err = unpack((chol @ e_w).T, weight.shape[1]).numpy() @ weight.T  # [50, C]
    r = chol.mH @ w
    s = float(torch.diagonal(r @ r.mH).real.sum()) / h
    weighted = (m @ e_w).abs().pow(2).sum(0).numpy() * s * (1 + eps)
    assert np.all(weighted >= (logit_err ** 2).sum(1) * (1 - 1e-9))
    # Re(r_jᴴ e_w) is exactly the logit error w_j · e (DESIGN.md §3 User metric)
    assert np.allclose((r.mH @ e_w).real.numpy().T, logit_err, atol=1e-9)


def test_large_eps_is_the_paper_metric():
    weight, chol, _ = _random_case(3)
    m, _ = task_metric(packed_classifier(weight, torch.complex128), chol, 1e6)
    assert torch.allclose(m, torch.eye(m.shape[-1], dtype=m.dtype), atol=1e-5)


def _real_form(a: np.ndarray) -> np.ndarray:
    """The real ``[2h, 2h]`` matrix of ``z ↦ A z`` on packed latents (first half real, second imaginary)."""
    return np.block([[a.real, -a.imag], [a.imag, a.real]])


def test_engine_equals_paper_run_on_transformed_latents(synthetic):
    """Task metric ≡ the unchanged problem on ``Y' = M Y``, decoded by ``M⁻¹`` (same seed): same F, same accuracy."""
    cfg = RunConfig(**{**BASE, "users": 3}, whiten=False, precision="double", tol=0.0)
    task = run(cfg.model_copy(update={"user_metric": "task"}), synthetic)
    users = []
    for u in synthetic.users[:3]:
        eye = torch.eye((u.dim + 1) // 2, dtype=torch.complex128)
        m, m_inv = (t.numpy() for t in task_metric(packed_classifier(u.classifier.weight, torch.complex128), eye, cfg.metric_eps))
        fwd, back = _real_form(m), _real_form(m_inv)  # u.dim is even here: no padding
        clf = Classifier(u.classifier.weight @ back, u.classifier.bias)  # W' y' = W y
        users.append(UserLatents(u.name, u.train @ fwd.T, u.test @ fwd.T, clf))
    direct = run(cfg, dataclasses.replace(synthetic, users=users))
    assert task["tr_FFH"] == pytest.approx(direct["tr_FFH"], rel=1e-8)
    assert task["history"][-1]["objective"] == pytest.approx(direct["history"][-1]["objective"], rel=1e-8)
    for a, b in zip(task["users"], direct["users"]):
        assert a["accuracy"] == pytest.approx(b["accuracy"], abs=2 / 600)
    mse = run(cfg, synthetic)
    assert task["history"][-1]["objective"] != pytest.approx(mse["history"][-1]["objective"], rel=1e-3)


@pytest.mark.parametrize("method", ["first-k", "top-k"])
def test_selection_baselines_ignore_the_metric(synthetic, method):
    cfg = RunConfig(**BASE, method=method)
    a, b = run(cfg, synthetic), run(cfg.model_copy(update={"user_metric": "task"}), synthetic)
    for ua, ub in zip(a["users"], b["users"]):
        assert ua["accuracy"] == ub["accuracy"]
        assert ua["mse"] == pytest.approx(ub["mse"], rel=1e-4)


@pytest.mark.parametrize("seed", [1, 2])
def test_task_metric_helps_accuracy_when_compressed(synthetic, seed):
    cfg = RunConfig(**BASE, seed=seed)
    mse, task = run(cfg, synthetic)["mean"], run(cfg.model_copy(update={"user_metric": "task"}), synthetic)["mean"]
    assert task["accuracy"] >= mse["accuracy"] + 0.05, (mse, task)
    assert task["mse"] <= 1.1 * mse["mse"]  # reported in the original latent space: comparable


def test_centralised_solves_the_same_weighted_objective(synthetic):
    cfg = RunConfig(**BASE, method="centralised", user_metric="task")
    fed = run(cfg.model_copy(update={"method": "federated", "iterations": 100}), synthetic)
    cen = run(cfg, synthetic)
    assert cen["history"][-1]["objective"] <= fed["history"][-1]["objective"] * 1.02


def test_user_devices_apply_the_metric_like_the_engine(synthetic):
    """Loopback = the UserDevice code the Flower ClientApp runs: same F and accuracy as the engine."""
    cfg = RunConfig(**{**BASE, "users": 3, "iterations": 8}, tol=0.0, user_metric="task")
    res, coord = run_loopback(cfg, synthetic)
    ref = admm_solve(build_problem(cfg, synthetic, torch.complex64, torch.device("cpu")), cfg, track=False).transmit
    assert float((coord.transmit - ref).norm() / ref.norm()) <= 1e-5
    eng = run(cfg, synthetic)
    for a, b in zip(res["users"], eng["users"]):
        assert a["accuracy"] == b["accuracy"]
        assert a["mse"] == pytest.approx(b["mse"], rel=1e-4)
    plain, _ = run_loopback(cfg.model_copy(update={"user_metric": "mse"}), synthetic)
    assert [u["accuracy"] for u in plain["users"]] != [u["accuracy"] for u in res["users"]]


@pytest.mark.parametrize("toml, argv, field", [
    ('user_metric = "accuracy"\n', [], "user_metric"),  # the CLI flag itself has argparse choices
    ("", ["--metric-eps", "-1"], "metric_eps"),
    ("metric_eps = 0.0\n", [], "metric_eps"),
])
def test_bad_metric_settings_exit_2_with_one_line(toml, argv, field, capsys, tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(toml)
    argv = ["--config", str(path), *argv]
    assert main(["run", *argv, "--latents", str(tmp_path / "none.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"field '{field}'" in err


def test_node_settings_carry_a_users_own_metric_choice():
    """A Flower user may pick its metric in its node config (``semalign user --user-metric``); validated."""
    from protocol.config import ConfigError
    from protocol.runtime_config import user_settings

    s = user_settings({"user-id": 1, "user-metric": "task", "metric-eps": 0.5})
    assert (s.user_metric, s.metric_eps) == ("task", 0.5)
    assert user_settings({"user-id": 1}).user_metric is None  # falls back to the run config
    for bad in ({"user-metric": "logits"}, {"metric-eps": -0.1}):
        with pytest.raises(ConfigError, match="field '(user_metric|metric_eps)'"):
            user_settings({"user-id": 1, **bad})
