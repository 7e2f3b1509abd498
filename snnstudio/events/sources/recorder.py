"""Record any event source to an AEDAT4 file that DV / dv-processing read back.

:func:`record` pulls batches from a source and writes them through the I/O layer's
incremental :class:`snnstudio.events.io.Aedat4Writer`, which only ever leaves a complete,
valid file at ``path`` — also when the source fails mid-way (the file then holds everything
recorded before the failure, and :class:`RecordingFailed` says so) and on Ctrl-C.

Duration: ``seconds`` of *event time* from the first batch's start (events at or after the
limit are not written). A live device (``live=True``, by default ``source.live``) is also
closed after ``seconds`` + a grace of wall time, so a camera looking at a still scene cannot
keep the recorder waiting; un-paced sources (files, the synthetic generator) get no wall
limit, they are recorded as fast as they produce. Ground-truth labels carried by the batches
(synthetic gestures, labelled recordings) become label ranges in the file's label sidecar.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from snnstudio.errors import SnnStudioError, SourceError
from snnstudio.events.sources.base import EventBatch, EventSource
from snnstudio.events.types import Label


@dataclass
class RecordResult:
    """What :func:`record` wrote."""

    path: Path
    events: int = 0
    batches: int = 0
    dropped: int = 0
    #: event time covered: first batch start to last written batch end (µs)
    t_start_us: int | None = None
    t_end_us: int | None = None
    #: "duration" (reached ``seconds``), "end" (the source ended), "error", "interrupted"
    stopped: str = "end"
    labels: list[Label] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        """Recorded span in seconds (0 when nothing was recorded)."""
        if self.t_start_us is None or self.t_end_us is None:
            return 0.0
        return (self.t_end_us - self.t_start_us) / 1e6


class RecordingFailed(SourceError):
    """The source failed mid-recording; ``result`` describes the valid file left behind."""

    def __init__(self, message: str, result: RecordResult):
        super().__init__(message)
        self.result = result


def _labels_from_runs(runs: list[list[int]], names: dict[int, str] | None) -> list[Label]:
    return [Label(class_id=c, start_us=s, end_us=e, name=(names or {}).get(c)) for c, s, e in runs]


def record(source: EventSource, path: str | Path, seconds: float, *, live: bool | None = None,
           wall_grace_s: float = 1.0, stop_on_interrupt: bool = False,
           on_start: Callable[[], None] | None = None,
           on_batch: Callable[[EventBatch], None] | None = None) -> RecordResult:
    """Write ``seconds`` of ``source`` to the AEDAT4 file ``path``; the source is closed afterwards.

    Raises :class:`RecordingFailed` (a :class:`~snnstudio.errors.SourceError`) when the source
    fails — the file is then valid and holds what came before. ``KeyboardInterrupt`` closes
    the file properly and propagates, or, with ``stop_on_interrupt``, ends the recording
    normally (``stopped == "interrupted"``). ``on_start`` is called once the file is open,
    just before the first batch is pulled; ``on_batch`` sees each batch as written.
    """
    try:
        seconds = float(seconds)
    except (TypeError, ValueError):
        raise SnnStudioError(f"recording length must be a number of seconds, got {seconds!r}") from None
    if not seconds > 0:
        raise SnnStudioError(f"recording length must be > 0 s, got {seconds!r}")
    from snnstudio.events.io import Aedat4Writer  # lazy: the I/O layer pulls in faery/h5py

    path = Path(path)
    result = RecordResult(path=path)
    limit_us: int | None = None
    runs: list[list[int]] = []  # [class_id, start_us, end_us]
    timer: threading.Timer | None = None
    wall_limit_hit = threading.Event()
    if live is None:
        live = bool(getattr(source, "live", False))
    if live:

        def _wall_limit() -> None:
            wall_limit_hit.set()
            source.close()

        timer = threading.Timer(seconds + wall_grace_s, _wall_limit)
        timer.daemon = True
    sensor = getattr(source, "camera_name", None)
    try:
        with Aedat4Writer(path, source.sensor_size, sensor=sensor if isinstance(sensor, str) else None) as writer:
            try:
                if on_start is not None:
                    on_start()
                if timer is not None:
                    timer.start()
                for batch in source.batches():
                    if limit_us is None:
                        result.t_start_us = int(batch.t_start_us)
                        limit_us = result.t_start_us + int(round(seconds * 1e6))
                    events = batch.events
                    end = min(int(batch.t_end_us), limit_us)
                    if batch.t_end_us > limit_us:
                        events = events[: int(np.searchsorted(events["t"], limit_us, side="left"))]
                    if len(events):
                        writer.write(events)
                    result.events += len(events)
                    result.batches += 1
                    result.dropped += int(batch.dropped)
                    result.t_end_us = max(end, result.t_end_us or end)
                    if batch.label is not None:
                        if runs and runs[-1][0] == batch.label and runs[-1][2] >= batch.t_start_us:
                            runs[-1][2] = end
                        else:
                            runs.append([int(batch.label), int(batch.t_start_us), end])
                    if on_batch is not None:
                        on_batch(batch)
                    if batch.t_end_us >= limit_us:
                        result.stopped = "duration"
                        break
                else:
                    result.stopped = "duration" if wall_limit_hit.is_set() else "end"
            except SnnStudioError as exc:
                result.stopped = "error"
                failure = exc
            except KeyboardInterrupt:
                result.stopped = "interrupted"
                if not stop_on_interrupt:
                    raise
                failure = None
            else:
                failure = None
            finally:
                result.labels = _labels_from_runs(runs, getattr(source, "class_names", None))
                if result.labels and hasattr(writer, "labels"):
                    writer.labels = list(result.labels)
    finally:
        if timer is not None:
            timer.cancel()
        source.close()
    if failure is not None:
        raise RecordingFailed(f"{failure}; {path} keeps the {result.events} events recorded before", result) from failure
    return result
