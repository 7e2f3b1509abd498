"""Shared helpers of the readers and writers: atomic writes, validation, sensor sizes.

Every writer goes through :func:`atomic_write` (a temp file in the destination folder, renamed
over the target only when complete), and every reader through :func:`check_events` (sorted
timestamps, coordinates inside the sensor) so that errors name the file, the event and the value.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from snnstudio.errors import EventFileError, SnnStudioWarning
from snnstudio.events.types import EVENT_DTYPE

#: default number of events per chunk of the streaming readers
DEFAULT_CHUNK_EVENTS = 1 << 20


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "wb") -> Iterator[tuple[Path, object]]:
    """Yield ``(tmp_path, file)`` for a temp file beside ``path``; rename it over ``path`` on success.

    On an exception the temp file is removed and ``path`` is left untouched (never a partial file).
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise EventFileError(path, f"folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    tmp_path = Path(tmp)
    try:
        with os.fdopen(fd, mode) as f:
            yield tmp_path, f
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


def temp_path_beside(path: str | Path) -> Path:
    """A fresh, closed temp file name beside ``path`` (for writers that open the file themselves)."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise EventFileError(path, f"folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    return Path(tmp)


def warn_truncated(path: str | Path, detail: str) -> None:
    """Warn that ``path`` ends in the middle of something; the good part is still returned."""
    warnings.warn(f"{path}: truncated file ({detail}); reading the complete part", SnnStudioWarning, stacklevel=3)


def check_sorted(t: np.ndarray, path: str | Path | None, offset: int = 0, previous: int | None = None) -> None:
    """Raise :class:`EventFileError` when timestamps ``t`` (µs) decrease anywhere.

    ``offset`` is the index of ``t[0]`` in the whole file and ``previous`` the last timestamp of
    the chunk before (streaming readers), so the message points at the right event.
    """
    if t.shape[0] == 0:
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


def check_inside(events: np.ndarray, sensor_size: tuple[int, int], path: str | Path | None, offset: int = 0) -> None:
    """Raise :class:`EventFileError` when an event lies outside ``sensor_size`` = (width, height)."""
    if events.shape[0] == 0:
        return
    w, h = sensor_size
    for name, limit in (("x", w), ("y", h)):
        c = events[name]
        lo, hi = int(c.min()), int(c.max())
        if lo < 0 or hi >= limit:
            i = int(np.flatnonzero((c < 0) | (c >= limit))[0])
            raise EventFileError(
                path,
                f"event {offset + i} has {name}={int(c[i])}, outside the {w}x{h} sensor",
            )
    p = events["p"]
    if p.shape[0] and (int(p.min()) < 0 or int(p.max()) > 1):
        i = int(np.flatnonzero((p < 0) | (p > 1))[0])
        raise EventFileError(path, f"event {offset + i} has polarity {int(p[i])} (must be 0 or 1)")


def check_events(events: np.ndarray, sensor_size: tuple[int, int], path: str | Path | None, offset: int = 0,
                 previous: int | None = None) -> None:
    """Both checks above."""
    check_sorted(events["t"], path, offset, previous)
    check_inside(events, sensor_size, path, offset)


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


def read_prefix(path: Path, n: int) -> bytes:
    with open(path, "rb") as f:
        return f.read(n)
