"""The synthetic gesture generator: classes, labels, reproducibility, visible motion, no shortcuts."""

from __future__ import annotations

import numpy as np
import pytest

from snnstudio.events import EVENT_DTYPE
from snnstudio.events.synthetic import (
    CLASS_NAMES,
    GESTURES,
    GestureStream,
    dataset_sample,
    generate_gesture,
    generate_sequence,
    gesture_id,
    make_demo_recording,
)
from snnstudio.events.synthetic.motion import gesture_poses

DUR = 1_000_000


def test_class_ids_and_names_are_fixed():
    assert GESTURES == ("swipe_left", "swipe_right", "swipe_up", "swipe_down", "circle_cw", "circle_ccw",
                        "wave", "push", "pull", "other")
    assert CLASS_NAMES == dict(enumerate(GESTURES))
    assert gesture_id("push") == 7
    with pytest.raises(ValueError, match="unknown gesture 'juggle'"):
        gesture_id("juggle")


@pytest.fixture(scope="module")
def clean_samples():
    """Every gesture, two seeds, plain scene and ideal sensor: events come from the hand only."""
    return {(name, seed): generate_gesture(name, seed=seed, duration_us=DUR, clean=True)
            for name in GESTURES for seed in (0, 1)}


def test_every_gesture_generates_a_labelled_in_range_sorted_recording(clean_samples):
    for (name, _seed), rec in clean_samples.items():
        ev = rec.events
        assert ev.dtype == EVENT_DTYPE and rec.sensor_size == (128, 128)
        assert len(rec) > 2000, name
        assert ev["t"].min() >= 0 and ev["t"].max() < DUR
        assert np.all(np.diff(ev["t"]) >= 0)
        assert ev["x"].min() >= 0 and ev["x"].max() < 128 and ev["y"].min() >= 0 and ev["y"].max() < 128
        assert set(np.unique(ev["p"]).tolist()) == {0, 1}
        [label] = rec.labels
        assert (label.class_id, label.start_us, label.end_us, label.name) == (gesture_id(name), 0, DUR, name)


def _quarters(ev):
    """Events of the first and last quarter of the event stream (by count, so idle time is skipped)."""
    n = len(ev)
    return ev[: n // 4], ev[-n // 4 :]


@pytest.mark.parametrize("name, axis, sign", [("swipe_right", "x", 1), ("swipe_left", "x", -1),
                                              ("swipe_down", "y", 1), ("swipe_up", "y", -1)])
def test_swipes_move_the_on_event_centroid_in_their_direction(clean_samples, name, axis, sign):
    for seed in (0, 1):
        on = clean_samples[(name, seed)].events
        on = on[on["p"] == 1]  # a bright hand: ON events mark its leading edge
        first, last = _quarters(on)
        shift = float(last[axis].mean()) - float(first[axis].mean())
        assert sign * shift > 15, (name, seed, shift)


def test_push_spreads_events_out_and_pull_gathers_them(clean_samples):
    def spread(ev):
        return float(np.hypot(ev["x"].std(), ev["y"].std()))

    for seed in (0, 1):
        first, last = _quarters(clean_samples[("push", seed)].events)
        assert spread(last) > 1.3 * spread(first)
        first, last = _quarters(clean_samples[("pull", seed)].events)
        assert spread(first) > 1.3 * spread(last)


def _centroid_track(ev, windows=40):
    """Event centroids over equal-count windows (only where the hand moves)."""
    parts = np.array_split(ev, windows)
    return np.array([(p["x"].mean(), p["y"].mean()) for p in parts])


def test_circles_turn_the_right_way(clean_samples):
    # in image coordinates (y down) a clockwise path has a positive cross product r × v
    for seed in (0, 1):
        for name, sign in (("circle_cw", 1), ("circle_ccw", -1)):
            c = _centroid_track(clean_samples[(name, seed)].events)
            r = c[:-1] - c.mean(0)
            v = np.diff(c, axis=0)
            turn = float(np.sum(r[:, 0] * v[:, 1] - r[:, 1] * v[:, 0]))
            assert sign * turn > 0, (name, seed, turn)


def test_wave_oscillates_sideways_while_swipes_do_not(clean_samples):
    def reversals(ev):
        x = _centroid_track(ev, 30)[:, 0]
        dx = np.diff(x)
        dx = dx[np.abs(dx) > 0.5]  # ignore jitter
        return int(np.sum(np.sign(dx[1:]) != np.sign(dx[:-1])))

    for seed in (0, 1):
        assert reversals(clean_samples[("wave", seed)].events) >= 2
        assert reversals(clean_samples[("wave", seed)].events) > reversals(clean_samples[("swipe_right", seed)].events)


def test_same_seed_same_events_other_seed_other_events():
    a = generate_gesture("circle_ccw", seed=11, duration_us=400_000)
    b = generate_gesture("circle_ccw", seed=11, duration_us=400_000)
    c = generate_gesture("circle_ccw", seed=12, duration_us=400_000)
    assert np.array_equal(a.events, b.events) and a.labels == b.labels
    assert not np.array_equal(a.events[: min(len(a), len(c))], c.events[: min(len(a), len(c))])
    r1 = generate_gesture("random", seed=4, duration_us=300_000)
    r2 = generate_gesture("random", seed=4, duration_us=300_000)
    assert r1.labels == r2.labels and r1.labels[0].name in GESTURES


def test_hand_position_over_time_does_not_reveal_the_class():
    # the time-averaged hand position is drawn from the same distribution for every class
    t = np.arange(0, 1.5, 0.01)
    means = {}
    for name in GESTURES:
        p = np.array([gesture_poses(name, np.random.default_rng(s), t, (128, 128), 50.0)[:, :2].mean(0)
                      for s in range(150)])
        means[name] = p.mean(0)
    allmean = np.mean(list(means.values()), axis=0)
    for name, m in means.items():
        assert np.all(np.abs(m - allmean) < 4.0), (name, m, allmean)


@pytest.mark.slow
def test_event_counts_do_not_separate_the_classes():
    # full realism (noise, clutter, random sensor); leave-one-out nearest-class-mean on log counts
    counts = {name: [np.log(len(generate_gesture(name, seed=s, duration_us=DUR))) for s in range(4)]
              for name in GESTURES}
    right = total = 0
    for name, vals in counts.items():
        for i, v in enumerate(vals):
            centres = {n: np.mean([u for j, u in enumerate(vs) if not (n == name and j == i)]) for n, vs in counts.items()}
            right += min(centres, key=lambda n: abs(centres[n] - v)) == name
            total += 1
    assert right / total < 0.4  # chance is 0.1; a count shortcut would approach 1
    lo = {n: min(v) for n, v in counts.items()}
    hi = {n: max(v) for n, v in counts.items()}
    for n in GESTURES:  # every class's count range overlaps several others'
        assert sum(lo[n] <= hi[m] and lo[m] <= hi[n] for m in GESTURES if m != n) >= 3, n


def test_sequence_labels_gaps_and_continuity():
    rec = generate_sequence(["swipe_left", "wave", "pull"], seed=2, duration_us=500_000, gap_us=(200_000, 300_000))
    assert [lab.name for lab in rec.labels] == ["swipe_left", "wave", "pull"]
    assert [lab.class_id for lab in rec.labels] == [0, 6, 8]
    for a, b in zip(rec.labels, rec.labels[1:]):
        assert b.start_us - a.end_us >= 200_000 - 2000 and b.start_us - a.end_us <= 300_000 + 2000
    for lab in rec.labels:
        assert lab.end_us - lab.start_us == 500_000
        assert len(rec.time_slice(lab.start_us, lab.end_us)) > 1000
    assert np.all(np.diff(rec.events["t"]) >= 0)
    again = generate_sequence(["swipe_left", "wave", "pull"], seed=2, duration_us=500_000, gap_us=(200_000, 300_000))
    assert np.array_equal(rec.events, again.events)
    counted = generate_sequence(12, seed=1, duration_us=200_000, gap_us=100_000, clean=True)
    names = [lab.name for lab in counted.labels]
    assert len(names) == 12 and set(names[:10]) == set(GESTURES)  # every class once per ten


def test_stream_needs_valid_arguments():
    with pytest.raises(ValueError, match="sensor"):
        GestureStream(0, (8, 8))
    with pytest.raises(ValueError, match="fps"):
        GestureStream(0, fps=10)
    with pytest.raises(ValueError, match="unknown gesture"):
        generate_sequence(["swipe_left", "moonwalk"], 0)
    with pytest.raises(ValueError, match="count"):
        generate_sequence(0, 0)


def test_other_sensor_sizes_work():
    rec = generate_gesture("swipe_right", seed=3, duration_us=300_000, sensor_size=(96, 64), clean=True)
    assert rec.sensor_size == (96, 64) and len(rec) > 500
    assert rec.events["x"].max() < 96 and rec.events["y"].max() < 64


@pytest.mark.slow
def test_demo_recording_covers_every_gesture_within_budget():
    rec = make_demo_recording(0)
    assert sorted(lab.name for lab in rec.labels) == sorted(GESTURES)
    assert 20e6 <= rec.labels[-1].end_us <= 32e6
    assert 100_000 < len(rec) <= 2_000_000


def test_dataset_samples_are_balanced_deterministic_and_split_by_seed():
    a = [dataset_sample(i, seed=0, duration_us=200_000) for i in (0, 1, 12)]
    assert [r.labels[0].class_id for r in a] == [0, 1, 2]
    assert np.array_equal(a[2].events, dataset_sample(12, seed=0, duration_us=200_000).events)
    other = dataset_sample(12, seed=1, duration_us=200_000)
    assert other.labels[0].class_id == 2 and not np.array_equal(a[2].events[:1000], other.events[:1000])
    with pytest.raises(ValueError, match="index"):
        dataset_sample(-1)
