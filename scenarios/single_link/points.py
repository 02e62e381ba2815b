"""One evaluated point of the single-link scenario: a method at (c, SNR, pilots, β, seed) on the
same pilots, channel draw and test noise streams for every method (DESIGN.md §5)."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from channel import PRECISION_DTYPES, make_generator
from protocol.config import RunConfig
from protocol.packing import complex_dim
from scenarios.baselines import selection_baseline
from scenarios.evaluate import evaluate_users
from scenarios.latents import LatentData
from scenarios.problem import Problem, build_problem
from scenarios.single_link.config import SingleLinkConfig
from scenarios.single_link.linear import linear_link
from scenarios.single_link.neural import NeuralLink
from scenarios.single_link.sparsity import dense_weights, flops, nonzero_weights
from scenarios.single_link.training import TrainSettings, decode_neural, train_neural
from scenarios.single_link.unaware import channel_unaware

__all__ = ["PointSpec", "run_config", "make_problem", "run_point", "compression"]


@dataclass(frozen=True)
class PointSpec:
    """What a point computes; its JSON form keys the stored result."""

    method: str
    seed: int
    channel_uses: int
    snr_db: float
    pilot_fraction: float
    beta: float = 0.0  # neural only


def compression(cfg: SingleLinkConfig, data: LatentData, c: int) -> float:
    """ζ = N_T·c / ⌈d_T/2⌉ (DESIGN.md §2)."""
    return cfg.antennas * c / complex_dim(data.ap_train.shape[1])


def pilots_of(data: LatentData, fraction: float) -> int:
    return max(2, int(round(fraction * data.ap_train.shape[0])))


def whitens(data: LatentData, pilots: int) -> bool:
    """Pre-whiten (DESIGN.md §2) only with at least twice as many pilots as complex features on
    either side; with fewer the pilot covariance is (nearly) singular and whitening would blow up
    the directions the pilots do not span, so both sides use their raw packed latents."""
    dims = (complex_dim(data.ap_train.shape[1]), complex_dim(data.users[0].dim))
    return pilots >= 2 * max(dims)


def run_config(cfg: SingleLinkConfig, data: LatentData, spec: PointSpec) -> RunConfig:
    """The core's :class:`RunConfig` for this point: one user, N_T = N_R."""
    n = pilots_of(data, spec.pilot_fraction)
    return RunConfig(whiten=whitens(data, n), users=1, tx_antennas=cfg.antennas, rx_antennas=cfg.antennas, channel_uses=spec.channel_uses,
                     snr_db=spec.snr_db, power=cfg.power, iterations=cfg.iterations, rho=cfg.rho, seed=spec.seed,
                     pilots=n, test_samples=cfg.test_samples,
                     ap_encoder=data.ap_name, user_encoders=(data.users[0].name,), threads=cfg.threads)


def make_problem(cfg: SingleLinkConfig, data: LatentData, spec: PointSpec) -> tuple[RunConfig, Problem]:
    rc = run_config(cfg, data, spec)
    return rc, build_problem(rc, data, PRECISION_DTYPES[rc.precision], torch.device("cpu"))


def _neural(cfg: SingleLinkConfig, prob: Problem, spec: PointSpec, checkpoint: Path | None) -> tuple[torch.Tensor, dict]:
    m, big_m = prob.x.shape[0], prob.h.shape[-1]
    r, p = prob.h.shape[-2], prob.y.shape[1]
    model = NeuralLink(m, big_m, r, p, cfg.hidden, cfg.activation, make_generator(spec.seed, "neural-init"),
                       prob.x.dtype, cfg.power)
    settings = TrainSettings(steps=cfg.steps, batch_size=cfg.batch_size, lr=cfg.lr, beta=spec.beta,
                             checkpoint_every=cfg.checkpoint_every, seed=spec.seed)
    noise = float(prob.noise_var[0])
    desc = f"neural c={spec.channel_uses} snr={spec.snr_db:g} n={prob.n} β={spec.beta:g}"
    metric = prob.user_whiteners[0].chol if cfg.neural_loss == "latent" else None
    hist = train_neural(model, prob.x.T.contiguous(), prob.y[0].T.contiguous(), prob.h_est[0], noise, settings,
                        checkpoint, progress=cfg.progress, desc=desc, metric=metric)
    rows, worst = decode_neural(model, prob.x_test.T.contiguous(), prob.h[0], noise,
                                make_generator(spec.seed, "eval-noise-0"))
    nnz = nonzero_weights(model)
    return rows.T.unsqueeze(0), {"flops": flops(nnz), "nnz": nnz, "dense": dense_weights(model),
                                 "tr_power": worst, "train_steps": cfg.steps, "resumed_from": hist["resumed_from"],
                                 "max_power_error": hist["max_power_error"], "final_loss": hist["loss"][-1]}


def run_point(cfg: SingleLinkConfig, data: LatentData, spec: PointSpec, checkpoint: Path | None = None,
              problem: tuple[RunConfig, Problem] | None = None) -> dict:
    """Run ``spec`` and return its record (metrics of the receiver's task on held-out data)."""
    start = time.perf_counter()
    rc, prob = problem if problem is not None else make_problem(cfg, data, spec)
    extra: dict = {}
    if spec.method == "neural":
        y_hat, extra = _neural(cfg, prob, spec, checkpoint)
    elif spec.method == "linear":
        y_hat, extra = linear_link(prob, rc)
    elif spec.method in ("unaware-zf", "unaware-mmse"):
        y_hat, extra = channel_unaware(prob, rc, spec.method.split("-")[1])
    elif spec.method in ("first-k", "top-k"):
        y_hat = selection_baseline(prob, rc, spec.method)
    elif spec.method == "oracle":
        y_hat = prob.y_test
    else:
        raise ValueError(f"unknown method {spec.method!r}")
    user = evaluate_users(prob, data, y_hat)[0]
    return {**asdict(spec), "pilots": prob.n, "whitened": rc.whiten, "compression": compression(cfg, data, spec.channel_uses),
            "accuracy": user["accuracy"], "mse": user["mse"], "nmse": user["nmse"],
            "oracle_accuracy": user["oracle_accuracy"], **extra, "wall_time_s": time.perf_counter() - start}
