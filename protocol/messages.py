"""Validated models of every AP <-> user message (DESIGN.md §4).

Array fields are numpy arrays checked for dtype (complex; real float32/float64 when the
validation context says ``real``, widely-linear runs, DESIGN.md §2), finiteness and, given a
context, shape. Build array messages with ``model_validate(..., context={"real": ...})`` in
widely-linear runs. A message that fails raises :class:`pydantic.ValidationError` whose text
names the field; the receiver logs it and drops the message.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, PlainValidator, ValidationInfo, model_validator

__all__ = [
    "ComplexArray",
    "JoinRequest",
    "RunParameters",
    "PilotBroadcast",
    "RoundRequest",
    "RoundReply",
    "EvaluateRequest",
    "EvaluateReply",
    "MESSAGE_TYPES",
]

#: Fixed message type names (Flower ``message_type`` suffixes).
MESSAGE_TYPES = {
    "join": "query.join",
    "pilots": "query.pilots",
    "round": "train.round",
    "evaluate": "evaluate.final",
}

MAX_ELEMENTS = 50_000_000  # refuse absurd payloads before any arithmetic on them


def _complex_array(v: Any) -> np.ndarray:
    if not isinstance(v, np.ndarray):
        raise ValueError(f"expected a numpy array, got {type(v).__name__}")
    if v.dtype not in (np.complex64, np.complex128, np.float32, np.float64):
        raise ValueError(f"expected complex64/complex128 (float32/float64 in widely-linear runs), got {v.dtype}")
    if v.ndim != 2:
        raise ValueError(f"expected a 2-D matrix, got {v.ndim}-D shape {v.shape}")
    if v.size > MAX_ELEMENTS:
        raise ValueError(f"array of {v.size} elements exceeds the limit {MAX_ELEMENTS}")
    if not np.isfinite(v).all():
        nan = int(np.isnan(v).sum())
        raise ValueError(f"array contains NaN or Inf ({nan} NaN, {int(np.isinf(v).sum())} Inf)")
    return v


ComplexArray = Annotated[
    np.ndarray,
    PlainValidator(_complex_array),
    PlainSerializer(lambda a: {"shape": list(a.shape), "dtype": str(a.dtype)}, when_used="json"),
]


def _check_kind(name: str, arr: np.ndarray, real: bool | None) -> None:
    """``real`` (context key; absent = False): the run is widely-linear (real arrays) or not (complex ones)."""
    if bool(real) == np.iscomplexobj(arr):
        want = "real float32/float64 (widely-linear run)" if real else "complex64/complex128"
        raise ValueError(f"{name} must be {want}, got {arr.dtype}")


def _check_shape(name: str, arr: np.ndarray, expected: tuple[int, ...] | None) -> None:
    if expected is not None and tuple(arr.shape) != tuple(expected):
        raise ValueError(f"{name} has shape {tuple(arr.shape)}, expected {tuple(expected)}")


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class JoinRequest(_Message):
    """User -> AP: who I am and what I can do (never my latents, encoder or classifier)."""

    user_id: int = Field(ge=0)
    latent_dim: int = Field(ge=1, le=1_000_000)
    rx_antennas: int = Field(ge=1, le=1024)
    snr_db: float = Field(ge=-60, le=100, allow_inf_nan=False)
    device: str = Field(max_length=32)
    capabilities: tuple[str, ...] = ()


class RunParameters(_Message):
    """AP -> user: the run parameters every user needs (DESIGN.md §4.1)."""

    run_seed: int = Field(ge=0)
    pilots: int = Field(ge=1)
    tx_antennas: int = Field(ge=1)
    channel_uses: int = Field(ge=1)
    ap_features: int = Field(ge=1)
    rho: float = Field(gt=0, allow_inf_nan=False)
    power: float = Field(gt=0, allow_inf_nan=False)
    iterations: int = Field(ge=1)
    csi: bool
    csi_nmse: float = Field(ge=0, allow_inf_nan=False)
    whiten: bool
    test_samples: int = Field(ge=1)
    protocol: Literal["paper", "compact"]
    precision: Literal["single", "double"]
    processing: Literal["linear", "widely-linear"] = "linear"


class PilotBroadcast(_Message):
    """AP -> user, compact mode only: the whitened AP pilots ``X`` once, ``[m, n]``."""

    x: ComplexArray

    @model_validator(mode="after")
    def _shape(self, info: ValidationInfo) -> "PilotBroadcast":
        ctx = info.context or {}
        _check_shape("x", self.x, ctx.get("x_shape"))
        _check_kind("x", self.x, ctx.get("real"))
        return self


class RoundRequest(_Message):
    """AP -> user k, round t.

    Paper mode: ``payload = H_k F X`` ``[N_R c, n]`` (CSI at AP) or ``F X`` ``[N_T c, n]``.
    Compact mode: ``payload = H_k F`` ``[N_R c, m]`` (CSI) or ``F`` ``[N_T c, m]``.
    """

    round: int = Field(ge=0)
    user_id: int = Field(ge=0)
    payload: ComplexArray

    @model_validator(mode="after")
    def _shape(self, info: ValidationInfo) -> "RoundRequest":
        ctx = info.context or {}
        _check_shape("payload", self.payload, ctx.get("payload_shape"))
        _check_kind("payload", self.payload, ctx.get("real"))
        return self


class RoundReply(_Message):
    """User k -> AP, round t: ``gram = A_k^H A_k`` ``[M, M]`` and ``cross``.

    ``cross = A_k^H Y_k`` ``[M, n]`` in paper mode, ``A_k^H Y_k X^H / n`` ``[M, m]`` in
    compact mode (DESIGN.md §4). ``A_k = G_k H_k``, ``M = N_T c``.
    """

    round: int = Field(ge=0)
    user_id: int = Field(ge=0)
    gram: ComplexArray
    cross: ComplexArray

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> "RoundReply":
        ctx = info.context or {}
        if "user_id" in ctx and self.user_id != ctx["user_id"]:
            raise ValueError(f"user_id {self.user_id} does not match the sender ({ctx['user_id']})")
        if "round" in ctx and self.round != ctx["round"]:
            when = "stale" if self.round < ctx["round"] else "future"
            raise ValueError(f"round {self.round} is not the current round {ctx['round']} ({when})")
        _check_shape("gram", self.gram, ctx.get("gram_shape"))
        _check_shape("cross", self.cross, ctx.get("cross_shape"))
        _check_kind("gram", self.gram, ctx.get("real"))
        _check_kind("cross", self.cross, ctx.get("real"))
        if self.gram.shape[0] != self.gram.shape[1]:
            raise ValueError(f"gram must be square, got {self.gram.shape}")
        if self.cross.shape[0] != self.gram.shape[0]:
            raise ValueError(f"cross has {self.cross.shape[0]} rows, gram has {self.gram.shape[0]}")
        scale = max(1.0, float(np.abs(self.gram).max()))
        if np.abs(self.gram - self.gram.conj().T).max() > 1e-3 * scale:
            raise ValueError("gram is not Hermitian")
        return self


class EvaluateRequest(_Message):
    """AP -> user k after the last round: the final pre-equalizer in the round's form
    (``payload``, as in :class:`RoundRequest`, for the user's final ``G_k``) and the
    symbols ``F X_test`` ``[N_T c, n_te]`` the AP transmits for the held-out data."""

    round: int = Field(ge=0)
    user_id: int = Field(ge=0)
    payload: ComplexArray
    tx_test: ComplexArray

    @model_validator(mode="after")
    def _shape(self, info: ValidationInfo) -> "EvaluateRequest":
        ctx = info.context or {}
        _check_shape("payload", self.payload, ctx.get("payload_shape"))
        _check_shape("tx_test", self.tx_test, ctx.get("tx_test_shape"))
        _check_kind("payload", self.payload, ctx.get("real"))
        _check_kind("tx_test", self.tx_test, ctx.get("real"))
        return self


class EvaluateReply(_Message):
    """User k -> AP: its own metrics on held-out data (never the latents themselves)."""

    user_id: int = Field(ge=0)
    encoder: str = Field(max_length=128)
    latent_dim: int = Field(ge=1)
    mse: float = Field(ge=0, allow_inf_nan=False)
    nmse: float = Field(ge=0, allow_inf_nan=False)
    accuracy: float | None = Field(None, ge=0, le=1)
    oracle_accuracy: float | None = Field(None, ge=0, le=1)
