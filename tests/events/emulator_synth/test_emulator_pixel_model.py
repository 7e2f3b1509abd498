"""The frames → events emulator against hand-worked pixel-model oracles."""

from __future__ import annotations

import math

import numpy as np
import pytest

from snnstudio.events import EVENT_DTYPE
from snnstudio.events.emulator import EmulatorConfig, EventEmulator, emulate_frames, lin_log


def _bar_video(width=48, height=32, steps=12, x_start=8, bar_w=5, rows=(6, 26), dark=20, bright=200):
    """A bright bar (rows[0]..rows[1]-1) moving right one pixel per frame on a dark background."""
    frames = []
    for i in range(steps + 1):
        f = np.full((height, width), dark, np.uint8)
        f[rows[0] : rows[1], x_start + i : x_start + i + bar_w] = bright
        frames.append(f)
    return np.stack(frames)


def test_lin_log_is_log_above_the_knee_and_linear_below():
    x = np.array([0.0, 10.0, 20.0, 100.0, 255.0])
    y = lin_log(x, 20.0)
    assert y[0] == 0.0
    assert y[1] == pytest.approx(10 * math.log(20) / 20)
    assert y[2] == pytest.approx(math.log(20))  # continuous at the knee
    assert y[3] == pytest.approx(math.log(100)) and y[4] == pytest.approx(math.log(255))


def test_moving_bar_leading_edge_on_trailing_edge_off_nothing_elsewhere():
    frames = _bar_video()
    dt = 1000
    emu = EventEmulator(48, 32, EmulatorConfig.ideal(0.2))
    assert emu.feed(frames[0], 0).size == 0  # the first frame only initialises
    n_per_edge = math.floor(math.log(10) / 0.2)  # 200/20 = one decade = 11 thresholds
    for i in range(1, len(frames)):
        ev = emu.feed(frames[i], i * dt)
        assert np.all((ev["t"] > (i - 1) * dt) & (ev["t"] <= i * dt))
        on, off = ev[ev["p"] == 1], ev[ev["p"] == 0]
        lead, trail = 8 + i + 4, 8 + i - 1  # the column that turned bright / dark
        assert set(on["x"].tolist()) == {lead}
        assert set(off["x"].tolist()) == {trail}
        assert set(ev["y"].tolist()) == set(range(6, 26))  # rows of the bar only
        # every edge pixel crosses floor(ln 10 / 0.2) thresholds, back and forth
        assert np.all(np.bincount(on["y"], minlength=32)[6:26] == n_per_edge)
        assert np.all(np.bincount(off["y"], minlength=32)[6:26] == n_per_edge)


def test_crossing_times_are_linearly_interpolated():
    # one pixel brightens 40 -> 200 between t=0 and t=1000 µs: d rises ln 5 linearly,
    # crossing k (of 0.2) at 1000·0.2k/ln 5, stamped with the next integer µs
    emu = EventEmulator(4, 4, EmulatorConfig.ideal(0.2))
    f0 = np.full((4, 4), 40, np.uint8)
    f1 = f0.copy()
    f1[2, 1] = 200
    emu.feed(f0, 0)
    ev = emu.feed(f1, 1000)
    expected = [math.ceil(1000 * 0.2 * k / math.log(5)) for k in range(1, 9)]
    assert ev["t"].tolist() == expected
    assert set(ev["x"].tolist()) == {1} and set(ev["y"].tolist()) == {2} and set(ev["p"].tolist()) == {1}


def test_events_of_a_busy_video_are_time_sorted_within_and_across_frames():
    rng = np.random.default_rng(3)
    frames = (rng.random((6, 24, 32)) * 255).astype(np.uint8)
    rec = emulate_frames(frames, np.arange(6) * 5000, EmulatorConfig(refractory_us=0, seed=1))
    assert rec.events.dtype == EVENT_DTYPE and rec.sensor_size == (32, 24)
    assert len(rec) > 1000
    assert np.all(np.diff(rec.events["t"]) >= 0)
    # several crossings of one pixel between two frames get distinct, increasing times
    ev = rec.events
    key = ev["y"].astype(np.int64) * 32 + ev["x"]
    frame_of = (ev["t"] - 1) // 5000
    for k in np.unique(key)[:50]:
        for f in np.unique(frame_of[key == k]):
            t = ev["t"][(key == k) & (frame_of == f)]
            assert np.all(np.diff(t) > 0)


def test_refractory_period_thins_crossings_by_the_closed_form_rule():
    # crossings every 1000·0.2/ln 5 = 124.3 µs; with R = 300 µs every third one is emitted
    emu = EventEmulator(2, 2, EmulatorConfig.ideal(0.2, refractory_us=300))
    f0 = np.full((2, 2), 40, np.uint8)
    f1 = f0.copy()
    f1[0, 0] = 200
    emu.feed(f0, 0)
    ev = emu.feed(f1, 1000)
    step = 1000 * 0.2 / math.log(5)
    assert ev["t"].tolist() == [math.ceil(step * k) for k in (1, 4, 7)]


def test_refractory_period_holds_for_every_pixel_across_frames():
    rng = np.random.default_rng(0)
    base = rng.random((40, 40)) * 200 + 20
    frames = [np.clip(base * np.exp(0.6 * np.sin(i / 3 + base / 40)), 0, 255).astype(np.uint8) for i in range(40)]
    R = 2500
    rec = emulate_frames(np.stack(frames), np.arange(40) * 1000, EmulatorConfig(refractory_us=R, shot_noise_rate_hz=0, seed=2))
    ev = rec.events
    assert len(ev) > 500
    key = ev["y"].astype(np.int64) * 40 + ev["x"]
    order = np.lexsort((ev["t"], key))
    k, t = key[order], ev["t"][order]
    same = k[1:] == k[:-1]
    assert same.any()
    assert np.diff(t)[same].min() >= R
    # and without the refractory period the same video has gaps shorter than R
    rec0 = emulate_frames(np.stack(frames), np.arange(40) * 1000, EmulatorConfig(refractory_us=0, shot_noise_rate_hz=0, seed=2))
    assert len(rec0) > len(rec)


def test_threshold_sets_the_number_of_events():
    f0 = np.full((8, 8), 40, np.uint8)
    f1 = np.full((8, 8), 200, np.uint8)
    counts = {}
    for c in (0.1, 0.2, 0.4):
        emu = EventEmulator(8, 8, EmulatorConfig.ideal(c))
        emu.feed(f0, 0)
        counts[c] = len(emu.feed(f1, 1000))
        assert counts[c] == 64 * math.floor(math.log(5) / c)
    assert counts[0.1] > counts[0.2] > counts[0.4]


def test_off_threshold_is_separate_from_on_threshold():
    emu = EventEmulator(4, 4, EmulatorConfig.ideal(0.2, off_threshold=0.5))
    emu.feed(np.full((4, 4), 200, np.uint8), 0)
    ev = emu.feed(np.full((4, 4), 40, np.uint8), 1000)
    assert set(ev["p"].tolist()) == {0} and len(ev) == 16 * math.floor(math.log(5) / 0.5)


def test_threshold_mismatch_is_gaussian_seeded_and_drives_per_pixel_counts():
    cfg = EmulatorConfig.ideal(0.2, threshold_sigma=0.03, seed=5)
    emu = EventEmulator(64, 64, cfg)
    th = emu.on_thresholds
    assert th.shape == (64, 64)
    assert th.mean() == pytest.approx(0.2, abs=0.003)
    assert th.std() == pytest.approx(0.03, rel=0.1)
    assert np.array_equal(th, EventEmulator(64, 64, cfg).on_thresholds)  # seeded
    assert not np.array_equal(th, EventEmulator(64, 64, EmulatorConfig.ideal(0.2, threshold_sigma=0.03, seed=6)).on_thresholds)
    emu.feed(np.full((64, 64), 40, np.uint8), 0)
    ev = emu.feed(np.full((64, 64), 200, np.uint8), 1000)
    per_pixel = np.zeros((64, 64), np.int64)
    np.add.at(per_pixel, (ev["y"], ev["x"]), 1)
    expected = np.floor(math.log(5) / th.astype(np.float64) + 1e-5).astype(np.int64)
    assert np.array_equal(per_pixel, expected)
    assert len(np.unique(per_pixel)) > 2  # mismatch makes counts differ between pixels


def test_low_pass_cutoff_scales_with_intensity():
    # the same log step (x2) in a bright and a dark pixel; f_eff = cutoff·(I+20)/275
    cfg = EmulatorConfig.ideal(0.2, cutoff_hz=50.0)
    emu = EventEmulator(2, 1, cfg)
    emu.feed(np.array([[100, 25]], np.uint8), 0)
    stepped = np.array([[200, 50]], np.uint8)
    ev = np.concatenate([emu.feed(stepped, k * 1000) for k in range(1, 30)])
    first = {x: int(ev["t"][ev["x"] == x].min()) for x in (0, 1)}

    def first_frame(I_new):
        eps = 1 - math.exp(-2 * math.pi * 50.0 * (I_new + 20) / 275 * 1e-3)
        frac = 0.2 / math.log(2)  # lp must cover this fraction of the step
        return math.ceil(math.log(1 - frac) / math.log(1 - eps))

    assert (first[0] - 1) // 1000 + 1 == first_frame(200)
    assert (first[1] - 1) // 1000 + 1 == first_frame(50)
    assert first[1] > first[0]
    # without the low-pass both respond within the first interval
    emu = EventEmulator(2, 1, EmulatorConfig.ideal(0.2))
    emu.feed(np.array([[100, 25]], np.uint8), 0)
    assert set(emu.feed(stepped, 1000)["x"].tolist()) == {0, 1}


def test_shot_noise_rate_matches_configuration():
    rate, npix, seconds = 2.0, 64 * 64, 10.0
    emu = EventEmulator(64, 64, EmulatorConfig.ideal(0.2, shot_noise_rate_hz=rate, seed=11))
    frame = np.full((64, 64), 120, np.uint8)
    ev = np.concatenate([emu.feed(frame, k * 10_000) for k in range(int(seconds * 100) + 1)])
    expected = rate * npix * seconds
    assert abs(len(ev) - expected) < 5 * math.sqrt(expected)
    assert ev["p"].mean() == pytest.approx(0.5, abs=0.02)
    per_pixel = np.bincount(ev["y"].astype(np.int64) * 64 + ev["x"], minlength=npix)
    assert per_pixel.mean() == pytest.approx(rate * seconds, rel=0.03)
    assert per_pixel.var() == pytest.approx(rate * seconds, rel=0.15)  # Poisson: variance = mean


def test_leak_events_are_on_events_at_the_leak_rate():
    emu = EventEmulator(32, 32, EmulatorConfig.ideal(0.2, leak_rate_hz=1.0, leak_jitter=0.0))
    frame = np.full((32, 32), 120, np.uint8)
    ev = np.concatenate([emu.feed(frame, k * 10_000) for k in range(501)])  # 5 s
    assert set(ev["p"].tolist()) == {1}
    # the reference starts at a random phase below the level: 5 leak events per pixel in 5 s
    assert len(ev) == pytest.approx(1.0 * 1024 * 5, rel=0.01)
    first = np.full(1024, np.iinfo(np.int64).max)
    np.minimum.at(first, ev["y"].astype(np.int64) * 32 + ev["x"], ev["t"])
    assert first.min() < 200_000 and first.max() > 800_000  # leak phases are spread out


def test_noise_off_static_scene_gives_no_events():
    emu = EventEmulator(32, 32, EmulatorConfig(shot_noise_rate_hz=0.0, leak_rate_hz=0.0, seed=1))
    frame = (np.random.default_rng(1).random((32, 32)) * 255).astype(np.uint8)
    assert sum(len(emu.feed(frame, k * 1000)) for k in range(100)) == 0


def test_seeded_reproducibility_and_reset():
    rng = np.random.default_rng(7)
    frames = (rng.random((8, 20, 20)) * 255).astype(np.uint8)
    ts = np.arange(8) * 3000
    cfg = EmulatorConfig(shot_noise_rate_hz=5.0, leak_rate_hz=0.5, seed=42)
    a = emulate_frames(frames, ts, cfg).events
    b = emulate_frames(frames, ts, cfg).events
    assert np.array_equal(a, b)
    c = emulate_frames(frames, ts, EmulatorConfig(shot_noise_rate_hz=5.0, leak_rate_hz=0.5, seed=43)).events
    assert not np.array_equal(a, c)
    emu = EventEmulator(20, 20, cfg)
    first = np.concatenate([emu.feed(f, t) for f, t in zip(frames, ts)])
    emu.reset()
    again = np.concatenate([emu.feed(f, t) for f, t in zip(frames, ts)])
    assert np.array_equal(first, again) and np.array_equal(first, a)


def test_float_frames_match_uint8_frames():
    # float frames are looked up at 12 bits; 51 and 204 (0.2 and 0.8) are exact there, so the
    # events must be identical to those of the uint8 frames, low-pass and mismatch included
    frames = _bar_video(dark=51, bright=204)
    ts = np.arange(len(frames)) * 1000
    cfg = EmulatorConfig(threshold_sigma=0.03, cutoff_hz=300.0, shot_noise_rate_hz=0.0, leak_rate_hz=0.0, seed=4)
    a = emulate_frames(frames, ts, cfg).events
    b = emulate_frames(frames.astype(np.float32) / np.float32(255.0), ts, cfg).events
    assert len(a) > 1000
    assert np.array_equal(a, b)


def test_large_timestamps_keep_microsecond_precision():
    t0 = 1_700_000_000_000_000  # Unix-epoch µs, as live cameras stamp
    emu = EventEmulator(4, 4, EmulatorConfig.ideal(0.2, refractory_us=300))
    f0 = np.full((4, 4), 40, np.uint8)
    f1 = f0.copy()
    f1[0, 0] = 200
    emu.feed(f0, t0)
    ev = emu.feed(f1, t0 + 1000)
    step = 1000 * 0.2 / math.log(5)
    assert (ev["t"] - t0).tolist() == [math.ceil(step * k) for k in (1, 4, 7)]


@pytest.mark.parametrize(
    "frame, problem",
    [
        (np.zeros((5, 4), np.uint8), "shape"),
        (np.zeros((4, 4), np.int32), "dtype"),
        (np.full((4, 4), 2.0, np.float32), "[0, 1]"),
        (np.full((4, 4), np.nan, np.float32), "[0, 1]"),
    ],
)
def test_bad_frames_are_rejected_with_a_clear_error(frame, problem):
    emu = EventEmulator(4, 4)
    with pytest.raises(ValueError, match=problem if problem != "[0, 1]" else r"\[0, 1\]"):
        emu.feed(frame, 0)


def test_time_must_increase_and_config_must_be_valid():
    emu = EventEmulator(4, 4)
    emu.feed(np.zeros((4, 4), np.uint8), 100)
    with pytest.raises(ValueError, match="increase"):
        emu.feed(np.zeros((4, 4), np.uint8), 100)
    with pytest.raises(ValueError, match="thresholds"):
        EmulatorConfig(on_threshold=0.0)
    with pytest.raises(ValueError, match="refractory_us"):
        EmulatorConfig(refractory_us=-1)
    with pytest.raises(ValueError, match="sensor size"):
        EventEmulator(0, 4)
