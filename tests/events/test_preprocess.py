"""The one preprocessing of every source: region of interest, mirror, resize, flicker, event rate."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from snnstudio.events.emulator import EmulatorConfig, EventEmulator
from snnstudio.events.preprocess import (
    EventPreprocessor,
    FlickerSuppressor,
    FramePreprocessor,
    Preprocess,
    PreprocessError,
    crop_resize_frame,
    default_preprocess,
    preprocess_recording,
)
from snnstudio.events.types import EventRecording, Label, make_events


def test_box_is_the_largest_centred_square_and_never_squeezes():
    pre = Preprocess(out_size=(128, 128))
    assert pre.box((640, 480)) == (80, 0, 480, 480)
    assert pre.box((320, 180)) == (70, 0, 180, 180)
    assert pre.box((128, 128)) == (0, 0, 128, 128)
    # a 4:3 output on a square sensor: the widest 4:3 box, centred vertically
    assert Preprocess(out_size=(64, 48)).box((100, 100)) == (0, 12, 100, 75)


def test_roi_moves_and_shrinks_and_stays_inside():
    pre = Preprocess(out_size=(128, 128), roi=(0.25, 0.5, 0.5))
    assert pre.box((640, 480)) == (40, 120, 240, 240)
    # a centre at the very edge is clamped so the box stays on the sensor
    assert Preprocess(out_size=(128, 128), roi=(1.0, 0.0, 0.5)).box((640, 480)) == (400, 0, 240, 240)
    with pytest.raises(PreprocessError):
        Preprocess(roi=(0.5, 0.5, 0.0))
    with pytest.raises(PreprocessError):
        Preprocess(roi=(1.5, 0.5, 0.5))


def test_model_out_size_must_be_resolved():
    pre = Preprocess()
    with pytest.raises(PreprocessError, match="for_model"):
        pre.box((640, 480))
    assert pre.for_model((128, 128)).box((640, 480)) == (80, 0, 480, 480)
    assert pre.for_model(None).is_identity((640, 480))  # a model without a trained sensor: as is


def test_mirror_defaults_by_source_kind_and_dict_round_trip():
    assert default_preprocess("webcam").mirror is True
    assert default_preprocess("video").mirror is False
    assert default_preprocess("webcam", Preprocess(mirror=False)).mirror is False  # the user's choice wins
    pre = Preprocess(out_size=(128, 128), roi=(0.4, 0.6, 0.8), mirror=True, flicker=False,
                     emulator=EmulatorConfig(on_threshold=0.3, shot_noise_rate_hz=1.0))
    assert Preprocess.from_dict(pre.to_dict()) == pre
    assert Preprocess.from_dict(Preprocess().to_dict()) == Preprocess()
    with pytest.raises(PreprocessError, match="unknown"):
        Preprocess.from_dict({"zoom": 2})


def test_frame_crop_mirror_resize_against_a_hand_made_picture():
    frame = np.zeros((48, 64), np.uint8)
    frame[:, 8:12] = 255  # a bar at x 8–11: the left edge of the centred 48×48 box (x 8–55)
    pre = Preprocess(out_size=(24, 24))
    out = crop_resize_frame(frame, pre)
    assert out.shape == (24, 24) and out.dtype == np.uint8
    assert out[:, :2].mean() > 250 and out[:, 2:].max() == 0  # bar at the left edge, halved
    mirrored = crop_resize_frame(frame, Preprocess(out_size=(24, 24), mirror=True))
    np.testing.assert_array_equal(mirrored, out[:, ::-1])


def test_events_map_like_the_frames():
    """An event at a pixel lands where that pixel lands in the cropped, flipped, resized frame."""
    W, H = 640, 480
    rng = np.random.default_rng(1)
    n = 5000
    x = rng.integers(0, W, n)
    y = rng.integers(0, H, n)
    ev = make_events(np.arange(n), x, y, rng.integers(0, 2, n))
    pre = Preprocess(out_size=(128, 128), mirror=True, rate="none")
    out = EventPreprocessor(pre, (W, H))(ev)
    inside = (x >= 80) & (x < 560)
    assert out.size == inside.sum()
    xs, ys = x[inside], y[inside]
    np.testing.assert_array_equal(out["x"], (479 - (xs - 80)) * 128 // 480)
    np.testing.assert_array_equal(out["y"], ys * 128 // 480)
    assert out["x"].max() < 128 and out["y"].max() < 128
    # the same pixels through the frame path: a single lit pixel's block ends up at that place
    frame = np.zeros((H, W), np.uint8)
    frame[240:244, 300:304] = 255
    small = crop_resize_frame(frame, Preprocess(out_size=(128, 128), mirror=True))
    yy, xx = np.nonzero(small)
    assert abs(xx.mean() - (479 - (301.5 - 80)) * 128 / 480) < 1.0 and abs(yy.mean() - 241.5 * 128 / 480) < 1.0


def test_event_rate_is_normalised_by_area():
    W, H = 640, 480
    rng = np.random.default_rng(2)
    n = 200_000
    ev = make_events(np.sort(rng.integers(0, 10**6, n)), rng.integers(80, 560, n), rng.integers(0, 480, n), 1)
    out = EventPreprocessor(Preprocess(out_size=(128, 128)), (W, H))(ev)
    expected = n * (128 * 128) / (480 * 480)
    assert abs(out.size - expected) < 5 * np.sqrt(expected)
    again = EventPreprocessor(Preprocess(out_size=(128, 128)), (W, H))(ev)
    np.testing.assert_array_equal(out, again)  # seeded: the same events every time


def test_recording_keeps_labels_and_says_what_was_done():
    ev = make_events([10, 20, 30], [0, 320, 639], [0, 240, 479], [1, 0, 1])
    rec = EventRecording(ev, (640, 480), labels=[Label(2, 0, 40, "x")])
    out = preprocess_recording(rec, Preprocess(out_size=(128, 128), rate="none"))
    assert out.sensor_size == (128, 128) and out.labels == rec.labels
    assert out.meta["source_sensor_size"] == [640, 480] and "480×480" in out.meta["preprocess"]
    assert list(out.events["t"]) == [20]  # the corners are outside the centred square
    same = EventRecording(ev[:0], (128, 128))
    assert preprocess_recording(same, Preprocess(out_size=(128, 128))) is same


def _flickering_scene(n: int, fps: float, flicker_hz: float, depth: float, seed: int = 0):
    """A still textured scene under a lamp flickering at ``flicker_hz`` (sampled by a camera at
    ``fps``), uint8 frames and times in µs."""
    rng = np.random.default_rng(seed)
    scene = cv2.GaussianBlur(rng.uniform(40, 200, (96, 128)).astype(np.float32), (0, 0), 3)
    times = (np.arange(n) * 1e6 / fps).astype(np.int64)
    frames = []
    for t in times:
        gain = 1.0 + depth * np.sin(2 * np.pi * flicker_hz * t * 1e-6)
        frames.append(np.clip(scene * gain, 0, 255).astype(np.uint8))
    return frames, times


def _events_of(frames, times, pre_fn=None) -> int:
    emu = EventEmulator(128, 96, EmulatorConfig(shot_noise_rate_hz=0.0, leak_rate_hz=0.0))
    total = 0
    for f, t in zip(frames, times):
        g = pre_fn(f, int(t)) if pre_fn is not None else f
        ev = emu.feed(g, int(t))
        total += ev.size
    return total


def test_a_flickering_still_scene_gives_few_events():
    # 100 Hz lamp (50 Hz mains) seen by a 30 fps camera: aliased into a 10 Hz pulse of ±25 %
    frames, times = _flickering_scene(60, 30.0, 100.0, 0.25)
    raw = _events_of(frames, times)
    sup = FlickerSuppressor()
    filtered = _events_of(frames, times, sup)
    assert raw > 20_000
    assert filtered < 0.05 * raw


def test_flicker_suppression_keeps_a_moving_hand():
    """A bright square moving over a still, flickering scene still makes most of its events."""
    frames, times = _flickering_scene(40, 30.0, 120.0, 0.2, seed=3)
    steady, _ = _flickering_scene(40, 30.0, 120.0, 0.0, seed=3)
    def with_square(fs):
        out = []
        for i, f in enumerate(fs):
            g = f.copy()
            x = 10 + 2 * i
            g[30:60, x:x + 20] = 250
            out.append(g)
        return out
    moving_no_flicker = _events_of(with_square(steady), times)
    moving_flicker_suppressed = _events_of(with_square(frames), times, FlickerSuppressor())
    assert moving_no_flicker > 2000
    assert 0.6 * moving_no_flicker < moving_flicker_suppressed < 1.6 * moving_no_flicker


def test_frame_preprocessor_runs_the_whole_frame_path():
    fp = FramePreprocessor(Preprocess(out_size=(32, 32), flicker=True), (64, 48))
    assert fp.sensor_size == (32, 32)
    f = np.full((48, 64), 100, np.uint8)
    assert fp(f, 0).shape == (32, 32)
    # a global jump in brightness is divided out (flicker) — the slow level follows later
    out = fp(np.full((48, 64), 130, np.uint8), 33_333)
    assert abs(int(out.mean()) - 100) <= 10


def _moving_bar_video(path, direction: int, size=(160, 120), n=20, fps=25):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert writer.isOpened()
    W, H = size
    for i in range(n):
        f = np.full((H, W, 3), 30, np.uint8)
        x = W // 2 + direction * (3 * i - 30)
        f[40:80, x:x + 12] = 230
        writer.write(f)
    writer.release()
    return path


def _centroid_drift(source) -> float:
    xs = []
    for batch in source.batches():
        if batch.events.size:
            xs.append(batch.events["x"].mean())
    source.close()
    return float(np.polyfit(np.arange(len(xs)), xs, 1)[0])


def test_video_source_emulates_the_region_of_interest_and_mirrors(tmp_path):
    from snnstudio.events.sources.video import VideoEventSource

    path = _moving_bar_video(tmp_path / "right.avi", +1)
    src = VideoEventSource(path, preprocess=Preprocess(out_size=(64, 64)))
    assert src.sensor_size == (64, 64) and src.frame_size == (160, 120)
    assert src.preprocess.mirror is False  # a video file is not a selfie camera
    assert _centroid_drift(src) > 0.5  # moves right on the model's sensor
    mirrored = VideoEventSource(path, preprocess=Preprocess(out_size=(64, 64), mirror=True))
    assert _centroid_drift(mirrored) < -0.5  # and left when mirrored
    # the pixel model comes with the preprocessing
    coarse = VideoEventSource(path, preprocess=Preprocess(out_size=(64, 64), emulator=EmulatorConfig(on_threshold=0.9, off_threshold=0.9)))
    fine = VideoEventSource(path, preprocess=Preprocess(out_size=(64, 64)))
    assert coarse.emulator.config.on_threshold == 0.9
    n_coarse = sum(b.events.size for b in coarse.batches())
    n_fine = sum(b.events.size for b in fine.batches())
    assert n_coarse < 0.5 * n_fine
