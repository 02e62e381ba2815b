"""Comma-separated list options of the CLIs: argparse types whose errors are one clear line."""
from __future__ import annotations

import argparse
from typing import Callable

__all__ = ["floats", "int_list"]


def floats(text: str) -> tuple[float, ...]:
    """``"0,0.5,1"`` → ``(0.0, 0.5, 1.0)``; empty items are skipped."""
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from e


def int_list(what: str, minimum: int | None = None, distinct: bool = False,
             allow_empty: bool = False) -> Callable[[str], tuple[int, ...]]:
    """An argparse type for comma-separated integers (``what`` names them in errors), each ≥ ``minimum`` if given,
    no value twice if ``distinct``; an empty list only with ``allow_empty`` (left to the config's validation)."""

    def parse(text: str) -> tuple[int, ...]:
        try:
            values = tuple(int(v) for v in text.split(",") if v.strip())
        except ValueError as e:
            raise argparse.ArgumentTypeError(f"{what}: expected comma-separated integers, got {text!r}") from e
        if not values and not allow_empty:
            raise argparse.ArgumentTypeError(f"{what}: expected at least one value, got {text!r}")
        if minimum is not None and values and min(values) < minimum:
            raise argparse.ArgumentTypeError(f"{what} must be >= {minimum}, got {text!r}")
        if distinct and len(set(values)) != len(values):
            raise argparse.ArgumentTypeError(f"{what} must be distinct, got {text!r}")
        return values

    parse.__name__ = what
    return parse
