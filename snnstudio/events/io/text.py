"""CSV / TXT event files: one event per line, ``t x y p`` (µs, pixels, 0/1).

Separators: commas or whitespace. Optional comment lines starting with ``#`` (ours carry
``# sensor_size=WxH sensor=NAME``), an optional header line naming the columns in any order
(``t``/``timestamp``, ``x``, ``y``, ``p``/``polarity``/``on``), and the rpg/e2vid convention of a
first line holding only ``width height``. Timestamps with a decimal point are seconds (the
Event Camera Dataset convention) and are converted to µs. Parsing is numpy's C parser over the
whole body (``np.fromstring``), not a per-line Python loop; a last line cut short is dropped
with a :class:`SnnStudioWarning`.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from snnstudio.errors import EventFileError
from snnstudio.events.io._common import atomic_write, check_events, infer_sensor_size, warn_truncated
from snnstudio.events.types import EVENT_DTYPE, EventRecording

_NAMES = {"t": {"t", "ts", "timestamp", "time", "t_us", "timestamp_us"}, "x": {"x"}, "y": {"y"},
          "p": {"p", "pol", "polarity", "on"}}
_SIZE_RE = re.compile(rb"sensor_size\s*[=:]\s*(\d+)\s*[x, ]\s*(\d+)")
_SENSOR_RE = re.compile(rb"\bsensor\s*[=:]\s*(.+?)\s*$")
_NUMBER_LINE = re.compile(rb"^[\s,]*[-+0-9.eE]+([\s,]+[-+0-9.eE]+)*[\s,]*$")


def looks_like_text(head: bytes) -> bool:
    """Printable text whose first data line holds 2–4 numbers (possibly after a header/comments)."""
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("ascii")
    except UnicodeDecodeError:
        return False
    lines = [ln for ln in head.splitlines()[:-1] or head.splitlines() if ln.strip() and not ln.startswith(b"#")]
    data = [ln for ln in lines[:3] if _NUMBER_LINE.match(ln)]
    return bool(data) and 2 <= len(re.split(rb"[\s,]+", data[-1].strip())) <= 4


def _split(line: bytes) -> list[bytes]:
    return [c for c in re.split(rb"[\s,]+", line.strip()) if c]


def read(path: str | Path) -> EventRecording:
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
                size = (int(m.group(1)), int(m.group(2)))
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
            size = (int(cols[0]), int(cols[1]))
            pos, lineno = end + 1, lineno + 1
            continue
        break
    body = raw[pos:]
    if not body.strip():
        raise EventFileError(path, "file holds no events")
    if b"," in body:
        body = body.replace(b",", b" ")
    first = _split(body[: body.find(b"\n") if b"\n" in body else len(body)])
    ncol = len(first)
    if ncol != 4:
        raise EventFileError(path, f"line {lineno + 1}: expected 4 columns t x y p, got {ncol}")
    try:
        values = np.fromstring(body, dtype=np.float64, sep=" ")
    except ValueError:
        for k, line in enumerate(body.splitlines()):
            if line.strip() and not _NUMBER_LINE.match(line):
                raise EventFileError(path, f"line {lineno + k + 1}: not numbers: "
                                           f"{line[:60].decode(errors='replace')!r}") from None
        raise EventFileError(path, "unparsable numbers") from None
    if values.shape[0] % 4:
        lines = [ln for ln in body.splitlines() if ln.strip()]
        if len(_split(lines[-1])) < 4 and values.shape[0] - len(_split(lines[-1])) == 4 * (len(lines) - 1):
            warn_truncated(path, "last line has fewer than 4 columns")
            values = values[: 4 * (len(lines) - 1)]
        else:
            raise EventFileError(path, "every line must have 4 columns t x y p")
    table = values.reshape(-1, 4)
    cols = {k: table[:, i] for i, k in enumerate(order)}
    t = cols["t"]
    meta: dict = {}
    if t.shape[0] and np.any(t != np.floor(t)):
        t = t * 1e6
        meta["time_unit_in_file"] = "s"
    for k in ("x", "y", "p"):
        c = cols[k]
        if np.any(c != np.floor(c)):
            i = int(np.flatnonzero(c != np.floor(c))[0])
            raise EventFileError(path, f"event {i} has non-integer {k}={c[i]}")
    ev = np.empty(table.shape[0], dtype=EVENT_DTYPE)
    ev["t"] = np.rint(t)
    for k in ("x", "y"):
        c = cols[k]
        if c.shape[0] and (c.min() < -32768 or c.max() > 32767):
            raise EventFileError(path, f"column {k} does not fit 16 bits")
        ev[k] = c
    ev["p"] = cols["p"] > 0
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
