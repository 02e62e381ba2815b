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


@pytest.fixture(scope="session")
def synthetic():
    return make_synthetic(users=4, train=2000, test=600, seed=3)
