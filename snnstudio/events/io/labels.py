"""Label sidecars: ``<stem>_labels.csv`` beside a recording, DVS128 Gesture style.

The file has a header line ``class,startTime_usec,endTime_usec`` and one labelled range per line
(class id, start µs, end µs; a sample is ``start <= t < end``, same clock as the events). An
optional fourth column ``name`` carries a class name. Ranges must have ``start < end`` and be
ordered by start without overlapping; a file that does not parse, or whose ranges are not
ordered or not inside the recording, is an :class:`~snnstudio.errors.EventFileError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from snnstudio.errors import EventFileError
from snnstudio.events.io._common import atomic_write
from snnstudio.events.types import Label

HEADER = ("class", "startTime_usec", "endTime_usec")
#: how far (µs) a label may reach beyond the first/last event of its recording
INSIDE_TOLERANCE_US = 1_000_000


def sidecar_path(path: str | Path) -> Path:
    """``dir/rec.aedat4`` → ``dir/rec_labels.csv``."""
    path = Path(path)
    return path.with_name(f"{path.stem}_labels.csv")


def looks_like_labels(head: bytes) -> bool:
    """Does this file start like a labels CSV (its header line)?"""
    first = head.split(b"\n", 1)[0].strip().lower().replace(b" ", b"")
    return first.startswith(b"class,starttime_usec,endtime_usec")


def read_labels(path: str | Path) -> list[Label]:
    """Parse a labels CSV; raise :class:`EventFileError` naming the line when it is malformed."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EventFileError(path, f"cannot read labels: {exc}") from None
    lines = [ln.strip() for ln in text.splitlines()]
    if not lines or not looks_like_labels(lines[0].encode()):
        raise EventFileError(path, f"labels file must start with the header line {','.join(HEADER)}")
    header = [h.strip() for h in lines[0].split(",")]
    has_name = len(header) >= 4 and header[3].lower() == "name"
    labels: list[Label] = []
    for lineno, line in enumerate(lines[1:], start=2):
        if not line:
            continue
        cols = [c.strip() for c in line.split(",")]
        if len(cols) < 3 or (len(cols) > 3 and not has_name) or len(cols) > 4:
            raise EventFileError(path, f"line {lineno}: expected class,start_us,end_us, got {line!r}")
        try:
            cls, start, end = int(cols[0]), int(cols[1]), int(cols[2])
        except ValueError:
            raise EventFileError(path, f"line {lineno}: not integers: {line!r}") from None
        name = cols[3] if has_name and len(cols) == 4 and cols[3] else None
        labels.append(Label(cls, start, end, name))
    check_labels(labels, path)
    return labels


def check_labels(labels: Sequence[Label], path: str | Path | None = None,
                 t_range: tuple[int, int] | None = None) -> None:
    """Ranges must be non-empty, ordered, non-overlapping and (with ``t_range``) inside the recording."""
    prev_end = None
    for i, lab in enumerate(labels):
        if lab.end_us <= lab.start_us:
            raise EventFileError(path, f"label {i + 1} (class {lab.class_id}) ends at {lab.end_us} µs, "
                                       f"not after its start {lab.start_us} µs")
        if prev_end is not None and lab.start_us < prev_end:
            raise EventFileError(path, f"label {i + 1} (class {lab.class_id}) starts at {lab.start_us} µs, "
                                       f"before the previous label ends ({prev_end} µs): labels must be ordered")
        prev_end = lab.end_us
    if t_range is not None and labels:
        t0, t1 = t_range
        tol = INSIDE_TOLERANCE_US
        for i, lab in enumerate(labels):
            if lab.start_us < t0 - tol or lab.end_us > t1 + tol:
                raise EventFileError(
                    path, f"label {i + 1} (class {lab.class_id}, {lab.start_us}-{lab.end_us} µs) is not inside "
                          f"the recording ({t0}-{t1} µs)")


def write_labels(path: str | Path, labels: Sequence[Label]) -> None:
    """Write a labels CSV (temp file + rename); a ``name`` column is added when any label has a name."""
    path = Path(path)
    check_labels(labels, path)
    has_name = any(lab.name for lab in labels)
    for lab in labels:
        if lab.name and ("," in lab.name or "\n" in lab.name):
            raise EventFileError(path, f"label name {lab.name!r} contains a comma or newline")
    rows = [",".join(HEADER + (("name",) if has_name else ()))]
    for lab in labels:
        row = f"{int(lab.class_id)},{int(lab.start_us)},{int(lab.end_us)}"
        rows.append(row + (f",{lab.name or ''}" if has_name else ""))
    with atomic_write(path, "w") as (_, f):
        f.write("\n".join(rows) + "\n")
