"""AEDAT4 (iniVation DV) — read and written with faery; dv-processing is the test oracle.

Reading: faery's AEDAT4 decoder (``faery.aedat.Decoder``, Rust), packet by packet, so memory
stays bounded. dv-processing's ``MonoCameraRecording`` was the first choice, but it spins
forever on a corrupted LZ4 packet (a flipped byte hangs the caller — fatal for the GUI),
demands the ``.aedat4`` extension and reports errors as multi-line backtraces; faery raises a
clean error instead, and is only ~1.5x slower. The first event stream is decoded; triggers
are exposed in ``meta["triggers"]`` (``t`` µs, ``source``); APS frames and IMU samples are
counted in ``meta["other_counts"]`` and otherwise left unread (``meta["note"]``).

Bad files: a truncated file (a crashed recorder, a partial copy) is recovered — we walk the
packet headers ourselves, copy the complete packets into a temp file whose header says "no
data table" (read sequentially) and warn with :class:`SnnStudioWarning`; a corrupted packet
ends the read there with a warning (the good part before it is returned).

Writing uses faery's AEDAT4 encoder (``faery.aedat.Encoder``): dv-processing's per-event
``push_back`` runs at ~0.3 M events/s, faery at ~20 M events/s; the tests check that
dv-processing reads our files back exactly. Files are written to a temp file beside the
target and renamed when complete; :class:`Aedat4Writer` is the incremental form used by the
live recorder (the file is finalised on ``close()``, also after an exception).
"""

from __future__ import annotations

import contextlib
import os
import struct
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from snnstudio.errors import EventFileError, SnnStudioWarning
from snnstudio.events.io import _native
from snnstudio.events.io._common import (
    DEFAULT_CHUNK_EVENTS,
    check_events,
    check_sensor_size,
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
    if size <= 8:
        raise EventFileError(path, f"corrupt AEDAT4 header (size field {size})")
    if len(MAGIC) + 4 + size > os.fstat(f.fileno()).st_size:
        raise EventFileError(path, "truncated or corrupt AEDAT4 header")
    fb = f.read(size)
    if len(fb) < size:
        raise EventFileError(path, "truncated or corrupt AEDAT4 header")
    base = len(MAGIC) + 4
    try:
        (table,) = struct.unpack_from("<I", fb, 0)
        (vt_rel,) = struct.unpack_from("<i", fb, table)
        vt = table - vt_rel
        (vt_size,) = struct.unpack_from("<H", fb, vt)
        _check_description(path, fb, table, vt, vt_size)
        off = struct.unpack_from("<H", fb, vt + 6)[0] if vt_size > 6 else 0
        if off:
            (pos,) = struct.unpack_from("<q", fb, table + off)
            return base + size, pos, base + table + off
    except struct.error:
        raise EventFileError(path, "corrupt AEDAT4 header (flatbuffer)") from None
    return base + size, -1, None


def _check_description(path: Path, fb: bytes, table: int, vt: int, vt_size: int) -> None:
    """The header's ``infoNode`` string (flatbuffer field 2) must lie inside the header and be
    UTF-8: faery aborts the whole process (a Rust panic) on one that is not."""
    off = struct.unpack_from("<H", fb, vt + 8)[0] if vt_size > 8 else 0
    if not off:
        return
    (rel,) = struct.unpack_from("<I", fb, table + off)
    at = table + off + rel
    (n,) = struct.unpack_from("<I", fb, at)
    if at + 4 + n > len(fb):
        raise EventFileError(path, "corrupt AEDAT4 header (description runs past the header)")
    try:
        fb[at + 4 : at + 4 + n].decode("utf-8")
    except UnicodeDecodeError:
        raise EventFileError(path, "corrupt AEDAT4 header (description is not UTF-8)") from None


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
    if not truncated and 0 < table_pos <= size and not _table_readable(path):
        truncated = True  # every packet is whole but the data table at the end is cut or damaged
    return pos, field_at, truncated


def _table_readable(path: Path) -> bool:
    import faery

    try:
        faery.aedat.Decoder(path)
    except Exception:
        return False
    return True


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


def _decoder(readable: Path, real: Path):
    import faery

    try:
        dec = faery.aedat.Decoder(readable)
    except Exception as exc:  # faery raises RuntimeError / OSError with a one-line message
        raise EventFileError(real, f"cannot read AEDAT4: {_one_line(exc)}") from None
    tracks = [t for t in dec.tracks() if t.data_type == "events"]
    if not tracks:
        names = ", ".join(t.data_type for t in dec.tracks()) or "none"
        raise EventFileError(real, f"AEDAT4 file has no event stream (streams: {names})")
    return dec, tracks[0]


def _one_line(exc: Exception) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return (lines[0] if lines else type(exc).__name__)[:200]


def _camera_name(dec, track_id: int) -> str | None:
    def walk(nodes):
        for n in nodes:
            if n.name == str(track_id):
                for sub in n.nodes:
                    if "source" in sub.attributes:
                        return str(sub.attributes["source"].value)
            found = walk(n.nodes)
            if found:
                return found
        return None

    try:
        return walk(dec.description())
    except Exception:  # pragma: no cover - description is optional
        return None


def _describe(dec, track, path: Path) -> tuple[tuple[int, int], str | None, dict]:
    names = {"events": "events", "frame": "frames", "imus": "imu", "triggers": "triggers"}
    streams = [names.get(t.data_type, t.data_type) for t in dec.tracks()]
    meta: dict = {"streams": streams}
    others = [n for t, n in zip(dec.tracks(), streams) if t.id != track.id]
    if others:
        meta["other_streams"] = others
        unread = [n for n in others if n != "triggers"]
        meta["note"] = ("only the event stream is decoded" + ("; triggers are in meta['triggers']"
                        if "triggers" in others else "") + ("; " + ", ".join(unread) + " left unread"
                                                            if unread else ""))
    size = check_sensor_size(track.dimensions, path, "event stream sensor size")
    return size, _camera_name(dec, track.id), meta


def _packets(dec, track, real: Path, meta: dict | None) -> Iterator[np.ndarray]:
    """Event packets of ``track`` in file order; a corrupt packet ends the stream with a warning."""
    triggers = []
    counts: dict[str, int] = {}
    it = iter(dec)
    k = 0
    while True:
        try:
            tr, packet = next(it)
        except StopIteration:
            break
        except Exception as exc:
            warnings.warn(f"{real}: corrupt AEDAT4 packet after {k} packets ({_one_line(exc)}); "
                          "reading the good part before it", SnnStudioWarning, stacklevel=3)
            break
        k += 1
        if tr.id == track.id:
            if packet.shape[0]:
                yield packet
        elif meta is not None:
            name = {"frame": "frames", "imus": "imu"}.get(tr.data_type, tr.data_type)
            counts[name] = counts.get(name, 0) + (1 if tr.data_type == "frame" else len(packet))
            if tr.data_type == "triggers":
                triggers.append(np.array(packet))
    if meta is not None:
        if counts:
            meta["other_counts"] = counts
        if triggers:
            meta["triggers"] = np.concatenate(triggers)
        elif "triggers" in meta.get("other_streams", ()):
            meta["triggers"] = np.zeros(0, dtype=[("t", "<u8"), ("source", "u1")])


def _to_events(a: np.ndarray) -> np.ndarray:
    """faery's event dtype has EVENT_DTYPE's exact byte layout (t@0 u8, x@8, y@10 u2, on@12 bool):
    a view, no copy (timestamps < 2**63 µs, coordinates < 2**15)."""
    if a.dtype.itemsize == EVENT_DTYPE.itemsize and all(
            a.dtype.fields[k][1] == EVENT_DTYPE.fields[k][1] for k in ("t", "x", "y")):
        return a.view(EVENT_DTYPE)
    out = np.empty(a.shape[0], dtype=EVENT_DTYPE)
    out["t"] = a["t"]
    out["x"] = a["x"]
    out["y"] = a["y"]
    out["p"] = a["on"]
    return out


# --------------------------------------------------------------------------- reading
def read(path: str | Path) -> EventRecording:
    """Read every event of an AEDAT4 file (first event stream)."""
    path = Path(path)
    with _readable_copy(path) as readable:
        dec, track = _decoder(readable, path)
        size, sensor, meta = _describe(dec, track, path)
        parts = list(_packets(dec, track, path, meta))
        del dec
    if not parts:
        raise EventFileError(path, "AEDAT4 file holds no events")
    if len(parts) > 1:  # joined as raw bytes: a structured concatenate/assign goes field by field (10x slower)
        events = np.concatenate([_to_events(p).view(np.uint8) for p in parts]).view(EVENT_DTYPE)
    else:
        events = _to_events(np.array(parts[0]))
    _native.check(events, size, path)
    return EventRecording(events, size, sensor=sensor, path=path, format="aedat4", meta=meta)


def header(path: str | Path) -> tuple[tuple[int, int], str | None, dict]:
    """Sensor size, camera name and stream list, without decoding events."""
    path = Path(path)
    with _readable_copy(path) as readable:
        dec, track = _decoder(readable, path)
        return _describe(dec, track, path)


def iter_chunks(path: str | Path, chunk_events: int = DEFAULT_CHUNK_EVENTS) -> Iterator[np.ndarray]:
    """Stream the events in time order, ``chunk_events`` at a time (memory stays bounded)."""
    path = Path(path)

    def gen() -> Iterator[np.ndarray]:
        with _readable_copy(path) as readable:
            dec, track = _decoder(readable, path)
            size, _, _ = _describe(dec, track, path)
            done = 0
            last = None
            for a in _packets(dec, track, path, None):
                ev = _to_events(a)
                _native.check(ev, size, path, done, last)
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
        self._temp = temp_path_beside(self.path)
        self._tmp = self._temp.path
        self._faery_dtype = faery.EVENTS_DTYPE
        try:
            self._encoder = faery.aedat.Encoder(
                path=str(self._tmp),
                description=_description(self.sensor_size, sensor, compression),
                compression=_COMPRESSION[compression],
            )
            self._encoder.__enter__()
        except BaseException as exc:
            self._temp.discard()
            if isinstance(exc, Exception) and not isinstance(exc, EventFileError):
                raise EventFileError(self.path, f"cannot write AEDAT4: {_one_line(exc)}") from None
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
        check_events(events, self.sensor_size, self.path, self.events_written, self._last_t)
        if int(events["t"][0]) < 0:
            raise EventFileError(self.path, "AEDAT4 cannot store negative timestamps")
        self._append(events)

    def _append(self, events: np.ndarray) -> None:
        """Encode already validated events."""
        n = events.shape[0]
        if n == 0:
            return
        same_layout = self._faery_dtype.itemsize == EVENT_DTYPE.itemsize
        for k in range(0, n, PACKET_EVENTS):
            part = np.ascontiguousarray(events[k : k + PACKET_EVENTS])
            if same_layout:  # identical bytes (checked: t >= 0, p in {0, 1})
                packet = part.view(self._faery_dtype)
            else:  # pragma: no cover - a future faery with another layout
                packet = np.empty(part.shape[0], dtype=self._faery_dtype)
                packet["t"] = part["t"]
                packet["x"] = part["x"]
                packet["y"] = part["y"]
                packet["on"] = part["p"]
            try:
                self._encoder.write(0, packet)
            except OSError as exc:
                raise EventFileError(self.path, f"cannot write: {exc.strerror or exc}") from None
        self.events_written += n
        self._last_t = int(events["t"][-1])

    @property
    def partial_path(self) -> Path:
        """The temp file being written (``.NAME.*.tmp`` beside ``path``). After a hard crash it reads
        back (``read_events``, with a truncation warning) up to the last packet faery had flushed."""
        return self._tmp

    def close(self) -> None:
        """Finalise the file (data table) and move it to ``path``. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self._encoder.__exit__(None, None, None)
        except BaseException as exc:
            self._temp.discard()
            if isinstance(exc, Exception):
                raise EventFileError(self.path, f"cannot finish AEDAT4: {_one_line(exc)}") from None
            raise
        self._temp.commit()
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
        self._temp.discard()

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
    ev = recording.events
    if ev.shape[0] and int(ev["t"][0]) < 0:
        raise EventFileError(path, "AEDAT4 cannot store negative timestamps")
    w = Aedat4Writer(path, recording.sensor_size, sensor=recording.sensor, compression=compression)
    try:
        w._append(ev)  # write_events validated the recording already
    except BaseException:
        w.abort()
        raise
    w.close()
