"""AEDAT 3.1 (cAER / DVS128 Gesture): polarity events, decoded with numpy over whole packet runs.

Layout: ``#``-prefixed header lines up to ``#!END-HEADER``, then packets of a 28-byte header
(``eventType`` u16 @0, ``eventSource`` u16 @2, ``eventSize`` u32 @4, ``eventTSOffset`` @8,
``eventTSOverflow`` @12, ``eventCapacity`` @16, ``eventNumber`` @20, ``eventValid`` @24) followed by
``eventCapacity * eventSize`` bytes. Polarity events (type 1) are ``u32 data, u32 timestamp``:
``x = (d >> 17) & 0x1FFF``, ``y = (d >> 2) & 0x1FFF``, ``p = (d >> 1) & 1``, bit 0 = valid;
``t = ts | overflow << 31`` (µs). Events whose valid bit is 0 are dropped, as the format
specifies (``meta["invalid_events"]`` counts them; tonic and SpikingJelly keep them). Other
packet types (special, frames, IMU) are skipped.

Hand-written: no maintained package reads AEDAT 3.1 quickly (tonic's reader loops per packet
in Python and returns tonic's own dtype). Two paths: a C loop (:mod:`._native`) that walks the
packets and writes the packed events in one pass (the default once it is built), and the numpy
path — one Python step per *packet* header and cache-sized numpy passes per event block — which
is the fallback (no compiler, ``SNNSTUDIO_NATIVE=0``), the tests' oracle, and the code that
handles an irregular packet (truncated, corrupt: the C loop hands over to :func:`_packets`).
"""

from __future__ import annotations

import ctypes
import re
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from snnstudio.errors import EventFileError
from snnstudio.events.io import _native
from snnstudio.events.io._common import (
    DEFAULT_CHUNK_EVENTS,
    BlockChecker,
    atomic_write,
    check_sensor_size,
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
_BLOCK = 1 << 14  # events per decoding pass: temporaries stay in L2
_GROUP = 1 << 20  # events gathered (copied out of the packets) at a time


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
        size = check_sensor_size((int(m.group(1)), int(m.group(2))), path, "header sensor size")
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


class _Decoder:
    """Decodes polarity packets block by block into contiguous temporaries (kept in L2), checks
    them there, and only then writes the four fields of the packed output."""

    def __init__(self, checker: BlockChecker):
        self.checker = checker
        self.w = np.empty(_BLOCK, dtype=np.uint64)
        self.d = np.empty(_BLOCK, dtype=np.uint32)
        self.c = np.empty(_BLOCK, dtype=np.uint32)
        self.invalid = 0

    def block(self, words: np.ndarray, overflow: np.ndarray | int, out: np.ndarray) -> int:
        """``words``: u64 = ts << 32 | data (little-endian pairs). Returns events written to ``out``."""
        n = words.shape[0]
        d = self.d[:n]
        np.copyto(d, words, casting="unsafe")  # low 32 bits: the address word
        c = self.c[:n]
        np.bitwise_and(d, 1, out=c)
        if not c.all():  # events with the valid bit cleared are dropped
            keep = c.astype(bool)
            words = words[keep]
            if not np.isscalar(overflow):
                overflow = overflow[keep]
            n = words.shape[0]
            self.invalid += d.shape[0] - n
            d = self.d[:n]
            np.copyto(d, words, casting="unsafe")
            c = self.c[:n]
        t = self.w[:n]
        np.right_shift(words, 32, out=t)
        if np.any(overflow):
            t |= overflow
        t = t.view(np.int64)
        o = out[:n]
        np.right_shift(d, 17, out=c)
        c &= 0x1FFF
        o["x"] = c
        xs = c.max() if n else 0
        np.right_shift(d, 2, out=c)
        c &= 0x1FFF
        o["y"] = c
        ys = c.max() if n else 0
        if n:
            ck = self.checker
            if (ck.last_t is not None and t[0] < ck.last_t) or (n > 1 and not (t[1:] >= t[:-1]).all()) or (
                    ck.size is not None and (xs >= ck.size[0] or ys >= ck.size[1])):
                ck.check(t, o["x"], o["y"])  # slow path: finds and names the bad event
            else:
                ck.max_x, ck.max_y = max(ck.max_x, int(xs)), max(ck.max_y, int(ys))
                ck.done += n
                ck.last_t = int(t[-1])
        o["t"] = t
        np.right_shift(d, 1, out=c)
        c &= 1
        o["p"] = c
        return n


def _gather(buf, group) -> tuple[np.ndarray, np.ndarray]:
    """The packets' event words as one contiguous u64 array, and the per-event overflow (<< 31)."""
    words = np.concatenate([np.frombuffer(buf, dtype="<u8", count=n, offset=off) for off, n, _, _ in group])
    ovf = np.fromiter((g[3] for g in group), dtype=np.uint64, count=len(group))
    if ovf.any():
        counts = np.fromiter((g[1] for g in group), dtype=np.int64, count=len(group))
        return words, np.repeat(ovf << np.uint64(31), counts)
    return words, np.zeros(0, dtype=np.uint64)


def _decode_group(dec: _Decoder, buf, group, out: np.ndarray) -> int:
    words, ovf = _gather(buf, group)
    kept = 0
    for k in range(0, words.shape[0], _BLOCK):
        o = ovf[k : k + _BLOCK] if ovf.shape[0] else 0
        kept += dec.block(words[k : k + _BLOCK], o, out[kept:])
    return kept


def _groups(runs, limit: int = _GROUP) -> Iterator[tuple[list, int]]:
    group: list = []
    count = 0
    for r in runs:
        group.append(r)
        count += r[1]
        if count >= limit:
            yield group, count
            group, count = [], 0
    if group:
        yield group, count


def _map(path: Path):
    try:
        if path.stat().st_size == 0:
            raise EventFileError(path, "empty file")
        return np.memmap(path, dtype=np.uint8, mode="r")
    except OSError as exc:
        raise EventFileError(path, f"cannot read: {exc}") from None


def _native_chunks(lib, path: Path, buf, start: int, dec: _Decoder, chunk: int | None) -> Iterator[np.ndarray]:
    """Checked event arrays decoded by the C loop: ``chunk`` events each, or (``None``) the whole
    file in one array. At an irregular packet the numpy walker :func:`_packets` takes over (same
    warnings and errors), and the C loop decodes the good part it yields."""
    n_bytes = len(buf)
    st = np.array([start, 0, 0], dtype=np.int64)
    status = ctypes.c_int(0)
    whole = chunk is None
    while True:
        cap = lib.aedat3_count(_native.ptr(buf), n_bytes, int(st[0])) if whole else chunk
        out = _native.empty(cap)
        stats = _native.new_stats(dec.checker)
        n = lib.aedat3_decode(_native.ptr(buf), n_bytes, _native.ptr(st), _native.ptr(out), cap,
                              _native.ptr(stats), ctypes.byref(status))
        dec.invalid = int(st[2])
        parts = [out[:n]]
        if status.value == 1:  # irregular packet at st[0]: warn or raise as the numpy path does
            inv = np.zeros(1, dtype=np.int64)
            for off, count, _, ovf in list(_packets(path, buf, int(st[0]))):
                fits = out.shape[0] - n >= count
                room = out[n:] if fits else _native.empty(count)
                k = lib.aedat3_events(_native.ptr(buf, off), count, ovf, _native.ptr(room), _native.ptr(inv),
                                      _native.ptr(stats))
                if fits:
                    n += k
                    parts[0] = out[:n]
                else:
                    parts.append(room[:k])
            dec.invalid += int(inv[0])
        ev = parts[0] if len(parts) == 1 else np.concatenate(parts)
        _native.finish(dec.checker, ev, stats)
        if ev.shape[0]:
            yield ev
        if status.value != 2:
            return


def read(path: str | Path) -> EventRecording:
    """The whole AEDAT 3.1 file ``path`` as an :class:`~snnstudio.events.types.EventRecording` (µs timestamps); a
    damaged or unreadable file is an :class:`~snnstudio.errors.EventFileError`."""
    path = Path(path)
    buf = _map(path)
    start, size, sensor = _header(path, buf)
    dec = _Decoder(BlockChecker(path, size))
    if (lib := _native.lib()) is not None:
        ev = next(_native_chunks(lib, path, buf, start, dec, None), np.empty(0, dtype=EVENT_DTYPE))
        pos = ev.shape[0]
    else:
        runs = list(_packets(path, buf, start))
        total = sum(r[1] for r in runs)
        out = np.empty(total, dtype=EVENT_DTYPE)
        pos = 0
        for group, _ in _groups(runs):
            pos += _decode_group(dec, buf, group, out[pos:])
        ev = out[:pos]
    if pos == 0:
        raise EventFileError(path, "AEDAT 3.x file holds no polarity events")
    meta: dict = {}
    if dec.invalid:
        meta["invalid_events"] = dec.invalid
    if size is None:
        size = (dec.checker.max_x + 1, dec.checker.max_y + 1)
        meta["sensor_size_inferred"] = True
    return EventRecording(ev, size, sensor=sensor, path=path, format="aedat3", meta=meta)


def iter_chunks(path: str | Path, chunk_events: int = DEFAULT_CHUNK_EVENTS) -> Iterator[np.ndarray]:
    """Stream the AEDAT 3.1 file ``path`` as ``EVENT_DTYPE`` arrays of about ``chunk_events`` events each, in
    time order (same checks as :func:`read`)."""
    path = Path(path)
    buf = _map(path)
    start, size, _ = _header(path, buf)
    dec = _Decoder(BlockChecker(path, size))
    if (lib := _native.lib()) is not None:
        yield from _native_chunks(lib, path, buf, start, dec, min(_GROUP, max(chunk_events, _BLOCK)))
        return
    for group, count in _groups(_packets(path, buf, start), min(_GROUP, max(chunk_events, _BLOCK))):
        out = np.empty(count, dtype=EVENT_DTYPE)
        n = _decode_group(dec, buf, group, out)
        if n:
            yield out[:n]


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
    """Write ``recording`` to ``path`` as AEDAT 3.1 (polarity packets; sensors up to 8192×8192)."""
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
