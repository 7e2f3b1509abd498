"""Framing: hand-worked counts, tonic's ToFrame as oracle where the semantics match, and the
streaming binner against one-shot binning."""

from __future__ import annotations

import numpy as np
import pytest

from snnstudio.events.frames import (
    OFF,
    ON,
    FrameConfig,
    FramingError,
    StreamingBinner,
    ToFrames,
    bin_events,
    frame_starts_us,
)
from snnstudio.events.types import EVENT_DTYPE, make_events

tonic_to_frame = pytest.importorskip("tonic.functional.to_frame").to_frame_numpy


def random_events(n, w=32, h=24, t_max=100_000, seed=0, t0=0):
    rng = np.random.default_rng(seed)
    return make_events(
        np.sort(rng.integers(0, t_max, n)) + t0, rng.integers(0, w, n), rng.integers(0, h, n), rng.integers(0, 2, n)
    )


def reference_frames(events, sensor, frame_of):
    """Slow per-event oracle: frames[k, p, y, x] += 1 for every k in frame_of(i)."""
    w, h = sensor
    frames = {}
    for i, e in enumerate(events):
        for k in frame_of(i, int(e["t"])):
            frames.setdefault(k, np.zeros((2, h, w), np.float32))[int(e["p"]), int(e["y"]), int(e["x"])] += 1
    return frames


# --- hand-built events -------------------------------------------------------------------------


def test_fixed_window_hand_counts_and_channel_order():
    # dt = 10 µs: windows [0,10) [10,20) [20,30); events sit exactly on the edges
    ev = make_events([0, 9, 10, 10, 19, 20], [1, 1, 2, 2, 0, 3], [0, 0, 1, 1, 2, 0], [1, 1, 0, 1, 0, 1])
    f = bin_events(ev, (4, 3), dt_us=10)
    assert f.shape == (3, 2, 3, 4) and f.dtype == np.float32
    expected = np.zeros((3, 2, 3, 4), np.float32)
    expected[0, ON, 0, 1] = 2  # t=0 and t=9 at (x=1, y=0)
    expected[1, OFF, 1, 2] = 1  # t=10
    expected[1, ON, 1, 2] = 1  # t=10
    expected[1, OFF, 2, 0] = 1  # t=19
    expected[2, ON, 0, 3] = 1  # t=20 opens the third window
    np.testing.assert_array_equal(f, expected)
    np.testing.assert_array_equal(frame_starts_us(ev, FrameConfig(dt_us=10)), [0, 10, 20])


def test_binary_clips_counts():
    ev = make_events([0, 1, 2], [0, 0, 1], [0, 0, 0], [1, 1, 1])
    f = bin_events(ev, (2, 1), dt_us=10, binary=True)
    np.testing.assert_array_equal(f[0, ON, 0], [1, 1])


def test_alpha_groups_dt_windows_like_ma_snn():
    ev = random_events(3000, seed=1)
    fine = bin_events(ev, (32, 24), dt_us=1000, t_start_us=0, n_frames=100)
    grouped = bin_events(ev, (32, 24), dt_us=1000, alpha=5, t_start_us=0, n_frames=20)
    np.testing.assert_array_equal(grouped, fine.reshape(20, 5, 2, 24, 32).sum(1))
    np.testing.assert_array_equal(grouped, bin_events(ev, (32, 24), dt_us=5000, t_start_us=0, n_frames=20))
    assert grouped.sum() == len(ev)


def test_t_start_and_n_frames_pad_and_cut():
    ev = make_events([5, 15, 25, 35], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0])
    f = bin_events(ev, (1, 1), dt_us=10, t_start_us=10, n_frames=5)
    np.testing.assert_array_equal(f[:, OFF, 0, 0], [1, 1, 1, 0, 0])  # t=5 is before the grid
    f = bin_events(ev, (1, 1), dt_us=10, t_start_us=0, n_frames=2)
    np.testing.assert_array_equal(f[:, OFF, 0, 0], [1, 1])


def test_include_incomplete_false_drops_partial_tail():
    ev = make_events([0, 10, 25], [0, 0, 0], [0, 0, 0], [1, 1, 1])
    assert bin_events(ev, (1, 1), dt_us=10).shape[0] == 3
    assert bin_events(ev, (1, 1), dt_us=10, t_end_us=26, include_incomplete=False).shape[0] == 2


def test_n_time_bins_matches_integer_oracle_and_loses_nothing():
    ev = random_events(2000, seed=2)
    T = 7
    t0, d = int(ev["t"][0]), int(ev["t"][-1]) + 1 - int(ev["t"][0])
    ref = reference_frames(ev, (32, 24), lambda i, t: [(t - t0) * T // d])
    f = bin_events(ev, (32, 24), n_time_bins=T)
    assert f.shape == (T, 2, 24, 32)
    for k in range(T):
        np.testing.assert_array_equal(f[k], ref.get(k, 0))
    assert f.sum() == len(ev)


def test_event_count_and_n_event_bins_hand():
    ev = random_events(10, w=4, h=4, seed=3)
    f = bin_events(ev, (4, 4), event_count=4)  # frames of 4, 4, 2 events
    np.testing.assert_array_equal(f.sum(axis=(1, 2, 3)), [4, 4, 2])
    f = bin_events(ev, (4, 4), n_event_bins=3)  # [0,3) [3,6) [6,10)
    np.testing.assert_array_equal(f.sum(axis=(1, 2, 3)), [3, 3, 4])
    ref = reference_frames(ev, (4, 4), lambda i, t: [0 if i < 3 else 1 if i < 6 else 2])
    for k in range(3):
        np.testing.assert_array_equal(f[k], ref[k])


def test_overlapping_time_windows_hand():
    # window 10 µs, overlap 5 µs → stride 5: windows [0,10) [5,15) [10,20)
    ev = make_events([0, 5, 7, 12, 19], [0] * 5, [0] * 5, [1] * 5)
    f = bin_events(ev, (1, 1), dt_us=10, overlap=5)
    np.testing.assert_array_equal(f[:, ON, 0, 0], [3, 3, 2])


def test_overlapping_time_bins_cover_the_range():
    ev = random_events(500, seed=4)
    T, o = 5, 0.5
    f = bin_events(ev, (32, 24), n_time_bins=T, overlap=o)
    t0, t1 = int(ev["t"][0]), int(ev["t"][-1]) + 1
    w = (t1 - t0) / ((T - 1) * (1 - o) + 1)
    s = w * (1 - o)
    for k in range(T):
        a, b = np.ceil(t0 + k * s), np.ceil(t0 + k * s + w) if k < T - 1 else t1
        assert f[k].sum() == np.count_nonzero((ev["t"] >= a) & (ev["t"] < b))
    # every event lies in at least one window
    assert f.sum() >= len(ev)
    first = (ev["t"] < np.ceil(t0 + w)).sum()
    assert f[0].sum() == first


def test_downsample_is_sum_pooling_and_roi_is_a_slice():
    ev = random_events(5000, w=128, h=128, seed=5)
    full = bin_events(ev, (128, 128), n_time_bins=4)
    small = bin_events(ev, (128, 128), n_time_bins=4, out_size=(32, 32))
    np.testing.assert_array_equal(small, full.reshape(4, 2, 32, 4, 32, 4).sum((3, 5)))
    crop = bin_events(ev, (128, 128), n_time_bins=4, roi=(10, 20, 50, 40))
    np.testing.assert_array_equal(crop, full[:, :, 20:60, 10:60])


def test_davis_346x260_to_128x128_rescale():
    ev = random_events(4000, w=346, h=260, seed=6)
    f = bin_events(ev, (346, 260), n_time_bins=2, out_size=(128, 128))
    assert f.shape == (2, 2, 128, 128) and f.sum() == len(ev)
    ref = np.zeros((2, 128, 128), np.float32)
    t0, d = int(ev["t"][0]), int(ev["t"][-1]) + 1 - int(ev["t"][0])
    for e in ev[(ev["t"] - t0) * 2 // d == 0]:
        ref[int(e["p"]), int(e["y"]) * 128 // 260, int(e["x"]) * 128 // 346] += 1
    np.testing.assert_array_equal(f[0], ref)


def test_dense_stream_does_not_overflow():
    n = 70_000  # > int16 max at one pixel in one window
    ev = make_events(np.zeros(n, np.int64), np.zeros(n), np.zeros(n), np.ones(n))
    assert bin_events(ev, (2, 2), dt_us=1)[0, ON, 0, 0] == n
    assert tonic_to_frame(ev, (2, 2, 2), event_count=n)[0, ON, 0, 0] != n  # tonic wraps in int16


def test_empty_events():
    ev = np.zeros(0, EVENT_DTYPE)
    assert bin_events(ev, (4, 4), dt_us=10).shape == (0, 2, 4, 4)
    f = bin_events(ev, (4, 4), dt_us=10, t_start_us=0, n_frames=3)
    assert f.shape == (3, 2, 4, 4) and f.sum() == 0
    assert bin_events(ev, (4, 4), event_count=5).shape == (0, 2, 4, 4)


def test_to_frames_transform_equals_function():
    ev = random_events(1000, seed=7)
    tf = ToFrames((32, 24), dt_us=7000, alpha=2)
    np.testing.assert_array_equal(tf(ev), bin_events(ev, (32, 24), FrameConfig(dt_us=7000, alpha=2)))


def test_strided_views_are_binned_like_copies():
    ev = random_events(3000, seed=8)
    view = ev[::3]
    np.testing.assert_array_equal(bin_events(view, (32, 24), n_time_bins=5), bin_events(view.copy(), (32, 24), n_time_bins=5))


# --- tonic as oracle -----------------------------------------------------------------------------


@pytest.mark.parametrize("overlap", [0, 3000])
def test_matches_tonic_time_window(overlap):
    ev = random_events(5000, seed=9)
    t0, t1 = int(ev["t"][0]), int(ev["t"][-1]) + 1
    ours = bin_events(ev, (32, 24), dt_us=10_000, overlap=overlap, t_start_us=t0, t_end_us=t1, include_incomplete=False)
    theirs = tonic_to_frame(ev, (32, 24, 2), time_window=10_000, overlap=overlap, start_time=t0, end_time=t1)
    np.testing.assert_array_equal(ours, theirs.astype(np.float32))


def test_matches_tonic_event_count_and_n_event_bins():
    ev = random_events(4000, seed=10)
    np.testing.assert_array_equal(
        bin_events(ev, (32, 24), event_count=300, overlap=100, include_incomplete=False),
        tonic_to_frame(ev, (32, 24, 2), event_count=300, overlap=100),
    )
    np.testing.assert_array_equal(  # 4000 % 8 == 0: no remainder for tonic to drop
        bin_events(ev, (32, 24), n_event_bins=8), tonic_to_frame(ev, (32, 24, 2), n_event_bins=8)
    )


def test_tonic_n_time_bins_drops_edge_events_ours_keeps_all():
    ev = random_events(10_007, seed=11)
    theirs = tonic_to_frame(ev, (32, 24, 2), n_time_bins=16)
    ours = bin_events(ev, (32, 24), n_time_bins=16)
    assert ours.sum() == len(ev)
    assert theirs.sum() < len(ev)  # at least the last event (t == t_end) falls outside tonic's bins
    # tonic's n_event_bins drops the N mod T remainder, ours does not
    assert tonic_to_frame(ev, (32, 24, 2), n_event_bins=16).sum() == len(ev) - len(ev) % 16
    assert bin_events(ev, (32, 24), n_event_bins=16).sum() == len(ev)


# --- streaming --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(dt_us=1000),
        dict(dt_us=700, alpha=3),
        dict(dt_us=1000, overlap=400),
        dict(dt_us=2500, t_start_us=-333, out_size=(16, 12), binary=True),
        dict(dt_us=1000, roi=(4, 4, 10, 10)),
    ],
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_streaming_random_chunks_equal_one_go(kwargs, seed):
    ev = random_events(5000, t_max=60_000, seed=seed, t0=10**15)
    if "t_start_us" in kwargs:
        kwargs = {**kwargs, "t_start_us": 10**15 + kwargs["t_start_us"]}
    cfg = FrameConfig(**kwargs)
    whole = bin_events(ev, (32, 24), cfg if cfg.t_start_us is not None else FrameConfig(**{**kwargs, "t_start_us": int(ev["t"][0])}))
    rng = np.random.default_rng(seed + 100)
    cuts = np.sort(rng.integers(0, len(ev), 40))
    binner = StreamingBinner((32, 24), cfg)
    got, starts = [], []
    for chunk in np.split(ev, cuts):
        got.append(binner.push(chunk))
        starts.append(binner.last_starts_us)
    got.append(binner.flush())
    starts.append(binner.last_starts_us)
    chunked = np.concatenate(got)
    np.testing.assert_array_equal(chunked, whole)
    assert binner.n_late == 0
    assert np.all(np.diff(np.concatenate(starts)) == cfg.stride)


def test_streaming_edges_and_watermark():
    b = StreamingBinner((1, 1), dt_us=10, t_start_us=0)
    # t=9 does not close [0,10): another event at t=9 may still come
    assert b.push(make_events([0, 9], [0, 0], [0, 0], [1, 1])).shape[0] == 0
    assert b.push(make_events([9], [0], [0], [1])).shape[0] == 0
    f = b.push(make_events([10], [0], [0], [0]))  # t=10 closes [0,10)
    assert f.shape == (1, 2, 1, 1) and f[0, ON, 0, 0] == 3 and f[0, OFF, 0, 0] == 0
    # the source says nothing before t=40 will come: [10,20) [20,30) [30,40) are complete
    f = b.advance_to(40)
    np.testing.assert_array_equal(f[:, OFF, 0, 0], [1, 0, 0])
    np.testing.assert_array_equal(b.last_starts_us, [10, 20, 30])
    # an event from the past cannot be placed any more: counted, not binned
    assert b.push(make_events([15], [0], [0], [1])).shape[0] == 0 and b.n_late == 1
    f = b.push(make_events([41], [0], [0], [1]), t_end_us=50)
    assert f.shape[0] == 1 and f[0, ON, 0, 0] == 1 and b.pending == 0
    assert b.flush().shape[0] == 0


def test_streaming_rejects_non_dt_modes():
    with pytest.raises(FramingError):
        StreamingBinner((4, 4), n_time_bins=3)
    with pytest.raises(FramingError):
        StreamingBinner((4, 4), dt_us=10, n_frames=3)


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(dt_us=10, n_time_bins=3),
        dict(dt_us=0),
        dict(dt_us=10.5),
        dict(n_time_bins=3, alpha=2),
        dict(dt_us=10, overlap=10),
        dict(n_time_bins=3, overlap=1.0),
        dict(event_count=10, t_start_us=0),
        dict(dt_us=10, roi=(0, 0, 0, 5)),
        dict(dt_us=10, out_size=(0, 4)),
        dict(n_event_bins=4, n_frames=3),
    ],
)
def test_bad_config_is_a_typed_error(kwargs):
    with pytest.raises(FramingError):
        FrameConfig(**kwargs)


def test_bad_events_are_typed_errors():
    ev = make_events([0, 1], [0, 5], [0, 0], [0, 1])
    with pytest.raises(FramingError, match="do not fit the sensor"):
        bin_events(ev, (4, 4), dt_us=10)
    with pytest.raises(FramingError, match="do not fit the sensor"):
        bin_events(make_events([0], [-1], [0], [0]), (4, 4), dt_us=10)
    with pytest.raises(FramingError, match="not sorted"):
        bin_events(make_events([5, 1], [0, 0], [0, 0], [0, 0]), (4, 4), dt_us=10)
    with pytest.raises(FramingError, match="polarity"):
        bin_events(make_events([0], [0], [0], [2]), (4, 4), dt_us=10)
    with pytest.raises(FramingError, match="EVENT_DTYPE"):
        bin_events(np.zeros((3, 4)), (4, 4), dt_us=10)
    with pytest.raises(FramingError, match="sensor_size"):
        bin_events(ev, (0, 4), dt_us=10)
    # a huge time gap would allocate absurd tensors: refused with advice
    with pytest.raises(FramingError, match="too"):
        bin_events(make_events([0, 10**12], [0, 0], [0, 0], [0, 0]), (128, 128), dt_us=1)


def test_strided_searchsorted_matches_numpy():
    from snnstudio.events.frames import _searchsorted

    rng = np.random.default_rng(12)
    ev = make_events(np.sort(rng.integers(0, 5000, 20_000)), np.zeros(20_000), np.zeros(20_000), np.zeros(20_000))
    t = ev["t"]  # strided view into the 13-byte records
    assert not t.flags.c_contiguous
    q = np.concatenate([[-5, 0, 4999, 5000, 10**9], rng.integers(-10, 5010, 500)])
    np.testing.assert_array_equal(_searchsorted(t, q), np.searchsorted(np.ascontiguousarray(t), q, side="left"))


def test_unsorted_across_fast_path_chunks_is_detected():
    from snnstudio.events import frames

    n = frames._CHUNK + 10
    t = np.arange(n, dtype=np.int64)
    t[frames._CHUNK] = 0  # goes back in time exactly at the first chunk boundary
    ev = make_events(t, np.zeros(n), np.zeros(n), np.zeros(n))
    with pytest.raises(FramingError, match=f"at event {frames._CHUNK}"):
        bin_events(ev, (2, 2), n_time_bins=3)
    # count modes do not need sorted timestamps
    assert bin_events(ev, (2, 2), n_event_bins=3).sum() == n


def test_streaming_max_empty_frames_skips_quiet_windows_only():
    ev = make_events([0, 3, 5, 1000, 1001, 5000], [0] * 6, [0] * 6, [1] * 6)
    b = StreamingBinner((1, 1), dt_us=2, t_start_us=0, max_empty_frames=3)
    f = np.concatenate([b.push(ev[:3]), b.push(ev[3:5]), b.push(ev[5:]), b.flush()])
    assert f.sum() == len(ev)  # no event lost
    full = StreamingBinner((1, 1), dt_us=2, t_start_us=0)
    g = np.concatenate([full.push(ev), full.flush()])
    assert len(g) == 2501 and b.n_skipped_frames == len(g) - len(f)
    starts = np.concatenate([[0, 2, 4], [6, 8, 10], [1000], [1002, 1004, 1006], [5000]])
    assert b.n_frames_emitted == len(f) == len(starts)
    # every emitted frame equals the un-skipped binner's frame at the same window
    np.testing.assert_array_equal(f, g[starts // 2])
    assert b.last_starts_us.tolist() == [5000]


def test_fixed_t_modes_give_t_empty_frames_without_events():
    ev = np.zeros(0, EVENT_DTYPE)
    assert bin_events(ev, (4, 4), n_time_bins=5).shape == (5, 2, 4, 4)
    assert bin_events(ev, (4, 4), n_event_bins=3).shape == (3, 2, 4, 4)
    assert bin_events(ev, (4, 4), dt_us=10, n_frames=4).sum() == 0
    with pytest.raises(FramingError):
        frame_starts_us(ev, FrameConfig(event_count=3))


def test_event_recording_is_accepted():
    from snnstudio.events.types import EventRecording

    ev = random_events(500, seed=13)
    rec = EventRecording(ev, (32, 24))
    np.testing.assert_array_equal(bin_events(rec, cfg=FrameConfig(n_time_bins=3)), bin_events(ev, (32, 24), n_time_bins=3))
    with pytest.raises(FramingError, match="sensor_size"):
        bin_events(ev, None, n_time_bins=3)


def test_streaming_with_source_batches_t_end():
    # batches as a source yields them: [t_start, t_end) ranges, some empty
    ev = random_events(3000, t_max=50_000, seed=14, t0=0)
    edges = np.append(np.arange(0, 50_000, 3_333), 50_000)
    b = StreamingBinner((32, 24), dt_us=1000, t_start_us=0)
    got = []
    for a, e in zip(edges[:-1], edges[1:]):
        got.append(b.push(ev[(ev["t"] >= a) & (ev["t"] < e)], t_end_us=int(e)))
    got.append(b.flush())
    whole = bin_events(ev, (32, 24), dt_us=1000, t_start_us=0, t_end_us=int(edges[-1]))
    streamed = np.concatenate(got)
    # the watermark t_end closes windows without waiting for the next event; flush has nothing left
    assert len(got[-1]) == 0 and len(whole) == 50
    np.testing.assert_array_equal(streamed, whole)
    assert streamed.sum() == len(ev)
