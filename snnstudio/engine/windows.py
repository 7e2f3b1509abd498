"""Fixed-``dt`` time windows cut from a recording or a live stream: the session's clock.

The session advances the stream one model step at a time, so it asks for exactly the events of
``[t, t + dt)`` and gets them with the ground-truth label at that time. Two adapters give that:

* :class:`RecordingWindows` — an in-memory :class:`~snnstudio.events.types.EventRecording`:
  random access by binary search, so seek and step back are exact and free.
* :class:`StreamWindows` — any :class:`~snnstudio.events.sources.base.EventSource`: re-chunks
  its batches (of whatever length) into ``dt`` windows, in order; not seekable.

Counting a window into a ``[2, H, W]`` frame is :func:`count_frame`; it uses
``snnstudio.events.frames.bin_events`` where that exists and otherwise a single ``np.bincount``
(one window, one histogram — the frames package owns every other framing mode).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from snnstudio.events.sources.base import EventBatch, EventSource
from snnstudio.events.types import EventRecording, empty_events


@dataclass(frozen=True)
class Window:
    """The events of ``t_start_us <= t < t_end_us`` and the label known at that time."""

    events: np.ndarray
    t_start_us: int
    t_end_us: int
    label: int | None = None
    dropped: int = 0


def count_frame(events: np.ndarray, sensor_size: tuple[int, int]) -> np.ndarray:
    """Per-polarity event counts ``[2, H, W]`` float32 (0 = OFF, 1 = ON) of one window."""
    w, h = sensor_size
    if len(events) == 0:
        return np.zeros((2, h, w), np.float32)
    idx = events["p"].astype(np.int64) * (h * w) + events["y"].astype(np.int64) * w + events["x"]
    counts = np.bincount(idx, minlength=2 * h * w)[: 2 * h * w]
    return counts.reshape(2, h, w).astype(np.float32)


class RecordingWindows:
    """Fixed windows over an in-memory recording (seekable)."""

    seekable = True
    live = False

    def __init__(self, recording: EventRecording, class_names: dict[int, str] | None = None):
        self.recording = recording
        self.sensor_size = recording.sensor_size
        names = class_names or recording.meta.get("class_names")
        if isinstance(names, (list, tuple)):  # a list of names (the synthetic gestures): id = index
            names = dict(enumerate(names))
        self.class_names: dict[int, str] | None = dict(names) if names else None
        if not self.class_names and recording.labels:
            named = {lb.class_id: lb.name for lb in recording.labels if lb.name}
            self.class_names = named or None
        # a contiguous copy of the timestamps: searchsorted on the strided field view would copy
        # the whole column on every call (10 ms per window for 6 M events)
        self._t = np.ascontiguousarray(recording.events["t"])
        self.start_us = recording.t_start_us or 0
        self.end_us = (recording.t_end_us or 0) + 1
        self.cursor_us = self.start_us

    def label_at(self, t_us: int) -> int | None:
        for lb in self.recording.labels:
            if lb.start_us <= t_us < lb.end_us:
                return lb.class_id
        return None

    def next_window(self, dt_us: int) -> Window | None:
        """The next window, or ``None`` at the end of the recording."""
        if self.cursor_us >= self.end_us:
            return None
        t0, t1 = self.cursor_us, self.cursor_us + dt_us
        self.cursor_us = t1
        i0, i1 = np.searchsorted(self._t, [t0, t1], side="left")
        return Window(self.recording.events[i0:i1], t0, t1, self.label_at((t0 + t1) // 2))

    def seek(self, t_us: int) -> None:
        self.cursor_us = int(min(max(t_us, self.start_us), self.end_us))

    def close(self) -> None:
        pass


class StreamWindows:
    """Fixed windows re-chunked from an event source's batches (in order, not seekable)."""

    seekable = False

    def __init__(self, source: EventSource, live: bool = True):
        self.source = source
        self.live = live
        self.sensor_size = tuple(source.sensor_size)
        self.class_names = getattr(source, "class_names", None)
        self.start_us: int | None = None
        self.end_us: int | None = None
        self.cursor_us: int | None = None
        self._it: Iterator[EventBatch] = iter(source.batches())
        self._pending: list[np.ndarray] = []
        self._pending_end = None  # time up to which pending events are complete
        self._label: int | None = None
        self._dropped = 0
        self._done = False

    def _pull(self) -> bool:
        try:
            batch = next(self._it)
        except StopIteration:
            self._done = True
            return False
        if self.cursor_us is None:
            self.cursor_us = self.start_us = int(batch.t_start_us)
        self._pending.append(batch.events)
        self._pending_end = int(batch.t_end_us)
        self._label = batch.label
        self._dropped += int(batch.dropped)
        return True

    def next_window(self, dt_us: int) -> Window | None:
        if self.cursor_us is None and not self._pull():
            return None
        t0 = self.cursor_us
        t1 = t0 + dt_us
        while self._pending_end is None or self._pending_end < t1:
            if self._done or not self._pull():
                break
        ev = np.concatenate(self._pending) if self._pending else empty_events()
        if self._done and len(ev) == 0 and (self._pending_end is None or t0 >= self._pending_end):
            return None
        cut = int(np.searchsorted(ev["t"], t1, side="left"))
        inside = ev[:cut]
        inside = inside[inside["t"] >= t0]
        self._pending = [ev[cut:]] if cut < len(ev) else []
        self.cursor_us = t1
        dropped, self._dropped = self._dropped, 0
        return Window(inside, t0, t1, self._label, dropped)

    def ready(self, dt_us: int) -> int:
        """Complete ``dt_us`` windows already buffered (taken without waiting on the source)."""
        if self.cursor_us is None or self._pending_end is None:
            return 0
        return max(0, (self._pending_end - self.cursor_us) // dt_us)

    def seek(self, t_us: int) -> None:
        from snnstudio.errors import SourceError

        raise SourceError("this source is live: it cannot seek")

    def close(self) -> None:
        self.source.close()


class FilteredWindows:
    """The windows of ``inner`` (a :class:`RecordingWindows` or :class:`StreamWindows`) through a
    :class:`~snnstudio.events.filters.FilterChain`: ``sensor_size`` is the chain's output size
    (after crop / downsample), each window's events are filtered in stream order (stateful steps
    carry their memory from window to window; a seek clears it). Everything else is the inner
    windows' own (``seekable``, ``cursor_us``, ``recording`` …). ``passed`` / ``seen`` count the
    events of the last window after and before the filters."""

    def __init__(self, inner, chain):
        self.inner = inner
        self.chain = chain
        self.sensor_size = tuple(chain.output_size(inner.sensor_size))
        self.seen = self.passed = 0

    def __getattr__(self, name):  # only called for what this class does not define
        return getattr(self.__dict__["inner"], name)

    def next_window(self, dt_us: int) -> Window | None:
        from dataclasses import replace

        win = self.inner.next_window(dt_us)
        if win is None:
            return None
        events = self.chain(win.events)
        self.seen, self.passed = len(win.events), len(events)
        return replace(win, events=events)

    def seek(self, t_us: int) -> None:
        self.inner.seek(t_us)
        self.chain.reset()

    def close(self) -> None:
        self.inner.close()
