"""Shared helpers of the readers and writers: atomic writes, validation, sensor sizes.

Every writer goes through :func:`atomic_write` (a temp file in the destination folder, renamed
over the target only when complete), and every reader through :func:`check_events` or a
:class:`BlockChecker` (sorted timestamps, coordinates inside the sensor) so that errors name the
file, the event and the value.
"""

from __future__ import annotations

import contextlib
import contextvars
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from snnstudio import safe_files as _safe
from snnstudio.errors import EventFileError, SnnStudioWarning
from snnstudio.events.types import EVENT_DTYPE

#: default number of events per chunk of the streaming readers
DEFAULT_CHUNK_EVENTS = 1 << 20


def _event_file_error(path: Path, problem: str) -> EventFileError:
    return EventFileError(path, problem)


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "wb") -> Iterator[tuple[Path, object]]:
    """Yield ``(tmp_path, file)`` for a temp file beside ``path``; rename it over ``path`` on success.

    On an exception the temp file is removed and ``path`` is left untouched (never a partial file).
    An existing ``path`` that is not a regular file (device, FIFO, folder) is refused; a symbolic
    link is written through (see :mod:`snnstudio.safe_files`). Errors are :class:`EventFileError`.
    """
    with _safe.atomic_write(path, mode, error=_event_file_error) as pair:
        yield pair


def check_output(path: str | Path) -> Path:
    """Raise :class:`EventFileError` unless ``path`` can be written (before long work starts)."""
    return _safe.check_output(path, error=_event_file_error)


def temp_path_beside(path: str | Path) -> _safe.TempFile:
    """A fresh :class:`~snnstudio.safe_files.TempFile` beside ``path``'s target (for writers that
    open the file themselves): write ``.path``, then ``.commit()`` or ``.discard()``."""
    return _safe.TempFile(path, error=_event_file_error)


def warn_truncated(path: str | Path, detail: str) -> None:
    """Warn that ``path`` ends in the middle of something; the good part is still returned."""
    warnings.warn(f"{path}: truncated file ({detail}); reading the complete part", SnnStudioWarning, stacklevel=3)


#: set by ``read_events(..., sort=True)``: a list collecting disorder counts instead of raising
_TOLERATE_DISORDER: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("tolerate_disorder",
                                                                                      default=None)


@contextlib.contextmanager
def tolerate_disorder() -> Iterator[list[int]]:
    """Within this block, readers count backwards timestamps (into the yielded list) instead of raising."""
    found: list[int] = []
    token = _TOLERATE_DISORDER.set(found)
    try:
        yield found
    finally:
        _TOLERATE_DISORDER.reset(token)


def check_sorted(t: np.ndarray, path: str | Path | None, offset: int = 0, previous: int | None = None) -> None:
    """Raise :class:`EventFileError` when timestamps ``t`` (µs) decrease anywhere.

    ``offset`` is the index of ``t[0]`` in the whole file and ``previous`` the last timestamp of
    the chunk before (streaming readers), so the message points at the right event.
    """
    if t.shape[0] == 0:
        return
    tolerant = _TOLERATE_DISORDER.get()
    if tolerant is not None:
        tolerant.append(int(np.count_nonzero(t[1:] < t[:-1])) + int(previous is not None and t[0] < previous))
        return
    if previous is not None and t[0] < previous:
        raise EventFileError(path, f"timestamps go backwards at event {offset} ({int(previous)} -> {int(t[0])} µs)")
    if t.shape[0] > 1:
        bad = np.flatnonzero(t[1:] < t[:-1])
        if bad.size:
            i = int(bad[0]) + 1
            raise EventFileError(
                path, f"timestamps go backwards at event {offset + i} ({int(t[i - 1])} -> {int(t[i])} µs)"
            )


def check_events(events: np.ndarray, sensor_size: tuple[int, int] | None, path: str | Path | None,
                 offset: int = 0, previous: int | None = None) -> None:
    """Sorted timestamps, coordinates inside ``sensor_size`` (if known), polarity in {0, 1}: raise
    :class:`EventFileError` naming the first bad event. Works on cache-sized contiguous copies of
    the fields (2-3x faster than reductions over the packed, strided fields)."""
    ck = BlockChecker(path, sensor_size)
    ck.done, ck.last_t = offset, previous
    n = events.shape[0]
    block = 1 << 16
    tb = np.empty(min(n, block), dtype=np.int64)
    xb = np.empty(min(n, block), dtype=np.int16)
    yb = np.empty(min(n, block), dtype=np.int16)
    pb = np.empty(min(n, block), dtype=np.int8)
    for k in range(0, n, block):
        e = events[k : k + block]
        m = e.shape[0]
        t, x, y, p = tb[:m], xb[:m], yb[:m], pb[:m]
        np.copyto(t, e["t"])
        np.copyto(x, e["x"])
        np.copyto(y, e["y"])
        np.copyto(p, e["p"])
        if (p > 1).any() or (p < 0).any():
            i = int(np.flatnonzero((p < 0) | (p > 1))[0])
            raise EventFileError(path, f"event {offset + k + i} has polarity {int(p[i])} (must be 0 or 1)")
        ck.check(t, x, y)


class BlockChecker:
    """Validates decoded blocks *while they are contiguous temporaries* (cheap, cache-warm).

    ``check(t, x, y)`` raises :class:`EventFileError` naming the global event index when
    timestamps go backwards (also across blocks) or a coordinate falls outside ``sensor_size``
    (``None``: unknown, only tracked: ``max_x``/``max_y`` give the bounding box afterwards).
    """

    def __init__(self, path: str | Path | None, sensor_size: tuple[int, int] | None):
        self.path = path
        self.size = sensor_size
        self.done = 0
        self.last_t: int | None = None
        self.max_x = -1
        self.max_y = -1

    def check(self, t: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
        n = t.shape[0]
        if n == 0:
            return
        if (self.last_t is not None and t[0] < self.last_t) or (n > 1 and not (t[1:] >= t[:-1]).all()):
            check_sorted(t, self.path, self.done, self.last_t)
        mx, my = int(x.max()), int(y.max())
        if self.size is not None and (mx >= self.size[0] or my >= self.size[1] or x.min() < 0 or y.min() < 0):
            w, h = self.size
            for name, c, limit in (("x", x, w), ("y", y, h)):
                bad = np.flatnonzero((c < 0) | (c >= limit))
                if bad.size:
                    i = int(bad[0])
                    raise EventFileError(self.path, f"event {self.done + i} has {name}={int(c[i])}, "
                                                    f"outside the {w}x{h} sensor")
        self.max_x, self.max_y = max(self.max_x, mx), max(self.max_y, my)
        self.done += n
        self.last_t = int(t[-1])


#: largest sensor a file may declare (pixels per side); real sensors are at most 1280x720 today
MAX_SENSOR_SIDE = 8192


def check_sensor_size(size: tuple[int, int], path: str | Path | None, field: str = "sensor size") -> tuple[int, int]:
    """``size`` as two ints, or :class:`EventFileError` naming ``field`` when a side is not in
    1..:data:`MAX_SENSOR_SIDE` (a header declaring 65535x65535 would make frames of tens of GB)."""
    try:
        w, h = int(size[0]), int(size[1])
    except (TypeError, ValueError, IndexError, OverflowError):
        raise EventFileError(path, f"{field} {size!r} is not two integers") from None
    if not (1 <= w <= MAX_SENSOR_SIDE and 1 <= h <= MAX_SENSOR_SIDE):
        raise EventFileError(path, f"{field} {w}x{h} is outside 1..{MAX_SENSOR_SIDE} pixels per side")
    return w, h


def infer_sensor_size(events: np.ndarray, minimum: tuple[int, int] = (1, 1)) -> tuple[int, int]:
    """Smallest sensor holding every event (``max + 1``), at least ``minimum``."""
    if events.shape[0] == 0:
        return minimum
    return (max(int(events["x"].max()) + 1, minimum[0]), max(int(events["y"].max()) + 1, minimum[1]))


def require_events(events: np.ndarray, path: str | Path | None) -> None:
    if not isinstance(events, np.ndarray) or events.dtype != EVENT_DTYPE:
        raise EventFileError(path, "events must be an EVENT_DTYPE structured array")


def rechunk(chunks: Iterator[np.ndarray], n: int) -> Iterator[np.ndarray]:
    """Regroup a stream of event arrays into arrays of exactly ``n`` events (the last may be shorter)."""
    if n <= 0:
        raise ValueError(f"chunk_events must be positive, got {n}")
    pending: list[np.ndarray] = []
    have = 0
    for c in chunks:
        if c.shape[0] == 0:
            continue
        pending.append(c)
        have += c.shape[0]
        if have >= n:
            buf = np.concatenate(pending) if len(pending) > 1 else pending[0]
            k = 0
            while buf.shape[0] - k >= n:
                yield buf[k : k + n]
                k += n
            rest = buf[k:]
            pending = [rest] if rest.shape[0] else []
            have = rest.shape[0]
    if have:
        yield np.concatenate(pending) if len(pending) > 1 else pending[0]
