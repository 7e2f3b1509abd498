"""RealtimePacer (fake clock: exact release times) and BufferedSource (bounded queue, drops, errors, stop)."""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest
from sources_helpers import ListSource, make_recording, windows

from snnstudio.errors import SnnStudioError, SourceError
from snnstudio.events.sources import BufferedSource, ManualClock, RealtimePacer, SpeedError, check_speed
from snnstudio.events.sources.pacing import Schedule


@pytest.mark.parametrize("speed", [1.0, 4.0, 0.5])
def test_pacer_releases_each_batch_at_its_end_time_over_speed(recording, speed):
    wins = windows(recording, 10_000)
    clock = ManualClock(500.0)
    pacer = RealtimePacer(ListSource(wins), speed=speed, clock=clock)
    released = [(clock.now(), b) for b in pacer.batches()]
    assert len(released) == len(wins)
    t0 = wins[0].t_start_us
    for (when, b), w in zip(released, wins):
        assert b is w
        # hand-worked: anchor at the first window start, 10 ms windows → k·10 ms / speed
        assert when == pytest.approx(500.0 + (w.t_end_us - t0) / 1e6 / speed, abs=1e-9)


def test_pacer_speed_change_midway_keeps_time_continuous(recording):
    wins = windows(recording, 10_000)
    clock = ManualClock(0.0)
    pacer = RealtimePacer(ListSource(wins), speed=1.0, clock=clock)
    times = []
    for i, _ in enumerate(pacer.batches()):
        times.append(clock.now())
        if i == 2:
            pacer.speed = 2.0
    gaps = np.diff(times)
    assert gaps[:2] == pytest.approx([0.010, 0.010])
    assert gaps[2:] == pytest.approx([0.005] * (len(gaps) - 2))


@pytest.mark.parametrize("bad", [0.09, 10.01, 0, -1, float("nan"), float("inf"), "fast", None])
def test_speed_outside_bounds_is_a_typed_error(bad):
    with pytest.raises(SpeedError) as info:
        check_speed(bad)
    assert isinstance(info.value, SnnStudioError)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("ok", [0.1, 1, 10])
def test_speed_bounds_are_inclusive(ok):
    assert check_speed(ok) == float(ok)


def test_schedule_maps_event_time_to_wall_time_both_ways():
    s = Schedule(speed=2.0)
    s.anchor(10.0, 1_000_000)
    assert s.due(1_500_000) == pytest.approx(10.25)
    assert s.event_time(10.25) == pytest.approx(1_500_000)
    s.set_speed(0.5, 10.25)  # re-anchored where it was: no jump
    assert s.due(1_500_000) == pytest.approx(10.25)
    assert s.due(1_600_000) == pytest.approx(10.45)


def test_pacer_skips_late_batches_and_counts_their_events(recording):
    wins = windows(recording, 10_000)
    clock = ManualClock(0.0)
    pacer = RealtimePacer(ListSource(wins), clock=clock, max_lag_s=0.025)
    got = []
    for i, b in enumerate(pacer.batches()):
        got.append(b)
        if i == 2:
            clock.advance(0.1)  # the consumer stalls for 100 ms
    # windows due more than 25 ms before the consumer is back are skipped: ends at 40..100 ms
    skipped = [w for w in wins if 0.04 <= (w.t_end_us - wins[0].t_start_us) / 1e6 < 0.13 - 0.025 + 1e-9]
    assert [b.t_start_us for b in got[3:4]] == [skipped[-1].t_end_us]
    assert got[3].dropped == sum(len(w.events) for w in skipped)
    assert sum(len(b.events) + b.dropped for b in got) == len(recording)


def test_pacer_close_from_another_thread_ends_a_long_wait():
    rec = make_recording(n=10, duration_us=100_000_000)
    pacer = RealtimePacer(ListSource(windows(rec, 50_000_000)), speed=0.1)
    got = []
    th = threading.Thread(target=lambda: got.extend(pacer.batches()))
    th.start()
    time.sleep(0.1)
    t0 = time.monotonic()
    pacer.close()
    th.join(2.0)
    assert not th.is_alive()
    assert time.monotonic() - t0 < 1.0
    assert got == []  # the first window was due only after 500 s


def _batch(i: int, n: int = 5) -> "EventBatch":  # noqa: F821
    from snnstudio.events.sources.base import EventBatch
    from snnstudio.events.types import make_events

    t = np.arange(n) + i * 100
    return EventBatch(make_events(t, np.zeros(n), np.zeros(n), np.ones(n)), i * 100, i * 100 + 100)


def test_buffer_drops_oldest_when_the_consumer_is_slow_and_stays_bounded():
    produced = [_batch(i) for i in range(200)]
    inner = ListSource(produced)
    buf = BufferedSource(inner, max_batches=8)
    buf.start()
    assert inner.finished.wait(5.0)  # the consumer has not pulled anything yet
    assert buf.queued == 8  # bounded however far behind the consumer is
    got = list(buf.batches())
    assert [b.t_start_us for b in got] == [b.t_start_us for b in produced[-8:]]
    assert got[0].dropped == 192 * 5
    assert all(b.dropped == 0 for b in got[1:])
    assert buf.dropped_total == 192 * 5
    assert sum(len(b.events) + b.dropped for b in got) == 200 * 5


def test_buffer_bounds_queued_events_too():
    produced = [_batch(i, n=10) for i in range(50)]
    inner = ListSource(produced)
    buf = BufferedSource(inner, max_batches=1000, max_events=35)
    buf.start()
    assert inner.finished.wait(5.0)
    got = list(buf.batches())
    assert sum(len(b.events) for b in got) <= 35 + 10
    assert sum(len(b.events) + b.dropped for b in got) == 500


def test_buffer_delivers_everything_to_a_fast_consumer_in_order(recording):
    wins = windows(recording)
    got = list(BufferedSource(ListSource(wins), max_batches=4).batches())
    assert sum(b.dropped for b in got) + sum(len(b.events) for b in got) == len(recording)
    delivered = np.concatenate([b.events for b in got])
    # dropping is allowed, reordering is not
    assert np.all(np.diff(delivered["t"]) >= 0)


def test_buffer_reraises_source_error_after_the_batches_before_it():
    produced = [_batch(i) for i in range(5)]
    buf = BufferedSource(ListSource(produced, error=SourceError("camera unplugged")), max_batches=100)
    got = []
    with pytest.raises(SourceError, match="camera unplugged"):
        for b in buf.batches():
            got.append(b)
    assert [b.t_start_us for b in got] == [b.t_start_us for b in produced]
    assert not buf._thread.is_alive()


def test_buffer_close_from_another_thread_stops_producer_and_consumer():
    inner = ListSource([_batch(0)], block=True)  # then blocks until closed, like an idle camera
    buf = BufferedSource(inner)
    got = []
    th = threading.Thread(target=lambda: got.extend(buf.batches()))
    th.start()
    deadline = time.monotonic() + 2
    while not got and time.monotonic() < deadline:
        time.sleep(0.01)
    t0 = time.monotonic()
    buf.close()
    th.join(2.0)
    assert not th.is_alive() and time.monotonic() - t0 < 1.0
    assert inner.closed.is_set()
    assert not buf._thread.is_alive()
    assert len(got) == 1


def test_buffer_rejects_an_empty_queue_size():
    with pytest.raises(ValueError):
        BufferedSource(ListSource([]), max_batches=0)


def test_breaking_out_of_iteration_stops_the_producer():
    inner = ListSource([_batch(i) for i in range(3)], block=True)
    buf = BufferedSource(inner)
    it = buf.batches()
    next(it)
    it.close()  # what `break` does to the generator
    assert inner.closed.is_set()
    assert not buf._thread.is_alive()
    assert math.isfinite(buf.join_timeout_s)
