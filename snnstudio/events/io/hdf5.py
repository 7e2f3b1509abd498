"""HDF5 event files: datasets ``events/t``, ``events/x``, ``events/y``, ``events/p``.

Sensor size is stored as attributes ``width``/``height`` (and ``sensor_size``) on the root or on
the ``events`` group; ``sensor`` is the camera name. Also read: a single compound dataset
``events`` with fields t/x/y/p. Streaming reads slices, so a big file never has to fit in memory.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from snnstudio.errors import EventFileError, SnnStudioError
from snnstudio.events.io import _native
from snnstudio.events.io._common import DEFAULT_CHUNK_EVENTS, atomic_write, check_sensor_size, infer_sensor_size
from snnstudio.safe_hdf5 import check_hdf5
from snnstudio.events.io.numpy_files import _NAMES, _to_events
from snnstudio.events.types import EventRecording

MAGIC = b"\x89HDF\r\n\x1a\n"


def _open(path: Path):
    """The file opened read-only, after :func:`~snnstudio.safe_hdf5.check_hdf5` (no data from other
    files, no dataset declaring more than the file stores)."""
    import h5py

    try:
        h5 = h5py.File(path, "r")
    except Exception as exc:  # OSError mostly; h5py raises others on damaged superblocks
        raise EventFileError(path, f"cannot open HDF5 file: {_one_line(exc)}") from None
    try:
        check_hdf5(h5, path, EventFileError)
    except BaseException:
        h5.close()
        raise
    return h5


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


@contextlib.contextmanager
def _as_event_errors(path: Path) -> Iterator[None]:
    """Anything h5py/numpy raise on a damaged file becomes an :class:`EventFileError`."""
    try:
        yield
    except SnnStudioError:
        raise
    except (Exception, RecursionError) as exc:
        raise EventFileError(path, f"damaged HDF5 file ({type(exc).__name__}: {_one_line(exc)})") from None


def _columns(h5, path: Path):
    node = h5.get("events")
    if node is None:
        if "CD" in h5:
            raise EventFileError(path, "Prophesee HDF5 (CD/events, ECF codec) is not supported; convert to .raw")
        raise EventFileError(path, f"no 'events' group or dataset (top level: {', '.join(h5.keys()) or 'empty'})")
    import h5py

    if isinstance(node, h5py.Dataset):
        if node.dtype.names is None:
            raise EventFileError(path, "'events' dataset is not a compound (t, x, y, p) dataset")
        return node, None
    cols = {}
    for key, names in _NAMES.items():
        for n in names:
            if n in node:
                cols[key] = node[n]
                break
        else:
            raise EventFileError(path, f"no events/{key} dataset (found: {', '.join(node.keys())})")
    lengths = {c.shape[0] for c in cols.values()}
    if len(lengths) != 1:
        raise EventFileError(path, "events/t, x, y, p have different lengths")
    return None, cols


def _size_and_sensor(h5, path: Path) -> tuple[tuple[int, int] | None, str | None]:
    size = sensor = None
    for obj in (h5, h5.get("events")):
        if obj is None:
            continue
        a = obj.attrs
        try:
            if "sensor_size" in a:
                v = np.asarray(a["sensor_size"]).ravel()
                if v.shape[0] < 2:
                    raise ValueError("needs 2 values")
                size, field = (int(v[0]), int(v[1])), "sensor_size"
            elif "width" in a and "height" in a:
                size, field = (int(np.asarray(a["width"]).item()), int(np.asarray(a["height"]).item())), "width/height"
        except (TypeError, ValueError, OverflowError) as exc:
            raise EventFileError(path, f"attribute sensor_size/width/height is not two integers ({exc})") from None
        if size is not None:
            check_sensor_size(size, path, f"attribute {field}")
        if "sensor" in a:
            s = a["sensor"]
            sensor = (s.decode(errors="replace") if isinstance(s, bytes) else str(s))[:200]
    return size, sensor


def _slice(compound, cols, path: Path, i0: int, i1: int) -> np.ndarray:
    if compound is not None:
        a = compound[i0:i1]
        return _to_events({n: a[n] for n in a.dtype.names}, path)
    return _to_events({k: c[i0:i1] for k, c in cols.items()}, path)


def read(path: str | Path) -> EventRecording:
    """The whole HDF5 file ``path`` as an :class:`~snnstudio.events.types.EventRecording` (µs timestamps); a
    damaged or unreadable file is an :class:`~snnstudio.errors.EventFileError`."""
    path = Path(path)
    with _as_event_errors(path), _open(path) as h5:
        compound, cols = _columns(h5, path)
        n = (compound if compound is not None else cols["t"]).shape[0]
        ev = _slice(compound, cols, path, 0, n)
        size, sensor = _size_and_sensor(h5, path)
    if ev.shape[0] == 0:
        raise EventFileError(path, "file holds no events")
    meta = {}
    if size is None:
        size = infer_sensor_size(ev)
        meta["sensor_size_inferred"] = True
    _native.check(ev, size, path)
    return EventRecording(ev, size, sensor=sensor, path=path, format="hdf5", meta=meta)


def iter_chunks(path: str | Path, chunk_events: int = DEFAULT_CHUNK_EVENTS) -> Iterator[np.ndarray]:
    """Stream the HDF5 file ``path`` as ``EVENT_DTYPE`` arrays of about ``chunk_events`` events each, in time
    order (same checks as :func:`read`)."""
    path = Path(path)
    with _as_event_errors(path), _open(path) as h5:
        compound, cols = _columns(h5, path)
        size, _ = _size_and_sensor(h5, path)
        n = (compound if compound is not None else cols["t"]).shape[0]
        last = None
        for k in range(0, n, chunk_events):
            ev = _slice(compound, cols, path, k, min(n, k + chunk_events))
            _native.check(ev, size or (1 << 15, 1 << 15), path, k, last)
            last = int(ev["t"][-1])
            yield ev


def write(path: str | Path, recording: EventRecording) -> None:
    """Write ``recording`` to ``path`` as HDF5 (atomically: a failed write leaves no partial file)."""
    import h5py

    ev = recording.events
    with atomic_write(path) as (tmp, f):
        f.close()
        with h5py.File(tmp, "w") as h5:
            g = h5.create_group("events")
            chunk = (min(max(ev.shape[0], 1), 1 << 18),)
            for name, dtype in (("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("p", "i1")):
                g.create_dataset(name, data=np.ascontiguousarray(ev[name], dtype=dtype), chunks=chunk)
            for obj in (h5, g):
                obj.attrs["width"] = recording.sensor_size[0]
                obj.attrs["height"] = recording.sensor_size[1]
                obj.attrs["sensor_size"] = np.asarray(recording.sensor_size, dtype=np.int64)
            if recording.sensor:
                h5.attrs["sensor"] = recording.sensor
            h5.attrs["time_unit"] = "us"


def header(path: str | Path) -> tuple[tuple[int, int] | None, str | None, dict]:
    """(sensor size or None, sensor name, meta) from the attributes alone."""
    path = Path(path)
    with _as_event_errors(path), _open(path) as h5:
        _columns(h5, path)
        size, sensor = _size_and_sensor(h5, path)
    return size, sensor, {}
