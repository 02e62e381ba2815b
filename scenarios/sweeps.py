"""Named sweeps (experiments) as lists of points: which run settings vary, over what values.

A point is one engine run: a method and a set of :class:`RunConfig` overrides, for one seed.
``--quick`` presets are small enough for a few minutes on 2 cores; full presets follow the
paper's grids (seeds 27, 42, 100, 123, 144, 200).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from protocol.config import ConfigError, RunConfig, format_validation_error

__all__ = ["Point", "Sweep", "SWEEPS", "PAPER_SEEDS", "make_points", "point_config", "similarity_plan"]

PAPER_SEEDS = (27, 42, 100, 123, 144, 200)
ALL = ("federated", "multilink", "first-k", "top-k", "centralised")


@dataclass(frozen=True)
class Point:
    """One run of a sweep; ``key`` names its result file (stable across re-runs)."""

    sweep: str
    panel: str  # one figure panel (e.g. "N_T=N_R=2")
    x_name: str
    x: float
    method: str
    seed: int
    overrides: dict[str, Any] = field(hash=False)
    group: str = ""  # a line of its own within a method (the similarity sweep's user groups)

    @property
    def label(self) -> str:
        """The line this point belongs to in figures and tables."""
        return self.group or self.method

    @property
    def key(self) -> str:
        text = json.dumps([self.sweep, self.method, self.seed, sorted(self.overrides.items())], default=str)
        return hashlib.sha1(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Sweep:
    """A named experiment: the grid of its full and quick presets."""

    name: str
    x_name: str
    description: str
    full: dict
    quick: dict

    def grid(self, quick: bool) -> dict:
        return self.quick if quick else self.full


def _panels_antennas(spec: dict) -> list[tuple[str, dict]]:
    return [(f"N_T=N_R={a}", {"tx_antennas": a, "rx_antennas": a}) for a in spec["antennas"]]


SWEEPS: dict[str, Sweep] = {
    s.name: s for s in [
        Sweep("compression", "channel uses c", "accuracy vs compression factor ζ, one panel per antenna setting",
              full={"antennas": (1, 2, 4), "channel_uses": (1, 2, 4, 6, 8, 10, 20), "users": 10, "methods": ALL},
              quick={"antennas": (2,), "channel_uses": (1, 2, 4), "users": 4, "methods": ALL,
                     "base": {"pilots": 1000, "iterations": 30}}),
        Sweep("snr", "SNR [dB]", "accuracy vs SNR",
              full={"snr_db": (-20, -10, 0, 10, 20, 30), "users": 10, "methods": ("federated", "first-k", "top-k")},
              quick={"snr_db": (-10, 10, 30), "users": 4, "methods": ("federated", "top-k"),
                     "base": {"pilots": 1000, "iterations": 30}}),
        Sweep("pilots", "pilots n", "accuracy vs number of semantic pilots",
              full={"pilots": (250, 500, 1000, 2000, 4000, 8000), "users": 10, "methods": ("federated", "top-k")},
              quick={"pilots": (250, 1000), "users": 4, "methods": ("federated",), "base": {"iterations": 30}}),
        Sweep("users", "users K", "accuracy and round cost vs number of users",
              full={"users": (1, 2, 5, 10, 20, 50, 100), "methods": ("federated",)},
              quick={"users": (1, 2, 4), "methods": ("federated",), "base": {"pilots": 1000, "iterations": 30}}),
        Sweep("similarity", "channel uses c",
              "network MSE and accuracy vs ζ for a homogeneous and a heterogeneous group of 4 users "
              "(groups by linear CKA), one panel per pilot fraction",
              full={"channel_uses": (1, 2, 4, 6, 8, 10, 20), "pilot_fractions": (0.025, 0.1, 0.5), "users": 4,
                    "antennas": 4, "methods": ("federated",)},
              quick={"channel_uses": (1, 4), "pilot_fractions": (0.0125, 0.05, 0.2), "users": 4, "antennas": 2,
                     "methods": ("federated",), "base": {"iterations": 30}}),
        Sweep("csi", "CSI-error NMSE", "accuracy vs channel-estimate error (and no CSI at the AP)",
              full={"csi_nmse": (0.0, 0.01, 0.03, 0.1, 0.3), "users": 10, "methods": ("federated",), "no_csi": True},
              quick={"csi_nmse": (0.0, 0.1), "users": 4, "methods": ("federated",), "no_csi": True,
                     "base": {"pilots": 1000, "iterations": 30}}),
    ]
}


def point_config(base: RunConfig, overrides: dict) -> RunConfig:
    """``base`` with a point's overrides, validated."""
    try:
        return RunConfig(**{**base.model_dump(), **overrides})
    except ValidationError as e:
        raise ConfigError(format_validation_error(e)) from None


def similarity_plan(quick: bool, base: RunConfig) -> tuple[int, tuple[float, ...]]:
    """Group size and pilot fractions of the similarity sweep (needed before its points)."""
    g = SWEEPS["similarity"].grid(quick)
    users = base.users if "users" in base.model_fields_set else g["users"]
    return users, g["pilot_fractions"]


def make_points(name: str, quick: bool, seeds: tuple[int, ...], base: RunConfig,
                groups: dict[str, tuple[str, ...]] | None = None, train_size: int = 0) -> list[Point]:
    """Every point of sweep ``name``; each one's config is validated here, before any work.
    The similarity sweep needs its ``groups`` (name → user names) and the number of training
    rows (``train_size``) its pilot fractions apply to."""
    if name not in SWEEPS:
        raise ConfigError(f"field 'sweep': unknown sweep {name!r} (known: {', '.join(SWEEPS)})")
    if not seeds:
        raise ConfigError("field 'seeds': at least one seed is needed")
    sw = SWEEPS[name]
    g = dict(sw.grid(quick))
    explicit = base.model_fields_set  # settings given on the command line or in --config win over the preset
    common = {k: v for k, v in g.get("base", {}).items() if k not in explicit}
    if "users" in explicit and name != "users":
        g["users"] = base.users
    specs: list[tuple[str, float, dict]] = []  # (panel, x, overrides)
    grouped: list[tuple[str, float, dict, str]] = []  # (panel, x, overrides, group)
    if name == "similarity":
        if not groups or train_size < 1:
            raise ConfigError("similarity sweep: user groups and the training-set size are needed")
        ant = {} if {"tx_antennas", "rx_antennas"} & explicit else {"tx_antennas": g["antennas"], "rx_antennas": g["antennas"]}
        for frac in g["pilot_fractions"]:
            n = max(1, int(round(frac * train_size)))
            if "pilots" in explicit:
                raise ConfigError("field 'pilots': the similarity sweep sets pilots from its pilot fractions")
            for c in g["channel_uses"]:
                for gname, members in groups.items():
                    ov = {**ant, "channel_uses": c, "users": len(members), "pilots": n, "user_encoders": tuple(members)}
                    grouped.append((f"{n} pilots ({frac:.1%} of train)", c, ov, gname))
    elif name == "compression":
        for panel, ant in _panels_antennas(g):
            specs += [(panel, c, {**ant, "channel_uses": c, "users": g["users"]}) for c in g["channel_uses"]]
    elif name == "users":
        specs = [("", k, {"users": k}) for k in g["users"]]
    elif name == "csi":
        specs = [("CSI at the AP", v, {"csi_nmse": v, "users": g["users"]}) for v in g["csi_nmse"]]
        if g.get("no_csi"):
            specs += [("no CSI at the AP", v, {"csi_nmse": v, "csi": False, "users": g["users"]})
                      for v in g["csi_nmse"]]
    else:
        field_name = {"snr": "snr_db", "pilots": "pilots"}[name]
        specs = [("", v, {field_name: v, "users": g["users"]}) for v in g[field_name]]
    points = []
    for panel, x, ov, group in [(*spec, "") for spec in specs] + grouped:
        for method in g["methods"]:
            for seed in seeds:
                overrides = {**common, **ov, "method": method, "seed": seed}
                point_config(base, overrides)  # raises ConfigError naming the field
                points.append(Point(name, panel, sw.x_name, float(x), method, seed, overrides, group))
    return points
