"""Helpers for the live-source tests: recordings, in-memory sources, a fake DVS camera."""

from __future__ import annotations

import threading

import numpy as np

from snnstudio.events.sources.base import EventBatch, EventSource
from snnstudio.events.types import EventRecording, Label, make_events


def make_recording(n: int = 2000, duration_us: int = 200_000, t0: int = 1_000_000, size=(32, 24),
                   labels=True, seed: int = 0) -> EventRecording:
    """Random events, sorted, with two labels splitting the time range."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(t0, t0 + duration_us, n))
    ev = make_events(t, rng.integers(0, size[0], n), rng.integers(0, size[1], n), rng.integers(0, 2, n))
    labs = [Label(3, t0, t0 + duration_us // 2, "left"), Label(7, t0 + duration_us // 2, t0 + duration_us, "right")]
    return EventRecording(ev, size, labels=labs if labels else [])


class ListSource(EventSource):
    """Yields prepared batches; optionally raises ``error`` after them, or blocks until closed."""

    live = True

    def __init__(self, batches, sensor_size=(32, 24), error: BaseException | None = None, block: bool = False):
        self._batches = list(batches)
        self.sensor_size = sensor_size
        self.error = error
        self.block = block
        self.closed = threading.Event()
        self.finished = threading.Event()

    def batches(self):
        try:
            for b in self._batches:
                if self.closed.is_set():
                    return
                yield b
            if self.error is not None:
                raise self.error
            if self.block:
                self.closed.wait()
        finally:
            self.finished.set()

    def close(self):
        self.closed.set()


def windows(rec: EventRecording, batch_us: int = 10_000) -> list[EventBatch]:
    """The recording cut into contiguous windows (the oracle for players and pacers)."""
    out = []
    start = rec.t_start_us
    while start <= rec.t_end_us:
        out.append(EventBatch(rec.time_slice(start, start + batch_us), start, start + batch_us))
        start += batch_us
    return out


def dv_store(events: np.ndarray):
    """A real ``dv.EventStore`` holding ``events`` (what a dv camera's getNextEventBatch returns)."""
    import dv_processing as dv

    store = dv.EventStore()
    for e in events:
        store.push_back(int(e["t"]), int(e["x"]), int(e["y"]), bool(e["p"]))
    return store


class FakeCamera:
    """Has the methods of ``dv.io.camera.CameraInputBase`` that the source uses.

    Hands out ``stores`` one per call (with an empty poll between each, like a real camera),
    then either keeps running empty (``fail=None``), stops (``"stop"``: ``isRunning`` false,
    as when unplugged) or raises (``"raise"``).
    """

    def __init__(self, stores, resolution=(32, 24), fail: str | None = "stop", name="DVXplorer_FAKE01"):
        self.stores = list(stores)
        self.resolution = resolution
        self.fail = fail
        self.name = name
        self.running = True
        self.calls = 0
        self._gap = False

    def getEventResolution(self):
        return self.resolution

    def getCameraName(self):
        return self.name

    def isEventStreamAvailable(self):
        return True

    def isRunning(self):
        return self.running

    def getNextEventBatch(self):
        self.calls += 1
        self._gap = not self._gap
        if self._gap:
            return None
        if self.stores:
            return self.stores.pop(0)
        if self.fail == "stop":
            self.running = False
            return None
        if self.fail == "raise":
            raise RuntimeError("libusb: LIBUSB_ERROR_NO_DEVICE")
        return None


def read_back(path):
    """Events, resolution and camera name of an AEDAT4 file, as dv-processing reads it."""
    import dv_processing as dv

    from snnstudio.events.sources.dvinput import events_from_dv

    reader = dv.io.MonoCameraRecording(str(path))
    parts = []
    while reader.isRunning():
        batch = reader.getNextEventBatch()
        if batch is not None and batch.size():
            parts.append(events_from_dv(batch))
    ev = np.concatenate(parts) if parts else np.zeros(0, dtype=events_from_dv(dv.EventStore()).dtype)
    return ev, tuple(reader.getEventResolution()), reader.getCameraName()
