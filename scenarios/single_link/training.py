r"""Training of the neural single-link model on the pilots: Adam on the MSE through the channel,
then the proximal hard-thresholding step (``τ = lr·β``) after every optimiser step; progress bar,
atomic checkpoints every ``checkpoint_every`` steps and resume from the last one.

A checkpoint holds the model, the optimiser, the step and the states of the two random streams
(mini-batches, channel noise), so an interrupted and resumed run takes exactly the steps an
uninterrupted one takes.
"""
from __future__ import annotations

import io
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
from tqdm.auto import tqdm

from channel import add_noise, make_generator
from protocol.atomic import write_bytes_atomic
from scenarios.single_link.neural import NeuralLink, batch_power
from scenarios.single_link.sparsity import hard_threshold, threshold

__all__ = ["TrainSettings", "train_neural", "decode_neural", "load_checkpoint"]


@dataclass(frozen=True)
class TrainSettings:
    steps: int = 1500
    batch_size: int = 256
    lr: float = 2e-3
    beta: float = 0.0  # sparsity weight; τ = lr·β
    checkpoint_every: int = 100
    seed: int = 42


def _save(path: Path, model: NeuralLink, opt: torch.optim.Optimizer, step: int, gens: dict, history: dict,
          fingerprint: dict) -> None:
    buf = io.BytesIO()
    torch.save({"model": model.state_dict(), "optim": opt.state_dict(), "step": step,
                "generators": {k: g.get_state() for k, g in gens.items()}, "history": history,
                "fingerprint": fingerprint}, buf)
    write_bytes_atomic(path, buf.getvalue())


def load_checkpoint(path: Path) -> dict | None:
    """The checkpoint at ``path`` or ``None`` when there is none."""
    if not path.exists():
        return None
    return torch.load(path, map_location="cpu", weights_only=False)


def train_neural(
    model: NeuralLink,
    x: torch.Tensor,
    y: torch.Tensor,
    h: torch.Tensor,
    noise_var: float,
    settings: TrainSettings,
    checkpoint: Path | None = None,
    progress: bool = True,
    desc: str = "neural",
    on_step: Callable[[int], None] | None = None,
    metric: torch.Tensor | None = None,
) -> dict:
    """Train ``model`` on pilot rows ``x`` ``[n, m]`` → ``y`` ``[n, p]`` through ``h`` ``[R, M]``.

    Resumes from ``checkpoint`` when it exists and was written for the same settings and shapes.
    ``on_step(step)`` is called after every finished step (tests use it to interrupt). ``metric``
    ``[p, p]`` maps decoder-space errors to the space the MSE is measured in (the RX's un-whitening
    factor ``L``: loss ``mean ‖L(ŷ − y)‖²``, the MSE of the RX's own latents); ``None`` = identity. Returns the
    history: per-step loss (every 10 steps), the largest deviation of any transmitted batch's
    mean energy from ``P_T``, and the number of zero weights after each checkpoint.
    """
    fingerprint = {**asdict(settings), "x": list(x.shape), "y": list(y.shape), "h": list(h.shape),
                   "noise_var": float(noise_var),
                   "metric": None if metric is None else float(metric.abs().sum())}
    opt = torch.optim.Adam(model.parameters(), lr=settings.lr)
    gens = {"batch": make_generator(settings.seed, "neural-batches"),
            "noise": make_generator(settings.seed, "neural-train-noise")}
    history: dict = {"step": [], "loss": [], "max_power_error": 0.0, "resumed_from": 0}
    start = 0
    state = load_checkpoint(checkpoint) if checkpoint is not None else None
    if state is not None and state["fingerprint"] == fingerprint:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optim"])
        for k, g in gens.items():
            g.set_state(state["generators"][k])
        history = state["history"]
        start = history["resumed_from"] = int(state["step"])
    tau = threshold(settings.lr, settings.beta)
    n = x.shape[0]
    bar = tqdm(total=settings.steps, initial=start, desc=desc, disable=not progress, leave=False,
               mininterval=1.0)
    model.train()
    for step in range(start + 1, settings.steps + 1):
        idx = torch.randint(n, (min(settings.batch_size, n),), generator=gens["batch"])
        s = model.transmit(x[idx])
        history["max_power_error"] = max(history["max_power_error"],
                                         abs(float(batch_power(s.detach())) - model.budget))
        r = s @ h.T
        y_hat = model.decoder(add_noise(r, noise_var, gens["noise"]))
        err = y_hat - y[idx]
        if metric is not None:
            err = err @ metric.T
        loss = err.abs().pow(2).sum(-1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        hard_threshold(model, tau)  # proximal step of β‖W‖₀
        if step % 10 == 0 or step == settings.steps:
            history["step"].append(step)
            history["loss"].append(float(loss.detach()))
            bar.set_postfix(loss=f"{float(loss.detach()):.4f}", refresh=False)
        bar.update(1)
        if checkpoint is not None and (step % settings.checkpoint_every == 0 or step == settings.steps):
            _save(checkpoint, model, opt, step, gens, history, fingerprint)
        if on_step is not None:
            on_step(step)
    bar.close()
    model.eval()
    return history


@torch.no_grad()
def decode_neural(model: NeuralLink, x: torch.Tensor, h: torch.Tensor, noise_var: float,
                  generator: torch.Generator, batch: int = 500) -> tuple[torch.Tensor, float]:
    """Transmit test rows ``x`` ``[N, m]`` in batches (each power-normalised) through ``h`` with
    noise; returns decoded rows ``[N, p]`` and the largest batch mean energy sent."""
    outs, worst = [], 0.0
    for i in range(0, x.shape[0], batch):
        s = model.transmit(x[i:i + batch])
        worst = max(worst, float(batch_power(s)))
        outs.append(model.decoder(add_noise(s @ h.T, noise_var, generator)))
    return torch.cat(outs), worst
