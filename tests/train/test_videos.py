"""videos:DIR — the real-video labels.csv reader and the clip loader, on tiny generated clips
(tests/data/videos, made by its make_clips.py: a bright square moving right, left, up, or still)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from snnstudio.events.synthetic import GESTURES
from snnstudio.train.videos import (
    VideoLabelsError,
    frame_to_us,
    frame_window,
    load_videos,
    read_video_labels,
    video_events,
)

CLIPS = Path(__file__).resolve().parents[1] / "data" / "videos"
HEADER = "file,label,start_frame,end_frame,fps,source,path_in_source\n"


def _csv(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    (tmp_path / "a.mp4").write_bytes(b"")
    p = tmp_path / "labels.csv"
    p.write_text(header + body)
    return p


def test_labels_frames_become_microseconds_and_blank_is_the_whole_clip():
    clips = {c.path.name: c for c in read_video_labels(CLIPS / "labels.csv")}
    left = clips["left.mp4"]  # frames 4..25 at 20 fps: 200 000 µs .. just after 1 250 000 µs
    assert (left.start_frame, left.end_frame, left.fps) == (4, 25, 20.0)
    assert left.start_us == 200_000
    assert left.end_us() == 1_250_001
    right = clips["right.mp4"]
    assert right.whole_clip and right.start_us == 0
    assert right.end_us(1_450_001) == 1_450_001
    with pytest.raises(ValueError):
        right.end_us()
    assert frame_to_us(263, 35.0) == 7_514_286  # round(263e6 / 35)
    assert left.path == (CLIPS / "left.mp4").resolve()


@pytest.mark.parametrize("body, message", [
    ("a.mp4,swipe_left,10,,35,,\n", "give both start_frame and end_frame"),
    ("a.mp4,swipe_left,20,10,35,,\n", "end_frame 10 is before start_frame 20"),
    ("a.mp4,swipe_left,x,10,35,,\n", "start_frame must be a whole frame number"),
    ("a.mp4,swipe_left,-1,10,35,,\n", "start_frame must be ≥ 0"),
    ("a.mp4,swipe_left,1,10,0,,\n", "fps must be > 0"),
    ("a.mp4,swipe_left,1,10,fast,,\n", "fps must be a number"),
    ("a.mp4,,1,10,35,,\n", "blank label"),
    ("missing.mp4,wave,,,20,,\n", "no such video 'missing.mp4'"),
    ("", "no labelled clips"),
])
def test_bad_label_rows_are_clear_errors_naming_the_line(tmp_path, body, message):
    p = _csv(tmp_path, body)
    with pytest.raises(VideoLabelsError) as exc:
        read_video_labels(p)
    assert message in str(exc.value)
    if body:
        assert "line 2" in str(exc.value)


def test_a_missing_column_is_a_clear_error(tmp_path):
    p = _csv(tmp_path, "a.mp4,wave,,,20\n", header="file,label,start_frame,end_frame\n")
    with pytest.raises(VideoLabelsError, match="missing column\\(s\\) fps"):
        read_video_labels(p)


def test_loader_gives_one_sample_per_clip_with_its_label(tmp_path):
    ds = load_videos(CLIPS, T=5, dt_us=100_000, out_hw=(32, 32), class_names=GESTURES, cache_dir=tmp_path)
    assert ds.frames.shape == (4, 5, 2, 32, 32) and ds.frames.dtype == np.uint16
    names = [Path(c).name for c in ds.info["clips"]]
    assert names == ["right.mp4", "left.mp4", "up.avi", "still.mp4"]
    assert [GESTURES[i] for i in ds.labels] == ["swipe_right", "swipe_left", "swipe_up", "other"]
    assert ds.dt_us == 100_000 and ds.flip_map is not None
    # the cache gives the very same frames (and is keyed on the parameters: another T is framed anew)
    again = load_videos(CLIPS, T=5, dt_us=100_000, out_hw=(32, 32), class_names=GESTURES, cache_dir=tmp_path)
    assert np.array_equal(again.frames, ds.frames)
    assert len(list((tmp_path / "videos").glob("*.npz"))) == 4
    other = load_videos(CLIPS, T=3, dt_us=100_000, out_hw=(32, 32), class_names=GESTURES, cache_dir=tmp_path)
    assert other.frames.shape == (4, 3, 2, 32, 32)
    assert len(list((tmp_path / "videos").glob("*.npz"))) == 8


def _on_minus_off(frames: np.ndarray, axis: int) -> float:
    """Centroid of ON events minus centroid of OFF events along ``axis`` (-1: x, -2: y), in pooled pixels."""
    on, off = frames[:, 1].sum(0).astype(float), frames[:, 0].sum(0).astype(float)
    coord = np.arange(on.shape[axis])

    def centroid(a):
        profile = a.sum(axis=-2 if axis == -1 else -1)
        return float((profile * coord).sum() / profile.sum())

    return centroid(on) - centroid(off)


def test_a_bright_square_moving_right_leads_with_on_events_on_its_right(tmp_path):
    ds = load_videos(CLIPS, T=5, dt_us=100_000, out_hw=(32, 32), class_names=GESTURES, cache_dir=None)
    right, left, up, still = (ds.frames[i] for i in range(4))
    # bright square: its leading edge brightens (ON), its trailing edge darkens (OFF)
    assert _on_minus_off(right, -1) > 3
    assert _on_minus_off(left, -1) < -3
    assert abs(_on_minus_off(up, -1)) < 1 and _on_minus_off(up, -2) < -3
    # and its events travel: the right-moving square's events are further right in the last frame than the first
    xs = np.arange(32)
    cx = [float((f.sum((0, 1)) * xs).sum() / f.sum()) for f in right.astype(float)]
    assert cx[-1] > cx[0] + 5
    # a still square makes (almost) no events
    assert still.sum() < 0.2 * right.sum()


def test_the_window_ends_at_the_labelled_end(tmp_path):
    """left.mp4 is labelled frames 4..25: its sample is the T windows ending just after frame 25,
    i.e. the same counts as framing the clip's events by hand over [end − T·dt, end)."""
    from snnstudio.events.frames import bin_events

    clip = {c.path.name: c for c in read_video_labels(CLIPS / "labels.csv")}["left.mp4"]
    events, sensor, clip_end, fps = video_events(clip.path)
    assert sensor == (128, 128) and fps == 20.0 and clip_end == frame_to_us(29, 20.0) + 1
    ds = load_videos(CLIPS, T=4, dt_us=150_000, out_hw=(32, 32), class_names=GESTURES, cache_dir=None)
    end = clip.end_us()
    sel = events[(events["t"] >= end - 600_000) & (events["t"] < end)]
    want = bin_events(sel, sensor, dt_us=150_000, t_start_us=end - 600_000, n_frames=4, out_size=(32, 32))
    assert np.array_equal(ds.frames[1], want.astype(np.uint16))
    assert events[events["t"] >= end].size > 0  # the clip goes on after the label: those events are left out
    # windows before the clip's start are empty, not shifted
    early = frame_window(events, sensor, 200_000, 4, 100_000, (32, 32))
    assert early[:2].sum() == 0 and early[2:].sum() > 0


def test_a_label_the_model_does_not_have_is_an_error(tmp_path):
    with pytest.raises(VideoLabelsError, match="label 'other' is not a class of the model"):
        load_videos(CLIPS, T=5, dt_us=100_000, out_hw=(32, 32), class_names=GESTURES[:9], cache_dir=None)


def test_eval_on_videos_reports_motion_and_other_apart(tmp_path):
    from tests.train.conftest import run_cli

    out = tmp_path / "eval.json"
    r = run_cli("eval", "--model", "default", "--data", f"videos:{CLIPS}", "--cache-dir", str(tmp_path / "c"),
                "--out", str(out))
    assert r.returncode == 0, r.stderr + r.stdout
    row = json.loads(out.read_text())["rows"][0]
    assert row["samples"] == 4
    conf = np.asarray(row["confusion"])
    names = row["class_names"]
    o = names.index("other")
    assert conf.sum(1)[[names.index(n) for n in ("swipe_right", "swipe_left", "swipe_up")]].tolist() == [1, 1, 1]
    motion_right = sum(conf[i, i] for i in range(len(names)) if i != o)
    assert row["motion_accuracy"] == pytest.approx(motion_right / 3)
    assert row["other_accuracy"] == pytest.approx(conf[o, o] / 1)
    assert "motion" in r.stdout and "other" in r.stdout


def test_eval_on_a_videos_folder_without_labels_is_one_line(tmp_path):
    from tests.train.conftest import run_cli

    r = run_cli("eval", "--model", "default", "--data", f"videos:{tmp_path}")
    assert r.returncode == 1
    assert r.stderr.strip().count("\n") == 0 and "labels.csv" in r.stderr and "Traceback" not in r.stderr
