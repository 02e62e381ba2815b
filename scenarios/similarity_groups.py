"""Homogeneous and heterogeneous user groups from measured latent similarity (the paper's Fig. 3).

The similarity of two users' latent spaces is their linear CKA on the same training images
(:mod:`zoo.similarity`). A group is ``size`` users, each running one of the candidate encoders,
an encoder used by at most ``max_copies`` users (two devices may run the same model). Its
similarity is the mean CKA over the ``size·(size−1)/2`` user pairs (1 for two users of the same
encoder). The *homogeneous* group maximises it, the *heterogeneous* group minimises it.
"""
from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from protocol.atomic import write_json_atomic
from protocol.config import ConfigError, RunConfig

from scenarios.figures import save_figure

__all__ = ["Groups", "group_similarity", "pick_groups", "measure_similarity", "plot_similarity", "write_groups"]


@dataclass(frozen=True)
class Groups:
    """Candidate names, their CKA matrix and the two chosen groups (names, with repeats)."""

    names: tuple[str, ...]
    matrix: np.ndarray
    homogeneous: tuple[str, ...]
    heterogeneous: tuple[str, ...]
    train_size: int

    def similarity(self, group: tuple[str, ...]) -> float:
        return group_similarity(self.names, self.matrix, group)

    def as_dict(self) -> dict:
        return {"names": list(self.names), "cka": self.matrix.round(6).tolist(), "train_size": self.train_size,
                "groups": {g: {"users": list(getattr(self, g)), "mean_pairwise_cka": round(self.similarity(getattr(self, g)), 6)}
                           for g in ("homogeneous", "heterogeneous")}}


def group_similarity(names: tuple[str, ...], matrix: np.ndarray, group: tuple[str, ...]) -> float:
    """Mean pairwise CKA of a group of users (names may repeat)."""
    idx = [names.index(g) for g in group]
    pairs = list(itertools.combinations(idx, 2))
    return float(np.mean([matrix[i, j] for i, j in pairs])) if pairs else 1.0


def pick_groups(names: tuple[str, ...], matrix: np.ndarray, size: int = 4,
                max_copies: int = 2) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(homogeneous, heterogeneous)``: the groups of maximal and minimal mean pairwise CKA
    among every multiset of ``size`` names with at most ``max_copies`` of each (ties: first)."""
    if len(names) * max_copies < size:
        raise ConfigError(f"field 'users': {len(names)} candidate encoders × {max_copies} copies cannot form "
                          f"a group of {size}")
    groups = [g for g in itertools.combinations_with_replacement(names, size)
              if max(Counter(g).values()) <= max_copies]
    scores = [group_similarity(names, matrix, g) for g in groups]
    return groups[int(np.argmax(scores))], groups[int(np.argmin(scores))]


def measure_similarity(base: RunConfig, size: int, samples: int = 5000, max_copies: int = 2) -> Groups:
    """CKA of every candidate user latent space (zoo encoders but the AP's, or the users of a
    ``--latents`` file) on the first ``samples`` training rows, and the two groups."""
    from zoo.similarity import cka_matrix

    from scenarios.sources import candidate_users

    data = candidate_users(base)
    names = tuple(u.name for u in data.users)
    if len(set(names)) != len(names):
        raise ConfigError("similarity sweep: user names in the latents must be distinct")
    _, m = cka_matrix({u.name: u.train[:samples] for u in data.users})
    homo, hetero = pick_groups(names, m, size, max_copies)
    return Groups(names, m, homo, hetero, int(data.ap_train.shape[0]))


def plot_similarity(groups: Groups, path: Path) -> Path:
    """Heat map of the CKA matrix, values written in the cells, the groups in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(groups.names)
    fig, ax = plt.subplots(figsize=(1.0 * n + 2.4, 0.9 * n + 1.6), dpi=150)
    im = ax.imshow(groups.matrix, vmin=0, vmax=1, cmap="viridis")
    ax.set_xticks(range(n), groups.names, rotation=40, ha="right", fontsize=7)
    ax.set_yticks(range(n), groups.names, fontsize=7)
    for i in range(n):
        for j in range(n):
            v = groups.matrix[i, j]
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if v < 0.6 else "black")
    fig.colorbar(im, ax=ax, label="linear CKA")
    title = "\n".join(f"{g}: {', '.join(getattr(groups, g))} (mean CKA {groups.similarity(getattr(groups, g)):.2f})"
                      for g in ("homogeneous", "heterogeneous"))
    ax.set_title(title, fontsize=6)
    fig.tight_layout()
    return save_figure(fig, path)


def write_groups(groups: Groups, path: Path) -> Path:
    write_json_atomic(path, groups.as_dict())
    return path
