"""CSV / TXT event files: one event per line, ``t x y p`` (µs, pixels, 0/1).

Separators: commas or whitespace. Optional comment lines starting with ``#`` (ours carry
``# sensor_size=WxH sensor=NAME``), an optional header line naming the columns in any order
(``t``/``timestamp``, ``x``, ``y``, ``p``/``polarity``/``on``), and the rpg/e2vid convention of a
first line holding only ``width height``. Timestamps with a decimal point are seconds (the
Event Camera Dataset convention) and are converted to µs. Parsing is numpy's C parser over the
whole body (``np.loadtxt``), not a per-line Python loop; a last line cut short is dropped
with a :class:`SnnStudioWarning`.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np

from snnstudio.errors import EventFileError
from snnstudio.events.io._common import (
    atomic_write,
    check_events,
    check_sensor_size,
    infer_sensor_size,
    warn_truncated,
)
from snnstudio.events.types import EVENT_DTYPE, EventRecording

_NAMES = {"t": {"t", "ts", "timestamp", "time", "t_us", "timestamp_us"}, "x": {"x"}, "y": {"y"},
          "p": {"p", "pol", "polarity", "on"}}
_SIZE_RE = re.compile(rb"sensor_size\s*[=:]\s*(\d+)\s*[x, ]\s*(\d+)")
_SENSOR_RE = re.compile(rb"\bsensor\s*[=:]\s*(.+?)\s*$")
_NUMBER_LINE = re.compile(rb"^[\s,]*[-+0-9.eE]+([\s,]+[-+0-9.eE]+)*[\s,]*$")


def looks_like_text(head: bytes) -> bool:
    """Printable text whose first data line holds 2–16 numbers (possibly after a header/comments)."""
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("ascii")
    except UnicodeDecodeError:
        return False
    all_lines = head.splitlines()
    if not head.endswith(b"\n") and len(all_lines) > 1:
        all_lines = all_lines[:-1]  # the head may end inside a line
    lines = [ln for ln in all_lines if ln.strip() and not ln.startswith(b"#")]
    data = [ln for ln in lines[:3] if _NUMBER_LINE.match(ln)]
    if not data and lines:  # a header line alone (an empty recording) still is a CSV event file
        names = {c.decode("ascii").lower() for c in _split(lines[0])}
        return {"x", "y"} <= names and bool(names & _NAMES["t"]) and bool(names & _NAMES["p"])
    return bool(data) and 2 <= len(re.split(rb"[\s,]+", data[-1].strip())) <= 16


def _split(line: bytes) -> list[bytes]:
    return [c for c in re.split(rb"[\s,]+", line.strip()) if c]


def read(path: str | Path) -> EventRecording:
    """The whole CSV / text file ``path`` as an :class:`~snnstudio.events.types.EventRecording` (µs timestamps);
    a damaged or unreadable file is an :class:`~snnstudio.errors.EventFileError`."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise EventFileError(path, f"cannot read: {exc}") from None
    size = None
    sensor = None
    pos = 0
    order = ["t", "x", "y", "p"]
    lineno = 0
    # comments, header, optional "width height" line
    while pos < len(raw):
        end = raw.find(b"\n", pos)
        end = len(raw) if end < 0 else end
        line = raw[pos:end].strip()
        if not line:
            pos, lineno = end + 1, lineno + 1
            continue
        if line.startswith(b"#"):
            if m := _SIZE_RE.search(line):
                size = check_sensor_size((int(m.group(1)), int(m.group(2))), path,
                                         f"line {lineno + 1}: sensor_size")
            if m := _SENSOR_RE.search(line):
                sensor = m.group(1).decode(errors="replace")
            pos, lineno = end + 1, lineno + 1
            continue
        cols = _split(line)
        if not _NUMBER_LINE.match(line):
            names = [c.decode(errors="replace").strip().lower() for c in cols]
            try:
                order = [next(k for k, v in _NAMES.items() if n in v) for n in names]
            except StopIteration:
                raise EventFileError(path, f"line {lineno + 1}: header {line.decode(errors='replace')!r} must "
                                           "name the columns t, x, y, p") from None
            if sorted(order) != ["p", "t", "x", "y"]:
                raise EventFileError(path, f"line {lineno + 1}: header must name t, x, y and p once each")
            pos, lineno = end + 1, lineno + 1
            continue
        if len(cols) == 2 and size is None:
            try:
                size = (int(cols[0]), int(cols[1]))
            except ValueError:
                raise EventFileError(path, f"line {lineno + 1}: 'width height' line holds non-integers") from None
            size = check_sensor_size(size, path, f"line {lineno + 1}: sensor size")
            pos, lineno = end + 1, lineno + 1
            continue
        break
    body = raw[pos:]
    if not body.strip():
        raise EventFileError(path, "file holds no events")
    first_line = body.lstrip().split(b"\n", 1)[0]
    ncol = len(_split(first_line))
    if ncol != 4:
        raise EventFileError(path, f"line {lineno + 1}: expected 4 columns t x y p, got {ncol}")
    delimiter = "," if b"," in first_line else None
    body = body.rstrip()
    last = body[body.rfind(b"\n") + 1 :]
    if len(_split(last)) < 4:
        warn_truncated(path, "last line has fewer than 4 columns")
        body = body[: max(body.rfind(b"\n"), 0)]
        if not body.strip():
            raise EventFileError(path, "file holds no complete event line")
    text = io.BytesIO(body)
    try:  # integers (µs) parse ~4x faster than floats; seconds with decimals fall back to floats
        values = np.loadtxt(text, dtype=np.int64, delimiter=delimiter, comments="#", ndmin=2)
    except ValueError:
        text.seek(0)
        try:
            values = np.loadtxt(text, dtype=np.float64, delimiter=delimiter, comments="#", ndmin=2)
        except ValueError as exc:
            m = re.search(r"row (\d+)", str(exc))
            where = f"line {lineno + int(m.group(1)) + 1}: " if m else ""
            raise EventFileError(path, f"{where}not 4 numbers t x y p ({str(exc).splitlines()[0][:80]})") from None
    if values.shape[0] == 0:
        raise EventFileError(path, "file holds no events")
    if values.shape[1] != 4:
        raise EventFileError(path, f"expected 4 columns t x y p, got {values.shape[1]}")
    table = values
    cols = {k: table[:, i] for i, k in enumerate(order)}
    t = cols["t"]
    meta: dict = {}
    if values.dtype.kind == "f":
        if t.shape[0] and np.any(t != np.floor(t)):
            t = t * 1e6
            meta["time_unit_in_file"] = "s"
        t = np.rint(t)
        for k in ("x", "y", "p"):
            c = cols[k]
            if np.any(c != np.floor(c)):
                i = int(np.flatnonzero(c != np.floor(c))[0])
                raise EventFileError(path, f"event {i} has non-integer {k}={c[i]}")
    ev = np.empty(table.shape[0], dtype=EVENT_DTYPE)
    ev["t"] = t
    for k in ("x", "y"):
        c = cols[k]
        if c.shape[0] and (c.min() < -32768 or c.max() > 32767):
            raise EventFileError(path, f"column {k} does not fit 16 bits")
        ev[k] = c
    p = cols["p"]
    bad = (p != 0) & (p != 1) & (p != -1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise EventFileError(path, f"event {i} has polarity {p[i]:g} ({int(np.count_nonzero(bad)):,} events with "
                                   "a polarity not 0, 1 or -1)")
    ev["p"] = p > 0
    for k in ("x", "y"):
        if ev.shape[0] and int(ev[k].min()) < 0:
            i = int(np.flatnonzero(ev[k] < 0)[0])
            raise EventFileError(path, f"event {i} has {k}={int(ev[k][i])} (negative coordinate; "
                                       f"{int(np.count_nonzero(ev[k] < 0)):,} events)")
    if size is None:
        size = infer_sensor_size(ev)
        meta["sensor_size_inferred"] = True
    check_events(ev, size, path)
    return EventRecording(ev, size, sensor=sensor, path=path, format="csv", meta=meta)


def write(path: str | Path, recording: EventRecording) -> None:
    """``# sensor_size=WxH [sensor=NAME]``, a header line, then integer ``t,x,y,p`` rows (.txt: spaces)."""
    path = Path(path)
    sep = " " if path.suffix.lower() == ".txt" else ","
    ev = recording.events
    w, h = recording.sensor_size
    head = f"# sensor_size={w}x{h}" + (f" sensor={recording.sensor}" if recording.sensor else "")
    row = sep.join(["%d"] * 4) + "\n"
    with atomic_write(path, "w") as (_, f):
        f.write(head + "\n" + sep.join("txyp") + "\n")
        step = 1 << 16
        for k in range(0, ev.shape[0], step):
            part = ev[k : k + step]
            table = np.empty((part.shape[0], 4), dtype=np.int64)
            for i, name in enumerate("txyp"):
                table[:, i] = part[name]
            f.write((row * part.shape[0]) % tuple(table.ravel().tolist()))
