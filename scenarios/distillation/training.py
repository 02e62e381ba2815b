"""One resumable training loop for every stage: checkpoint every k steps, tqdm progress, resume."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
from torch import nn
from tqdm.auto import tqdm

from scenarios.distillation.checkpoint import load_checkpoint, save_checkpoint

__all__ = ["run_training"]


def run_training(
    name: str,
    path: Path,
    params: dict[str, nn.Module | torch.Tensor],
    optimizer: torch.optim.Optimizer,
    steps: int,
    step_fn: Callable[[int, torch.Generator], torch.Tensor],
    generator: torch.Generator,
    every: int = 50,
    progress: bool = True,
) -> list[float]:
    """Run ``steps`` optimiser steps of ``loss = step_fn(step, generator)``; return the losses.

    ``params`` names what is trained (modules or leaf tensors); their state, the optimiser's,
    the generator's and the loss history go to ``path`` every ``every`` steps and at the end.
    A run interrupted at step ``s`` resumes at ``s`` from the last checkpoint; a finished stage
    loads its result and does no work.
    """
    state = load_checkpoint(path)
    losses: list[float] = []
    start = 0
    if state is not None:
        _load(params, state["params"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        losses = list(state["losses"])
        start = int(state["step"])

    def save(step: int) -> None:
        save_checkpoint(path, {"params": _state(params), "optimizer": optimizer.state_dict(),
                               "generator": generator.get_state(), "losses": losses, "step": step})

    bar = tqdm(range(start, steps), desc=name, disable=not progress or start >= steps, leave=False,
               initial=start, total=steps)
    for step in bar:
        optimizer.zero_grad(set_to_none=True)
        loss = step_fn(step, generator)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
        if (step + 1) % every == 0 and step + 1 < steps:
            save(step + 1)
    if start < steps or state is None:
        save(steps)
    return losses


def _state(params: dict[str, nn.Module | torch.Tensor]) -> dict:
    return {k: (v.state_dict() if isinstance(v, nn.Module) else v.detach().clone()) for k, v in params.items()}


def _load(params: dict[str, nn.Module | torch.Tensor], saved: dict) -> None:
    for k, v in params.items():
        if isinstance(v, nn.Module):
            v.load_state_dict(saved[k])
        else:
            with torch.no_grad():
                v.copy_(saved[k])
