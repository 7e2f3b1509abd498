"""N-MNIST / N-Caltech101 ATIS ``.bin`` files: 40-bit events, no header.

Each event is 5 bytes: ``x`` (byte 0), ``y`` (byte 1), polarity (bit 7 of byte 2) and a 23-bit
µs timestamp (bits 6–0 of byte 2, then bytes 3 and 4, big-endian). Events with ``y == 240`` are
timestamp-overflow markers: they add 2**13 µs to every later event and are removed — the same
rule as tonic's ``read_mnist_file`` (our test oracle). The sensor is 34x34 (N-MNIST) when every
event fits in it, else the bounding box of the events (``meta["sensor_size_inferred"]``).

Hand-written: one C loop (:mod:`._native`, the default once built), or — fallback and test
oracle — five strided byte views of one ``np.frombuffer``, no per-event Python.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from snnstudio.errors import EventFileError
from snnstudio.events.io import _native
from snnstudio.events.io._common import check_events, warn_truncated
from snnstudio.events.types import EVENT_DTYPE, EventRecording

NMNIST_SIZE = (34, 34)
OVERFLOW_Y = 240


def decode(raw: np.ndarray) -> np.ndarray:
    """Decode ``[n, 5]`` uint8 records into :data:`EVENT_DTYPE` (overflow markers applied and removed)."""
    y = raw[:, 1]
    b2 = raw[:, 2].astype(np.int64)
    t = ((b2 & 0x7F) << 16) | (raw[:, 3].astype(np.int64) << 8) | raw[:, 4]
    marker = y == OVERFLOW_Y
    keep = ~marker
    if marker.any():
        t = t + (np.cumsum(marker) << 13)
    ev = np.empty(int(np.count_nonzero(keep)), dtype=EVENT_DTYPE)
    ev["t"] = t[keep]
    ev["x"] = raw[keep, 0]
    ev["y"] = y[keep]
    ev["p"] = b2[keep] >> 7
    return ev


def read(path: str | Path) -> EventRecording:
    """The whole N-MNIST ``.bin`` file ``path`` as an :class:`~snnstudio.events.types.EventRecording` (µs
    timestamps); a damaged or unreadable file is an :class:`~snnstudio.errors.EventFileError`."""
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise EventFileError(path, f"cannot read: {exc}") from None
    if data.shape[0] == 0:
        raise EventFileError(path, "empty file")
    if data.shape[0] % 5:
        warn_truncated(path, f"{data.shape[0] % 5} stray bytes after the last whole 5-byte event")
    raw = data[: data.shape[0] - data.shape[0] % 5].reshape(-1, 5)
    lib = _native.lib()
    stats = np.array([0, 0, 0, -1, -1], dtype=np.int64)
    if lib is not None:
        ev = np.empty(raw.shape[0], dtype=EVENT_DTYPE)
        ev = ev[: lib.nmnist_decode(_native.ptr(raw), raw.shape[0], _native.ptr(ev), _native.ptr(stats))]
    else:
        ev = decode(raw)
    if ev.shape[0] == 0:
        raise EventFileError(path, "file holds no events")
    meta: dict = {}
    w = (int(stats[3]) if lib is not None else int(ev["x"].max())) + 1
    h = (int(stats[4]) if lib is not None else int(ev["y"].max())) + 1
    if w <= NMNIST_SIZE[0] and h <= NMNIST_SIZE[1]:
        size = NMNIST_SIZE
    else:
        size = (w, h)
        meta["sensor_size_inferred"] = True
    if lib is None or stats[2]:  # the C loop saw every coordinate (inside ``size``) and counted backward steps
        check_events(ev, size, path)
    return EventRecording(ev, size, sensor="ATIS", path=path, format="nmnist", meta=meta)


def encode(events: np.ndarray) -> bytes:
    """Bytes of an N-MNIST file for ``events`` (t < 2**23 µs, x, y < 256, y != 240)."""
    t = events["t"].astype(np.int64)
    raw = np.empty((events.shape[0], 5), dtype=np.uint8)
    raw[:, 0] = events["x"]
    raw[:, 1] = events["y"]
    raw[:, 2] = (events["p"].astype(np.int64) << 7) | ((t >> 16) & 0x7F)
    raw[:, 3] = (t >> 8) & 0xFF
    raw[:, 4] = t & 0xFF
    return raw.tobytes()
