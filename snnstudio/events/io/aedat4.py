"""AEDAT4 (iniVation DV) — read with dv-processing, write with faery.

Reading uses ``dv_processing.io.MonoCameraRecording`` (the vendor's reader) batch by batch.
Only the event stream is decoded; other streams (APS frames, IMU, triggers) are listed in
``recording.meta["other_streams"]`` and left unread. A truncated file (a crashed recorder, a
partial copy) makes dv-processing refuse the whole file, so we walk the packet headers
ourselves, copy the complete packets into a temp file whose header says "no data table"
(dv then reads it sequentially), warn with :class:`SnnStudioWarning` and return the good part.

Writing uses faery's AEDAT4 encoder (``faery.aedat.Encoder``): dv-processing's per-event
``push_back`` runs at ~0.3 M events/s, faery at ~20 M events/s. Files are written to a temp
file beside the target and renamed when complete; :class:`Aedat4Writer` is the incremental
form used by the live recorder (the file is finalised on ``close()``, also after an exception).
"""

from __future__ import annotations

import contextlib
import os
import struct
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from snnstudio.errors import EventFileError
from snnstudio.events.io._common import (
    DEFAULT_CHUNK_EVENTS,
    check_events,
    check_inside,
    check_sorted,
    rechunk,
    temp_path_beside,
    warn_truncated,
)
from snnstudio.events.types import EVENT_DTYPE, EventRecording, Label

MAGIC = b"#!AER-DAT4.0\r\n"
#: events per packet written (dv writes packets of a few thousand; big packets read fine)
PACKET_EVENTS = 1 << 16


# --------------------------------------------------------------------------- container walking
def _parse_header(path: Path, f) -> tuple[int, int, int | None]:
    """Return (end of header, dataTablePosition, byte offset of that field or None)."""
    if f.read(len(MAGIC)) != MAGIC:
        raise EventFileError(path, "wrong magic: not an AEDAT4 file (expected '#!AER-DAT4.0')")
    raw = f.read(4)
    if len(raw) < 4:
        raise EventFileError(path, "truncated AEDAT4 header")
    (size,) = struct.unpack("<i", raw)
    fb = f.read(size)
    if size <= 8 or len(fb) < size:
        raise EventFileError(path, "truncated or corrupt AEDAT4 header")
    base = len(MAGIC) + 4
    try:
        (table,) = struct.unpack_from("<I", fb, 0)
        (vt_rel,) = struct.unpack_from("<i", fb, table)
        vt = table - vt_rel
        (vt_size,) = struct.unpack_from("<H", fb, vt)
        off = struct.unpack_from("<H", fb, vt + 6)[0] if vt_size > 6 else 0
        if off:
            (pos,) = struct.unpack_from("<q", fb, table + off)
            return base + size, pos, base + table + off
    except struct.error:
        raise EventFileError(path, "corrupt AEDAT4 header (flatbuffer)") from None
    return base + size, -1, None


def _complete_prefix(path: Path) -> tuple[int, int | None, bool]:
    """(bytes of header + complete packets, header field offset of the data table, truncated?)."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        pos, table_pos, field_at = _parse_header(path, f)
        end_of_packets = table_pos if 0 < table_pos <= size else size
        truncated = table_pos > size
        while pos < end_of_packets:
            f.seek(pos)
            head = f.read(8)
            if len(head) < 8:
                truncated = True
                break
            _stream, n = struct.unpack("<ii", head)
            if n < 0 or pos + 8 + n > end_of_packets:
                truncated = True
                break
            pos += 8 + n
        return pos, field_at, truncated


@contextlib.contextmanager
def _readable_copy(path: Path) -> Iterator[Path]:
    """``path`` itself, or (truncated file) a temp copy of its complete packets with no data table."""
    good, field_at, truncated = _complete_prefix(path)
    if not truncated:
        yield path
        return
    warn_truncated(path, f"last complete AEDAT4 packet ends at byte {good} of {path.stat().st_size}")
    import tempfile

    fd, tmp = tempfile.mkstemp(suffix=".aedat4")
    try:
        with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
            remaining = good
            while remaining:
                block = src.read(min(remaining, 1 << 24))
                out.write(block)
                remaining -= len(block)
            if field_at is not None:
                out.seek(field_at)
                out.write(struct.pack("<q", -1))
        yield Path(tmp)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _open_dv(path: Path, real: Path):
    import dv_processing as dv

    try:
        rec = dv.io.MonoCameraRecording(str(path))
    except RuntimeError as exc:
        raise EventFileError(real, f"dv-processing cannot open it: {exc}") from None
    if not rec.isEventStreamAvailable():
        raise EventFileError(real, f"AEDAT4 file has no event stream (streams: {', '.join(rec.getStreamNames())})")
    return rec


def _dv_to_events(a: np.ndarray) -> np.ndarray:
    out = np.empty(a.shape[0], dtype=EVENT_DTYPE)
    out["t"] = a["timestamp"]
    out["x"] = a["x"]
    out["y"] = a["y"]
    out["p"] = a["polarity"]
    return out


def _dv_batches(rec, real: Path) -> Iterator[np.ndarray]:
    while True:
        try:
            batch = rec.getNextEventBatch()
        except RuntimeError as exc:
            raise EventFileError(real, f"corrupt AEDAT4 packet: {exc}") from None
        if batch is None:
            return
        if batch.size():
            yield batch.numpy()


def _describe(rec) -> tuple[tuple[int, int], str | None, dict]:
    w, h = rec.getEventResolution()
    names = list(rec.getStreamNames())
    meta = {"streams": names}
    others = [n for n in names if not rec.isStreamOfEventType(n)]
    if others:
        meta["other_streams"] = others
        meta["note"] = "only the event stream is read; " + ", ".join(others) + " left unread"
    return (int(w), int(h)), (rec.getCameraName() or None), meta


# --------------------------------------------------------------------------- reading
def read(path: str | Path) -> EventRecording:
    """Read every event of an AEDAT4 file (first event stream)."""
    path = Path(path)
    with _readable_copy(path) as readable:
        rec = _open_dv(readable, path)
        size, sensor, meta = _describe(rec)
        parts = list(_dv_batches(rec, path))
        del rec
    if not parts:
        raise EventFileError(path, "AEDAT4 file holds no events")
    events = _dv_to_events(np.concatenate(parts) if len(parts) > 1 else parts[0])
    check_events(events, size, path)
    return EventRecording(events, size, sensor=sensor, path=path, format="aedat4", meta=meta)


def header(path: str | Path) -> tuple[tuple[int, int], str | None, dict]:
    """Sensor size, camera name and stream list, without decoding events."""
    path = Path(path)
    with _readable_copy(path) as readable:
        rec = _open_dv(readable, path)
        return _describe(rec)


def iter_chunks(path: str | Path, chunk_events: int = DEFAULT_CHUNK_EVENTS) -> Iterator[np.ndarray]:
    """Stream the events in time order, ``chunk_events`` at a time (memory stays bounded)."""
    path = Path(path)

    def gen() -> Iterator[np.ndarray]:
        with _readable_copy(path) as readable:
            rec = _open_dv(readable, path)
            size, _, _ = _describe(rec)
            done = 0
            last = None
            for a in _dv_batches(rec, path):
                ev = _dv_to_events(a)
                check_sorted(ev["t"], path, done, last)
                check_inside(ev, size, path, done)
                done += ev.shape[0]
                last = int(ev["t"][-1])
                yield ev

    return rechunk(gen(), chunk_events)


# --------------------------------------------------------------------------- writing
def _description(sensor_size: tuple[int, int], sensor: str | None, compression: str | None):
    import faery

    a = faery.aedat
    info = a.DescriptionNode(
        name="info",
        path="/mainloop/Recorder/outInfo/0/info/",
        attributes={
            "sizeX": a.DescriptionAttribute(attribute_type="int", value=int(sensor_size[0])),
            "sizeY": a.DescriptionAttribute(attribute_type="int", value=int(sensor_size[1])),
            "source": a.DescriptionAttribute(attribute_type="string", value=sensor or "snnstudio"),
        },
        nodes=[],
    )
    stream = a.DescriptionNode(
        name="0",
        path="/mainloop/Recorder/outInfo/0/",
        attributes={
            "compression": a.DescriptionAttribute(attribute_type="string",
                                                  value="NONE" if compression is None else compression.upper()),
            "originalOutputName": a.DescriptionAttribute(attribute_type="string", value="events"),
            "typeIdentifier": a.DescriptionAttribute(attribute_type="string", value="EVTS"),
        },
        nodes=[info],
    )
    return [a.DescriptionNode(name="outInfo", path="/mainloop/Recorder/outInfo/", attributes={}, nodes=[stream])]


_COMPRESSION = {"lz4": ("lz4", 1), "zstd": ("zstd", 3), None: None, "none": None}


class Aedat4Writer:
    """Incremental AEDAT4 writer: ``with Aedat4Writer(path, (w, h)) as w: w.write(events) ...``.

    ``write`` takes :data:`EVENT_DTYPE` arrays whose timestamps (µs, ≥ 0) continue in order and
    whose coordinates lie inside ``sensor_size`` = (width, height). Data goes to a temp file
    beside ``path``; :meth:`close` (also called when the ``with`` block ends by an exception)
    finalises it and renames it to ``path``, so ``path`` only ever holds a complete, valid file.
    ``labels`` (if any) are written as the ``<stem>_labels.csv`` sidecar on close.
    ``sensor`` is stored as the camera name (dv-processing's ``getCameraName()``).
    """

    def __init__(self, path: str | Path, sensor_size: tuple[int, int], *, sensor: str | None = None,
                 compression: str | None = "lz4", labels: Sequence[Label] = ()):
        import faery

        self.path = Path(path)
        self.sensor_size = (int(sensor_size[0]), int(sensor_size[1]))
        if self.sensor_size[0] <= 0 or self.sensor_size[1] <= 0 or max(self.sensor_size) > 65535:
            raise EventFileError(self.path, f"invalid sensor size {self.sensor_size}")
        if compression not in _COMPRESSION:
            raise EventFileError(self.path, f"unknown AEDAT4 compression {compression!r} (lz4, zstd or None)")
        self.sensor = sensor
        self.labels: list[Label] = list(labels)
        self.events_written = 0
        self._last_t: int | None = None
        self._tmp = temp_path_beside(self.path)
        self._faery_dtype = faery.EVENTS_DTYPE
        try:
            self._encoder = faery.aedat.Encoder(
                path=str(self._tmp),
                description=_description(self.sensor_size, sensor, compression),
                compression=_COMPRESSION[compression],
            )
            self._encoder.__enter__()
        except BaseException:
            with contextlib.suppress(OSError):
                self._tmp.unlink()
            raise
        self._closed = False

    def write(self, events: np.ndarray) -> None:
        """Append events (sorted, continuing after the previous call)."""
        if self._closed:
            raise EventFileError(self.path, "write() after close()")
        if not isinstance(events, np.ndarray) or events.dtype != EVENT_DTYPE:
            raise EventFileError(self.path, "write() takes an EVENT_DTYPE structured array")
        n = events.shape[0]
        if n == 0:
            return
        check_sorted(events["t"], self.path, self.events_written, self._last_t)
        check_inside(events, self.sensor_size, self.path, self.events_written)
        if int(events["t"][0]) < 0:
            raise EventFileError(self.path, "AEDAT4 cannot store negative timestamps")
        for k in range(0, n, PACKET_EVENTS):
            part = events[k : k + PACKET_EVENTS]
            packet = np.empty(part.shape[0], dtype=self._faery_dtype)
            packet["t"] = part["t"]
            packet["x"] = part["x"]
            packet["y"] = part["y"]
            packet["on"] = part["p"]
            self._encoder.write(0, packet)
        self.events_written += n
        self._last_t = int(events["t"][-1])

    def close(self) -> None:
        """Finalise the file (data table) and move it to ``path``. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self._encoder.__exit__(None, None, None)
            os.replace(self._tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                self._tmp.unlink()
            raise
        if self.labels:
            from snnstudio.events.io.labels import sidecar_path, write_labels

            write_labels(sidecar_path(self.path), self.labels)

    def abort(self) -> None:
        """Drop the temp file without touching ``path``."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self._encoder.__exit__(None, None, None)
        with contextlib.suppress(OSError):
            self._tmp.unlink()

    def __enter__(self) -> Aedat4Writer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:  # a writer dropped without close() leaves no temp file behind
        if not getattr(self, "_closed", True):
            self.abort()


def write(path: str | Path, recording: EventRecording, *, compression: str | None = "lz4") -> None:
    """Write a whole recording (temp file + rename; labels go to the sidecar via the caller)."""
    path = Path(path)
    w = Aedat4Writer(path, recording.sensor_size, sensor=recording.sensor, compression=compression)
    try:
        w.write(recording.events)
    except BaseException:
        w.abort()
        raise
    w.close()
