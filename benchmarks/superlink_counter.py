"""``flower-superlink`` with a request counter: how many HTTP requests per route it serves.

    python -m benchmarks.superlink_counter --counts FILE.jsonl -- <flower-superlink arguments>

Runs Flower's own SuperLink entry point in this process with its ASGI app wrapped by a counter
(``uvicorn.run`` is replaced by a function that wraps ``app`` and calls the original); every
0.5 s a line ``{"t": unix time, "counts": {path: n, ...}}`` (cumulative) is appended to FILE.
:func:`per_user_round` turns such a file into requests per user-round. Benchmark only
(``benchmarks.flower_rounds --count-requests``).
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
import threading
import time
from pathlib import Path

__all__ = ["main", "per_user_round"]

PUSH = "/v1/fleet/push-messages"  # one per reply of a user: the user-round clock


def per_user_round(path: Path, skip: int) -> dict[str, float]:
    """Requests per route per user-round between the ``skip``-th reply (after the handshake)
    and the last one, from a counts file; empty if there are not enough replies."""
    hist = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    pushes = [h["counts"].get(PUSH, 0) for h in hist]
    if not hist or pushes[-1] <= skip:
        return {}
    i0 = next(i for i, v in enumerate(pushes) if v >= skip)
    a, b = hist[i0]["counts"], hist[-1]["counts"]
    n = pushes[-1] - pushes[i0]
    if n <= 0:
        return {}
    return {k: (b.get(k, 0) - a.get(k, 0)) / n for k in sorted(b) if b.get(k, 0) > a.get(k, 0)}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(prog="python -m benchmarks.superlink_counter", description=__doc__.split("\n\n")[0])
    p.add_argument("--counts", type=Path, required=True)
    a, rest = p.parse_known_args(argv)
    rest = rest[1:] if rest and rest[0] == "--" else rest
    import uvicorn

    counts: collections.Counter[str] = collections.Counter()
    original = uvicorn.run

    def run(app, **kwargs):
        async def counted(scope, receive, send):
            if scope.get("type") == "http":
                counts[scope.get("path", "")] += 1
            await app(scope, receive, send)

        def dump() -> None:
            while True:
                time.sleep(0.5)
                with open(a.counts, "a") as fh:
                    fh.write(json.dumps({"t": time.time(), "counts": dict(counts)}) + "\n")

        threading.Thread(target=dump, daemon=True).start()
        return original(counted, **kwargs)

    uvicorn.run = run
    from flwr.superlink.cli.flower_superlink import flower_superlink

    sys.argv = ["flower-superlink", *rest]
    flower_superlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
