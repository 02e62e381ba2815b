"""Saving figures: a PNG is written under a temporary name and moved into place, so an
interrupted run never leaves a half-written figure."""
from __future__ import annotations

from pathlib import Path

__all__ = ["save_figure"]


def save_figure(fig, path: Path) -> Path:
    """``fig`` to ``path`` atomically (parent folders made), then closed."""
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)
    return path
