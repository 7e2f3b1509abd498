"""Framing throughput: :func:`snnstudio.events.frames.bin_events` against tonic's ``ToFrame``.

Both bin the same 1 M random events (128×128, sorted timestamps over 1 s) into 16 time bins
(``n_time_bins=16``) in the same process; ``lost_events`` is the number of input events missing
from the frames' total count (tonic's ``n_time_bins`` drops events at the last bin edge).
"""

from __future__ import annotations

import numpy as np

import time
from collections.abc import Callable

from snnstudio.bench import best_time


def _interleaved_best(fns: list[Callable[[], object]], rounds: int) -> list[float]:
    """Best wall time of each function, measured in alternation so that load from other
    processes on a shared machine hits all of them alike (the ratio is what is reported)."""
    best = [float("inf")] * len(fns)
    for f in fns:
        f()  # warm-up
    for _ in range(rounds):
        for i, f in enumerate(fns):
            t0 = time.perf_counter()
            f()
            best[i] = min(best[i], time.perf_counter() - t0)
    return best


def _events(n: int, size: int, seed: int = 0) -> np.ndarray:
    from snnstudio.events.types import make_events

    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, 1_000_000, n)) + 1_700_000_000_000_000  # epoch-like µs
    return make_events(t, rng.integers(0, size, n), rng.integers(0, size, n), rng.integers(0, 2, n))


def run(quick: bool = False) -> dict:
    from snnstudio.events.frames import FrameConfig, bin_events

    n, size, bins = (100_000 if quick else 1_000_000), 128, 16
    ev = _events(n, size)
    cfg = FrameConfig(n_time_bins=bins)
    ours = bin_events(ev, (size, size), cfg)
    rounds = 3 if quick else 9
    result = {
        "n_events": n,
        "n_time_bins": bins,
        "sensor": [size, size],
        "lost_events": int(n - round(float(ours.sum()))),
    }
    try:
        from tonic.functional.to_frame import to_frame_numpy
    except ImportError:  # pragma: no cover - tonic is a test dependency
        t_ours = best_time(lambda: bin_events(ev, (size, size), cfg), repeat=rounds)
        result.update(events_per_s=n / t_ours, tonic_events_per_s=None, speedup_vs_tonic=None, tonic_lost_events=None)
        return result
    theirs = to_frame_numpy(ev, (size, size, 2), n_time_bins=bins)
    t_ours, t_tonic = _interleaved_best(
        [lambda: bin_events(ev, (size, size), cfg), lambda: to_frame_numpy(ev, (size, size, 2), n_time_bins=bins)], rounds
    )
    result.update(
        events_per_s=n / t_ours,
        tonic_events_per_s=n / t_tonic,
        speedup_vs_tonic=t_tonic / t_ours,
        tonic_lost_events=int(n - int(theirs.astype(np.int64).sum())),
    )
    return result
