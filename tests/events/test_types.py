import numpy as np
import pytest

from snnstudio.events import EVENT_DTYPE, EventRecording, Label, make_events


def _rec():
    ev = make_events([10, 20, 20, 35], [0, 1, 2, 3], [5, 5, 6, 7], [1, 0, 1, 1])
    return EventRecording(ev, (128, 128), labels=[Label(3, 10, 30, "wave")])


def test_dtype_layout_is_the_documented_one():
    assert EVENT_DTYPE.names == ("t", "x", "y", "p")
    assert [EVENT_DTYPE[n] for n in EVENT_DTYPE.names] == [np.dtype("<i8"), np.dtype("<i2"), np.dtype("<i2"), np.dtype("i1")]


def test_recording_summary_numbers():
    r = _rec()
    assert len(r) == 4 and r.t_start_us == 10 and r.t_end_us == 35 and r.duration_us == 25
    assert (r.n_on, r.n_off) == (3, 1)
    assert r.width == 128 and r.height == 128


def test_time_slice_is_half_open():
    r = _rec()
    assert r.time_slice(20, 35)["t"].tolist() == [20, 20]
    assert r.time_slice(0, 11)["x"].tolist() == [0]


def test_wrong_dtype_is_rejected():
    with pytest.raises(TypeError):
        EventRecording(np.zeros(3), (1, 1))


def test_timestamps_cache_follows_reassigned_events():
    r = _rec()
    assert r.timestamps.flags["C_CONTIGUOUS"] and r.timestamps.tolist() == [10, 20, 20, 35]
    assert r.timestamps is r.timestamps
    r.events = make_events([1, 2], [0, 0], [0, 0], [0, 1])
    assert r.timestamps.tolist() == [1, 2]
    assert r.time_slice(2, 3)["p"].tolist() == [1]
