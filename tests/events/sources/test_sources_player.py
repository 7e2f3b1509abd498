"""FilePlayer: pacing (fake clock), pause/step, seek, loop, speed, labels, stop, late consumers."""

from __future__ import annotations

import queue
import threading
import time

import numpy as np
import pytest
from sources_helpers import make_recording, windows

from snnstudio.events.sources import FilePlayer, ManualClock, SpeedError, label_for_window
from snnstudio.events.types import EventRecording, Label, empty_events


def _concat(batches):
    return np.concatenate([b.events for b in batches]) if batches else empty_events()


class Consumer:
    """Iterates a player in a thread; batches arrive in a queue."""

    def __init__(self, player):
        self.player = player
        self.q: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        for b in self.player.batches():
            self.q.put(b)
        self.q.put(None)

    def get(self, timeout=2.0):
        return self.q.get(timeout=timeout)

    def nothing_for(self, seconds=0.15) -> bool:
        try:
            self.q.get(timeout=seconds)
        except queue.Empty:
            return True
        return False


@pytest.mark.parametrize("speed", [1.0, 4.0])
def test_batches_are_released_at_window_end_over_speed(recording, speed):
    clock = ManualClock(100.0)
    player = FilePlayer(recording, batch_us=10_000, speed=speed, clock=clock)
    times, got = [], []
    for b in player.batches():
        times.append(clock.now())
        got.append(b)
    oracle = windows(recording, 10_000)
    assert [(b.t_start_us, b.t_end_us) for b in got] == [(w.t_start_us, w.t_end_us) for w in oracle]
    expected = [100.0 + (k + 1) * 0.010 / speed for k in range(len(got))]
    assert times == pytest.approx(expected, abs=1e-9)
    for b, w in zip(got, oracle):
        assert np.array_equal(b.events, w.events)
    assert player.at_end and player.position_us >= recording.t_end_us


def test_unpaced_playback_yields_the_recording_exactly(recording):
    player = FilePlayer(recording, batch_us=7_000, realtime=False)
    got = list(player.batches())
    assert np.array_equal(_concat(got), recording.events)
    assert all(b.t_end_us - b.t_start_us == 7_000 for b in got)
    assert all(a.t_end_us == b.t_start_us for a, b in zip(got, got[1:]))


def test_pause_holds_step_releases_one_and_play_resumes(recording):
    clock = ManualClock(0.0)
    player = FilePlayer(recording, batch_us=10_000, clock=clock, paused=True)
    c = Consumer(player)
    assert c.nothing_for(0.15)  # paused: nothing comes
    assert player.position_us == recording.t_start_us
    player.step()
    first = c.get()
    assert (first.t_start_us, first.t_end_us) == (recording.t_start_us, recording.t_start_us + 10_000)
    assert c.nothing_for(0.15)  # one step releases exactly one window
    assert player.position_us == recording.t_start_us + 10_000
    player.step(2)
    assert [c.get().t_start_us for _ in range(2)] == [recording.t_start_us + 10_000, recording.t_start_us + 20_000]
    assert c.nothing_for(0.1)
    resumed_at = clock.now()
    player.play()
    nxt = c.get()
    assert nxt.t_start_us == recording.t_start_us + 30_000
    # the schedule restarts at the resume: the next window goes one window later, not at once
    assert clock.now() >= resumed_at + 0.010 - 1e-9
    player.pause()
    held_at = player.position_us
    time.sleep(0.1)
    while not c.q.empty():
        c.q.get()
    assert c.nothing_for(0.15)
    assert player.position_us == held_at
    player.close()
    c.thread.join(2.0)
    assert not c.thread.is_alive()


@pytest.mark.parametrize("offset_us", [0, 12_345, 150_000])
def test_seek_lands_on_the_right_events(recording, offset_us):
    player = FilePlayer(recording, batch_us=10_000, realtime=False)
    it = player.batches()
    next(it), next(it)
    target = recording.t_start_us + offset_us
    seeks = player.seek_count
    player.seek(target)
    b = next(it)
    assert (b.t_start_us, b.t_end_us) == (target, target + 10_000)
    assert np.array_equal(b.events, recording.time_slice(target, target + 10_000))
    assert player.seek_count == seeks + 1
    rest = [b, *it]
    assert np.array_equal(_concat(rest), recording.time_slice(target, recording.t_end_us + 1))


def test_seek_is_clamped_to_the_recording(recording):
    player = FilePlayer(recording, realtime=False)
    player.seek(-10**12)
    assert player.position_us == recording.t_start_us
    player.seek(10**15)
    assert player.position_us == recording.t_end_us + 1
    assert list(player.batches()) == []


def test_loop_wraps_with_continuous_timestamps(recording):
    player = FilePlayer(recording, batch_us=10_000, realtime=False, loop=True)
    got = []
    for b in player.batches():
        got.append(b)
        if player.loop_count == 2:
            break
    assert all(a.t_end_us == b.t_start_us for a, b in zip(got, got[1:]))  # no jump at the wrap
    period = player.loop_offset_us // 2
    n_windows = len(windows(recording, 10_000))
    assert period == n_windows * 10_000
    first_pass, second_pass = _concat(got[:n_windows]), _concat(got[n_windows: 2 * n_windows])
    assert np.array_equal(first_pass, recording.events)
    shifted = recording.events.copy()
    shifted["t"] += period
    assert np.array_equal(second_pass, shifted)
    assert np.all(np.diff(_concat(got)["t"]) >= 0)


def test_loop_wrap_after_an_unaligned_seek_stays_continuous(recording):
    player = FilePlayer(recording, batch_us=10_000, realtime=False, loop=True)
    player.seek(recording.t_start_us + 3_333)
    got = []
    for b in player.batches():
        got.append(b)
        if player.loop_count == 1 and len(got) > 30:
            break
    assert all(a.t_end_us == b.t_start_us for a, b in zip(got, got[1:]))


def test_speed_bounds_enforced_and_change_applies_midstream(recording):
    with pytest.raises(SpeedError):
        FilePlayer(recording, speed=20)
    clock = ManualClock(0.0)
    player = FilePlayer(recording, batch_us=10_000, clock=clock)
    for bad in (0.05, 11, float("nan")):
        with pytest.raises(SpeedError):
            player.set_speed(bad)
    assert player.speed == 1.0
    times = []
    for i, _ in enumerate(player.batches()):
        times.append(clock.now())
        if i == 1:
            player.speed = 10
        if i == 4:
            break
    assert np.diff(times) == pytest.approx([0.010, 0.001, 0.001, 0.001])


def test_batch_duration_can_change_and_is_validated(recording):
    player = FilePlayer(recording, batch_us=10_000, realtime=False)
    it = player.batches()
    a = next(it)
    player.batch_us = 2_500
    b = next(it)
    assert (a.t_end_us - a.t_start_us, b.t_end_us - b.t_start_us) == (10_000, 2_500)
    assert b.t_start_us == a.t_end_us
    for bad in (0, -5, "x"):
        with pytest.raises(ValueError):
            player.batch_us = bad


def test_labels_come_from_the_range_containing_the_batch(recording):
    got = list(FilePlayer(recording, batch_us=10_000, realtime=False).batches())
    mid = recording.t_start_us + 100_000  # make_recording's label boundary (t0 + duration/2)
    checked = 0
    for b in got:
        expected = 3 if b.t_end_us <= mid else 7 if b.t_start_us >= mid else None
        if expected is not None:
            assert b.label == expected, b.t_start_us
            checked += 1
    assert checked >= len(got) - 2
    assert {b.label for b in got} == {3, 7}
    assert FilePlayer(recording).class_names == {3: "left", 7: "right"}


def test_label_for_window_picks_the_largest_overlap_or_none():
    labs = [Label(1, 0, 100), Label(2, 100, 200)]
    assert label_for_window(labs, 10, 20) == 1
    assert label_for_window(labs, 90, 120) == 2
    assert label_for_window(labs, 95, 105) == 1  # tie → earlier
    assert label_for_window(labs, 300, 400) is None
    assert label_for_window([], 0, 10) is None


def test_close_from_another_thread_ends_playback_promptly():
    rec = make_recording(n=50, duration_us=60_000_000)
    player = FilePlayer(rec, batch_us=10_000_000, speed=0.1)  # first window due after 100 s
    c = Consumer(player)
    time.sleep(0.05)
    t0 = time.monotonic()
    player.close()
    assert c.get() is None
    c.thread.join(1.0)
    assert not c.thread.is_alive() and time.monotonic() - t0 < 0.5


def test_hold_at_end_waits_for_a_seek(recording):
    player = FilePlayer(recording, batch_us=50_000, realtime=False, hold_at_end=True)
    c = Consumer(player)
    n = len(windows(recording, 50_000))
    assert [c.get() is not None for _ in range(n)] == [True] * n
    assert c.nothing_for(0.15)
    assert not player.is_playing
    player.seek(recording.t_start_us)
    player.play()
    again = c.get()
    assert again.t_start_us == recording.t_start_us
    player.close()
    c.thread.join(2.0)
    assert not c.thread.is_alive()


def test_late_consumer_skips_windows_and_reports_them_dropped(recording):
    clock = ManualClock(0.0)
    player = FilePlayer(recording, batch_us=10_000, clock=clock, max_lag_s=0.02)
    got = []
    for b in player.batches():
        got.append(b)
        if len(got) == 3:
            clock.advance(0.1)  # the consumer stalls 100 ms
    assert sum(len(b.events) + b.dropped for b in got) == len(recording)
    assert got[3].dropped > 0
    skipped = got[3].t_start_us - got[2].t_end_us
    assert got[3].dropped == len(recording.time_slice(got[2].t_end_us, got[3].t_start_us))
    assert skipped % 10_000 == 0 and skipped >= 70_000  # at most max_lag (+1 window) stays late
    # never skipping: the same stall just delays playback, nothing is lost
    clock2 = ManualClock(0.0)
    slow = FilePlayer(recording, batch_us=10_000, clock=clock2, max_lag_s=None)
    out = []
    for b in slow.batches():
        out.append(b)
        if len(out) == 3:
            clock2.advance(0.1)
    assert sum(b.dropped for b in out) == 0 and np.array_equal(_concat(out), recording.events)


def test_empty_recording_plays_nothing_even_looping():
    rec = EventRecording(empty_events(), (8, 8))
    assert list(FilePlayer(rec, loop=True, realtime=False).batches()) == []


def test_batches_do_not_let_the_consumer_modify_the_recording(recording):
    b = next(FilePlayer(recording, realtime=False).batches())
    with pytest.raises(ValueError):
        b.events["x"][0] = 1


@pytest.mark.parametrize("name", ["davis346_sample.aedat4", "dvs128_walking_jaer.aedat"])
def test_plays_real_recordings_losslessly(samples_dir, name):
    from snnstudio.events.io import read_events

    rec = read_events(samples_dir / name)
    got = list(FilePlayer(samples_dir / name, batch_us=5_000, realtime=False).batches())
    assert np.array_equal(_concat(got), rec.events)
    assert all(a.t_end_us == b.t_start_us for a, b in zip(got, got[1:]))


def test_real_clock_playback_takes_duration_over_speed():
    rec = make_recording(n=400, duration_us=400_000)
    t0 = time.monotonic()
    got = list(FilePlayer(rec, batch_us=20_000, speed=4.0).batches())
    elapsed = time.monotonic() - t0
    assert sum(len(b.events) + b.dropped for b in got) == len(rec)
    assert 0.09 <= elapsed < 0.6  # 400 ms of events at 4x = 100 ms (+ scheduling slack)


def test_class_names_from_recording_meta_win_over_label_names(recording):
    recording.meta["class_names"] = {"3": "hand clap", 7: "arm roll"}
    assert FilePlayer(recording).class_names == {3: "hand clap", 7: "arm roll"}


def test_controls_from_another_thread_keep_every_batch_consistent(recording):
    """Hammer the controls while a worker plays (looping): every batch must still be an exact,
    shifted window of the recording, and close() must end it all."""
    rng = np.random.default_rng(1)
    player = FilePlayer(recording, batch_us=5_000, loop=True, clock=ManualClock(0.0))
    got = []

    def consume():
        for b in player.batches():
            # only this thread's generator changes the loop shift, so this is the batch's shift
            got.append((b, player.loop_offset_us))

    worker = threading.Thread(target=consume, daemon=True)
    worker.start()
    t_end = time.monotonic() + 0.4
    while time.monotonic() < t_end:
        action = rng.integers(6)
        if action == 0:
            player.seek(int(rng.integers(recording.t_start_us - 1000, recording.t_end_us + 1000)))
        elif action == 1:
            player.pause()
        elif action == 2:
            player.play()
        elif action == 3:
            player.set_speed(float(rng.uniform(0.1, 10)))
        elif action == 4:
            player.batch_us = int(rng.integers(1_000, 20_000))
        else:
            player.step()
        time.sleep(0.001)
    player.close()
    worker.join(2.0)
    assert not worker.is_alive()
    assert len(got) > 20
    for b, off in got:
        window = recording.time_slice(b.t_start_us - off, b.t_end_us - off).copy()
        window["t"] += off
        assert np.array_equal(b.events, window)
