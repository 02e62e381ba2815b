"""Image quality (PSNR, SSIM) and the bit accounting of one transmitted image.

Bit accounting (stated in every output): the link is analog (complex symbols, JSCC); to compare
with the paper's bit counts, each sent complex symbol is counted as 2 real values of
``quant_bits`` bits (uniform scalar quantisation, *counted, not simulated*), plus, with ASC, one
bit per feature position for the mask (side information the decoder needs). The raw image is
``H·W·3·8`` bits. The paper's numbers look like *value* counts (21,632 = 13·13·128 features,
49,152 = 128·128·3 pixel values), so we also report values per image.
"""
from __future__ import annotations

import numpy as np

__all__ = ["psnr", "ssim", "region_psnr", "region_ssim", "bits_per_image", "values_per_image", "raw_bits", "raw_values"]


def psnr(ref: np.ndarray, rec: np.ndarray) -> np.ndarray:
    """Per-image PSNR [dB] of images in [0, 1]: ``10 log10(1 / MSE)``; ``[N, H, W, 3]`` → ``[N]``."""
    mse = ((ref.astype(np.float64) - rec.astype(np.float64)) ** 2).reshape(len(ref), -1).mean(-1)
    return 10 * np.log10(1.0 / np.maximum(mse, 1e-12))


def ssim(ref: np.ndarray, rec: np.ndarray) -> np.ndarray:
    """Per-image SSIM (scikit-image, 7×7 window, RGB averaged, data range 1); ``[N, H, W, 3]`` → ``[N]``."""
    from skimage.metrics import structural_similarity

    return np.array([structural_similarity(a, b, channel_axis=-1, data_range=1.0)
                     for a, b in zip(ref.astype(np.float64), rec.astype(np.float64))])


def region_psnr(ref: np.ndarray, rec: np.ndarray, region: np.ndarray) -> np.ndarray:
    """PSNR [dB] over the pixels of ``region`` (bool ``[N, H, W]``, all 3 channels); ``[N]``.

    An image whose region is empty gets the whole-image value."""
    err = ((ref.astype(np.float64) - rec.astype(np.float64)) ** 2).mean(-1)  # [N, H, W]
    region = np.asarray(region, bool)
    n = region.reshape(len(ref), -1).sum(-1)
    mse = np.where(n > 0, (err * region).reshape(len(ref), -1).sum(-1) / np.maximum(n, 1), err.reshape(len(ref), -1).mean(-1))
    return 10 * np.log10(1.0 / np.maximum(mse, 1e-12))


def region_ssim(ref: np.ndarray, rec: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Object-region SSIM: the mean of scikit-image's SSIM map (7×7 window, RGB averaged, data range 1) over the
    pixels of ``region`` (bool ``[N, H, W]``); ``[N]``. Each map value depends on the 7×7 window around its pixel,
    so background changes more than 3 pixels away from every region pixel do not change it. An image whose
    region is empty gets the mean of its whole map."""
    from skimage.metrics import structural_similarity

    out = np.empty(len(ref))
    for i, (a, b, m) in enumerate(zip(ref.astype(np.float64), rec.astype(np.float64), np.asarray(region, bool))):
        _, smap = structural_similarity(a, b, channel_axis=-1, data_range=1.0, full=True)
        smap = smap.mean(-1)
        out[i] = smap[m].mean() if m.any() else smap.mean()
    return out


def values_per_image(sent_symbols: np.ndarray | float) -> np.ndarray:
    """Real values sent: 2 per complex symbol."""
    return 2 * np.asarray(sent_symbols, dtype=np.float64)


def bits_per_image(sent_symbols: np.ndarray | float, side_bits: int, asc: bool, quant_bits: int) -> np.ndarray:
    """``2 · quant_bits · n_symbols`` (+ ``side_bits`` mask bits with ASC)."""
    return values_per_image(sent_symbols) * quant_bits + (side_bits if asc else 0)


def raw_values(size: int) -> int:
    return size * size * 3


def raw_bits(size: int) -> int:
    return raw_values(size) * 8
