"""Real-time pacing and back-pressure: wrappers that give every :class:`EventSource` them.

* :class:`RealtimePacer` releases each batch when the wall clock reaches the batch's end
  time (its own timestamps, µs) scaled by ``speed`` (0.1×–10×); batches that are more than
  ``max_lag_s`` late are skipped, their events counted in the next batch's ``dropped``.
* :class:`BufferedSource` runs a source in a producer thread and hands batches to the
  consumer through a bounded queue; when the consumer falls behind, the *oldest* queued
  batches are discarded (a live view wants the freshest data) and counted in ``dropped``,
  so memory stays bounded however slow the consumer is.

Both take a *clock* (:class:`MonotonicClock` by default; :class:`ManualClock` in tests) so
that timing is testable without sleeping. Waits are on condition variables (never busy
loops) and :meth:`close` from any thread ends iteration promptly.

Hand-written: no maintained library paces timestamped batches against a clock with
interruptible waits and speed changes; the logic is small (an anchor and a scale).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import deque
from collections.abc import Iterator
from typing import Protocol

from snnstudio.errors import SnnStudioError
from snnstudio.events.sources.base import EventBatch, EventSource

MIN_SPEED = 0.1
MAX_SPEED = 10.0


class SpeedError(SnnStudioError, ValueError):
    """A playback speed outside 0.1×–10×."""


def check_speed(speed: float) -> float:
    """``speed`` as a float, or :class:`SpeedError` when outside [0.1, 10]."""
    try:
        s = float(speed)
    except (TypeError, ValueError):
        raise SpeedError(f"playback speed must be a number, got {speed!r}") from None
    if not (MIN_SPEED <= s <= MAX_SPEED):  # also rejects NaN
        raise SpeedError(f"playback speed {speed!r} is outside {MIN_SPEED}x-{MAX_SPEED:g}x")
    return s


class Clock(Protocol):
    """Wall time in seconds and an interruptible wait on a condition variable."""

    def now(self) -> float:
        """Seconds on a monotonic clock."""
        ...

    def wait(self, cond: threading.Condition, timeout: float) -> None:
        """Wait up to ``timeout`` s with ``cond`` held (a notify may end it early)."""


class MonotonicClock:
    """The real clock: ``time.monotonic`` and ``Condition.wait``."""

    def now(self) -> float:
        """``time.monotonic()`` (s)."""
        return time.monotonic()

    def wait(self, cond: threading.Condition, timeout: float) -> None:
        """``cond.wait(timeout)``: up to ``timeout`` s, or until notified."""
        cond.wait(max(0.0, timeout))


class ManualClock:
    """A fake clock for tests: time moves only by :meth:`advance` and by waits.

    ``wait(cond, timeout)`` advances the time by ``timeout`` and returns at once, so a paced
    loop runs at full speed while seeing exactly the times it asked for.
    """

    def __init__(self, start: float = 1000.0):
        self._t = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        """The fake time (s)."""
        with self._lock:
            return self._t

    def advance(self, seconds: float) -> None:
        """Move the fake time forward by ``seconds`` (negative values count as 0)."""
        with self._lock:
            self._t += max(0.0, float(seconds))

    def wait(self, cond: threading.Condition, timeout: float) -> None:
        """Advance the fake time by ``timeout`` s and return at once."""
        self.advance(timeout)


@dataclasses.dataclass
class Schedule:
    """Maps event time (µs) to wall time (s): ``wall = anchor_wall + (t - anchor_us) / (speed·1e6)``."""

    speed: float = 1.0
    anchor_wall: float = 0.0
    anchor_us: int = 0

    def anchor(self, wall: float, t_us: int) -> None:
        """Pin event time ``t_us`` (µs) to wall time ``wall`` (s): the schedule restarts from there."""
        self.anchor_wall, self.anchor_us = float(wall), int(t_us)

    def due(self, t_us: int) -> float:
        """Wall time at which event time ``t_us`` is reached."""
        return self.anchor_wall + (t_us - self.anchor_us) / (self.speed * 1e6)

    def event_time(self, wall: float) -> float:
        """Event time (µs) reached at wall time ``wall``."""
        return self.anchor_us + (wall - self.anchor_wall) * self.speed * 1e6

    def set_speed(self, speed: float, wall: float) -> None:
        """Change speed without a jump: re-anchor at the event time reached at ``wall``."""
        t = self.event_time(wall)
        self.speed = check_speed(speed)
        self.anchor(wall, int(round(t)))


class RealtimePacer(EventSource):
    """Releases the batches of ``source`` in real time by their own timestamps.

    Batch *k* is released when the clock reaches ``due(t_end_us)`` (the window is complete
    then). The first batch anchors the schedule at its ``t_start_us``, and so does a batch
    that starts before the previous one ended (time went backwards). A batch more than
    ``max_lag_s`` seconds late (slow consumer) is skipped and its events are added to the
    next delivered batch's ``dropped``; ``max_lag_s=None`` never skips (playback then runs
    slower than real time instead). ``speed`` may be changed from any thread.
    """

    def __init__(self, source: EventSource, speed: float = 1.0, *, clock: Clock | None = None,
                 max_lag_s: float | None = 0.5):
        self.source = source
        self.sensor_size = source.sensor_size
        self.class_names = getattr(source, "class_names", None)
        self.clock: Clock = clock or MonotonicClock()
        self.max_lag_s = max_lag_s
        self._schedule = Schedule(check_speed(speed))
        self._cond = threading.Condition()
        self._closed = False
        self._anchored = False
        self.live = getattr(source, "live", False)

    def __getattr__(self, name: str):
        """Everything else (``camera_name``, a player's controls ...) is the wrapped source's."""
        if name == "source":
            raise AttributeError(name)
        return getattr(self.source, name)

    @property
    def speed(self) -> float:
        """Playback speed (× real time); setting it keeps the current position on schedule."""
        return self._schedule.speed

    @speed.setter
    def speed(self, value: float) -> None:
        with self._cond:
            if self._anchored:
                self._schedule.set_speed(value, self.clock.now())
            else:
                self._schedule.speed = check_speed(value)
            self._cond.notify_all()

    def batches(self) -> Iterator[EventBatch]:
        """The source's batches, each released when its end is due on the clock; batches later than ``max_lag_s``
        are dropped (counted in the next batch's ``dropped``)."""
        dropped = 0
        prev_end: int | None = None
        for batch in self.source.batches():
            with self._cond:
                if self._closed:
                    return
                if not self._anchored or (prev_end is not None and batch.t_start_us < prev_end):
                    # first batch, or time went backwards (a seek, a restarted source): re-anchor
                    self._schedule.anchor(self.clock.now(), batch.t_start_us)
                    self._anchored = True
                prev_end = batch.t_end_us
                while not self._closed:
                    remaining = self._schedule.due(batch.t_end_us) - self.clock.now()
                    if remaining <= 0:
                        break
                    self.clock.wait(self._cond, remaining)
                if self._closed:
                    return
                late = self.clock.now() - self._schedule.due(batch.t_end_us)
            if self.max_lag_s is not None and late > self.max_lag_s:
                dropped += batch.dropped + len(batch.events)
                continue
            if dropped:
                batch = dataclasses.replace(batch, dropped=batch.dropped + dropped)
                dropped = 0
            yield batch

    def close(self) -> None:
        """Stop pacing (a waiting :meth:`batches` returns) and close the source."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self.source.close()


class _End:
    """Marker: the producer finished (``error`` set when it failed)."""

    def __init__(self, error: BaseException | None = None):
        self.error = error


class BufferedSource(EventSource):
    """Runs ``source`` in a daemon producer thread with a bounded queue between it and the consumer.

    At most ``max_batches`` batches (and, if given, ``max_events`` events) wait in the queue;
    when a new batch would exceed that, the oldest queued batches are discarded and their
    events added to the ``dropped`` count of the batch that then heads the queue. So
    ``sum(len(b.events) + b.dropped)`` over what the consumer receives equals what the source
    produced (events lost after the last delivered batch are not counted anywhere).

    An error raised by the source (:class:`~snnstudio.errors.SourceError`: camera unplugged)
    is re-raised to the consumer *after* the batches queued before it. :meth:`close` stops the
    producer, closes the source and joins the thread; so does the end of ``batches()`` (also
    by ``break``): a buffered source is iterated once. Other attributes (a player's controls,
    ``camera_name``) are forwarded to the wrapped source.
    """

    def __init__(self, source: EventSource, max_batches: int = 64, max_events: int | None = None,
                 join_timeout_s: float = 5.0):
        if max_batches < 1:
            raise ValueError("max_batches must be >= 1")
        self.source = source
        self.sensor_size = source.sensor_size
        self.class_names = getattr(source, "class_names", None)
        self.live = getattr(source, "live", True)
        self.max_batches = int(max_batches)
        self.max_events = max_events
        self.join_timeout_s = join_timeout_s
        self._cond = threading.Condition()
        self._queue: deque[EventBatch] = deque()
        self._queued_events = 0
        self._end: _End | None = None
        self._closed = False
        self._thread: threading.Thread | None = None
        #: total events discarded so far (also reported per batch in ``dropped``)
        self.dropped_total = 0

    def __getattr__(self, name: str):
        """Everything else (``camera_name``, a player's controls ...) is the wrapped source's."""
        if name == "source":
            raise AttributeError(name)
        return getattr(self.source, name)

    # -- producer ---------------------------------------------------------------------
    def _overfull(self) -> bool:
        if len(self._queue) > self.max_batches:
            return True
        return self.max_events is not None and self._queued_events > self.max_events

    def _produce(self) -> None:
        end = _End()
        try:
            for batch in self.source.batches():
                with self._cond:
                    if self._closed:
                        break
                    self._queue.append(batch)
                    self._queued_events += len(batch.events)
                    while len(self._queue) > 1 and self._overfull():
                        old = self._queue.popleft()
                        self._queued_events -= len(old.events)
                        lost = old.dropped + len(old.events)
                        self.dropped_total += len(old.events)
                        head = self._queue[0]
                        self._queue[0] = dataclasses.replace(head, dropped=head.dropped + lost)
                    self._cond.notify_all()
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            end = _End(exc)
        with self._cond:
            self._end = end
            self._cond.notify_all()

    def start(self) -> None:
        """Start the producer thread (``batches()`` does it on first use)."""
        with self._cond:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._produce, name="snnstudio-source", daemon=True)
                self._thread.start()

    @property
    def queued(self) -> int:
        """Batches waiting in the queue now."""
        with self._cond:
            return len(self._queue)

    # -- consumer ---------------------------------------------------------------------
    def batches(self) -> Iterator[EventBatch]:
        """Start the producer thread and yield its queued batches in order; re-raises the producer's error at the
        end."""
        self.start()
        try:
            while True:
                with self._cond:
                    while not self._queue and self._end is None and not self._closed:
                        self._cond.wait()
                    if self._queue:
                        batch = self._queue.popleft()
                        self._queued_events -= len(batch.events)
                    elif self._closed:
                        return
                    else:
                        error = self._end.error if self._end is not None else None
                        if error is not None:
                            raise error
                        return
                yield batch
        finally:
            self.close()

    def close(self) -> None:
        """Close the source and wait up to ``join_timeout_s`` for the producer thread."""
        with self._cond:
            already = self._closed
            self._closed = True
            self._cond.notify_all()
        if not already:
            self.source.close()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.join_timeout_s)
