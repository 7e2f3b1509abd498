"""Live event sources: files played in real time, DVS cameras, DV network streams, webcams
(through the emulator), the synthetic gesture generator — all yielding
:class:`~snnstudio.events.sources.base.EventBatch` es, plus the wrappers every source gets
(real-time pacing, bounded back-pressure) and a recorder to AEDAT4.

:func:`open_source` opens a source from a short text spec (the CLI's ``--source`` and the
GUI's "open source" field); the kinds, their syntax and how each is paced and preprocessed are
declared once in :data:`~snnstudio.events.sources.kinds.SOURCE_KIND_TABLE`::

    [file:]PATH               a recording, played by FilePlayer (real time)
    camera[:SERIAL]           a USB DVS camera (dv-processing)
    network:HOST:PORT         a DV network event stream (TCP)
    webcam[:INDEX]            a webcam turned into events (VideoEventSource)
    video:PATH                a video file turned into events (VideoEventSource; CLIP.mp4 too)
    synthetic[:GESTURE]       the synthetic gesture generator (SyntheticGestureSource)

A headerless or ambiguous recording is said what it is with ``file[format=F,sensor=WxH]:PATH``
(either option alone too; see :func:`file_spec`).

Heavy parts (dv-processing, OpenCV, the I/O layer) load only when a source needs them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from snnstudio.errors import SnnStudioError, SourceError
from snnstudio.events.sources.base import EventBatch, EventSource
from snnstudio.events.sources.kinds import SOURCE_KIND_TABLE, SOURCE_KINDS, SourceKind, source_syntax
from snnstudio.events.sources.pacing import (
    BufferedSource,
    ManualClock,
    MonotonicClock,
    RealtimePacer,
    SpeedError,
    check_speed,
)
from snnstudio.events.sources.player import FilePlayer, label_for_window

__all__ = [
    "SOURCE_KINDS",
    "SOURCE_KIND_TABLE",
    "SourceKind",
    "BufferedSource",
    "DvsCameraSource",
    "EventBatch",
    "EventSource",
    "FilePlayer",
    "ManualClock",
    "MonotonicClock",
    "NetworkEventSource",
    "RealtimePacer",
    "SourceSpecError",
    "SpeedError",
    "check_speed",
    "file_spec",
    "parse_file_spec",
    "label_for_window",
    "open_source",
    "parse_source_spec",
]

class SourceSpecError(SnnStudioError, ValueError):
    """A source spec that names no known kind or is malformed."""


def __getattr__(name: str) -> Any:  # lazy: dv-processing loads only when asked for
    if name == "DvsCameraSource":
        from snnstudio.events.sources.camera import DvsCameraSource

        return DvsCameraSource
    if name == "NetworkEventSource":
        from snnstudio.events.sources.network import NetworkEventSource

        return NetworkEventSource
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _source_class(module: str, name: str, what: str) -> Any:
    """``module.name``, imported now; a build without that module gets a one-line SourceError."""
    import importlib

    full = f"snnstudio.events.sources.{module}"
    try:
        mod = importlib.import_module(full)
    except ModuleNotFoundError as exc:
        if exc.name != full:
            raise
        raise SourceError(f"{what} sources are not available in this build (no {full})") from None
    return getattr(mod, name)


#: extensions of video files (``video:`` through OpenCV): a bare path with one of them opens
#: as ``video:PATH``, not as an event file
VIDEO_EXTENSIONS: tuple[str, ...] = (".avi", ".m4v", ".mkv", ".mov", ".mp4", ".mpeg", ".mpg", ".webm", ".wmv")


def file_spec(path: str | Path, format: str | None = None, sensor_size: tuple[int, int] | str | None = None) -> str:
    """The spec of an event file with what it is said to be: ``file[format=evt2,sensor=320x320]:PATH``
    (just ``PATH`` when neither is given). The options are checked here (one-line errors)."""
    from snnstudio.events.io import FORMATS, parse_sensor_size

    size = parse_sensor_size(sensor_size)
    opts = []
    if format:
        name = str(format).strip().lower()
        if name not in FORMATS:
            raise SourceSpecError(f"unknown format {format!r}; known: {', '.join(FORMATS)}")
        opts.append(f"format={name}")
    if size is not None:
        opts.append(f"sensor={size[0]}x{size[1]}")
    return f"file[{','.join(opts)}]:{path}" if opts else str(path)


def parse_file_spec(spec: str) -> tuple[str, str | None, tuple[int, int] | None]:
    """``(path, format or None, sensor size or None)`` of a file spec (``PATH``, ``file:PATH`` or
    ``file[format=F,sensor=WxH]:PATH``; see :func:`file_spec`)."""
    from snnstudio.events.io import parse_sensor_size

    spec = str(spec)
    if spec.lower().startswith("file["):
        head, sep, path = spec.partition("]:")
        if not sep:
            raise SourceSpecError(f"file spec {spec!r}: expected file[format=F,sensor=WxH]:PATH")
        fmt, size = None, None
        for opt in filter(None, (o.strip() for o in head[5:].split(","))):
            key, eq, value = opt.partition("=")
            key = key.strip().lower()
            if key == "format" and eq:
                fmt = value.strip().lower() or None
            elif key == "sensor" and eq:
                size = parse_sensor_size(value)
            else:
                raise SourceSpecError(f"file spec {spec!r}: unknown option {opt!r} (format=NAME, sensor=WxH)")
        return path, fmt, size
    if spec.lower().startswith("file:"):
        return spec[5:], None, None
    return spec, None, None


def parse_source_spec(spec: str) -> tuple[str, str | None]:
    """Split a spec into ``(kind, argument)``; a path without a kind is ``video`` when its
    extension is a video's (:data:`VIDEO_EXTENSIONS`), else ``file``."""
    spec = str(spec).strip()
    if not spec:
        raise SourceSpecError(f"empty source spec; expected one of {', '.join(SOURCE_KINDS)}")
    if spec.lower().startswith("file["):
        return "file", parse_file_spec(spec)[0] or None
    kind, sep, rest = spec.partition(":")
    kind_l = kind.lower()
    if kind_l in SOURCE_KINDS:
        arg = rest.strip() if sep else None
        return kind_l, (arg or None)
    if Path(spec).exists() or Path(spec).suffix:
        return ("video" if Path(spec).suffix.lower() in VIDEO_EXTENSIONS else "file"), spec
    raise SourceSpecError(f"unknown source {spec!r}; expected {source_syntax(', ')}")


def open_source(spec: str, *, buffered: bool | int = False, **options: Any) -> EventSource:
    """Open the source that ``spec`` names (see the module docstring).

    ``buffered``: wrap the source in a :class:`BufferedSource` (a producer thread and a
    bounded queue of ``buffered`` batches, 64 for ``True``) — what a live view wants; the
    wrapper forwards attribute access (a player's controls) to the source.
    ``options`` go to the source's constructor (e.g. ``batch_us``, ``speed``, ``loop``,
    ``realtime`` for ``file:``; ``timeout_s`` for ``network:``). Errors are typed: an unknown
    spec is :class:`SourceSpecError`, a missing device
    :class:`~snnstudio.errors.DeviceNotFoundError`, an unreadable file
    :class:`~snnstudio.errors.EventFileError`.
    """
    try:
        source = _open(spec, options)
    except (ValueError, TypeError) as exc:
        if isinstance(exc, SnnStudioError):
            raise
        raise SourceSpecError(f"source {spec!r}: {exc}") from exc
    if buffered:
        return BufferedSource(source, max_batches=64 if buffered is True else int(buffered))
    return source


def _open(spec: str, options: dict[str, Any]) -> EventSource:
    kind, arg = parse_source_spec(spec)
    if kind == "file":
        if not arg:
            raise SourceSpecError("file: needs a path, e.g. file:recording.aedat4")
        path, fmt, size = parse_file_spec(spec)
        if fmt is None and size is None:
            return FilePlayer(arg, **options)
        from snnstudio.events.io import read_events

        return FilePlayer(read_events(path, format=fmt, sensor_size=size), **options)
    if kind == "camera":
        from snnstudio.events.sources.camera import DvsCameraSource

        return DvsCameraSource(arg, **options)
    if kind == "network":
        host, sep, port = (arg or "").rpartition(":")
        if not sep or not host or not port:
            raise SourceSpecError(f"network source needs HOST:PORT, got {arg!r} (e.g. network:127.0.0.1:7777)")
        if not port.isdigit():
            raise SourceSpecError(f"network port must be a number, got {port!r}")
        from snnstudio.events.sources.network import NetworkEventSource

        return NetworkEventSource(host.strip("[]"), int(port), **options)
    if kind == "webcam":
        if arg is not None and not arg.isdigit():
            raise SourceSpecError(f"webcam index must be a number, got {arg!r}")
        video_source = _source_class("video", "VideoEventSource", "webcam")
        return video_source(int(arg) if arg is not None else 0, **options)
    if kind == "video":
        if not arg:
            raise SourceSpecError("video: needs a path, e.g. video:clip.mp4")
        video_source = _source_class("video", "VideoEventSource", "video")
        return video_source(arg, **options)
    synthetic_source = _source_class("synthetic", "SyntheticGestureSource", "synthetic gesture")
    if arg is not None:
        options.setdefault("gesture", arg)
    return synthetic_source(**options)
