"""The zoo's two CLI commands: build the cache, and list the encoders with their CKA matrix."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable

from rich.console import Console
from rich.table import Table

from .cache import build_zoo, is_fresh, load_cka_matrix, read_meta, resolve_cache_dir
from .profiles import get_profile
from .registry import get_spec, list_encoders

__all__ = ["build_command", "list_command"]

PathLike = str | os.PathLike[str]


def _console(console: Console | None) -> Console:
    return console if console is not None else Console()


def build_command(
    cache_dir: PathLike | None = None,
    profile: str = "default",
    names: Iterable[str] | None = None,
    *,
    dataset: str = "fashion-mnist",
    data_root: PathLike | None = None,
    console: Console | None = None,
) -> int:
    """Build missing/stale zoo entries with progress bars, then print a summary table.

    Returns 0 on success, 2 on an unknown encoder/profile or missing data.
    """
    out = _console(console)
    names = list(names) if names else list_encoders()
    try:
        prof = get_profile(profile)
        for n in names:
            get_spec(n)
        cached = {n: is_fresh(n, cache_dir, prof, dataset) for n in names}
        start = time.perf_counter()
        metas = build_zoo(names, cache_dir, prof, progress=True, dataset=dataset, data_root=data_root)
        wall = time.perf_counter() - start
    except (KeyError, FileNotFoundError) as err:
        out.print(f"[red]error:[/red] {err.args[0] if err.args else err}")
        return 2
    table = Table(title=f"zoo {dataset}/{prof.name} in {resolve_cache_dir(cache_dir)}")
    for col in ("encoder", "dim", "objective", "train s", "total s", "probe test acc", "status"):
        table.add_column(col, justify="right" if col not in ("encoder", "objective", "status") else "left")
    for n, meta in metas.items():
        table.add_row(
            n, str(meta["latent_dim"]), meta["spec"]["objective"],
            f"{meta['seconds']['train']:.1f}", f"{meta['seconds']['total']:.1f}",
            f"{meta['probe_test_accuracy']:.3f}", "cached" if cached[n] else "built",
        )
    out.print(table)
    built = sum(not c for c in cached.values())
    out.print(f"built {built} of {len(names)} encoders in {wall:.1f} s wall time")
    return 0


def list_command(
    cache_dir: PathLike | None = None,
    profile: str = "default",
    *,
    dataset: str = "fashion-mnist",
    console: Console | None = None,
) -> int:
    """Print every registered encoder (arch, dim, objective, probe accuracy, built?) and the
    linear-CKA matrix between the built ones (test latents). Returns 0, or 2 on a bad profile."""
    out = _console(console)
    try:
        prof = get_profile(profile)
    except KeyError as err:
        out.print(f"[red]error:[/red] {err.args[0]}")
        return 2
    table = Table(title=f"encoder zoo {dataset}/{prof.name} in {resolve_cache_dir(cache_dir)}")
    for col in ("encoder", "arch", "dim", "objective", "probe test acc", "built"):
        table.add_column(col, justify="right" if col in ("dim", "probe test acc") else "left")
    for n in list_encoders():
        spec = get_spec(n)
        meta = read_meta(n, cache_dir, prof, dataset)
        fresh = is_fresh(n, cache_dir, prof, dataset)
        acc = f"{meta['probe_test_accuracy']:.3f}" if fresh and meta else "-"
        status = "yes" if fresh else ("stale" if meta else "no")
        table.add_row(n, spec.model_name, str(spec.latent_dim), spec.objective, acc, status)
    out.print(table)
    names, matrix = load_cka_matrix(cache_dir, prof, dataset=dataset)
    if len(names) < 2:
        out.print("linear CKA: fewer than two encoders built "
                  f"(run `semalign encoders build --zoo-profile {prof.name}`)")
        return 0
    cka = Table(title="linear CKA between encoders (test latents)")
    cka.add_column("")
    for n in names:
        cka.add_column(n, justify="right")
    for n, row in zip(names, matrix):
        cka.add_row(n, *(f"{v:.2f}" for v in row))
    out.print(cka)
    return 0
