"""Train one zoo encoder with its objective under a bounded budget (AdamW, cosine schedule).

Deterministic from a seed on a given machine and thread count: the global torch seed is set
only around model creation (timm initialises from it); shuffling and augmentation use their own
``torch.Generator``.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .datasets import ImageSplit
from .objectives import make_objective
from .preprocess import ImageTransform
from .profiles import ZooProfile
from .registry import EncoderSpec, create_encoder

__all__ = ["TrainStats", "default_threads", "torch_threads", "train_encoder"]


@dataclass(frozen=True)
class TrainStats:
    """What one training run did."""

    steps: int  # optimizer steps taken
    images_seen: int  # steps × batch size
    train_pool: int  # distinct images the objective could use
    seconds: float  # wall time of the training loop
    final_loss: float  # mean loss over the last 10 steps (nan when no training)


def default_threads() -> int:
    """Intra-op threads for the next piece of work: all cores, unless the machine is busy.

    Measured on 2 cores: 2 threads train the zoo's convnets ~1.3–1.7× faster per step than 1
    on an idle machine, but when other processes oversubscribe the cores OpenMP's spinning
    barriers make 2 threads up to ~15× slower than 1. So: 1 thread when the 1-minute load
    average is above ``cores + 0.5`` (our own run accounts for up to ``cores``), else all cores.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0] > cores + 0.5
    except OSError:
        busy = False
    return 1 if busy or cores < 2 else cores


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Temporarily set ``torch.set_num_threads(n)`` (``None``: leave as is)."""
    old = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _lr_lambda(warmup: int, total: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    return factor


def _batches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Endless shuffled index batches; full batches only when the pool allows it."""
    batch_size = min(batch_size, n)
    while True:
        perm = torch.randperm(n, generator=generator)
        for start in range(0, n - batch_size + 1, batch_size):
            yield perm[start : start + batch_size]


def train_encoder(
    spec: EncoderSpec,
    train: ImageSplit,
    profile: ZooProfile,
    transform: ImageTransform,
    *,
    seed: int = 0,
    progress: bool = True,
    **overrides: object,
) -> tuple[nn.Module, TrainStats]:
    """Train ``spec``'s encoder on at most ``profile.train_images`` images of ``train``.

    Returns the encoder (eval mode) and :class:`TrainStats`. ``overrides`` go to
    :func:`create_encoder` (e.g. ``in_chans``). A ``"pretrained"`` spec is loaded, not trained.
    """
    torch.manual_seed(seed)
    model = create_encoder(spec, **overrides)
    if spec.objective == "pretrained":
        return model.eval(), TrainStats(0, 0, 0, 0.0, float("nan"))
    objective = make_objective(spec, background=transform.background)

    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(train), generator=gen)[: profile.train_images]
    labels = torch.from_numpy(train.labels[order.numpy()])  # fancy indexing copies
    keep = objective.keep(labels)
    order, labels = order[keep], labels[keep]
    x_all = transform(train.images[order.numpy()])  # [n, C, S, S] float32

    params = [p for p in (*model.parameters(), *objective.parameters()) if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=spec.lr, weight_decay=spec.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, _lr_lambda(profile.warmup_steps, profile.max_steps))
    model.train()
    objective.train()
    losses: list[float] = []
    batches = _batches(len(order), profile.batch_size, gen)
    start = time.perf_counter()
    bar = tqdm(range(profile.max_steps), desc=f"train {spec.name}", disable=not progress,
               leave=False, dynamic_ncols=True)
    for _ in bar:
        idx = next(batches)
        loss = objective.loss(model, x_all[idx], labels[idx], gen)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(params, 2.0)
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{losses[-1]:.3f}", refresh=False)
    bar.close()
    seconds = time.perf_counter() - start
    stats = TrainStats(
        steps=len(losses),
        images_seen=len(losses) * min(profile.batch_size, len(order)),
        train_pool=len(order),
        seconds=seconds,
        final_loss=float(np.mean(losses[-10:])) if losses else float("nan"),
    )
    return model.eval(), stats
