"""Training of one variant: Adam on image MSE — object-weighted with ``cfg.object_weight`` > 1
(:mod:`scenarios.sam.objective`) — (+ the ASC ratio term, + the human-guided ASI term with ``cfg.asi_supervision``),
AWGN at random SNRs, checkpointed atomically.

Base models (no ``init_from``) train with the mask-ratio curriculum (``cfg.curriculum``): a random share of
the images is sent with a random prefix of the feature levels (:func:`scenarios.sam.asc.random_depth_mask`),
so every codec — conventional, no-ASC and ASC alike start from such a base — decodes any prefix.

A job resumes from ``<name>.pt`` if present (model, optimiser, step, loss log); each step's batch,
SNRs and noise come from the generator of stream ``train-<name>-<step>``, so a resumed run sees
the same data as an uninterrupted one. Training seed ``k > 0`` uses streams ``train-s<k>-<name>-<step>``,
its own initialisation and checkpoints in ``s<k>/``: same data, independent training runs.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from channel.rng import make_generator, stream_seed
from protocol.atomic import write_bytes_atomic
from scenarios.sam.asc import mask_ratio_loss, random_depth_mask
from scenarios.sam.asi import importance_target, segments_onehot, supervision_loss
from scenarios.sam.config import SamConfig
from scenarios.sam.dataset import SegmentedImages
from scenarios.sam.link import transmit
from scenarios.sam.model import LamSc
from scenarios.sam.objective import pixel_weights, weighted_mse

__all__ = ["Job", "batch", "load_trained", "model_for", "object_region", "train_job"]


@dataclass(frozen=True)
class Job:
    """One training run: a model of ``asi``/``asc`` trained ``steps`` steps, starting from ``init_from``'s weights."""

    name: str
    asi: str
    asc: bool
    target_ratio: float
    steps: int
    init_from: str | None = None
    train_seed: int = 0

    @property
    def stream(self) -> str:
        """Prefix of this job's generator streams (seed 0 keeps the single-seed names)."""
        return self.name if self.train_seed == 0 else f"s{self.train_seed}-{self.name}"

    def checkpoint(self, ckpt_dir: Path) -> Path:
        return ckpt_dir / f"{self.name}.pt" if self.train_seed == 0 else ckpt_dir / f"s{self.train_seed}" / f"{self.name}.pt"


def batch(data: SegmentedImages, idx: np.ndarray | torch.Tensor, max_segments: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Images float ``[B, 3, H, W]`` in [0, 1], segment masks ``[B, S, H, W]``, ``valid`` ``[B, S]``."""
    idx = np.asarray(idx)
    x = torch.from_numpy(data.images[idx]).permute(0, 3, 1, 2).float() / 255
    masks, valid = segments_onehot(torch.from_numpy(data.segments[idx].astype(np.int64)), max_segments)
    return x, masks, valid


def object_region(data: SegmentedImages, idx: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Ground-truth object pixels bool ``[B, 1, H, W]`` (``truth > 0``); needs ``data.truth``."""
    if data.truth is None:
        raise ValueError("these images have no ground-truth object masks (needed by object_weight and the object-region metrics)")
    return torch.from_numpy(data.truth[np.asarray(idx)] > 0)[:, None]


def model_for(job: Job, cfg: SamConfig) -> LamSc:
    """A fresh (untrained) model of ``job``'s variant with ``cfg``'s architecture."""
    return LamSc(job.asi, job.asc, cfg.latent_channels, cfg.mask_levels, cfg.mask_block, cfg.asi_steer)


def load_trained(job: Job, cfg: SamConfig, ckpt_dir: Path) -> LamSc:
    """``job``'s trained model from its checkpoint in ``ckpt_dir`` (eval mode; an ASC model gets the run's inference
    mask at the job's ratio, as in the experiment)."""
    model = model_for(job, cfg)
    model.load_state_dict(torch.load(job.checkpoint(ckpt_dir), map_location="cpu", weights_only=False)["model"])
    model.eval()
    if model.asc is not None:
        model.asc.set_budget(cfg.asc_budget, job.target_ratio)
    return model


def _save(path: Path, state: dict) -> None:
    buf = io.BytesIO()
    torch.save(state, buf)
    write_bytes_atomic(path, buf.getvalue())


def train_job(job: Job, cfg: SamConfig, data: SegmentedImages, ckpt_dir: Path, init: dict | None = None,
              progress: bool = True, mask_shift: Callable[[np.ndarray], torch.Tensor] | None = None) -> tuple[LamSc, list[dict]]:
    """Train (or resume, or just load) ``job``; returns the model (eval mode) and its loss log.

    ``mask_shift(idx)`` (optional): a ``[B, 1, h, w]`` offset of the ASC keep logits for the batch's images
    (:meth:`scenarios.sam.model.LamSc.forward`; the allocation oracle of ``benchmarks/sam_allocation.py``)."""
    from tqdm import tqdm

    torch.manual_seed(stream_seed(cfg.seed, f"init-{job.stream}"))  # initialisation independent of job order
    model = model_for(job, cfg)
    path = job.checkpoint(ckpt_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    start, log = 0, []
    if path.is_file():
        state = torch.load(path, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        start, log = state["step"], state["log"]
    elif init is not None:
        missing, unexpected = model.load_state_dict(init, strict=False)
        if unexpected or any(not k.startswith("asc.") for k in missing):
            raise RuntimeError(f"{job.name}: cannot start from {job.init_from} (missing {missing}, unexpected {unexpected})")
    model.train()
    lo, hi = cfg.train_snr_db
    for step in tqdm(range(start, job.steps), desc=f"train {job.stream}", initial=start, total=job.steps,
                     disable=not progress or start >= job.steps, leave=False):
        g = make_generator(cfg.seed, f"train-{job.stream}-{step}")
        idx = torch.randint(len(data), (cfg.batch_size,), generator=g).numpy()
        x, masks, valid = batch(data, idx, cfg.max_segments)
        snr = lo + (hi - lo) * torch.rand(cfg.batch_size, generator=g, dtype=torch.float64)
        keep = None
        if job.init_from is None and cfg.curriculum > 0:  # base model: mask-ratio curriculum
            grid = x.shape[-1] // 4
            keep = random_depth_mask(cfg.batch_size, cfg.mask_levels, grid, grid, cfg.curriculum, g)
        fwd = model(x, masks, valid, lambda s, k: transmit(s, k, snr, "awgn", g, cfg.power), keep=keep,
                    mask_shift=mask_shift(idx) if mask_shift is not None else None)
        supervise = cfg.asi_supervision and job.asi == "attention"  # human-guided segment importance (training only)
        objects = object_region(data, idx) if cfg.object_weight != 1 or supervise else None
        weights = pixel_weights(objects, cfg.object_weight) if cfg.object_weight != 1 else None
        mse = weighted_mse(fwd.recon, x, weights)  # plain MSE at object_weight 1
        loss = mse + (cfg.ratio_weight * mask_ratio_loss(fwd.keep, job.target_ratio) if job.asc else 0.0)
        if supervise:
            loss = loss + cfg.asi_supervision * supervision_loss(fwd.weights, importance_target(masks, objects, valid), valid)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 10 == 0 or step + 1 == job.steps:
            row = dict(job=job.name, train_seed=job.train_seed, step=step, loss=float(loss.detach()), mse=float(mse.detach()),
                       keep=float(fwd.keep.detach().mean()))
            if job.asi == "attention":  # how far the segment weights are from uniform (1), before this step's update
                row["asi_max_wS"] = float((fwd.weights.detach().amax(-1) * valid.sum(-1)).mean())
            log.append(row)
        if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == job.steps:
            _save(path, dict(model=model.state_dict(), optimizer=opt.state_dict(), step=step + 1, log=log,
                             job=job.__dict__))
    model.eval()
    return model, log
