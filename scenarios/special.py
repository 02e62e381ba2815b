"""Registry of the special scenarios behind ``semalign scenario NAME``.

Each scenario is a sub-package of ``scenarios`` with a ``cli`` module exposing
``add_arguments(parser)`` and ``main(args) -> int``; heavy imports (diffusers, skimage, …)
stay inside ``main`` so ``semalign --help`` is fast and a missing optional dependency only
affects its own scenario.
"""
from __future__ import annotations

import argparse
import importlib
from types import ModuleType

__all__ = ["SCENARIOS", "add_scenario_parsers", "run_scenario"]

# name on the command line -> module with add_arguments/main
SCENARIOS: dict[str, tuple[str, str]] = {
    "single-link": ("scenarios.single_link.cli", "one MIMO link: linear ADMM vs sparse complex neural alignment"),
    "distillation": ("scenarios.distillation.cli", "cloud→edge generative knowledge alignment (G-KA/MAKD, T-KA/CALA)"),
    "sam": ("scenarios.sam.cli", "segment-based semantic knowledge base with attention and adaptive compression"),
}


def _module(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(SCENARIOS[name][0])
    except ModuleNotFoundError as e:  # the scenario package itself is absent
        if e.name and SCENARIOS[name][0].startswith(e.name):
            return None
        raise


def add_scenario_parsers(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add ``scenario NAME`` sub-commands for every scenario present."""
    p = sub.add_parser("scenario", help="a special scenario: " + ", ".join(SCENARIOS))
    scen = p.add_subparsers(dest="scenario", required=True)
    for name, (_, text) in SCENARIOS.items():
        mod = _module(name)
        if mod is None:
            continue
        mod.add_arguments(scen.add_parser(name, help=text, description=text))


def run_scenario(args: argparse.Namespace) -> int:
    mod = _module(args.scenario)
    if mod is None:
        raise SystemExit(f"semalign: scenario {args.scenario!r} is not installed")
    return int(mod.main(args))
