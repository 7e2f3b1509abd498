"""``.npy`` / ``.npz`` event files (tonic layout: a structured array with fields x, y, t, p).

Never unpickles: files are opened with ``allow_pickle=False`` and ``.npy`` headers longer than
:data:`MAX_HEADER` bytes are refused before numpy parses them. Accepted field names:
``t``/``ts``/``timestamp``, ``x``, ``y``, ``p``/``pol``/``polarity``/``on`` (a polarity of −1 or
any value ≤ 0 is OFF). An ``.npz`` holds either one structured array ``events`` or the four
columns as separate arrays, plus optional ``sensor_size`` ([width, height]) and ``sensor``.
Without ``sensor_size`` the sensor size is inferred from the coordinates (``meta`` says so).
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from snnstudio.errors import EventFileError
from snnstudio.events.io import _native
from snnstudio.events.io._common import (
    DEFAULT_CHUNK_EVENTS,
    atomic_write,
    check_sensor_size,
    infer_sensor_size,
)
from snnstudio.events.types import EVENT_DTYPE, EventRecording

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"
MAX_HEADER = 10_000
#: most members of an .npz, and most bytes a compressed member may expand to per byte stored
#: (deflate cannot exceed about 1032:1)
MAX_MEMBERS = 64
MAX_EXPANSION = 1100
_NAMES = {
    "t": ("t", "ts", "timestamp", "timestamps"),
    "x": ("x",),
    "y": ("y",),
    "p": ("p", "pol", "polarity", "polarities", "on"),
}


def _column(cols: dict[str, np.ndarray], key: str, path: Path) -> np.ndarray:
    for name in _NAMES[key]:
        if name in cols:
            return cols[name]
    raise EventFileError(path, f"no '{key}' field (fields: {', '.join(sorted(cols)) or 'none'})")


def _to_events(cols: dict[str, np.ndarray], path: Path) -> np.ndarray:
    if "_own_events" in cols:
        return cols["_own_events"]
    if "_events" in cols:  # one copy (the input may be a memmap), as raw bytes: a structured copy
        a = np.ascontiguousarray(cols["_events"])  # goes field by field, ~15x slower
        ev = np.empty(a.shape[0], dtype=EVENT_DTYPE)
        ev.view(np.uint8)[:] = a.view(np.uint8)
        return ev
    t, x, y, p = (_column(cols, k, path) for k in "txyp")
    n = t.shape[0]
    if any(np.ndim(c) != 1 or c.shape[0] != n for c in (t, x, y, p)):
        raise EventFileError(path, "t, x, y and p must be 1-D arrays of equal length")
    for name, c in (("t", t), ("x", x), ("y", y), ("p", p)):
        if c.dtype.kind not in "iub" and not (name == "t" and c.dtype.kind == "f"):
            raise EventFileError(path, f"field '{name}' has dtype {c.dtype}, expected integers")
    if (ev := _native.pack(t, x, y, p)) is not None:  # our own column dtypes: one C pass
        return ev
    ev = np.empty(n, dtype=EVENT_DTYPE)
    ev["t"] = t if t.dtype.kind != "f" else np.rint(t)
    for name, c in (("x", x), ("y", y)):
        if n and (int(c.min()) < -32768 or int(c.max()) > 32767):
            raise EventFileError(path, f"field '{name}' does not fit 16 bits")
        ev[name] = c
    ev["p"] = p > 0
    return ev


def _check_npy_header(path: Path, f, available: int, what: str = ".npy") -> None:
    """Refuse a header longer than :data:`MAX_HEADER` or declaring more data than the ``available``
    bytes (the file's, or the zip member's declared size) before numpy allocates for it."""
    major, minor = np.lib.format.read_magic(f)
    if major == 1:
        hlen = int.from_bytes(f.read(2), "little")
    else:
        hlen = int.from_bytes(f.read(4), "little")
    if hlen > MAX_HEADER:
        raise EventFileError(path, f"{what} header of {hlen} bytes is larger than the {MAX_HEADER} allowed")
    start = 6 + 2 + (2 if major == 1 else 4)
    head = f.read(hlen)
    try:
        import ast

        d = ast.literal_eval(head.decode("latin-1"))
        shape, descr = d["shape"], d["descr"]
        dtype = np.lib.format.descr_to_dtype(descr)
        count = 1
        for n in shape:
            if not isinstance(n, int) or n < 0:
                raise ValueError(f"bad shape {shape!r}")
            count *= n
    except (ValueError, SyntaxError, KeyError, TypeError, MemoryError, RecursionError) as exc:
        raise EventFileError(path, f"{what} header does not parse ({type(exc).__name__})") from None
    declared = count * dtype.itemsize
    if dtype.hasobject:
        raise EventFileError(path, f"{what} holds Python objects; pickled object arrays are refused")
    if declared > available - start - hlen:
        raise EventFileError(path, f"{what} header declares shape {tuple(shape)} ({declared:,} bytes) but only "
                                   f"{max(available - start - hlen, 0):,} bytes follow")


def _load_npy(path: Path, mmap: bool) -> np.ndarray:
    try:
        with open(path, "rb") as f:
            _check_npy_header(path, f, os.fstat(f.fileno()).st_size)
        return np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
    except (ValueError, EOFError) as exc:
        raise EventFileError(path, f"cannot load .npy ({exc}); pickled object arrays are refused") from None
    except OSError as exc:
        raise EventFileError(path, f"cannot load .npy: {exc}") from None


def _fields(a: np.ndarray, path: Path) -> dict[str, np.ndarray]:
    if a.dtype == EVENT_DTYPE:  # our own layout: used as is by _to_events
        return {"_events": a}
    if a.dtype.names is None:
        if a.ndim == 2 and a.shape[1] == 4:  # plain [N, 4] array: columns t, x, y, p
            return {"t": a[:, 0], "x": a[:, 1], "y": a[:, 2], "p": a[:, 3]}
        raise EventFileError(path, f"expected a structured array with fields x, y, t, p, got dtype {a.dtype}"
                                   f" shape {a.shape}")
    return {n: a[n] for n in a.dtype.names}


def read_npy(path: str | Path) -> EventRecording:
    """The whole ``.npy`` file ``path`` as an :class:`~snnstudio.events.types.EventRecording` (µs timestamps); a
    damaged or unreadable file is an :class:`~snnstudio.errors.EventFileError`."""
    path = Path(path)
    a = _load_npy(path, mmap=False)
    ev = _to_events(_fields(a, path), path)
    if ev.shape[0] == 0:
        raise EventFileError(path, "file holds no events")
    size = infer_sensor_size(ev)
    _native.check(ev, size, path)
    return EventRecording(ev, size, path=path, format="npy", meta={"sensor_size_inferred": True})


def iter_npy_chunks(path: str | Path, chunk_events: int = DEFAULT_CHUNK_EVENTS) -> Iterator[np.ndarray]:
    """Memory-mapped: only one chunk at a time is converted."""
    path = Path(path)
    a = _load_npy(path, mmap=True)
    last = None
    for k in range(0, a.shape[0], chunk_events):
        ev = _to_events(_fields(np.asarray(a[k : k + chunk_events]), path), path)
        _native.check(ev, (1 << 15, 1 << 15), path, k, last)
        last = int(ev["t"][-1])
        yield ev


def _npz_events(path: Path, z) -> np.ndarray | None:
    """The ``events`` member when it is an uncompressed ``EVENT_DTYPE`` array: its bytes read
    straight from the file into the result (CRC-32 checked like zipfile does), without numpy's
    reader and zipfile's chunked reads, which copy structured data field by field (~10x slower).
    ``None``: anything else (read the ordinary way)."""
    try:
        info = z.zip.getinfo("events.npy")
    except KeyError:
        return None
    if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
        return None
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        local = f.read(30)
        if len(local) < 30 or local[:4] != ZIP_MAGIC:
            raise zipfile.BadZipFile("bad local file header of events.npy")
        n_name, n_extra = struct.unpack_from("<HH", local, 26)
        f.seek(info.header_offset + 30 + n_name + n_extra)
        data = np.empty(info.file_size, dtype=np.uint8)
        if f.readinto(data) != info.file_size:
            raise EOFError("events.npy is cut short")
    if zlib.crc32(data) != info.CRC:
        raise zipfile.BadZipFile("Bad CRC-32 for file 'events.npy'")
    head = io.BytesIO(data[: min(data.shape[0], MAX_HEADER + 16)].tobytes())
    try:
        version = np.lib.format.read_magic(head)
        reader = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}[version]
        shape, fortran, dtype = reader(head)
    except (KeyError, ValueError):
        return None
    start = head.tell()
    if dtype != EVENT_DTYPE or len(shape) != 1 or data.shape[0] - start != shape[0] * EVENT_DTYPE.itemsize:
        return None
    return data[start:].view(EVENT_DTYPE)


def _check_npz(path: Path, z) -> None:
    """Every member's declared size against the file's size and deflate's largest expansion, and
    every member's ``.npy`` header against its declared size — before numpy allocates anything."""
    size = path.stat().st_size
    infos = z.zip.infolist()
    if len(infos) > MAX_MEMBERS:
        raise EventFileError(path, f".npz holds {len(infos)} members (at most {MAX_MEMBERS})")
    for info in infos:
        name = info.filename
        if info.compress_size > size:
            raise EventFileError(path, f".npz member {name} claims {info.compress_size:,} bytes in a {size:,}-byte file")
        stored = info.compress_type == zipfile.ZIP_STORED
        if (stored and info.file_size != info.compress_size) or \
                info.file_size > MAX_EXPANSION * max(info.compress_size, 1):
            raise EventFileError(path, f".npz member {name} claims {info.file_size:,} bytes from "
                                       f"{info.compress_size:,} stored")
        if name.endswith(".npy"):
            with z.zip.open(info) as f:
                _check_npy_header(path, _Prefix(f.read(MAX_HEADER + 16)), info.file_size, f".npz member {name}")


class _Prefix(io.BytesIO):
    """The first bytes of a member, read like a file (a short read means a short member)."""


def read_npz(path: str | Path) -> EventRecording:
    """The whole ``.npz`` file ``path`` as an :class:`~snnstudio.events.types.EventRecording` (µs timestamps); a
    damaged or unreadable file is an :class:`~snnstudio.errors.EventFileError`."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            if not hasattr(z, "zip"):
                raise ValueError("not a zip archive")
            _check_npz(path, z)
            names = list(z.files)
            if "events" in names:
                own = _npz_events(path, z)  # fast path: already a fresh EVENT_DTYPE array
                cols = {"_own_events": own} if own is not None else _fields(z["events"], path)
            else:
                cols = {n: z[n] for n in names if n not in ("sensor_size", "sensor")}
            size = (check_sensor_size(np.asarray(z["sensor_size"]).ravel()[:2], path, "member sensor_size")
                    if "sensor_size" in names else None)
            sensor = str(z["sensor"]) if "sensor" in names else None
    except (ValueError, zipfile.BadZipFile, EOFError, OSError, NotImplementedError, RuntimeError,
            zlib.error, KeyError, IndexError, TypeError) as exc:
        text = " ".join(str(exc).split())[:200]
        raise EventFileError(path, f"cannot load .npz ({type(exc).__name__}: {text}); pickled object arrays "
                                   "are refused") from None
    ev = _to_events(cols, path)
    if ev.shape[0] == 0:
        raise EventFileError(path, "file holds no events")
    meta = {}
    if size is None:
        size = infer_sensor_size(ev)
        meta["sensor_size_inferred"] = True
    _native.check(ev, size, path)
    return EventRecording(ev, size, sensor=sensor or None, path=path, format="npz", meta=meta)


def write_npz(path: str | Path, recording: EventRecording) -> None:
    """One structured array ``events`` (EVENT_DTYPE) + ``sensor_size`` (+ ``sensor``), uncompressed."""
    arrays = {"events": recording.events, "sensor_size": np.asarray(recording.sensor_size, dtype=np.int64)}
    if recording.sensor:
        arrays["sensor"] = np.asarray(recording.sensor)
    with atomic_write(path) as (_, f):
        np.savez(f, **arrays)


def write_npy(path: str | Path, recording: EventRecording) -> None:
    """The bare structured array (tonic layout); the sensor size is not stored."""
    with atomic_write(path) as (_, f):
        np.save(f, recording.events, allow_pickle=False)


def npy_header(path: str | Path) -> tuple[tuple[int, int] | None, str | None, dict]:
    """A bare .npy does not store the sensor size: (None, None, {})."""
    _load_npy(Path(path), mmap=True)
    return None, None, {}
