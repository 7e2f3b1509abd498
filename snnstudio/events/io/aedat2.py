"""jAER AEDAT 2.0 with DVS128 addresses: ``#`` header lines, then big-endian int32 address +
int32 timestamp (µs) pairs. ``x = 127 - ((a >> 1) & 0x7F)`` (jAER's x is mirrored),
``y = (a >> 8) & 0x7F``, ``p = a & 1``; addresses with bit 15 set are external (sync) events
and are dropped (counted in ``meta["external_events"]``). The 32-bit timestamp wraps every
~71.6 minutes; wraps are unfolded. Only the DVS128 address layout is decoded: a header naming
another chip (DAVIS) is refused rather than decoded wrongly.

Hand-written (no maintained Python reader): one ``np.frombuffer('>u4')`` view of the file and a
few vectorised passes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from snnstudio.errors import EventFileError, UnknownFormatError
from snnstudio.events.io._common import (
    DEFAULT_CHUNK_EVENTS,
    atomic_write,
    check_events,
    warn_truncated,
)
from snnstudio.events.types import EVENT_DTYPE, EventRecording

MAGIC = b"#!AER-DAT2.0"
SENSOR_SIZE = (128, 128)
_CHIP_RE = re.compile(rb"#\s*AEChip:\s*(\S+)")
_HW_RE = re.compile(rb"#\s*HardwareInterface:\s*([^\r\n]+)")


def _header(path: Path, buf) -> tuple[int, str | None]:
    if bytes(buf[: len(MAGIC)]) != MAGIC:
        raise EventFileError(path, "wrong magic: not an AEDAT 2.0 file (expected '#!AER-DAT2.0')")
    pos = 0
    n = len(buf)
    while pos < n and buf[pos] == 0x23:  # '#'
        end = bytes(buf[pos : pos + 65536]).find(b"\n")
        if end < 0:
            raise EventFileError(path, "AEDAT 2.0 header line without end (truncated or corrupt)")
        pos += end + 1
    head = bytes(buf[:pos])
    chip = m.group(1).decode("latin-1") if (m := _CHIP_RE.search(head)) else None
    if chip and "DVS128" not in chip.upper():
        raise UnknownFormatError(path, f"AEDAT 2.0 from chip {chip} is not supported (only DVS128 addresses)")
    hw = m.group(1).decode("latin-1").strip() if (m := _HW_RE.search(head)) else None
    sensor = "DVS128" + (f" ({hw})" if hw else "")
    return pos, sensor


def _decode(raw: np.ndarray, wraps_before: int, last_ts: int | None) -> tuple[np.ndarray, int, int]:
    """raw: [n, 2] big-endian u32 (address, timestamp). Returns (events, wraps, external count)."""
    a = raw[:, 0].astype(np.uint32)
    ts = raw[:, 1].astype(np.int64)
    ext = (a & 0x8000) != 0
    n_ext = int(np.count_nonzero(ext))
    if n_ext:
        a, ts = a[~ext], ts[~ext]
    # unfold 32-bit wraps: a drop of more than half the range is a wrap, not disorder
    prev = np.empty_like(ts)
    if ts.shape[0]:
        prev[0] = ts[0] if last_ts is None else last_ts
        prev[1:] = ts[:-1]
    jumps = np.cumsum(ts - prev < -(1 << 31)) + wraps_before
    ev = np.empty(a.shape[0], dtype=EVENT_DTYPE)
    ev["t"] = ts + (jumps << 32)
    tmp = a >> 1
    tmp &= 0x7F
    ev["x"] = 127 - tmp.astype(np.int16)
    np.right_shift(a, 8, out=tmp)
    tmp &= 0x7F
    ev["y"] = tmp
    np.bitwise_and(a, 1, out=tmp)
    ev["p"] = tmp
    wraps = int(jumps[-1]) if jumps.shape[0] else wraps_before
    return ev, wraps, n_ext


def _open(path: Path):
    try:
        if path.stat().st_size == 0:
            raise EventFileError(path, "empty file")
        buf = np.memmap(path, dtype=np.uint8, mode="r")
    except OSError as exc:
        raise EventFileError(path, f"cannot read: {exc}") from None
    start, sensor = _header(path, buf)
    body = len(buf) - start
    if body % 8:
        warn_truncated(path, f"{body % 8} stray bytes after the last whole event")
    raw = np.frombuffer(buf, dtype=">u4", count=(body // 8) * 2, offset=start).reshape(-1, 2)
    return raw, sensor


def read(path: str | Path) -> EventRecording:
    path = Path(path)
    raw, sensor = _open(path)
    ev, _, n_ext = _decode(raw, 0, None)
    if ev.shape[0] == 0:
        raise EventFileError(path, "AEDAT 2.0 file holds no events")
    check_events(ev, SENSOR_SIZE, path)
    meta = {"external_events": n_ext} if n_ext else {}
    return EventRecording(ev, SENSOR_SIZE, sensor=sensor, path=path, format="aedat2", meta=meta)


def iter_chunks(path: str | Path, chunk_events: int = DEFAULT_CHUNK_EVENTS) -> Iterator[np.ndarray]:
    path = Path(path)
    raw, _ = _open(path)
    wraps, last_ts, last_t, done = 0, None, None, 0
    for k in range(0, raw.shape[0], chunk_events):
        block = raw[k : k + chunk_events]
        ev, wraps, _ = _decode(block, wraps, last_ts)
        if block.shape[0]:
            last_ts = int(block[-1, 1])
        if ev.shape[0]:
            check_events(ev, SENSOR_SIZE, path, done, last_t)
            last_t = int(ev["t"][-1])
            done += ev.shape[0]
            yield ev


def encode(events: np.ndarray) -> bytes:
    """The event part of an AEDAT 2.0 DVS128 file (no header)."""
    raw = np.empty((events.shape[0], 2), dtype=">u4")
    x = 127 - events["x"].astype(np.int64)
    raw[:, 0] = (events["y"].astype(np.int64) << 8) | (x << 1) | events["p"].astype(np.int64)
    raw[:, 1] = events["t"].astype(np.int64) & 0xFFFFFFFF
    return raw.tobytes()


def write(path: str | Path, recording: EventRecording) -> None:
    """DVS128 only (128x128); timestamps must be ≥ 0 (stored modulo 2**32, unfolded on reading)."""
    if tuple(recording.sensor_size) != SENSOR_SIZE:
        raise EventFileError(path, f"AEDAT 2.0 (DVS128) holds a 128x128 sensor, not {recording.sensor_size}")
    ev = recording.events
    if ev.shape[0] and int(ev["t"][0]) < 0:
        raise EventFileError(path, "AEDAT 2.0 cannot store negative timestamps")
    if ev.shape[0] > 1 and np.any(np.diff(ev["t"]) >= (1 << 31)):
        raise EventFileError(path, "a gap of 2**31 µs or more between events cannot be stored in AEDAT 2.0")
    header = (b"#!AER-DAT2.0\r\n# This is a raw AE data file created by snnstudio\r\n"
              b"# Data format is int32 address, int32 timestamp (8 bytes total), repeated for each event\r\n"
              b"# Timestamps tick is 1 us\r\n# AEChip: ch.unizh.ini.jaer.chip.retina.DVS128\r\n")
    with atomic_write(path) as (_, f):
        f.write(header)
        f.write(encode(ev))


def header(path: str | Path) -> tuple[tuple[int, int] | None, str | None, dict]:
    """(sensor size, sensor name, meta) from the header alone."""
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(1 << 20)
    if not head:
        raise EventFileError(path, "empty file")
    _, sensor = _header(path, np.frombuffer(head, dtype=np.uint8))
    return SENSOR_SIZE, sensor, {}
