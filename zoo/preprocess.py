"""Turn uint8 images into normalised model inputs: pad to 32×32, scale to [0, 1], normalise.

.. math:: x = (\\operatorname{pad}(u) / 255 - \\mu) / \\sigma

with per-data-set constants :math:`\\mu, \\sigma` measured on the zero-padded training split.
Channels are adapted to the model (grey → repeated to 3, colour → luminance for 1) and the
result is resized when a model wants another input size (e.g. a 224×224 pretrained network).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["DATASET_STATS", "ImageTransform", "make_transform"]

# mean / std of the training split after zero-padding to 32×32 and scaling to [0, 1]
DATASET_STATS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "fashion-mnist": ((0.2190,), (0.3318,)),
    "cifar-10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}

_LUMA = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class ImageTransform:
    """uint8 images -> float32 model input ``[N, in_chans, image_size, image_size]``."""

    mean: tuple[float, ...]  # per data channel, in [0, 1] units
    std: tuple[float, ...]  # per data channel
    in_chans: int = 1  # channels the model expects
    pad_to: int = 32  # zero-pad smaller images (28 -> 32) symmetrically to this size
    image_size: int = 32  # final spatial size (bilinear resize when != pad_to)

    @property
    def background(self) -> float:
        """Value of a zero (black) pixel after normalisation, averaged over channels."""
        return float(np.mean([-m / s for m, s in zip(self.mean, self.std)]))

    def __call__(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Args: images: uint8 ``[N, H, W]`` or ``[N, H, W, C]``. Returns float32 ``[N, C', S, S]``."""
        x = images if torch.is_tensor(images) else torch.from_numpy(np.array(images, copy=True))
        if x.dim() == 3:
            x = x.unsqueeze(-1)
        x = x.permute(0, 3, 1, 2).to(torch.float32).div_(255.0)  # [N, C, H, W]
        mean = torch.tensor(self.mean, dtype=x.dtype).view(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=x.dtype).view(1, -1, 1, 1)
        x = (x - mean) / std
        h, w = x.shape[-2:]
        if h < self.pad_to or w < self.pad_to:
            ph, pw = max(self.pad_to - h, 0), max(self.pad_to - w, 0)
            # pad in normalised space with the value a black pixel takes there
            pad_value = torch.as_tensor(-mean / std)
            padded = pad_value.expand(x.shape[0], x.shape[1], h + ph, w + pw).clone()
            padded[..., ph // 2 : ph // 2 + h, pw // 2 : pw // 2 + w] = x
            x = padded
        if x.shape[1] != self.in_chans:
            x = self._adapt_channels(x)
        if x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear",
                              align_corners=False)
        return x.contiguous()

    def _adapt_channels(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        if c == 1:
            return x.expand(-1, self.in_chans, -1, -1)
        if self.in_chans == 1 and c == 3:
            return (x * torch.tensor(_LUMA, dtype=x.dtype).view(1, 3, 1, 1)).sum(1, keepdim=True)
        raise ValueError(f"cannot adapt {c}-channel images to a {self.in_chans}-channel model")


def make_transform(
    dataset: str, in_chans: int = 1, image_size: int = 32, images: np.ndarray | None = None
) -> ImageTransform:
    """Transform for a data set; unknown data sets get stats measured on ``images``."""
    if dataset in DATASET_STATS:
        mean, std = DATASET_STATS[dataset]
    elif images is not None:
        x = images.astype(np.float64) / 255.0
        axes = (0, 1, 2)
        mean = tuple(float(v) for v in np.atleast_1d(x.mean(axis=axes)))
        std = tuple(float(v) for v in np.atleast_1d(x.std(axis=axes)))
    else:
        raise KeyError(f"no stats for dataset {dataset!r}; pass `images` to measure them")
    return ImageTransform(mean=mean, std=std, in_chans=in_chans, image_size=image_size)
