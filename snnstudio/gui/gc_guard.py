"""Python's cyclic garbage collection on the GUI thread only, while a studio window is open.

Why: with automatic collection, whichever thread allocates when a threshold trips runs the
collection — often the engine's worker thread, which allocates all the time — and a collected
cycle that holds Qt objects then destroys them off the GUI thread, which crashes Qt (segfaults
seen in long pytest-qt runs, with the worker inside torch). pyqtgraph's ``GarbageCollector`` does
the same but cannot be undone; this one gives automatic collection back when the last window
closes, so a process that goes on (a test run) is left as it was.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QTimer

INTERVAL_MS = 500


class GuiThreadCollector:
    """Reference-counted: :meth:`acquire` when a window opens, :meth:`release` when it closes."""

    _users = 0
    _timer: QTimer | None = None
    _was_enabled = True

    @classmethod
    def acquire(cls) -> None:
        if cls._users == 0:
            cls._was_enabled = gc.isenabled()
            gc.disable()
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
            gc.collect()
            if cls._was_enabled:
                gc.enable()

    @staticmethod
    def collect() -> None:
        """Collect the generations whose counts passed their thresholds (as the automatic collector would)."""
        counts, limits = gc.get_count(), gc.get_threshold()
        if counts[0] > limits[0]:
            gen = 2 if counts[2] > limits[2] and counts[1] > limits[1] else 1 if counts[1] > limits[1] else 0
            gc.collect(gen)
