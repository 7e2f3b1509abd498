"""VideoEventSource on a video file this test writes, its errors; SyntheticGestureSource batches."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from snnstudio.errors import DeviceNotFoundError, SourceError
from snnstudio.events.emulator import EmulatorConfig, EventEmulator
from snnstudio.events.sources.base import EventSource
from snnstudio.events.sources.synthetic import SyntheticGestureSource
from snnstudio.events.sources.video import VideoEventSource
from snnstudio.events.synthetic import CLASS_NAMES, GESTURES


def _bar_frames(n=16, w=64, h=48):
    frames = []
    for i in range(n):
        f = np.full((h, w, 3), 30, np.uint8)
        f[10:38, 6 + 2 * i : 14 + 2 * i] = 220
        frames.append(f)
    return frames


@pytest.fixture(scope="module")
def bar_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "bar.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (64, 48))
    assert writer.isOpened(), "headless OpenCV should write MJPG .avi"
    for f in _bar_frames():
        writer.write(f)
    writer.release()
    return path


def test_video_file_becomes_events_with_the_right_motion(bar_video):
    src = VideoEventSource(bar_video, config=EmulatorConfig(shot_noise_rate_hz=0, leak_rate_hz=0, seed=0))
    assert isinstance(src, EventSource) and src.sensor_size == (64, 48) and src.fps == 25
    batches = list(src.batches())
    src.close()
    assert len(batches) == 15  # one per frame interval after the first frame
    for i, b in enumerate(batches):  # contiguous windows of 40 ms, events inside them
        assert b.t_start_us == i * 40_000 + 1 and b.t_end_us == (i + 1) * 40_000 + 1
        assert np.all((b.events["t"] >= b.t_start_us) & (b.events["t"] < b.t_end_us))
        assert np.all(np.diff(b.events["t"]) >= 0)
    ev = np.concatenate([b.events for b in batches])
    assert len(ev) > 500
    assert ev["x"].max() < 64 and ev["y"].max() < 48
    # oracle: the same frames decoded by OpenCV and emulated directly give the same events
    cap = cv2.VideoCapture(str(bar_video))
    emu = EventEmulator(64, 48, EmulatorConfig(shot_noise_rate_hz=0, leak_rate_hz=0, seed=0))
    direct = []
    for k in range(16):
        ok, f = cap.read()
        assert ok
        direct.append(emu.feed(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), k * 40_000))
    assert np.array_equal(np.concatenate(direct), ev)
    # the bar moves right: ON (leading edge) right of OFF (trailing edge), both drifting right
    on, off = ev[ev["p"] == 1], ev[ev["p"] == 0]
    assert on["x"].mean() > off["x"].mean() + 4
    early, late = on[on["t"] < 200_000], on[on["t"] >= 400_000]
    assert late["x"].mean() > early["x"].mean() + 10


def test_video_resize_max_frames_and_rebatching(bar_video):
    src = VideoEventSource(str(bar_video), size=(32, 24), max_frames=9, batch_us=25_000)
    assert src.sensor_size == (32, 24)
    batches = list(src.batches())
    assert batches[0].t_start_us == 1 and batches[-1].t_end_us == 8 * 40_000 + 1
    assert all(b.t_end_us - b.t_start_us == 25_000 for b in batches[:-1])
    assert all(a.t_end_us == b.t_start_us for a, b in zip(batches, batches[1:]))
    ev = np.concatenate([b.events for b in batches])
    assert ev["x"].max() < 32 and ev["y"].max() < 24 and len(ev) > 100
    again = np.concatenate([b.events for b in src.batches()])  # a second pass starts over
    assert np.array_equal(ev, again)


def test_missing_camera_is_device_not_found():
    with pytest.raises(DeviceNotFoundError, match="webcam 97"):
        VideoEventSource(97)
    with pytest.raises(DeviceNotFoundError, match="webcam 98"):
        VideoEventSource("98")


def test_missing_and_garbage_video_files_are_source_errors(tmp_path):
    with pytest.raises(SourceError, match="no such video file"):
        VideoEventSource(tmp_path / "nope.mp4")
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"this is not a video\x00" * 200)
    with pytest.raises(SourceError, match="cannot decode video"):
        VideoEventSource(junk)
    try:
        VideoEventSource(junk)
    except SourceError as exc:
        assert "\n" not in str(exc)


def test_synthetic_source_labels_every_batch_with_the_ground_truth():
    src = SyntheticGestureSource(["swipe_right", "push"], seed=3, batch_us=20_000, duration_us=400_000, gap_us=200_000)
    assert src.class_names == CLASS_NAMES and src.sensor_size == (128, 128)
    batches = list(src.batches())
    assert [lab.name for lab in src.labels] == ["swipe_right", "push"]
    a, b = src.labels
    assert a.start_us == 0 and a.end_us == 400_000 and b.start_us == 600_000 and b.end_us == 1_000_000
    assert batches[0].t_start_us == 0 and batches[-1].t_end_us == 1_000_000
    assert all(x.t_end_us == y.t_start_us for x, y in zip(batches, batches[1:]))
    for bt in batches:
        mid = (bt.t_start_us + bt.t_end_us) // 2
        expected = 1 if mid < 400_000 else (7 if mid >= 600_000 else None)
        assert bt.label == expected
        assert np.all((bt.events["t"] >= bt.t_start_us) & (bt.events["t"] < bt.t_end_us))
    assert sum(len(bt.events) for bt in batches) > 1000


def test_synthetic_source_is_seeded_counts_and_closes():
    def run(seed):
        src = SyntheticGestureSource(seed=seed, count=2, duration_us=300_000, gap_us=100_000, batch_us=50_000)
        return src, list(src.batches())

    s1, b1 = run(5)
    s2, b2 = run(5)
    _, b3 = run(6)
    assert len(s1.labels) == 2 and all(lab.name in GESTURES for lab in s1.labels)
    assert [bt.label for bt in b1] == [bt.label for bt in b2]
    assert all(np.array_equal(x.events, y.events) for x, y in zip(b1, b2))
    assert not all(np.array_equal(x.events, y.events) for x, y in zip(b1, b3))
    # an endless source stops when closed
    src = SyntheticGestureSource("wave", duration_us=200_000, batch_us=50_000)
    seen = 0
    for _ in src.batches():
        seen += 1
        if seen == 3:
            src.close()
    assert seen == 3


def test_synthetic_source_rejects_bad_arguments():
    with pytest.raises(ValueError, match="unknown gesture"):
        SyntheticGestureSource("juggle")
    with pytest.raises(ValueError, match="batch_us"):
        SyntheticGestureSource(batch_us=0)
    with pytest.raises(ValueError, match="count"):
        SyntheticGestureSource(count=0)
