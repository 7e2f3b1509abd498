"""What the DVS camera and the DV network stream share: a dv-processing input polled for events.

dv-processing's inputs (``dv.io.camera.CameraInputBase``, ``dv.io.NetworkReader``) offer a
non-blocking ``getNextEventBatch()`` (``None`` when nothing is waiting) and ``isRunning()``.
:class:`PolledDvSource` polls one, sleeping ``poll_s`` on a stop event between empty polls
(no busy loop, and :meth:`~PolledDvSource.close` wakes it), converts each ``dv.EventStore``
to :data:`~snnstudio.events.types.EVENT_DTYPE` and ends with a
:class:`~snnstudio.errors.SourceError` when the input stops or raises (camera unplugged,
peer gone), after everything it delivered before.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from snnstudio.errors import SourceError
from snnstudio.events.sources.base import EventBatch, EventSource
from snnstudio.events.types import EVENT_DTYPE


def events_from_dv(store: Any) -> np.ndarray:
    """An ``EVENT_DTYPE`` copy of a ``dv.EventStore`` (or anything whose ``.numpy()`` gives
    fields ``timestamp``/``t``, ``x``, ``y``, ``polarity``/``p``)."""
    arr = store.numpy() if hasattr(store, "numpy") else np.asarray(store)
    names = arr.dtype.names or ()
    t_name = "timestamp" if "timestamp" in names else "t"
    p_name = "polarity" if "polarity" in names else "p"
    if not {t_name, "x", "y", p_name} <= set(names):
        raise SourceError(f"event batch has fields {names}, expected timestamp, x, y, polarity")
    ev = np.empty(arr.shape[0], dtype=EVENT_DTYPE)
    ev["t"] = arr[t_name]
    ev["x"] = arr["x"]
    ev["y"] = arr["y"]
    ev["p"] = arr[p_name]
    return ev


class PolledDvSource(EventSource):
    """Polls a dv-processing-like input (``isRunning``, ``getNextEventBatch``) for batches.

    Batches are contiguous in time: each starts where the previous ended (or at its first
    event) and ends one µs after its last event. Subclasses set ``self._input``,
    ``self.sensor_size`` and ``self.name`` (used in messages).
    """

    live = True
    name = "DV input"

    def __init__(self, poll_s: float = 0.002):
        self.poll_s = float(poll_s)
        self._stop = threading.Event()
        self._input: Any = None
        self._iterating = False
        self.events_received = 0

    def _failure(self, reason: str) -> SourceError:
        return SourceError(f"{self.name}: {reason}")

    def _release(self) -> None:
        """Drop the dv object (its destructor stops the device's threads)."""
        self._input = None

    def batches(self) -> Iterator[EventBatch]:
        """Batches as the device delivers them, until it stops or the source is closed."""
        dev = self._input
        if dev is None:
            return
        prev_end: int | None = None
        self._iterating = True
        try:
            while not self._stop.is_set():
                try:
                    store = dev.getNextEventBatch()
                    running = True if store is not None else bool(dev.isRunning())
                except Exception as exc:  # noqa: BLE001 - any device failure is a SourceError
                    if self._stop.is_set():
                        return
                    raise self._failure(f"failed while reading: {exc}") from exc
                if store is None:
                    if not running:
                        if self._stop.is_set():
                            return
                        raise self._failure(self._stopped_reason())
                    self._stop.wait(self.poll_s)
                    continue
                ev = events_from_dv(store)
                if ev.shape[0] == 0:
                    continue
                t0, t1 = int(ev["t"][0]), int(ev["t"][-1]) + 1
                start = prev_end if prev_end is not None and prev_end <= t0 else t0
                prev_end = max(t1, start)
                self.events_received += ev.shape[0]
                yield EventBatch(events=ev, t_start_us=start, t_end_us=prev_end)
        finally:
            self._iterating = False
            if self._stop.is_set():
                self._release()

    def _stopped_reason(self) -> str:
        return "stopped delivering events"

    def close(self) -> None:
        """Stop: a running ``batches()`` ends within ``poll_s``; the device is released."""
        self._stop.set()
        if not self._iterating:
            self._release()
