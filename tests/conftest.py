"""Shared fixtures: precision, seeds and small synthetic latents."""
from __future__ import annotations

import pytest
import torch

from scenarios.synthetic import make_synthetic

torch.set_num_threads(1)

DTYPES = {"single": torch.complex64, "double": torch.complex128}
TOL = {"single": 1e-4, "double": 1e-9}


@pytest.fixture(params=["single", "double"])
def precision(request) -> str:
    return request.param


@pytest.fixture
def cdtype(precision) -> torch.dtype:
    return DTYPES[precision]


@pytest.fixture
def tol(precision) -> float:
    return TOL[precision]


def crandn(*shape, dtype=torch.complex128, generator=None) -> torch.Tensor:
    real = torch.float64 if dtype == torch.complex128 else torch.float32
    re = torch.randn(*shape, dtype=real, generator=generator)
    im = torch.randn(*shape, dtype=real, generator=generator)
    return torch.complex(re, im) / 2**0.5


def tiny_sam_args(out, *extra: str) -> list[str]:
    """``semalign scenario sam`` on a few images and steps into ``out``; ``extra`` options are
    appended (argparse keeps the last value of a repeated option)."""
    return ["scenario", "sam", "--out", str(out), "--train-images", "16", "--test-images", "4", "--val-images", "4",
            "--seeds", "2", "--steps", "2", "--finetune-steps", "2", "--snrs", "10", "--channels", "awgn",
            *extra, "--quiet"]


@pytest.fixture(scope="session")
def synthetic():
    return make_synthetic(users=4, train=2000, test=600, seed=3)
