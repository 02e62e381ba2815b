"""The user device: private latent space, G-step, classifier and evaluation.

The math is imported lazily (PEP 562) so that ``python -m user_client.appio_runner supernode``
— a SuperNode that never touches a tensor — does not load torch: ~300 MB less per user device
(docs/reliability.md, load)."""
from __future__ import annotations

from typing import Any

__all__ = ["g_step", "g_step_from_pilots", "uplink_stats", "uplink_stats_from_pilots"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from user_client import gstep

        return getattr(gstep, name)
    raise AttributeError(f"module 'user_client' has no attribute {name!r}")
