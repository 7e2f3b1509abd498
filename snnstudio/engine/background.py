"""A job that runs on its own daemon thread (evaluation, stream recording): whether it still runs,
and waiting for it."""

from __future__ import annotations

import threading


class ThreadJob:
    """Base of the engine's background jobs; a subclass starts ``self._thread``."""

    _thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait (at most ``timeout`` s) for the job to end by itself; True when it has."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running
