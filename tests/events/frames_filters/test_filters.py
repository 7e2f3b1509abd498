"""Event filters: dv-processing and tonic as oracles where they exist, hand-worked cases, and
chunked == whole for the filters that carry state across streaming batches."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from snnstudio.events import filters as F
from snnstudio.events.frames import ToFrames, bin_events
from snnstudio.events.types import EVENT_DTYPE, make_events

EPOCH = 1_700_000_000_000_000  # real recordings carry Unix-epoch µs


def random_events(n, w=32, h=24, t_max=100_000, seed=0, t0=EPOCH):
    rng = np.random.default_rng(seed)
    return make_events(
        np.sort(rng.integers(0, t_max, n)) + t0, rng.integers(0, w, n), rng.integers(0, h, n), rng.integers(0, 2, n)
    )


def dv_store(events):
    dv = pytest.importorskip("dv_processing")
    store = dv.EventStore()
    for t, x, y, p in zip(events["t"].tolist(), events["x"].tolist(), events["y"].tolist(), events["p"].tolist()):
        store.push_back(t, x, y, bool(p))
    return store


def dv_to_numpy(store):
    got = store.numpy()
    return make_events(got["timestamp"], got["x"], got["y"], got["polarity"])


def split_random(events, n_cuts, seed):
    return np.split(events, np.sort(np.random.default_rng(seed).integers(0, len(events), n_cuts)))


# --- background activity -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "n, w, h, duration, t_max",
    [(20_000, 64, 48, 2000, 200_000), (4000, 8, 6, 300, 50_000), (3000, 16, 16, 1000, 20)],  # last: many equal t
)
def test_background_activity_matches_dv(n, w, h, duration, t_max):
    dv = pytest.importorskip("dv_processing")
    ev = random_events(n, w, h, t_max=t_max, seed=n)
    filt = dv.noise.BackgroundActivityNoiseFilter((w, h), backgroundActivityDuration=timedelta(microseconds=duration))
    filt.accept(dv_store(ev))
    expected = dv_to_numpy(filt.generateEvents())
    got = F.background_activity(ev, (w, h), duration)
    assert 0 < len(got) < len(ev)  # the case is not trivial
    np.testing.assert_array_equal(got, expected)
    for method in ("sort", "blocks"):  # both vectorisations, whatever "auto" picked
        np.testing.assert_array_equal(ev[F._ba_keep(ev, (w, h), None, duration, method)], expected)
    np.testing.assert_array_equal(F.background_activity_dv(ev, (w, h), duration), expected)


def reference_ba(ev, w, h, d):
    """Per-event loop of dv's rule (from dv-processing's header): 8 neighbours, strict <,
    every event writes its pixel's timestamp. dv's EventStore refuses unsorted input, so this
    loop is the oracle there."""
    last = np.full((h, w), None, dtype=object)
    keep = []
    for e in ev:
        x, y, t = int(e["x"]), int(e["y"]), int(e["t"])
        ok = any(
            0 <= x + dx < w and 0 <= y + dy < h and last[y + dy, x + dx] is not None and t - last[y + dy, x + dx] < d
            for dx in (-1, 0, 1)
            for dy in (-1, 0, 1)
            if (dx, dy) != (0, 0)
        )
        keep.append(ok)
        last[y, x] = t
    return ev[np.array(keep, bool)]


def test_background_activity_unsorted_input_follows_stream_order():
    # the filter follows stream order like dv does; the sort path ("auto" picks it) handles any order
    ev = random_events(3000, 16, 12, t_max=30_000, seed=21)
    rng = np.random.default_rng(22)
    ev = ev[np.argsort(ev["t"] + rng.integers(-300, 300, len(ev)), kind="stable")]
    assert (np.diff(ev["t"]) < 0).any()
    expected = reference_ba(ev, 16, 12, 800)
    assert 0 < len(expected) < len(ev)
    np.testing.assert_array_equal(F.background_activity(ev, (16, 12), 800), expected)
    srt = ev[np.argsort(ev["t"], kind="stable")]
    np.testing.assert_array_equal(reference_ba(srt, 16, 12, 800), F.background_activity_dv(srt, (16, 12), 800))
    with pytest.raises(F.FilterError, match="sorted"):
        F._ba_keep(ev, (16, 12), None, 800, "blocks")


def test_background_activity_hand():
    ev = make_events(
        [EPOCH + 0, EPOCH + 1000, EPOCH + 5000, EPOCH + 5001, EPOCH + 7000, EPOCH + 7001],
        [5, 6, 5, 0, 0, 9],
        [5, 5, 5, 0, 0, 9],
        [1, 0, 1, 1, 1, 0],
    )
    got = F.background_activity(ev, (10, 10), duration_us=2000)
    # (6,5)@1000: neighbour (5,5) fired 1000 µs before -> kept
    # (5,5)@5000: its neighbour (6,5) last fired 4000 µs before -> dropped
    # (0,0)@7000: only its own pixel fired before -> dropped (own pixel never supports)
    np.testing.assert_array_equal(got["t"] - EPOCH, [1000])
    # the strict bound: exactly `duration` apart is not support
    ev2 = make_events([EPOCH, EPOCH + 2000], [1, 2], [1, 1], [0, 0])
    assert len(F.background_activity(ev2, (4, 4), 2000)) == 0
    assert len(F.background_activity(ev2, (4, 4), 2001)) == 1


def test_background_activity_streaming_equals_whole():
    ev = random_events(20_000, 40, 30, t_max=300_000, seed=3)
    whole = F.background_activity(ev, (40, 30), 1500)
    np.testing.assert_array_equal(ev[F._ba_keep(ev, (40, 30), None, 1500, "sort")], whole)
    filt = F.BackgroundActivityFilter((40, 30), 1500)
    # random chunk sizes: small chunks take the sort path, large ones the block path
    chunked = np.concatenate([filt(c) for c in split_random(ev, 50, 4)])
    np.testing.assert_array_equal(chunked, whole)
    filt.reset()
    np.testing.assert_array_equal(filt(ev), whole)


# --- refractory period ---------------------------------------------------------------------------


def test_refractory_matches_tonic():
    tonic_rp = pytest.importorskip("tonic.functional.refractory_period").refractory_period_numpy
    ev = random_events(5000, 8, 8, t_max=100_000, seed=5, t0=1)  # t > 0: tonic drops t <= 0 first events
    np.testing.assert_array_equal(F.refractory(ev, (8, 8), 700), tonic_rp(ev.copy(), 700))


def test_refractory_hand_and_streaming():
    # one pixel: 0 kept, 5 dropped (5 <= 10 after 0), 12 dropped (7 after 5), 30 kept, 40 kept (10 < 10 is false -> >10 needed)
    ev = make_events([0, 5, 12, 30, 40, 51], [1] * 6, [1] * 6, [1, 0, 1, 1, 0, 1])
    np.testing.assert_array_equal(F.refractory(ev, (2, 2), 10)["t"], [0, 30, 51])
    big = random_events(20_000, 16, 16, seed=6)
    whole = F.refractory(big, (16, 16), 500)
    filt = F.RefractoryFilter((16, 16), 500)
    np.testing.assert_array_equal(np.concatenate([filt(c) for c in split_random(big, 30, 7)]), whole)


# --- hot pixels ----------------------------------------------------------------------------------


def test_hot_pixels_found_and_masked_like_dv():
    dv = pytest.importorskip("dv_processing")
    rng = np.random.default_rng(8)
    base = random_events(20_000, 32, 24, t_max=1_000_000, seed=8)
    hot_xy = [(3, 4), (30, 20), (10, 10)]
    hot = [make_events(np.sort(rng.integers(0, 1_000_000, 2000)) + EPOCH, [x] * 2000, [y] * 2000, rng.integers(0, 2, 2000)) for x, y in hot_xy]
    ev = np.concatenate([base, *hot])
    ev = ev[np.argsort(ev["t"], kind="stable")]
    mask = F.find_hot_pixels(ev, (32, 24))
    assert sorted(zip(*np.nonzero(mask.T))) == sorted(hot_xy)  # exactly the three, as (x, y)
    assert np.array_equal(F.find_hot_pixels(ev, (32, 24), max_rate_hz=500), mask)  # ~2000 Hz vs ~26 Hz
    got = F.HotPixelFilter.fit(ev, (32, 24))(ev)
    dvf = dv.EventMaskFilter((~mask).astype(np.uint8))  # dv keeps non-zero mask pixels
    dvf.accept(dv_store(ev))
    np.testing.assert_array_equal(got, dv_to_numpy(dvf.generateEvents()))
    at_hot = np.zeros(len(base), bool)
    for x, y in hot_xy:
        at_hot |= (base["x"] == x) & (base["y"] == y)
    assert len(got) == len(base) - at_hot.sum()


# --- geometry, selection, augmentation -----------------------------------------------------------


def test_polarity_select_matches_dv():
    dv = pytest.importorskip("dv_processing")
    ev = random_events(3000, seed=9)
    for pol in (0, 1):
        dvf = dv.EventPolarityFilter(bool(pol))
        dvf.accept(dv_store(ev))
        np.testing.assert_array_equal(F.polarity_select(ev, pol), dv_to_numpy(dvf.generateEvents()))
    np.testing.assert_array_equal(F.PolaritySelect(1)(ev)["p"], np.ones(np.count_nonzero(ev["p"])))


def test_flip_mirrors_frames():
    ev = random_events(4000, seed=10)
    frames = bin_events(ev, (32, 24), n_time_bins=3)
    np.testing.assert_array_equal(bin_events(F.flip(ev, (32, 24), x=True), (32, 24), n_time_bins=3), frames[..., ::-1])
    np.testing.assert_array_equal(bin_events(F.Flip((32, 24), y=True)(ev), (32, 24), n_time_bins=3), frames[..., ::-1, :])
    np.testing.assert_array_equal(F.flip(F.flip(ev, (32, 24), x=True, y=True), (32, 24), x=True, y=True), ev)
    assert F.flip(make_events([0], [0], [23], [1]), (32, 24), x=True, y=True)[["x", "y"]].tolist() == [(31, 0)]


def test_crop_and_downsample_against_frames():
    ev = random_events(6000, w=128, h=128, seed=11)
    full = bin_events(ev, (128, 128), n_time_bins=2)
    cropped = F.Crop((16, 8, 40, 30))
    assert cropped.output_size((128, 128)) == (40, 30)
    c = cropped(ev)
    t0, t1 = int(ev["t"][0]), int(ev["t"][-1]) + 1
    np.testing.assert_array_equal(bin_events(c, (40, 30), n_time_bins=2, t_start_us=t0, t_end_us=t1), full[:, :, 8:38, 16:56])
    d = F.Downsample((128, 128), (32, 32))(ev)
    assert len(d) == len(ev)
    np.testing.assert_array_equal(bin_events(d, (32, 32), n_time_bins=2), full.reshape(2, 2, 32, 4, 32, 4).sum((3, 5)))


def test_time_shift_and_jitter():
    ev = random_events(5000, seed=12)
    np.testing.assert_array_equal(F.TimeShift(-EPOCH)(ev)["t"], ev["t"] - EPOCH)
    # give every event a unique id in (x, y) so jittered events can be matched to their originals
    n = 5000
    ids = np.arange(n)
    tagged = make_events(ev["t"], ids % 100, ids // 100, ev["p"])
    out = F.TimeJitter(50.0, seed=1)(tagged)
    assert np.all(np.diff(out["t"]) >= 0)
    back = out[np.argsort(out["y"].astype(np.int64) * 100 + out["x"])]
    delta = back["t"] - tagged["t"]
    assert abs(delta.mean()) < 5 * 50 / np.sqrt(n) and 45 < delta.std() < 55
    np.testing.assert_array_equal(back["p"], tagged["p"])
    np.testing.assert_array_equal(F.time_jitter(tagged, 0.0), tagged)


def test_drop_events():
    ev = random_events(20_000, seed=13)
    out = F.DropEvents(0.25, seed=2)(ev)
    assert abs(len(out) / len(ev) - 0.75) < 5 * np.sqrt(0.25 * 0.75 / len(ev))
    assert np.isin(out["t"], ev["t"]).all() and np.all(np.diff(out["t"]) >= 0)
    assert len(F.drop_events(ev, 0.0)) == len(ev) and len(F.drop_events(ev, 1.0)) == 0


def test_compose_chains_and_ends_in_frames():
    ev = random_events(8000, w=128, h=128, seed=14)
    pipe = F.Compose([F.Crop((0, 0, 64, 64)), F.Downsample((64, 64), (16, 16)), F.PolaritySelect(1)])
    assert pipe.output_size((128, 128)) == (16, 16)
    manual = F.polarity_select(F.downsample(F.crop(ev, (0, 0, 64, 64)), (64, 64), (16, 16)), 1)
    np.testing.assert_array_equal(pipe(ev), manual)
    to_frames = F.Compose([*pipe.transforms, ToFrames((16, 16), n_event_bins=4)])
    f = to_frames(ev)
    assert f.shape == (4, 2, 16, 16) and f[:, 0].sum() == 0 and f.sum() == len(manual)
    stateful = F.Compose([F.RefractoryFilter((128, 128), 100), F.BackgroundActivityFilter((128, 128), 5000)])
    first = stateful(ev)
    stateful.reset()
    np.testing.assert_array_equal(stateful(ev), first)


# --- bad input ------------------------------------------------------------------------------------


def test_bad_input_is_typed():
    ev = random_events(10, seed=15)
    with pytest.raises(F.FilterError, match="EVENT_DTYPE"):
        F.refractory(np.zeros(3), (4, 4), 10)
    with pytest.raises(F.FilterError, match="do not fit"):
        F.background_activity(ev, (4, 4), 10)
    with pytest.raises(F.FilterError):
        F.PolaritySelect(2)
    with pytest.raises(F.FilterError):
        F.Crop((0, 0, 0, 3))
    with pytest.raises(F.FilterError):
        F.DropEvents(1.5)
    with pytest.raises(F.FilterError):
        F.BackgroundActivityFilter((4, 4), 0)
    with pytest.raises(F.FilterError):
        F.mask_pixels(ev, np.zeros(5, bool))
    with pytest.raises(F.FilterError, match="sensor_size"):
        F.Flip((0, 3))
    with pytest.raises(F.FilterError, match="do not fit"):
        F.flip(ev, (4, 4), x=True)
    assert len(F.background_activity(np.zeros(0, EVENT_DTYPE), (4, 4))) == 0
    assert len(F.refractory(np.zeros(0, EVENT_DTYPE), (4, 4), 5)) == 0
