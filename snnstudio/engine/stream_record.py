"""Record what a :class:`~snnstudio.engine.session.Session` plays to an AEDAT4 file. Qt-free.

The session hands every window it plays to a tap (:meth:`Session.add_window_tap`); the tap turns
windows into :class:`~snnstudio.events.sources.base.EventBatch` es of a queue-fed source, and
:func:`snnstudio.events.sources.recorder.record` writes that source on its own thread through
:class:`~snnstudio.events.io.Aedat4Writer` — so the file only ever appears complete (temp file +
rename), labels go to the sidecar, and a failure leaves the part recorded before.

Time: the file holds the events with their stream timestamps. When the stream jumps back (a
recording loops, the user seeks back) the following windows are shifted to continue after the
last one written, so the file stays in time order. ``seconds=None`` records until :meth:`stop`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from queue import SimpleQueue

import numpy as np

from snnstudio.engine.background import ThreadJob
from snnstudio.events.sources.base import EventBatch, EventSource

_UNTIL_STOPPED_S = 10.0 * 365 * 24 * 3600  # "no limit" for record()'s required duration


class _TapSource(EventSource):
    """Batches pushed by the session's worker, pulled by the recorder thread."""

    live = False

    def __init__(self, sensor_size, class_names=None):
        self.sensor_size = tuple(sensor_size)
        self.class_names = dict(class_names) if class_names else None
        self._q: SimpleQueue = SimpleQueue()
        self._closed = False
        self._offset = 0
        self._last_end: int | None = None

    def push(self, win) -> None:
        if self._closed:
            return
        t0, t1 = int(win.t_start_us), int(win.t_end_us)
        if self._last_end is not None and t0 + self._offset < self._last_end:
            self._offset = self._last_end - t0
        events = win.events
        if self._offset:
            events = events.copy()
            events["t"] += self._offset
        self._last_end = t1 + self._offset
        self._q.put(EventBatch(np.ascontiguousarray(events), t0 + self._offset, t1 + self._offset, win.label, win.dropped))

    def batches(self):
        while True:
            item = self._q.get()
            if item is None:
                return
            yield item

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._q.put(None)


class StreamRecording(ThreadJob):
    """``StreamRecording(session, path, seconds).start()`` … ``stop()``; ``on_done(result, error)``
    is called on the recorder thread when the file is complete (``result`` a
    :class:`~snnstudio.events.sources.recorder.RecordResult`, ``error`` a message or ``None``)."""

    def __init__(self, session, path: str | Path, seconds: float | None = None,
                 on_done: Callable[[object, str | None], None] | None = None):
        self.session = session
        self.path = Path(path)
        self.seconds = seconds
        self.on_done = on_done
        self.result = None
        self.error: str | None = None
        self._source: _TapSource | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()

    def start(self) -> StreamRecording:
        from snnstudio.errors import SnnStudioError

        state = self.session.state
        if state.sensor_size is None:
            raise SnnStudioError("nothing is playing: open a source before recording it")
        if self.seconds is not None and not self.seconds > 0:
            raise SnnStudioError(f"recording length must be > 0 s, got {self.seconds}")
        self._source = _TapSource(state.sensor_size, state.source_classes)
        self._thread = threading.Thread(target=self._work, name="snnstudio-record", daemon=True)
        self._thread.start()
        self._started.wait(10)
        if self.error is not None:  # the file could not be opened
            self._thread.join(5)
            raise SnnStudioError(self.error)
        self.session.add_window_tap(self._source.push)
        return self

    def _work(self) -> None:
        from snnstudio.events.sources.recorder import record

        try:
            self.result = record(self._source, self.path, self.seconds or _UNTIL_STOPPED_S, live=False,
                                 on_start=self._started.set)
        except Exception as exc:
            self.error = f"recording {self.path.name} failed: {exc}"
            self.result = getattr(exc, "result", None)
        finally:
            self._started.set()
            self.session.remove_window_tap(self._source.push)
        if self.on_done is not None:
            self.on_done(self.result, self.error)

    def stop(self, timeout: float = 10.0) -> object:
        """Stop taking windows, finish the file; returns the ``RecordResult``."""
        if self._source is not None:
            self.session.remove_window_tap(self._source.push)
            self._source.close()
        if self._thread is not None:
            self._thread.join(timeout)
        return self.result
