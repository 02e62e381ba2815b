"""Settings of the Flower runtime: run config (AP) and node config (each user), both flat
kebab-case key/value maps as Flower passes them, validated into pydantic models."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from protocol.config import ConfigError, RunConfig, format_validation_error

__all__ = ["RuntimeSettings", "UserSettings", "split_run_config", "user_settings", "to_flat"]


class RuntimeSettings(BaseModel):
    """How the AP runs the protocol (not part of the math)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    out_dir: Path = Field(Path("runs/flower"), description="results.json and the AP checkpoint")
    round_timeout: float = Field(60.0, gt=0, description="seconds a round waits for replies")
    join_timeout: float = Field(120.0, gt=0, description="seconds to wait for the users to connect")
    min_users: int = Field(1, ge=1, description="users needed to start (the rest may join later)")
    resume: bool = Field(False, description="continue from out_dir's checkpoint")
    poll_interval: float = Field(0.01, gt=0, le=5, description="seconds between pulls for replies")
    max_payload_bytes: int = Field(64 * 2**20, ge=1024, description="largest reply accepted [bytes], checked before decoding")


class UserSettings(BaseModel):
    """One user device's identity and settings (Flower node config)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_id: int = Field(ge=0)
    encoder: str | None = None
    snr_db: float | None = Field(None, ge=-60, le=100)
    rx_antennas: int | None = Field(None, ge=1, le=1024)
    device: str = Field("cpu", pattern=r"^(cpu|auto|cuda(:\d+)?)$")
    cache_dir: Path | None = None
    data_dir: Path | None = None
    zoo_profile: str | None = None
    latents: Path | None = None
    user_metric: Literal["mse", "task"] | None = Field(None, description="this user's private error metric (default: run config)")
    metric_eps: float | None = Field(None, gt=0, le=1e6, allow_inf_nan=False, description="task metric ε (default: run config)")
    fault: str | None = Field(None, description="fault drill, e.g. 'nan@3,crash@5' (user_client.faults)")
    audit: Path | None = Field(None, description="append every uplink record's keys and shapes here (user_client.audit)")

    @field_validator("fault")
    @classmethod
    def _check_fault(cls, v: str | None) -> str | None:
        from user_client.faults import parse_faults

        parse_faults(v)
        return v


_LISTS = {"user_encoders": str, "user_snr_db": float}
_RUNTIME = set(RuntimeSettings.model_fields)


def _snake(d: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k).replace("-", "_"): v for k, v in d.items()}


def split_run_config(flat: Mapping[str, Any]) -> tuple[RunConfig, RuntimeSettings]:
    """Flower run config -> (RunConfig, RuntimeSettings). Lists are comma-separated strings;
    empty strings mean "not set". Raises :class:`ConfigError` naming the field."""
    run: dict[str, Any] = {}
    rt: dict[str, Any] = {}
    for k, v in _snake(flat).items():
        if isinstance(v, str) and v == "":
            continue
        if k in _LISTS and isinstance(v, str):
            try:
                v = tuple(_LISTS[k](x) for x in v.split(",") if x.strip())
            except ValueError as e:
                raise ConfigError(f"field '{k}': {e}") from None
        (rt if k in _RUNTIME else run)[k] = v
    try:
        return RunConfig(**run), RuntimeSettings(**rt)
    except ValidationError as e:
        raise ConfigError(format_validation_error(e)) from None


def user_settings(node_config: Mapping[str, Any]) -> UserSettings:
    """Flower node config -> :class:`UserSettings`; ``partition-id`` (simulation) stands in
    for ``user-id``; unknown keys of Flower's own are ignored."""
    d = _snake(node_config)
    if "user_id" not in d and "partition_id" in d:
        d["user_id"] = d["partition_id"]
    d = {k: v for k, v in d.items() if k in UserSettings.model_fields and v != ""}
    try:
        return UserSettings(**d)
    except ValidationError as e:
        raise ConfigError(format_validation_error(e)) from None


def to_flat(cfg: RunConfig, rt: RuntimeSettings | None = None) -> dict[str, Any]:
    """The inverse of :func:`split_run_config` (for ``--run-config`` and pyproject)."""
    out: dict[str, Any] = {}
    items = list(cfg.model_dump(mode="json").items()) + (list(rt.model_dump(mode="json").items()) if rt else [])
    for k, v in items:
        if v is None:
            continue
        if isinstance(v, (list, tuple)):
            v = ",".join(str(x) for x in v)
        out[k.replace("_", "-")] = v
    return out
