"""The run configuration: one frozen, validated model shared by every runtime."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = [
    "RunConfig", "ConfigError", "load_config_file", "parse_run_config", "format_validation_error", "user_encoder_names", "METHODS",
]

METHODS = ("federated", "multilink", "first-k", "top-k", "centralised")


class ConfigError(ValueError):
    """A user error in a configuration: the message names the field."""


class RunConfig(BaseModel):
    """Every setting of a run (DESIGN.md §2–§3); saved next to the results it produced."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    users: int = Field(4, ge=1, le=100_000, description="number of user devices K")
    tx_antennas: int = Field(4, ge=1, le=1024, description="AP transmit antennas N_T")
    rx_antennas: int = Field(4, ge=1, le=1024, description="receive antennas per user N_R")
    channel_uses: int = Field(4, ge=1, le=4096, description="channel uses c per latent vector")
    snr_db: float = Field(20.0, ge=-60, le=100, description="per-antenna SNR at full budget [dB]")
    user_snr_db: tuple[float, ...] | None = Field(None, description="per-user SNR overrides [dB]")
    power: float = Field(1.0, gt=0, description="power budget P_T = max tr(F F^H)")
    iterations: int = Field(50, ge=1, le=100_000, description="ADMM iteration budget")
    rho: float = Field(1.0, gt=0, allow_inf_nan=False,
                       description="ADMM penalty (per pilot, DESIGN.md §3): fixed, or the start of residual balancing")
    rho_mode: Literal["fixed", "scaled", "adaptive", "scaled-adaptive"] = Field(
        "fixed", description="ADMM penalty rule (DESIGN.md §3 step 6): fixed ρ (paper), scaled to the users' "
                             "grams, residual balancing, or both")
    dual: Literal["shared", "per-user"] = Field(
        "shared", description="ADMM scaled dual: one shared U (paper) or one per user (consensus ADMM, DESIGN.md §3 step 5)")
    rho_scale: float = Field(0.3, gt=0, le=1e6, allow_inf_nan=False,
                             description="scaled modes: ρ = rho_scale × mean eigenvalue of the users' grams")
    rho_mu: float = Field(10.0, gt=1, le=1e6, allow_inf_nan=False,
                          description="residual balancing: adapt ρ when one residual exceeds μ times the other")
    rho_tau: float = Field(2.0, gt=1, le=1e3, allow_inf_nan=False,
                           description="residual balancing: factor ρ is multiplied or divided by")
    tol: float = Field(1e-5, ge=0, description="relative primal/dual residual tolerance (0 = run all)")
    seed: int = Field(42, ge=0, description="seed of pilots, channels, noise and init")
    pilots: int = Field(2000, ge=1, description="number of semantic pilots n")
    test_samples: int = Field(2000, ge=1, description="held-out samples for MSE/accuracy")
    method: Literal["federated", "multilink", "first-k", "top-k", "centralised"] = "federated"
    protocol: Literal["paper", "compact"] = Field("compact", description="message form (DESIGN.md §4)")
    processing: Literal["linear", "widely-linear"] = Field(
        "linear", description="latents as packed complex symbols with complex-linear F, G (paper), or real latents "
                              "with widely-linear F, G on the real-composite channel (DESIGN.md §2)")
    csi: bool = Field(True, description="AP has CSI (sends H F X) or not (sends F X)")
    csi_nmse: float = Field(0.0, ge=0, le=10, description="NMSE of the channel estimate used in training")
    precision: Literal["single", "double"] = Field("single", description="complex64 or complex128")
    device: str = Field("cpu", pattern=r"^(cpu|auto|cuda(:\d+)?)$")
    whiten: bool = Field(True, description="pre-whiten pilots on both sides")
    init: Literal["pca", "first-k", "random"] = Field("pca", description="initial pre-equalizer F0")
    transmit: Literal["z", "f"] = Field("z", description="evaluate with Z (feasible) or F")
    aggregation: Literal["mean", "trimmed-mean", "geomedian"] = Field(
        "mean", description="global F-step: mean of the local F_k (paper), trimmed mean or geometric median")
    trim: float = Field(0.2, ge=0, lt=0.5, description="fraction of users trimmed at each end (trimmed-mean)")
    user_metric: Literal["mse", "task"] = Field(
        "mse", description="each user's error metric: plain MSE (paper) or its private task metric (DESIGN.md §3)")
    metric_eps: float = Field(0.1, gt=0, le=1e6, allow_inf_nan=False,
                              description="task metric: weight of plain MSE vs the classifier part (∞ = paper)")
    ap_encoder: str = Field("vit-sup", min_length=1)
    user_encoders: tuple[str, ...] = Field((), description="user encoders, cycled; empty = zoo")
    latents: Path | None = Field(None, description="bring-your-own latents (.npz)")
    channels: Path | None = Field(None, description="given channel matrices (.npz)")
    cache_dir: Path | None = None
    data_dir: Path | None = None
    zoo_profile: Literal["default", "tiny"] = "default"
    threads: int = Field(1, ge=0, le=256, description="torch threads for the math (0 = torch default)")

    @model_validator(mode="after")
    def _check(self) -> "RunConfig":
        if self.user_snr_db is not None:
            if len(self.user_snr_db) != self.users:
                raise ValueError(
                    f"user_snr_db has {len(self.user_snr_db)} entries but users = {self.users}"
                )
            if not all(math.isfinite(s) for s in self.user_snr_db):
                raise ValueError("user_snr_db must be finite")
        if not math.isfinite(self.snr_db):
            raise ValueError("snr_db must be finite")
        return self

    def snrs(self) -> list[float]:
        """Per-user SNR in dB."""
        return list(self.user_snr_db) if self.user_snr_db is not None else [self.snr_db] * self.users

    @property
    def symbols(self) -> int:
        """Complex channel symbols per latent vector, ``N_T · c``."""
        return self.tx_antennas * self.channel_uses

    @property
    def f_rows(self) -> int:
        """Rows of F: the ``N_T · c`` complex symbols, or their ``2 N_T · c`` real and imaginary
        parts under widely-linear processing (DESIGN.md §2)."""
        return self.symbols * (2 if self.processing == "widely-linear" else 1)


def format_validation_error(err: ValidationError) -> str:
    """One line per problem, each naming the field: ``field 'power': ...``."""
    parts = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "config"
        parts.append(f"field '{loc}': {e['msg']}")
    return "; ".join(parts)


def _normalise_keys(data: dict[str, Any]) -> dict[str, Any]:
    return {k.replace("-", "_"): v for k, v in data.items()}


def load_config_file(path: Path) -> dict[str, Any]:
    """Read a TOML config file (a flat table, or under ``[run]``) into a dict of overrides."""
    try:
        import tomllib  # type: ignore[import-not-found]
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError as e:
        raise ConfigError(f"config file not found: {path}") from e
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise ConfigError(f"config file {path} is not valid TOML: {type(e).__name__}: {str(e)[:200]}") from e
    except OSError as e:
        raise ConfigError(f"config file {path} cannot be read: {e.strerror or e}") from e
    if "run" in data and isinstance(data["run"], dict):
        data = data["run"]
    return _normalise_keys(data)


def parse_run_config(data: dict[str, Any]) -> RunConfig:
    """Overrides (e.g. from :func:`load_config_file`) -> :class:`RunConfig`; any problem is a
    :class:`ConfigError` naming the field (the one documented error of the config loader)."""
    if not isinstance(data, dict):
        raise ConfigError(f"config is a {type(data).__name__}, not a table of settings")
    try:
        return RunConfig(**{str(k): v for k, v in data.items()})
    except ValidationError as e:
        raise ConfigError(format_validation_error(e)) from None


def user_encoder_names(cfg: RunConfig, known: list[str]) -> list[str]:
    """The encoder of each user: ``cfg.user_encoders`` cycled, or every zoo encoder but
    the AP's, cycled. Unknown names are a :class:`ConfigError` naming the field."""
    if cfg.ap_encoder not in known:
        raise ConfigError(f"field 'ap_encoder': unknown encoder {cfg.ap_encoder!r} (known: {', '.join(known)})")
    for name in cfg.user_encoders:
        if name not in known:
            raise ConfigError(f"field 'user_encoders': unknown encoder {name!r} (known: {', '.join(known)})")
    pool = list(cfg.user_encoders) or [n for n in known if n != cfg.ap_encoder]
    if not pool:
        raise ConfigError("field 'user_encoders': no user encoder available")
    return [pool[k % len(pool)] for k in range(cfg.users)]
