import numpy as np
import pytest

from snnstudio.engine.windows import RecordingWindows, StreamWindows, count_frame
from snnstudio.events.types import Label, make_events

from engine_helpers import ChunkedSource, random_recording


def test_count_frame_matches_add_at_oracle():
    rec = random_recording(n=5000)
    frame = count_frame(rec.events, rec.sensor_size)
    w, h = rec.sensor_size
    oracle = np.zeros((2, h, w), np.float32)
    np.add.at(oracle, (rec.events["p"], rec.events["y"], rec.events["x"]), 1)
    assert frame.shape == (2, h, w)
    np.testing.assert_array_equal(frame, oracle)


def test_count_frame_hand_worked():
    ev = make_events([0, 1, 2, 3], [0, 0, 2, 2], [1, 1, 0, 0], [1, 1, 0, 1])
    f = count_frame(ev, (3, 2))
    assert f[1, 1, 0] == 2 and f[0, 0, 2] == 1 and f[1, 0, 2] == 1 and f.sum() == 4


def test_recording_windows_partition_the_events_and_carry_labels():
    rec = random_recording(labels=[Label(3, 100_000, 300_000, "wave")])
    w = RecordingWindows(rec)
    got, times = [], []
    while (win := w.next_window(10_000)) is not None:
        got.append(win.events)
        times.append((win.t_start_us, win.t_end_us, win.label))
    np.testing.assert_array_equal(np.concatenate(got), rec.events)
    assert all(t1 - t0 == 10_000 for t0, t1, _ in times)
    assert all(times[i][1] == times[i + 1][0] for i in range(len(times) - 1))
    labels = {lab for t0, t1, lab in times if 100_000 <= t0 and t1 <= 300_000}
    assert labels == {3}
    assert times[0][2] is None
    assert w.class_names == {3: "wave"}


def test_recording_windows_seek_is_exact():
    rec = random_recording()
    w = RecordingWindows(rec)
    w.seek(123_000)
    win = w.next_window(7_000)
    np.testing.assert_array_equal(win.events, rec.time_slice(123_000, 130_000))


@pytest.mark.parametrize("dt", [1_000, 10_000, 50_000])
def test_stream_windows_equal_recording_windows(dt):
    rec = random_recording()
    a, b = RecordingWindows(rec), StreamWindows(ChunkedSource(rec))
    n = 0
    while (wa := a.next_window(dt)) is not None:
        wb = b.next_window(dt)
        assert wb is not None and (wb.t_start_us, wb.t_end_us) == (wa.t_start_us, wa.t_end_us)
        np.testing.assert_array_equal(wb.events, wa.events)
        n += 1
    assert n > 5
    # the source's last batch may cover time past the last event: those windows are empty
    tail = []
    while (wb := b.next_window(dt)) is not None:
        tail.append(wb)
        assert len(tail) < 100
    assert all(len(w.events) == 0 for w in tail)


def test_stream_windows_cannot_seek():
    from snnstudio.errors import SourceError

    with pytest.raises(SourceError):
        StreamWindows(ChunkedSource(random_recording())).seek(0)
