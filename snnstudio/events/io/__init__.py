"""Event-camera file I/O: one call to read any supported file, one to write.

>>> rec = read_events("walk.aedat")                 # format from the content, labels attached
>>> write_events("walk.h5", rec)                     # format from the extension, temp + rename
>>> chunks = iter_event_chunks("big.aedat4")        # bounded memory, time order
>>> chunks.sensor_size, chunks.labels                 # header facts before iterating
>>> for events in chunks:
...     ...
>>> with Aedat4Writer("live.aedat4", (346, 260)) as w:   # incremental (the live recorder)
...     w.write(events)

Formats (name: read / write / true streaming):

=========  ================================================  ====  =====  ======
name       what                                              read  write  stream
=========  ================================================  ====  =====  ======
aedat4     iniVation AEDAT 4 (faery; dv-processing: oracle)  yes   yes    yes
aedat3     AEDAT 3.1 (DVS128 Gesture), polarity events       yes   yes    yes
aedat2     jAER AEDAT 2.0, DVS128 addresses                  yes   yes    yes
evt2       Prophesee EVT 2.0 ``.raw``                        yes   yes    yes
evt3       Prophesee EVT 3.0 ``.raw``                        yes   yes    yes
dat        Prophesee DAT (CD events)                         yes   yes    yes
nmnist     N-MNIST / ATIS ``.bin`` (40-bit events)           yes   no     no
npz, npy   numpy structured arrays (tonic layout)            yes   yes    npy
hdf5       ``events/{t,x,y,p}`` datasets                     yes   yes    yes
csv        ``t x y p`` text (``.csv``, ``.txt``)             yes   yes    no
=========  ================================================  ====  =====  ======

Every reader validates: a wrong magic, an empty file, coordinates outside the sensor or
timestamps going backwards raise :class:`~snnstudio.errors.EventFileError` (or
:class:`~snnstudio.errors.UnknownFormatError`) naming the file and the problem; a truncated
file gives a :class:`~snnstudio.errors.SnnStudioWarning` and its complete part. A
``<stem>_labels.csv`` sidecar beside any file is read into ``recording.labels``.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from snnstudio.errors import EventFileError, SnnStudioError, SnnStudioWarning, UnknownFormatError
from snnstudio.events.io._common import (
    DEFAULT_CHUNK_EVENTS,
    check_events,
    check_sensor_size,
    rechunk,
    require_events,
    tolerate_disorder,
)
from snnstudio.events.io.aedat4 import Aedat4Writer
from snnstudio.events.io.detect import NAME_IT, detect_format
from snnstudio.events.io.labels import check_labels, read_labels, sidecar_path, write_labels
from snnstudio.events.io.registry import FORMATS, EventFormat  # noqa: F401  (declared once there)
from snnstudio.events.types import EventRecording, Label


#: every file extension a reader claims (lower case, with the dot), for file dialogs and help
READ_EXTENSIONS: tuple[str, ...] = tuple(sorted({e for f in FORMATS.values() for e in f.extensions}))


def formats_markdown() -> str:
    """The README's table of formats, from :data:`FORMATS` (a test keeps the README equal to it)."""
    rows = ["| format | what | extensions (writing picks it by) | read | write | stream |", "|---|---|---|---|---|---|"]
    for f in FORMATS.values():
        ext = ", ".join(f"`{e}`" for e in f.extensions) or "— (name the format)"
        rows.append(f"| `{f.name}` | {f.description} | {ext} | yes | {'yes' if f.writer else 'no'} | "
                    f"{'yes' if f.streamer else 'no'} |")
    return "\n".join(rows)


@contextlib.contextmanager
def _loader_errors(path: Path, what: str) -> Iterator[None]:
    """The safety net of every read: an exception a damaged or hostile file provokes in a decoder
    (numpy, h5py, faery, the C decoders) that is not already an :class:`SnnStudioError` becomes an
    :class:`EventFileError` naming the file and the exception."""
    try:
        yield
    except SnnStudioError:
        raise
    except MemoryError:
        raise EventFileError(path, f"{what}: not enough memory for what the file declares") from None
    except Exception as exc:  # noqa: BLE001 - decoders of hostile input raise anything
        text = " ".join(str(exc).split())[:160] or "no details"
        raise EventFileError(path, f"{what}: damaged file ({type(exc).__name__}: {text})") from None


def _format(name: str, path: Path) -> EventFormat:
    fmt = FORMATS.get(name.lower())
    if fmt is None:
        if name == "labels":
            raise UnknownFormatError(path, "this is a labels CSV, not an event file (use read_labels)")
        if name == "evt21":
            raise UnknownFormatError(path, "Prophesee EVT 2.1 is not supported (EVT 2.0, 3.0 and DAT are)")
        raise UnknownFormatError(path, f"unknown format {name!r}; known: {', '.join(FORMATS)}")
    return fmt


def format_for_extension(path: str | Path) -> str:
    """The format :func:`write_events` picks for ``path``'s extension."""
    path = Path(path)
    suffix = path.suffix.lower()
    for fmt in FORMATS.values():
        if suffix in fmt.extensions and fmt.writer is not None:
            return fmt.name
    for fmt in FORMATS.values():
        if suffix in fmt.extensions:
            raise UnknownFormatError(path, f"format {fmt.name!r} ({suffix}) can be read but not written")
    writable = sorted({e for f in FORMATS.values() if f.writer for e in f.extensions})
    raise UnknownFormatError(path, f"cannot tell the format to write from the extension {suffix or '(none)'!r}; "
                                   f"use one of {', '.join(writable)} or pass format=")


#: the formats whose files may carry no magic (a Prophesee .raw without its '%' header, N-MNIST)
HEADERLESS_FORMATS = ("evt2", "evt3", "nmnist")
#: the formats content detection picks by the extension alone (no magic to check)
GUESSED_FORMATS = ("nmnist",)


def parse_sensor_size(text: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """``"320x320"`` (or ``320×320``, ``320,320``, a pair) as ``(width, height)`` pixels; ``None``
    and ``""`` stay ``None`` (the file says). A malformed or out-of-range size is a one-line
    :class:`SnnStudioError`."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    if isinstance(text, str):
        parts = [p.strip() for p in text.lower().replace("×", "x").replace(",", "x").split("x")]
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            raise SnnStudioError(f"sensor size must be WIDTHxHEIGHT in pixels (e.g. 320x320), got {text!r}")
        text = (int(parts[0]), int(parts[1]))
    try:
        return check_sensor_size(text, None, "sensor size")
    except EventFileError as exc:
        raise SnnStudioError(exc.problem) from None


def _outside(path: Path, size: tuple[int, int], mx: int, my: int) -> EventFileError:
    return EventFileError(path, f"events reach x={mx}, y={my}, outside the sensor size given ({size[0]}x{size[1]}); "
                                f"the sensor must be at least {mx + 1}x{my + 1}")


def _with_sensor(rec: EventRecording, size: tuple[int, int] | None, path: Path) -> EventRecording:
    """``rec`` with the sensor size the user named (every event must lie on it)."""
    if size is None:
        return rec
    ev = rec.events
    if ev.shape[0]:
        mx, my = int(ev["x"].max()), int(ev["y"].max())
        if mx >= size[0] or my >= size[1]:
            raise _outside(path, size, mx, my)
    rec.sensor_size = size
    rec.meta.pop("sensor_size_inferred", None)
    rec.meta["sensor_size_given"] = True
    return rec


@contextlib.contextmanager
def _guessed(path: Path, name: str, given: bool) -> Iterator[None]:
    """A file whose format was only guessed from its extension (no magic) and did not read: the
    error says how to name what it is."""
    try:
        yield
    except EventFileError as exc:
        if given or name not in GUESSED_FORMATS:
            raise
        raise type(exc)(path, f"{exc.problem} (read as {name} because of "
                              f"its extension; if it is something else, {NAME_IT})") from None


def attach_labels(recording: EventRecording, path: Path) -> EventRecording:
    """Read ``<stem>_labels.csv`` beside ``path`` (when there) into ``recording.labels``."""
    side = sidecar_path(path)
    if side.is_file():
        labels = read_labels(side)
        if len(recording):
            check_labels(labels, side, (recording.t_start_us, recording.t_end_us))
        recording.labels = labels
    return recording


def read_events(path: str | Path, *, format: str | None = None, sort: bool = False,
                sensor_size: tuple[int, int] | str | None = None) -> EventRecording:
    """Read a whole event file into an :class:`EventRecording` (format detected from the content).

    Timestamps going backwards are an :class:`EventFileError`; with ``sort=True`` they are
    repaired instead by a stable sort on ``t`` (a :class:`SnnStudioWarning` says how many steps
    went backwards, ``meta["unsorted_steps"]`` keeps the count) — for recordings whose packets
    arrived slightly out of order.

    ``format`` and ``sensor_size`` (``(w, h)`` or ``"WxH"`` pixels) say what a headerless or
    ambiguous file is (an EVT2/EVT3 ``.raw`` without its ``%`` header, an N-MNIST-like
    ``.bin``): the format is then not detected, and the sensor size replaces what the file
    declares or what its coordinates suggest (an event outside it is an error).
    """
    path = Path(path)
    size = parse_sensor_size(sensor_size)
    name = format or detect_format(path)
    if not path.is_file():
        raise EventFileError(path, "no such file")
    fmt = _format(name, path)
    with _guessed(path, fmt.name, format is not None), _loader_errors(path, f"cannot read {fmt.name}"):
        rec = _read(fmt, path, sort)
    rec.path = path
    return attach_labels(_with_sensor(rec, size, path), path)


def _read(fmt: EventFormat, path: Path, sort: bool) -> EventRecording:
    if sort:
        with tolerate_disorder() as disorder:
            rec = fmt.read(path)
        steps = sum(disorder)
        if steps:
            rec.events = rec.events[np.argsort(rec.events["t"], kind="stable")]
            rec.meta["unsorted_steps"] = steps
            warnings.warn(f"{path}: timestamps went backwards {steps} times; events sorted by time",
                          SnnStudioWarning, stacklevel=3)
    else:
        rec = fmt.read(path)
    return rec


class EventChunks:
    """The events of a file as an iterable of arrays, ``chunk_events`` each, in time order.

    What the header tells is there before iterating: ``format``, ``sensor_size`` (``None``
    while unknown — formats that do not store it get it from the coordinates once iterated),
    ``sensor``, ``labels`` (the sidecar) and ``meta``. Streaming formats (table above) hold
    about one chunk in memory; the others are read whole on the first iteration and sliced.
    Each iteration re-reads the file from its start.
    """

    def __init__(self, path: str | Path, *, chunk_events: int = DEFAULT_CHUNK_EVENTS, format: str | None = None,
                 sensor_size: tuple[int, int] | str | None = None):
        if chunk_events <= 0:
            raise ValueError(f"chunk_events must be positive, got {chunk_events}")
        given = parse_sensor_size(sensor_size)
        self._given_format = format is not None
        self.path = Path(path)
        self.chunk_events = int(chunk_events)
        self.format = format or detect_format(self.path)
        self._fmt = _format(self.format, self.path)
        self.sensor_size: tuple[int, int] | None = None
        self.sensor: str | None = None
        self.meta: dict = {}
        self._recording: EventRecording | None = None
        if self._fmt.streamer is None:
            with _guessed(self.path, self.format, self._given_format), \
                    _loader_errors(self.path, f"cannot read {self.format}"):
                self._recording = _with_sensor(self._fmt.read(self.path), given, self.path)
            self.sensor_size = self._recording.sensor_size
            self.sensor = self._recording.sensor
            self.meta = self._recording.meta
        else:
            with warnings.catch_warnings(), _loader_errors(self.path, f"cannot read the {self.format} header"):
                warnings.simplefilter("ignore", SnnStudioWarning)  # the iteration itself warns about truncation
                size, self.sensor, self.meta = self._fmt.header(self.path)
            self.sensor_size = tuple(size) if size is not None else None
        #: the sensor size the caller named (every event is checked against it), or None
        self.given_sensor_size = given
        if given is not None:
            self.sensor_size = given
            self.meta["sensor_size_given"] = True
        side = sidecar_path(self.path)
        self.labels: list[Label] = read_labels(side) if side.is_file() else []

    def __iter__(self) -> Iterator[np.ndarray]:
        if self._recording is not None:
            ev = self._recording.events
            yield from (ev[k : k + self.chunk_events] for k in range(0, ev.shape[0], self.chunk_events))
            return
        yield from self._stream()

    def _stream(self) -> Iterator[np.ndarray]:
        with _guessed(self.path, self.format, self._given_format), \
                _loader_errors(self.path, f"cannot read {self.format}"):
            yield from self._chunks()

    def _chunks(self) -> Iterator[np.ndarray]:
        w = h = 0
        given = self.given_sensor_size
        for ev in rechunk(self._fmt.iter_chunks(self.path, self.chunk_events), self.chunk_events):
            if given is not None and ev.shape[0]:
                mx, my = int(ev["x"].max()), int(ev["y"].max())
                if mx >= given[0] or my >= given[1]:
                    raise _outside(self.path, given, mx, my)
            if self.sensor_size is None:
                w = max(w, int(ev["x"].max()) + 1)
                h = max(h, int(ev["y"].max()) + 1)
            yield ev
        if self.sensor_size is None and w:
            self.sensor_size = (w, h)
            self.meta["sensor_size_inferred"] = True


def iter_event_chunks(path: str | Path, *, chunk_events: int = DEFAULT_CHUNK_EVENTS,
                      format: str | None = None, sensor_size: tuple[int, int] | str | None = None) -> EventChunks:
    """The file's events in time order, ``chunk_events`` per array (the last may be shorter).

    Returns an :class:`EventChunks` (iterate it; it also carries ``sensor_size``, ``sensor``,
    ``labels``, ``format``). Formats with a streaming reader (see the table above) never hold
    more than about one chunk (plus one container packet) in memory.
    """
    return EventChunks(path, chunk_events=chunk_events, format=format, sensor_size=sensor_size)


def write_events(path: str | Path, recording: EventRecording, *, format: str | None = None) -> None:
    """Write ``recording`` (format from the extension unless ``format`` is given).

    The file is written to a temp file beside ``path`` and renamed when complete. Labels go to
    the ``<stem>_labels.csv`` sidecar (also temp + rename).
    """
    path = Path(path)
    name = format or format_for_extension(path)
    fmt = _format(name, path)
    if fmt.writer is None:
        raise UnknownFormatError(path, f"format {name!r} can be read but not written")
    if not isinstance(recording, EventRecording):
        raise EventFileError(path, f"write_events takes an EventRecording, got {type(recording).__name__}")
    require_events(recording.events, path)
    check_events(recording.events, recording.sensor_size, path)
    if recording.labels:
        check_labels(recording.labels, sidecar_path(path))
    fmt.write(path, recording)
    side = sidecar_path(path)
    if recording.labels:
        write_labels(side, recording.labels)
    elif side.exists():
        warnings.warn(f"{side} exists and will be attached to {path.name} when it is read; the recording "
                      "written has no labels", SnnStudioWarning, stacklevel=2)


__all__ = [
    "FORMATS",
    "HEADERLESS_FORMATS",
    "READ_EXTENSIONS",
    "parse_sensor_size",
    "formats_markdown",
    "Aedat4Writer",
    "EventChunks",
    "EventFormat",
    "Label",
    "detect_format",
    "format_for_extension",
    "iter_event_chunks",
    "read_events",
    "read_labels",
    "sidecar_path",
    "write_events",
    "write_labels",
]
