"""Python's cyclic garbage collection on the GUI thread only, while a studio window is open.

Why: with automatic collection, whichever thread allocates when a threshold trips runs the
collection — often the engine's worker thread, which allocates all the time — and a collected
cycle that holds Qt objects then destroys them off the GUI thread, which crashes Qt (segfaults
seen in long pytest-qt runs, with the worker inside torch). pyqtgraph's ``GarbageCollector`` does
the same but cannot be undone; this one gives automatic collection back when the last window
closes, so a process that goes on (a test run) is left as it was.

Full (generation 2) collections: a studio process holds a few hundred thousand long-lived objects
(torch, Qt, pyqtgraph, the model), and scanning them all took 100–300 ms here — a visible stall
of the live view whenever the collector's counts asked for one. So after a full collection the
survivors are frozen (:func:`gc.freeze`: kept out of later scans) and the next full collections
scan only what was created since (< 1 ms). Frozen objects are still freed by reference counting;
only a cycle among them would wait, so every ``FULL_SWEEP_S`` the freeze is lifted for one
complete collection (and when the last window closes).
"""

from __future__ import annotations

import gc
import time

from PySide6.QtCore import QTimer

INTERVAL_MS = 500
#: seconds between complete collections (the freeze lifted); in between, full ones skip old objects
FULL_SWEEP_S = 120.0


class GuiThreadCollector:
    """Reference-counted: :meth:`acquire` when a window opens, :meth:`release` when it closes."""

    _users = 0
    _timer: QTimer | None = None
    _was_enabled = True
    _last_sweep = 0.0

    @classmethod
    def acquire(cls) -> None:
        if cls._users == 0:
            cls._was_enabled = gc.isenabled()
            gc.disable()
            cls._last_sweep = time.monotonic()
            cls._timer = QTimer()
            cls._timer.timeout.connect(cls.collect)
            cls._timer.start(INTERVAL_MS)
        cls._users += 1

    @classmethod
    def release(cls) -> None:
        if cls._users == 0:
            return
        cls._users -= 1
        if cls._users == 0:
            if cls._timer is not None:
                cls._timer.stop()
                cls._timer = None
            gc.unfreeze()
            gc.collect()
            if cls._was_enabled:
                gc.enable()

    @classmethod
    def collect(cls) -> None:
        """Collect the generations whose counts passed their thresholds (as the automatic collector
        would); after a full collection, freeze the survivors (see the module docstring)."""
        counts, limits = gc.get_count(), gc.get_threshold()
        if counts[0] > limits[0]:
            gen = 2 if counts[2] > limits[2] and counts[1] > limits[1] else 1 if counts[1] > limits[1] else 0
            if gen == 2 and time.monotonic() - cls._last_sweep >= FULL_SWEEP_S:
                gc.unfreeze()  # a complete sweep: cycles among old objects are found too
                cls._last_sweep = time.monotonic()
            gc.collect(gen)
            if gen == 2:
                gc.freeze()
