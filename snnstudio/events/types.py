"""The one in-memory event representation used everywhere.

Events are a numpy structured array of dtype :data:`EVENT_DTYPE`:
``t`` int64 (µs), ``x`` int16, ``y`` int16 (pixels, origin top-left), ``p`` int8 (0 = OFF, 1 = ON),
sorted by ``t`` (non-decreasing). The sensor size travels beside it as ``(width, height)``.
:class:`EventRecording` is the plain dataclass that carries an array plus its metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

EVENT_DTYPE = np.dtype([("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("p", "i1")])


def make_events(t, x, y, p) -> np.ndarray:
    """Build an :data:`EVENT_DTYPE` array from four equally long 1-D sequences."""
    t = np.asarray(t)
    n = t.shape[0]
    ev = np.empty(n, dtype=EVENT_DTYPE)
    ev["t"] = t
    ev["x"] = x
    ev["y"] = y
    ev["p"] = p
    return ev


def empty_events(n: int = 0) -> np.ndarray:
    """A zero-filled event array of length ``n``."""
    return np.zeros(n, dtype=EVENT_DTYPE)


@dataclass(frozen=True)
class Label:
    """A labelled time range ``start_us <= t < end_us`` (µs, same clock as the events)."""

    class_id: int
    start_us: int
    end_us: int
    name: str | None = None


@dataclass
class EventRecording:
    """Events plus what is known about them.

    ``sensor_size`` is ``(width, height)``. ``labels`` are time ranges with class ids
    (e.g. DVS128 Gesture's 1–11). ``meta`` holds format-specific extras (e.g. other AEDAT4
    streams that were present, camera serial).
    """

    events: np.ndarray
    sensor_size: tuple[int, int]
    labels: list[Label] = field(default_factory=list)
    sensor: str | None = None
    path: Path | None = None
    format: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    _t_cache: tuple[int, np.ndarray] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.events.dtype != EVENT_DTYPE:
            raise TypeError(f"events must have dtype EVENT_DTYPE, got {self.events.dtype}")
        self.sensor_size = (int(self.sensor_size[0]), int(self.sensor_size[1]))

    def __len__(self) -> int:
        return int(self.events.shape[0])

    @property
    def width(self) -> int:
        """Sensor width in pixels (``sensor_size[0]``)."""
        return self.sensor_size[0]

    @property
    def height(self) -> int:
        """Sensor height in pixels (``sensor_size[1]``)."""
        return self.sensor_size[1]

    @property
    def t_start_us(self) -> int | None:
        """Timestamp of the first event (µs), ``None`` when empty."""
        return int(self.events["t"][0]) if len(self) else None

    @property
    def t_end_us(self) -> int | None:
        """Timestamp of the last event (µs; inclusive), ``None`` when empty."""
        return int(self.events["t"][-1]) if len(self) else None

    @property
    def duration_us(self) -> int:
        """Last minus first timestamp (0 for fewer than two events)."""
        return int(self.events["t"][-1] - self.events["t"][0]) if len(self) else 0

    @property
    def n_on(self) -> int:
        """Number of ON events (polarity 1)."""
        return int(np.count_nonzero(self.events["p"]))

    @property
    def n_off(self) -> int:
        """Number of OFF events (polarity 0)."""
        return len(self) - self.n_on

    def time_slice(self, start_us: int, end_us: int) -> np.ndarray:
        """Events with ``start_us <= t < end_us`` (a view, found by binary search)."""
        i0, i1 = np.searchsorted(self.timestamps, [start_us, end_us], side="left")
        return self.events[i0:i1]

    @property
    def timestamps(self) -> np.ndarray:
        """A contiguous int64 copy of ``events["t"]`` (µs), cached while ``events`` is the same array.

        ``events["t"]`` is a strided view; searching it copies the whole column on every call."""
        key = id(self.events)
        if self._t_cache is None or self._t_cache[0] != key or len(self._t_cache[1]) != len(self):
            self._t_cache = (key, np.ascontiguousarray(self.events["t"]))
        return self._t_cache[1]
