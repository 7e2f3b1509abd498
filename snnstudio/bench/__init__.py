"""Benchmarks run by ``snnstudio bench``: one module per hot path, each with ``run(quick) -> dict``.

Helpers here measure side by side in one process so that ratios, not absolute times, are
what gets reported (these machines are noisy)."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_time(fn: Callable[[], object], repeat: int = 5, number: int = 1) -> float:
    """Best wall time in seconds of ``number`` calls of ``fn`` over ``repeat`` rounds (after one warm-up)."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best
