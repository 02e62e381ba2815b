"""Saving figures: a PNG is written under a temporary name and moved into place, so an
interrupted run never leaves a half-written figure."""
from __future__ import annotations

from pathlib import Path

__all__ = ["save_figure"]


def save_figure(fig, path: Path, dpi: float | None = None) -> Path:
    """``fig`` to ``path`` atomically (parent folders made), then closed; ``dpi`` default: the figure's."""
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=dpi if dpi is not None else "figure")
    plt.close(fig)
    tmp.replace(path)
    return path
