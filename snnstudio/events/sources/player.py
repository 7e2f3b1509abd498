"""Play a recording as a live source: play, pause, seek, step, speed, loop, batch duration.

:class:`FilePlayer` cuts an :class:`~snnstudio.events.types.EventRecording` into windows of
``batch_us`` µs (``[pos, pos + batch_us)``) and releases each window when the clock reaches
its end time, scaled by ``speed`` (0.1×–10×), the same schedule as
:class:`~snnstudio.events.sources.pacing.RealtimePacer`. Controls are thread-safe: the GUI
thread calls :meth:`pause`, :meth:`seek` … while a worker thread iterates :meth:`batches`;
every wait is on one condition variable, so a control or :meth:`close` takes effect at once.

Time on the way out ("stream time"):

* Without looping and seeking, batch timestamps are the recording's own (µs).
* **Loop**: at the end the player wraps to the first event and *shifts* timestamps of the
  next pass so that stream time stays continuous: the first window of pass *n+1* starts
  exactly where the last window of pass *n* ended (``t_start_us == previous t_end_us``).
  :attr:`FilePlayer.loop_offset_us` is the current shift; :attr:`position_us` stays in
  recording time.
* **Seek** is a deliberate jump: the next batch starts at the new position (plus the
  current loop shift), so its ``t_start_us`` differs from the previous ``t_end_us`` and
  :attr:`seek_count` has grown; consumers that integrate over time should reset there.

A batch's ``label`` is the class of the recording label that overlaps its window most
(``None`` where no label overlaps). With ``realtime=False`` batches come as fast as they
are pulled (evaluation, recording to file).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from snnstudio.events.sources.base import EventBatch, EventSource
from snnstudio.events.sources.pacing import Clock, MonotonicClock, Schedule, check_speed
from snnstudio.events.types import EventRecording, Label


def label_for_window(labels: Sequence[Label], t_start_us: int, t_end_us: int) -> int | None:
    """Class id of the label overlapping ``[t_start_us, t_end_us)`` most, or ``None``.

    A label range contains the window → that label. Ties go to the earlier label.
    """
    best, best_overlap = None, 0
    for lab in labels:
        overlap = min(lab.end_us, t_end_us) - max(lab.start_us, t_start_us)
        if overlap > best_overlap:
            best, best_overlap = lab.class_id, overlap
    return best


def _check_batch_us(batch_us: int) -> int:
    try:
        b = int(batch_us)
    except (TypeError, ValueError):
        raise ValueError(f"batch duration must be an integer number of µs, got {batch_us!r}") from None
    if b <= 0:
        raise ValueError(f"batch duration must be > 0 µs, got {batch_us!r}")
    return b


class FilePlayer(EventSource):
    """A recording (or a file path) played back in real time with transport controls.

    ``batch_us``: window length (µs, default 10 ms). ``speed``: 0.1–10 (×real time).
    ``loop``: wrap at the end with continuous timestamps. ``paused``: start paused.
    ``hold_at_end``: instead of ending, pause at the end and wait for a :meth:`seek`
    (a GUI player). ``max_lag_s``: when the consumer is more than this late, whole windows
    are skipped to catch up and their events reported in the next batch's ``dropped``
    (``None``: never skip, play slower instead). ``clock``: injectable for tests.
    """

    live = False

    def __init__(self, recording: EventRecording | str | Path, *, batch_us: int = 10_000,
                 speed: float = 1.0, loop: bool = False, paused: bool = False, realtime: bool = True,
                 hold_at_end: bool = False, max_lag_s: float | None = 0.5, clock: Clock | None = None):
        if not isinstance(recording, EventRecording):
            from snnstudio.events.io import read_events  # lazy: the I/O layer is heavier

            recording = read_events(recording)
        self.recording = recording
        self.sensor_size = recording.sensor_size
        self.camera_name = recording.sensor
        names = recording.meta.get("class_names") or {lab.class_id: lab.name for lab in recording.labels if lab.name}
        self.class_names = {int(k): str(v) for k, v in dict(names).items()} or None
        # a contiguous copy: searchsorted on the strided field view would copy it on every call
        self._t = np.ascontiguousarray(recording.events["t"])
        self.t_first_us = int(self._t[0]) if len(self._t) else 0
        #: one past the last event (µs, recording time)
        self.t_stop_us = int(self._t[-1]) + 1 if len(self._t) else 0
        self.clock: Clock = clock or MonotonicClock()
        self.realtime = bool(realtime)
        self.hold_at_end = bool(hold_at_end)
        self.max_lag_s = max_lag_s
        self._cond = threading.Condition()
        self._batch_us = _check_batch_us(batch_us)
        self._schedule = Schedule(check_speed(speed))
        self._loop = bool(loop)
        self._playing = not paused
        self._pos = self.t_first_us
        self._offset = 0
        self._loops = 0
        self._steps = 0
        self._anchored = False
        self._closed = False
        self._seeks = 0
        self._dropped = 0

    # -- status -------------------------------------------------------------------------
    @property
    def position_us(self) -> int:
        """Start of the next window, in recording time (µs)."""
        with self._cond:
            return self._pos

    @property
    def duration_us(self) -> int:
        """Length of the played span (µs)."""
        return self.t_stop_us - self.t_first_us

    @property
    def loop_count(self) -> int:
        """How many times playback wrapped around."""
        with self._cond:
            return self._loops

    @property
    def loop_offset_us(self) -> int:
        """Shift added to recording timestamps in the current pass (µs)."""
        with self._cond:
            return self._offset

    @property
    def seek_count(self) -> int:
        """How many seeks were made (a consumer sees time jump back that many times at most)."""
        with self._cond:
            return self._seeks

    @property
    def is_playing(self) -> bool:
        """Whether playback runs (``False``: paused, or stepping)."""
        with self._cond:
            return self._playing

    @property
    def at_end(self) -> bool:
        """Whether the last window was released and playback does not loop."""
        with self._cond:
            return self._pos >= self.t_stop_us and not self._loop

    # -- controls -----------------------------------------------------------------------
    @property
    def speed(self) -> float:
        """Playback speed (× real time, 0.1–10); see :meth:`set_speed`."""
        return self._schedule.speed

    @speed.setter
    def speed(self, value: float) -> None:
        self.set_speed(value)

    def set_speed(self, speed: float) -> None:
        """0.1–10 × real time; a :class:`~snnstudio.events.sources.pacing.SpeedError` otherwise."""
        speed = check_speed(speed)
        with self._cond:
            if self._anchored and self._playing:
                self._schedule.set_speed(speed, self.clock.now())
            else:
                self._schedule.speed = speed
            self._cond.notify_all()

    @property
    def batch_us(self) -> int:
        """Length of each released window (µs)."""
        return self._batch_us

    @batch_us.setter
    def batch_us(self, value: int) -> None:
        value = _check_batch_us(value)
        with self._cond:
            self._batch_us = value
            self._cond.notify_all()

    @property
    def loop(self) -> bool:
        """Whether playback wraps around at the end (timestamps keep increasing)."""
        return self._loop

    @loop.setter
    def loop(self, value: bool) -> None:
        with self._cond:
            self._loop = bool(value)
            self._cond.notify_all()

    def play(self) -> None:
        """Resume paced playback from the current position."""
        with self._cond:
            if not self._playing:
                self._playing = True
                self._anchored = False  # the schedule restarts from the current position
            self._cond.notify_all()

    def pause(self) -> None:
        """Stop releasing windows (the position is kept)."""
        with self._cond:
            self._playing = False
            self._cond.notify_all()

    def toggle(self) -> None:
        """Pause when playing, play when paused."""
        with self._cond:
            playing = self._playing
        self.pause() if playing else self.play()

    def step(self, n: int = 1) -> None:
        """Pause (if playing) and release the next ``n`` windows at once, unpaced."""
        with self._cond:
            self._playing = False
            self._steps += max(0, int(n))
            self._cond.notify_all()

    def seek(self, t_us: int) -> None:
        """Jump to recording time ``t_us`` (clamped to the recording); the next window starts there."""
        t = int(t_us)
        with self._cond:
            self._pos = min(max(t, self.t_first_us), self.t_stop_us)
            self._anchored = False
            self._seeks += 1
            self._cond.notify_all()

    def close(self) -> None:
        """End :meth:`batches` (the recording stays in memory)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # -- the loop -----------------------------------------------------------------------
    def _count(self, t0: int, t1: int) -> int:
        i0, i1 = np.searchsorted(self._t, [t0, t1], side="left")
        return int(i1 - i0)

    def _next_window(self) -> tuple[int, int, int] | None:
        """With the lock held: wait until a window may go; return (start, end, offset) or None at the end."""
        while True:
            if self._closed:
                return None
            if self._pos >= self.t_stop_us:
                if self._loop and self.t_stop_us > self.t_first_us:
                    self._offset += self._pos - self.t_first_us
                    self._pos = self.t_first_us
                    self._loops += 1
                    continue
                if not self.hold_at_end:
                    return None
                self._playing = False
                self._steps = 0
                self._cond.wait()
                continue
            start, end = self._pos, self._pos + self._batch_us
            if self._steps > 0:
                self._steps -= 1
                self._anchored = False
                return start, end, self._offset
            if not self._playing:
                self._cond.wait()
                continue
            if not self.realtime:
                return start, end, self._offset
            now = self.clock.now()
            if not self._anchored:
                self._schedule.anchor(now, start + self._offset)
                self._anchored = True
            due = self._schedule.due(end + self._offset)
            if due > now:
                self.clock.wait(self._cond, due - now)
                continue
            if self.max_lag_s is not None and now - due > self.max_lag_s:
                # consumer too slow: skip the windows that are wholly late (keep the schedule)
                behind = self._schedule.event_time(now) - self._offset - end
                n_skip = max(1, int(behind // self._batch_us))
                new_pos = min(start + n_skip * self._batch_us, self.t_stop_us)
                self._dropped += self._count(start, new_pos)
                self._pos = new_pos
                continue
            return start, end, self._offset

    def batches(self) -> Iterator[EventBatch]:
        """Windows in time order until the end (or forever with ``loop``) or :meth:`close`."""
        while True:
            with self._cond:
                window = self._next_window()
                if window is None:
                    return
                start, end, offset = window
                self._pos = end
                dropped, self._dropped = self._dropped, 0
            i0, i1 = np.searchsorted(self._t, [start, end], side="left")
            events = self.recording.events[i0:i1]
            if offset:
                events = events.copy()
                events["t"] += offset
            else:
                events = events.view()
                events.flags.writeable = False
            yield EventBatch(events=events, t_start_us=start + offset, t_end_us=end + offset,
                             label=label_for_window(self.recording.labels, start, end), dropped=dropped)
