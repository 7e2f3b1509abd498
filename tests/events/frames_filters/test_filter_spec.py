"""The one filter spec (:func:`parse_filters`) and :class:`FilterChain`: parsing round trips, the
chain equals the filter functions composed by hand, and streaming it batch by batch equals one call."""

from __future__ import annotations

import numpy as np
import pytest

from snnstudio.events.filters import (
    FILTER_NAMES,
    FilterChain,
    FilterError,
    FilterSpec,
    background_activity,
    crop,
    downsample,
    find_hot_pixels,
    format_filters,
    mask_pixels,
    parse_filters,
    polarity_select,
    refractory,
)
from snnstudio.events.types import make_events

SIZE = (40, 30)


def _events(n=30_000, seed=0, hot=((3, 4), (20, 10))):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, 2_000_000, n))
    x = rng.integers(0, SIZE[0], n)
    y = rng.integers(0, SIZE[1], n)
    for i, (hx, hy) in enumerate(hot):  # a few pixels firing far more than the rest
        sel = rng.random(n) < 0.03
        x[sel], y[sel] = hx, hy
    return make_events(t, x, y, rng.integers(0, 2, n))


def test_parse_round_trips_and_orders():
    specs = parse_filters("downsample=20x15; denoise=2ms;crop=2,3,30,20 ; hot ; polarity=off; refractory=500us")
    assert [s.name for s in specs] == list(FILTER_NAMES)  # applied in one fixed order
    assert specs == [FilterSpec("hot"), FilterSpec("polarity", 0), FilterSpec("refractory", 500),
                     FilterSpec("denoise", 2000), FilterSpec("crop", (2, 3, 30, 20)), FilterSpec("downsample", (20, 15))]
    text = format_filters(specs)
    assert text == "hot; polarity=off; refractory=500; denoise=2000; crop=2,3,30,20; downsample=20x15"
    assert parse_filters(text) == specs
    for s in specs:
        assert parse_filters(str(s)) == [s]
    # defaults, units, repeated options, the last value of a name wins
    assert parse_filters(["denoise", "refractory"]) == [FilterSpec("refractory", 1000), FilterSpec("denoise", 2000)]
    assert parse_filters(["hot=250Hz", "denoise=0.5ms", "denoise=3000"]) == [FilterSpec("hot", 250.0),
                                                                              FilterSpec("denoise", 3000)]
    assert parse_filters("downsample=16") == [FilterSpec("downsample", (16, 16))]
    assert parse_filters("") == parse_filters(None) == parse_filters(" ; ") == []


@pytest.mark.parametrize("bad, said", [
    ("blur", "unknown filter 'blur'"), ("denoise=-3", "positive"), ("denoise=fast", "duration"),
    ("polarity=both", "on or off"), ("crop=1,2,3", "4 whole numbers"), ("crop=0,0,0,5", "width, height > 0"),
    ("downsample=axb", "2 whole numbers"), ("hot=0", "positive"), ("refractory=", "value is missing"),
])
def test_bad_items_are_named(bad, said):
    with pytest.raises(FilterError, match=said):
        parse_filters(f"denoise; {bad}")


def test_the_chain_is_the_functions_composed_by_hand():
    ev = _events()
    spec = "denoise=3000; hot; polarity=on; refractory=2000; crop=5,2,30,24; downsample=15x12"
    chain = FilterChain(spec, SIZE).fit(ev)
    got = chain(ev)
    want = mask_pixels(ev, find_hot_pixels(ev, SIZE))
    want = polarity_select(want, 1)
    want = refractory(want, SIZE, 2000)
    want = background_activity(want, SIZE, 3000)
    want = crop(want, (5, 2, 30, 24))
    want = downsample(want, (30, 24), (15, 12))
    assert len(want) < len(ev) // 3 and np.array_equal(got, want)
    assert chain.output_size(SIZE) == (15, 12) and str(chain) == format_filters(parse_filters(spec))
    hot = chain.transforms[0].mask
    assert hot[4, 3] and hot[10, 20] and hot.sum() == 2


def test_streaming_equals_one_call_and_reset_forgets():
    ev = _events(seed=1)
    spec = "refractory=1500; denoise=2500; polarity=off; crop=0,0,32,24"
    whole = FilterChain(spec, SIZE)(ev)
    stream = FilterChain(spec, SIZE)
    cuts = np.sort(np.random.default_rng(2).integers(0, len(ev), 40))
    parts = [stream(b) for b in np.split(ev, cuts)]
    assert np.array_equal(np.concatenate(parts), whole)
    stream.reset()  # after a seek: no memory of the past, as a fresh chain
    assert np.array_equal(stream(ev[5000:]), FilterChain(spec, SIZE)(ev[5000:]))
    with pytest.raises(FilterError, match="does not fit the 40×30 sensor"):
        FilterChain("crop=0,0,32,32", SIZE)


def test_streaming_hot_pixels_calibrate_on_the_first_stretch():
    ev = _events(seed=3)
    chain = FilterChain("hot", SIZE, calibrate_us=500_000)
    out = np.concatenate([chain(b) for b in np.array_split(ev, 50)])
    mask = chain.transforms[0].mask
    assert mask is not None and mask[4, 3] and mask[10, 20]
    # the batches up to the one that completed the calibration pass whole; the rest are masked
    first = ev["t"] - ev["t"][0] < 500_000
    assert len(out) < len(ev) and np.array_equal(out[: int(first.sum())], ev[first])
    assert not ((out["x"] == 3) & (out["y"] == 4) & (out["t"] >= ev["t"][0] + 600_000)).any()
