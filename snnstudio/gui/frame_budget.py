"""A per-frame time budget for the panels whose redraw is expensive (rasters, traces, attention).

Every display tick shows the present at once — the event frame, the prediction, the status — and
then spends at most ``budget_ms`` of the GUI thread on the analysis panels' redraws: each panel
asks for a redraw (:meth:`FrameBudget.request`) when its data changed, and the budget draws the
requests oldest first until the time is spent (always at least one). A panel's data are recorded
on every step whatever happens (nothing is lost), only the drawing is spread: on a fast machine
every panel draws every frame; on a slow or busy one the history panels draw every second or third
frame while the frame rate and the latency of the live view hold. When the ticks stop (paused,
stepping, a stalled source), whatever is still waiting is drawn ``idle_ms`` later, so the screen
always ends up showing the newest data.

Written here rather than taken from a library: pyqtgraph and Qt repaint whatever is marked dirty,
with no notion of a frame budget across widgets.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable

from PySide6.QtCore import QObject, QTimer


class FrameBudget(QObject):
    """Draws requested redraws, oldest first, within ``budget_ms`` per :meth:`run`."""

    def __init__(self, budget_ms: float = 2.0, idle_ms: int = 60, parent=None,
                 clock: Callable[[], float] = time.perf_counter):
        super().__init__(parent)
        self.budget_ms = budget_ms
        self._clock = clock  # seconds
        self._waiting: dict[Hashable, Callable[[], None]] = {}  # insertion order = age
        self._idle = QTimer(self)
        self._idle.setSingleShot(True)
        self._idle.setInterval(idle_ms)
        self._idle.timeout.connect(self.flush)
        #: redraws done since creation, per key (for tests and the bench)
        self.drawn: dict[Hashable, int] = {}

    def request(self, key: Hashable, draw: Callable[[], None]) -> None:
        """Ask for ``draw()`` at the next frame with time left; a key already waiting keeps its place
        in the queue and takes the newer ``draw``."""
        self._waiting[key] = draw
        if not self._idle.isActive():
            self._idle.start()

    def cancel(self, key: Hashable) -> None:
        self._waiting.pop(key, None)

    def clear(self) -> None:
        """Forget every waiting redraw (the views are going away)."""
        self._waiting.clear()
        self._idle.stop()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def run(self) -> int:
        """One frame's share: draw the oldest requests until ``budget_ms`` is spent (at least one);
        returns how many were drawn. What is left waits for the next frame (or the idle flush)."""
        done = 0
        t0 = self._clock()
        while self._waiting:
            if done and (self._clock() - t0) * 1e3 >= self.budget_ms:
                break
            self._draw_oldest()
            done += 1
        if self._waiting:
            self._idle.start()  # restarted: fires only when the ticks stop
        else:
            self._idle.stop()
        return done

    def flush(self) -> int:
        """Draw everything that is waiting; returns how many."""
        done = 0
        while self._waiting:
            self._draw_oldest()
            done += 1
        self._idle.stop()
        return done

    def _draw_oldest(self) -> None:
        key = next(iter(self._waiting))
        draw = self._waiting.pop(key)
        self.drawn[key] = self.drawn.get(key, 0) + 1
        draw()
