"""jAER AEDAT 2.0 with DVS128 addresses: ``#`` header lines, then big-endian int32 address +
int32 timestamp (µs) pairs. ``x = 127 - ((a >> 1) & 0x7F)`` (jAER's x is mirrored),
``y = (a >> 8) & 0x7F``, ``p = a & 1``; addresses with bit 15 set are external (sync) events
and are dropped (counted in ``meta["external_events"]``). The 32-bit timestamp wraps every
~71.6 minutes; wraps are unfolded. Only the DVS128 address layout is decoded: a header naming
another chip (DAVIS) is refused rather than decoded wrongly.

Hand-written (no maintained Python reader): one ``np.frombuffer('>u4')`` view of the file, then
one C loop (:mod:`._native`, the default once built) or, as fallback and test oracle, a few
vectorised numpy passes per block.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from snnstudio.errors import EventFileError, UnknownFormatError
from snnstudio.events.io import _native
from snnstudio.events.io._common import (
    DEFAULT_CHUNK_EVENTS,
    BlockChecker,
    atomic_write,
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


_BLOCK = 1 << 15


class _Decoder:
    """Block decoder: big-endian (address, timestamp) pairs → checked, packed events."""

    def __init__(self, path: Path):
        self.checker = BlockChecker(path, SENSOR_SIZE)
        self.wraps = 0
        self.last_ts: int | None = None
        self.external = 0

    def block(self, raw: np.ndarray, out: np.ndarray) -> int:
        """``raw``: [n, 2] '>u4' view. Writes into ``out``, returns the number of events."""
        both = raw.view(">u8").ravel().astype(np.uint64)  # one byte-swapping pass: a << 32 | ts
        a = (both >> np.uint64(32)).astype(np.uint32)
        ts = (both & np.uint64(0xFFFFFFFF)).view(np.int64)
        ext = a & 0x8000
        if ext.any():
            keep = ext == 0
            self.external += int(keep.shape[0] - np.count_nonzero(keep))
            a, ts = a[keep], ts[keep]
        n = a.shape[0]
        if n == 0:
            return 0
        # unfold 32-bit wraps: a drop of more than half the range is a wrap, not disorder
        first = ts[0] if self.last_ts is None else self.last_ts
        drops = np.flatnonzero(np.diff(ts, prepend=first) < -(1 << 31))
        self.last_ts = int(ts[-1])
        t = ts + (self.wraps << 32) if self.wraps else ts
        if drops.shape[0]:
            steps = np.zeros(n, dtype=np.int64)
            steps[drops] = 1 << 32
            t = t + np.cumsum(steps)
            self.wraps += drops.shape[0]
        x = (a >> 1) & 0x7F
        x = 127 - x.astype(np.int16)
        y = (a >> 8) & 0x7F
        self.checker.check(t, x, y)
        o = out[:n]
        o["t"] = t
        o["x"] = x
        o["y"] = y
        o["p"] = a & 1
        return n


class _NativeDecoder(_Decoder):
    """The same decoder as one C loop (:mod:`._native`); the state lives in ``self.st``."""

    def __init__(self, path: Path, lib):
        super().__init__(path)
        self.lib = lib
        self.st = np.zeros(4, dtype=np.int64)  # wraps, last raw timestamp, has_last, external events

    def block(self, raw: np.ndarray, out: np.ndarray) -> int:
        stats = _native.new_stats(self.checker)
        n = self.lib.aedat2_decode(_native.ptr(raw), raw.shape[0], _native.ptr(self.st), _native.ptr(out),
                                   _native.ptr(stats))
        self.external = int(self.st[3])
        _native.finish(self.checker, out[:n], stats)
        return n


def _decoder(path: Path) -> _Decoder:
    lib = _native.lib()
    return _Decoder(path) if lib is None else _NativeDecoder(path, lib)


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
    """The whole AEDAT 2.0 file ``path`` as an :class:`~snnstudio.events.types.EventRecording` (µs timestamps); a
    damaged or unreadable file is an :class:`~snnstudio.errors.EventFileError`."""
    path = Path(path)
    raw, sensor = _open(path)
    out = np.empty(raw.shape[0], dtype=EVENT_DTYPE)
    dec = _decoder(path)
    pos = 0
    step = raw.shape[0] if isinstance(dec, _NativeDecoder) else _BLOCK  # the C loop takes the file at once
    for k in range(0, raw.shape[0], max(step, 1)):
        pos += dec.block(raw[k : k + step], out[pos:])
    if pos == 0:
        raise EventFileError(path, "AEDAT 2.0 file holds no events")
    meta = {"external_events": dec.external} if dec.external else {}
    return EventRecording(out[:pos], SENSOR_SIZE, sensor=sensor, path=path, format="aedat2", meta=meta)


def iter_chunks(path: str | Path, chunk_events: int = DEFAULT_CHUNK_EVENTS) -> Iterator[np.ndarray]:
    """Stream the AEDAT 2.0 file ``path`` as ``EVENT_DTYPE`` arrays of about ``chunk_events`` events each, in
    time order (same checks as :func:`read`)."""
    path = Path(path)
    raw, _ = _open(path)
    dec = _decoder(path)
    step = max(_BLOCK, chunk_events)
    for k in range(0, raw.shape[0], step):
        block = raw[k : k + step]
        out = np.empty(block.shape[0], dtype=EVENT_DTYPE)
        pos = 0
        sub = block.shape[0] if isinstance(dec, _NativeDecoder) else _BLOCK
        for j in range(0, block.shape[0], sub):
            pos += dec.block(block[j : j + sub], out[pos:])
        if pos:
            yield out[:pos]


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
