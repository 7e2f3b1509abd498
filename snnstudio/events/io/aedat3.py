"""AEDAT 3.1 (cAER / DVS128 Gesture): polarity events, decoded with numpy over whole packet runs.

Layout: ``#``-prefixed header lines up to ``#!END-HEADER``, then packets of a 28-byte header
(``eventType`` u16 @0, ``eventSource`` u16 @2, ``eventSize`` u32 @4, ``eventTSOffset`` @8,
``eventTSOverflow`` @12, ``eventCapacity`` @16, ``eventNumber`` @20, ``eventValid`` @24) followed by
``eventCapacity * eventSize`` bytes. Polarity events (type 1) are ``u32 data, u32 timestamp``:
``x = (d >> 17) & 0x1FFF``, ``y = (d >> 2) & 0x1FFF``, ``p = (d >> 1) & 1``, bit 0 = valid;
``t = ts | overflow << 31`` (µs). Other packet types (special, frames, IMU) are skipped and
counted in ``meta["skipped_packets"]``.

Hand-written: no maintained package reads AEDAT 3.1 quickly (tonic's reader loops per packet
in Python and returns tonic's own dtype); the work here is one Python step per *packet* header
and cache-sized numpy passes per event block (no per-event Python).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from snnstudio.errors import EventFileError
from snnstudio.events.io._common import (
    DEFAULT_CHUNK_EVENTS,
    atomic_write,
    check_events,
    check_inside,
    check_sorted,
    infer_sensor_size,
    warn_truncated,
)
from snnstudio.events.types import EVENT_DTYPE, EventRecording

MAGIC = b"#!AER-DAT3"
END_HEADER = b"#!END-HEADER\r\n"
PACKET_HEADER = struct.Struct("<HHIIIIII")
POLARITY = 1
#: sensor sizes of the cameras that write AEDAT 3.x, by the name on their ``#Source`` line
KNOWN_SENSORS = {
    "DVS128": (128, 128), "DAVIS128": (128, 128), "DAVIS240": (240, 180), "DAVIS240A": (240, 180),
    "DAVIS240B": (240, 180), "DAVIS240C": (240, 180), "DAVIS346": (346, 260), "DAVIS346B": (346, 260),
    "DAVIS640": (640, 480), "DVXPLORER": (640, 480), "DVXPLORER_LITE": (320, 240),
}
_SIZE_RE = re.compile(rb"#snnstudio-sensor-size:\s*(\d+)x(\d+)")
_SOURCE_RE = re.compile(rb"#Source\s+\d+:\s*([^\r\n]+)")
_BLOCK = 1 << 16  # events per decoding pass: temporaries stay in L2


def _header(path: Path, buf) -> tuple[int, tuple[int, int] | None, str | None]:
    if bytes(buf[: len(MAGIC)]) != MAGIC:
        raise EventFileError(path, "wrong magic: not an AEDAT 3.x file (expected '#!AER-DAT3')")
    head = bytes(buf[: 1 << 20])
    end = head.find(END_HEADER)
    if end < 0:
        raise EventFileError(path, "AEDAT 3.x header has no '#!END-HEADER' line (truncated or corrupt)")
    text = head[:end]
    size = sensor = None
    if m := _SOURCE_RE.search(text):
        sensor = m.group(1).decode("latin-1").strip()
        key = sensor.upper().replace(" ", "_").split("_SN")[0]
        for name, s in KNOWN_SENSORS.items():
            if key.startswith(name):
                size = s
    if m := _SIZE_RE.search(text):
        size = (int(m.group(1)), int(m.group(2)))
    return end + len(END_HEADER), size, sensor


def _packets(path: Path, buf, start: int) -> Iterator[tuple[int, int, int, int]]:
    """Yield (data offset, events, valid, overflow) of each polarity packet; warn on truncation."""
    n_bytes = len(buf)
    pos = start
    skipped = 0
    while pos < n_bytes:
        if pos + 28 > n_bytes:
            warn_truncated(path, f"{n_bytes - pos} bytes of a packet header at byte {pos}")
            break
        etype, _src, esize, _tsoff, ovf, cap, number, valid = PACKET_HEADER.unpack_from(buf, pos)
        if esize == 0 or number > cap:
            raise EventFileError(path, f"corrupt packet header at byte {pos} (size {esize}, "
                                       f"number {number}, capacity {cap})")
        body = cap * esize
        end = pos + 28 + body
        if etype == POLARITY:
            if esize != 8:
                raise EventFileError(path, f"polarity packet at byte {pos} has event size {esize}, expected 8")
            if end > n_bytes:
                whole = (n_bytes - pos - 28) // 8
                warn_truncated(path, f"polarity packet at byte {pos} holds {min(whole, number)} of {number} events")
                if min(whole, number) > 0:
                    yield pos + 28, min(whole, number), -1, ovf
                break
            yield pos + 28, number, valid, ovf
        else:
            skipped += 1
            if end > n_bytes:
                warn_truncated(path, f"packet at byte {pos} ends past the end of the file")
                break
        pos = end


def _decode_block(pairs: np.ndarray, overflow: np.ndarray, out: np.ndarray, filter_valid: bool) -> int:
    """Decode ``pairs`` ([n, 2] u32: data, ts) into ``out``; return the number of events kept."""
    d = pairs[:, 0]
    if filter_valid:
        keep = (d & 1).astype(bool)
        d = d[keep]
        ts = pairs[:, 1][keep]
        overflow = overflow[keep]
    else:
        ts = pairs[:, 1]
    n = d.shape[0]
    o = out[:n]
    o["t"] = ts
    o["t"] |= overflow
    tmp = d >> 17
    tmp &= 0x1FFF
    o["x"] = tmp
    np.right_shift(d, 2, out=tmp)
    tmp &= 0x1FFF
    o["y"] = tmp
    np.right_shift(d, 1, out=tmp)
    tmp &= 1
    o["p"] = tmp
    return n


def _decode_runs(buf, runs: list[tuple[int, int, int, int]]) -> Iterator[np.ndarray]:
    """Decode polarity packets in groups of about ``_BLOCK * 16`` events."""
    group: list[tuple[int, int, int, int]] = []
    count = 0
    for r in runs:
        group.append(r)
        count += r[1]
        if count >= _BLOCK * 16:
            yield _decode_group(buf, group, count)
            group, count = [], 0
    if group:
        yield _decode_group(buf, group, count)


def _decode_group(buf, group, count) -> np.ndarray:
    pairs = np.concatenate([np.frombuffer(buf, dtype="<u4", count=2 * n, offset=off) for off, n, _, _ in group])
    pairs = pairs.reshape(-1, 2)
    counts = np.fromiter((g[1] for g in group), dtype=np.int64, count=len(group))
    ovf = np.fromiter((g[3] for g in group), dtype=np.int64, count=len(group)) << 31
    need_filter = any(v != n for _, n, v, _ in group)
    overflow = np.repeat(ovf, counts) if np.any(ovf) else np.zeros(count, dtype=np.int64)
    out = np.empty(count, dtype=EVENT_DTYPE)
    kept = 0
    for k in range(0, count, _BLOCK):
        kept += _decode_block(pairs[k : k + _BLOCK], overflow[k : k + _BLOCK], out[kept:], need_filter)
    return out[:kept]


def _map(path: Path):
    try:
        if path.stat().st_size == 0:
            raise EventFileError(path, "empty file")
        return np.memmap(path, dtype=np.uint8, mode="r")
    except OSError as exc:
        raise EventFileError(path, f"cannot read: {exc}") from None


def read(path: str | Path) -> EventRecording:
    path = Path(path)
    buf = _map(path)
    start, size, sensor = _header(path, buf)
    parts = list(_decode_runs(buf, list(_packets(path, buf, start))))
    ev = np.concatenate(parts) if len(parts) > 1 else (parts[0] if parts else np.empty(0, EVENT_DTYPE))
    if ev.shape[0] == 0:
        raise EventFileError(path, "AEDAT 3.x file holds no polarity events")
    meta = {}
    if size is None:
        size = infer_sensor_size(ev)
        meta["sensor_size_inferred"] = True
    check_events(ev, size, path)
    return EventRecording(ev, size, sensor=sensor, path=path, format="aedat3", meta=meta)


def iter_chunks(path: str | Path, chunk_events: int = DEFAULT_CHUNK_EVENTS) -> Iterator[np.ndarray]:
    path = Path(path)
    buf = _map(path)
    start, size, _ = _header(path, buf)
    done, last = 0, None
    for ev in _decode_runs(buf, _packets(path, buf, start)):
        if ev.shape[0] == 0:
            continue
        check_sorted(ev["t"], path, done, last)
        if size is not None:
            check_inside(ev, size, path, done)
        done += ev.shape[0]
        last = int(ev["t"][-1])
        yield ev


def encode(events: np.ndarray, sensor_size: tuple[int, int], sensor: str | None = None,
           packet_events: int = 4096) -> list[bytes]:
    """AEDAT 3.1 bytes (header + polarity packets) for sorted events with ``t >= 0``."""
    w, h = sensor_size
    source = sensor or next((n for n, s in KNOWN_SENSORS.items() if s == (w, h)), "DVS128")
    parts = [b"#!AER-DAT3.1\r\n#Format: RAW\r\n", f"#Source 1: {source}\r\n".encode(),
             f"#snnstudio-sensor-size: {w}x{h}\r\n".encode(), END_HEADER]
    t = events["t"].astype(np.int64)
    if t.shape[0] and int(t[0]) < 0:
        raise ValueError("AEDAT 3.1 cannot store negative timestamps")
    data = ((events["x"].astype(np.uint32) << 17) | (events["y"].astype(np.uint32) << 2)
            | (events["p"].astype(np.uint32) << 1) | 1)
    ovf = t >> 31
    # packet boundaries: every packet_events events and wherever the overflow counter changes
    cuts = np.union1d(np.arange(0, t.shape[0], packet_events), np.flatnonzero(np.diff(ovf)) + 1)
    cuts = np.append(cuts, t.shape[0])
    pairs = np.empty((t.shape[0], 2), dtype="<u4")
    pairs[:, 0] = data
    pairs[:, 1] = t & 0x7FFFFFFF
    for a, b in zip(cuts[:-1], cuts[1:]):
        n = int(b - a)
        parts.append(PACKET_HEADER.pack(POLARITY, 1, 8, 4, int(ovf[a]), n, n, n))
        parts.append(pairs[a:b].tobytes())
    return parts


def write(path: str | Path, recording) -> None:
    w, h = recording.sensor_size
    if w > 8192 or h > 8192:
        raise EventFileError(path, f"AEDAT 3.1 addresses hold at most 8192x8192 pixels, not {w}x{h}")
    try:
        parts = encode(recording.events, recording.sensor_size, recording.sensor)
    except ValueError as exc:
        raise EventFileError(path, str(exc)) from None
    with atomic_write(path) as (_, f):
        for p in parts:
            f.write(p)


def header(path: str | Path) -> tuple[tuple[int, int] | None, str | None, dict]:
    """(sensor size or None, sensor name, meta) from the header alone."""
    path = Path(path)
    _, size, sensor = _header(path, _map(path))
    return size, sensor, {}
