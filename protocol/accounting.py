"""Payload-byte accounting per message, round and direction (DESIGN.md §4, §6)."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Literal

import numpy as np

__all__ = ["array_bytes", "matrix_bytes", "round_message_shapes", "ByteLedger"]

Direction = Literal["downlink", "uplink"]


def array_bytes(arrays: Iterable[np.ndarray]) -> int:
    """Payload bytes of the arrays of one message (raw data, no framing)."""
    return int(sum(a.nbytes for a in arrays))


def matrix_bytes(shape: tuple[int, ...], itemsize: int) -> int:
    """Bytes of a dense array of ``shape`` with ``itemsize`` bytes per element."""
    return int(np.prod(shape)) * itemsize


def round_message_shapes(
    protocol: str, csi: bool, m: int, n: int, tx_symbols: int, rx_symbols: int
) -> dict[str, list[tuple[int, int]]]:
    """Array shapes of one round's messages for one user (DESIGN.md §4).

    ``m`` AP complex features, ``n`` pilots, ``tx_symbols = N_T c``, ``rx_symbols = N_R c``.
    Returns ``{"downlink": [...], "uplink": [...], "setup": [...]}`` (setup is sent once).
    """
    first = rx_symbols if csi else tx_symbols
    if protocol == "paper":
        return {
            "setup": [],
            "downlink": [(first, n)],
            "uplink": [(tx_symbols, tx_symbols), (tx_symbols, n)],
        }
    if protocol == "compact":
        return {
            "setup": [(m, n)],
            "downlink": [(first, m)],
            "uplink": [(tx_symbols, tx_symbols), (tx_symbols, m)],
        }
    raise ValueError(f"unknown protocol {protocol!r}")


@dataclass
class ByteLedger:
    """Counts payload bytes per round and direction, and per user."""

    per_round: dict[int, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    per_user: dict[int, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))

    def add(self, round_: int, direction: Direction, user: int, nbytes: int) -> None:
        self.per_round[round_][direction] += int(nbytes)
        self.per_user[user][direction] += int(nbytes)

    def total(self, direction: Direction) -> int:
        return int(sum(r[direction] for r in self.per_round.values()))

    def summary(self) -> dict:
        rounds = sorted(self.per_round)
        return {
            "downlink_total": self.total("downlink"),
            "uplink_total": self.total("uplink"),
            "per_round": [
                {"round": r, "downlink": self.per_round[r]["downlink"], "uplink": self.per_round[r]["uplink"]}
                for r in rounds
            ],
        }
