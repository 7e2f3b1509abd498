"""Callbacks of a background job (evaluation, fine-tuning), run on the GUI thread.

The job calls them from its own thread; Qt widgets may only be touched from the GUI thread. So
``inbox.later(handler)`` gives the job a function that queues ``(handler, args)``, and a timer
(every ``interval_ms`` while :meth:`start`-ed) runs what is queued, stopping once the job no
longer runs and the queue is empty."""

from __future__ import annotations

from collections.abc import Callable
from queue import Empty, SimpleQueue

from PySide6.QtCore import QObject, QTimer


class JobInbox:
    """A queue of ``(handler, args)`` drained on the GUI thread; ``running()`` says whether the job
    still runs (the timer stops when it does not and nothing is left)."""

    def __init__(self, parent: QObject, running: Callable[[], bool], interval_ms: int = 50):
        self._queue: SimpleQueue = SimpleQueue()
        self._running = running
        self._timer = QTimer(parent)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.drain)

    def later(self, handler: Callable) -> Callable:
        """A thread-safe stand-in for ``handler``: calling it queues the call."""
        return lambda *args: self._queue.put((handler, args))

    def start(self) -> None:
        self._timer.start()

    def drain(self) -> None:
        """Run every queued call now (on the calling, GUI, thread)."""
        while True:
            try:
                handler, args = self._queue.get_nowait()
            except Empty:
                break
            handler(*args)
        if not self._running() and self._queue.empty():
            self._timer.stop()
