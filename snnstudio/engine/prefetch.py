"""Lossless read-ahead for an un-paced source (the synthetic generator, a video file).

:class:`Prefetched` pulls ``source.batches()`` in a daemon thread into a bounded queue and
*blocks* the producer when the queue is full, so nothing is dropped and the producer never runs
more than ``max_batches`` ahead. The session then paces the stream on its own clock without
stalling while the generator renders its next gesture. (``sources.BufferedSource`` is the
dropping variant meant for devices that cannot wait.)
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator

from snnstudio.events.sources.base import EventBatch, EventSource

_END = object()


class Prefetched(EventSource):
    """Wraps ``source``; iterate :meth:`batches` once. Errors re-raise in the consumer, in order."""

    def __init__(self, source: EventSource, max_batches: int = 400):
        self.source = source
        self.sensor_size = source.sensor_size
        self.class_names = getattr(source, "class_names", None)
        self.max_batches = max_batches
        self._q: deque = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._produce, name="snnstudio-prefetch", daemon=True)
        self._thread.start()

    def _produce(self) -> None:
        try:
            for batch in self.source.batches():
                with self._cond:
                    while len(self._q) >= self.max_batches and not self._closed:
                        self._cond.wait(0.1)
                    if self._closed:
                        return
                    self._q.append(batch)
                    self._cond.notify_all()
            item = _END
        except BaseException as exc:  # handed to the consumer, raised there
            item = exc
        with self._cond:
            self._q.append(item)
            self._cond.notify_all()

    def batches(self) -> Iterator[EventBatch]:
        while True:
            with self._cond:
                while not self._q and not self._closed:
                    self._cond.wait(0.1)
                if self._closed:
                    return
                item = self._q.popleft()
                self._cond.notify_all()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self.source.close()
        self._thread.join(2.0)
