"""Training objectives of the zoo: the losses and the small heads that exist only for training.

Each objective is an ``nn.Module`` (its parameters — projector, decoder — are trained with the
encoder and then thrown away) with

* ``keep(labels) -> bool mask``: which training images the objective may use,
* ``loss(model, x, labels, generator) -> scalar``: the loss of one batch, where ``model`` is the
  timm encoder, ``x: [B, C, H, W] float`` normalised images, ``labels: [B] int64`` original labels.

The pure losses (:func:`nt_xent`) are exposed for tests.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .augment import simclr_view
from .registry import EncoderSpec

__all__ = [
    "ContrastiveObjective",
    "LabelObjective",
    "Objective",
    "ReconstructionObjective",
    "RotationObjective",
    "make_objective",
    "nt_xent",
    "pre_logits",
]


def pre_logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The latent vector of a timm model: ``forward_head(forward_features(x), pre_logits=True)``."""
    return model.forward_head(model.forward_features(x), pre_logits=True)


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.2) -> torch.Tensor:
    """SimCLR's normalised-temperature cross-entropy between paired views.

    .. math:: \\ell_i = -\\log \\frac{\\exp(s_{i,p(i)}/\\tau)}{\\sum_{k \\ne i} \\exp(s_{i,k}/\\tau)}

    with :math:`s` the cosine similarity over all :math:`2B` embeddings and :math:`p(i)` the
    other view of image :math:`i`. Inputs ``[B, D]``; returns the mean over the :math:`2B` terms.
    """
    b = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.T / temperature
    sim = sim.masked_fill(torch.eye(2 * b, dtype=torch.bool, device=z.device), float("-inf"))
    target = torch.cat([torch.arange(b, 2 * b), torch.arange(0, b)]).to(z.device)
    return F.cross_entropy(sim, target)


class Objective(nn.Module):
    """Base class: uses every image; subclasses define ``loss``."""

    def keep(self, labels: torch.Tensor) -> torch.Tensor:
        return torch.ones_like(labels, dtype=torch.bool)

    def loss(self, model: nn.Module, x: torch.Tensor, labels: torch.Tensor,
             generator: torch.Generator) -> torch.Tensor:
        raise NotImplementedError


class LabelObjective(Objective):
    """Cross-entropy through timm's own classifier on (possibly remapped) labels.

    ``label_map[c]`` is the training class of original class ``c`` (``-1``: image unused); with
    no map the original labels are used (plain supervised).
    """

    def __init__(self, label_map: tuple[int, ...] | None = None) -> None:
        super().__init__()
        self.register_buffer(
            "label_map", None if label_map is None else torch.tensor(label_map, dtype=torch.int64),
            persistent=False,
        )

    def targets(self, labels: torch.Tensor) -> torch.Tensor:
        return labels if self.label_map is None else self.label_map[labels]

    def keep(self, labels: torch.Tensor) -> torch.Tensor:
        return self.targets(labels) >= 0

    def loss(self, model, x, labels, generator):
        return F.cross_entropy(model(x), self.targets(labels))


class RotationObjective(Objective):
    """Predict which of 0/90/180/270° each image was rotated by (4-way timm classifier)."""

    def loss(self, model, x, labels, generator):
        k = torch.randint(0, 4, (x.shape[0],), generator=generator)
        rotated = torch.empty_like(x)
        for r in range(4):
            idx = (k == r).nonzero(as_tuple=True)[0]
            rotated[idx] = torch.rot90(x[idx], r, dims=(-2, -1))
        return F.cross_entropy(model(rotated), k.to(x.device))


class ContrastiveObjective(Objective):
    """SimCLR: NT-Xent between projections of two random views of each image."""

    def __init__(self, latent_dim: int, background: float, proj_dim: int = 128,
                 temperature: float = 0.2) -> None:
        super().__init__()
        self.background = background
        self.temperature = temperature
        self.projector = nn.Sequential(
            nn.Linear(latent_dim, latent_dim), nn.ReLU(inplace=True), nn.Linear(latent_dim, proj_dim)
        )

    def loss(self, model, x, labels, generator):
        views = torch.cat([simclr_view(x, generator, self.background),
                           simclr_view(x, generator, self.background)])
        z = self.projector(pre_logits(model, views))
        z1, z2 = z.chunk(2)
        return nt_xent(z1, z2, self.temperature)


class ReconstructionObjective(Objective):
    """Autoencoder: a small transposed-conv decoder rebuilds the 32×32 image from the latent.

    .. math:: \\mathcal{L} = \\lVert g(f(x)) - x \\rVert^2 / (B C H W)
    """

    def __init__(self, latent_dim: int, out_chans: int = 1, size: int = 32) -> None:
        super().__init__()
        if size % 8:
            raise ValueError("reconstruction needs an image size divisible by 8")
        self.base = size // 8
        self.fc = nn.Linear(latent_dim, 128 * self.base * self.base)
        self.decoder = nn.Sequential(
            nn.GELU(),
            nn.ConvTranspose2d(128, 64, 4, stride=2, padding=1), nn.GELU(),
            nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1), nn.GELU(),
            nn.ConvTranspose2d(32, out_chans, 4, stride=2, padding=1),
        )

    def loss(self, model, x, labels, generator):
        z = pre_logits(model, x)
        h = self.fc(z).view(-1, 128, self.base, self.base)
        return F.mse_loss(self.decoder(h), x)


def make_objective(spec: EncoderSpec, background: float = 0.0) -> Objective:
    """The objective module for ``spec`` (``background``: a black pixel, normalised)."""
    if spec.objective in ("supervised", "coarse-labels", "partial-labels"):
        return LabelObjective(spec.label_map)
    if spec.objective == "rotation":
        return RotationObjective()
    if spec.objective == "contrastive":
        return ContrastiveObjective(spec.latent_dim, background)
    if spec.objective == "reconstruction":
        return ReconstructionObjective(spec.latent_dim, out_chans=spec.in_chans, size=spec.image_size)
    raise ValueError(f"objective {spec.objective!r} has no training loss")
