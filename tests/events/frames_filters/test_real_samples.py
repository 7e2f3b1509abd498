"""Framing and filters on real recordings (../shared/samples, read with dv-processing's own
reader so that these tests do not depend on snnstudio's readers); dv and tonic are the oracles."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from snnstudio.events import filters as F
from snnstudio.events.frames import StreamingBinner, bin_events
from snnstudio.events.types import make_events

dv = pytest.importorskip("dv_processing")

SAMPLES = {"davis346": "davis346_sample.aedat4", "dvs128": "dvs128_hand_2024_06_13.aedat4"}


def read_dv(path):
    rec = dv.io.MonoCameraRecording(str(path))
    store = dv.EventStore()
    while (batch := rec.getNextEventBatch()) is not None:
        store.add(batch)
    a = store.numpy()
    return store, make_events(a["timestamp"], a["x"], a["y"], a["polarity"]), tuple(rec.getEventResolution())


@pytest.fixture(scope="module", params=list(SAMPLES))
def sample(request, samples_dir):
    path = samples_dir / SAMPLES[request.param]
    if not path.exists():
        pytest.skip(f"{path} missing")
    return read_dv(path)


def test_background_activity_matches_dv_on_real_data(sample):
    store, ev, size = sample
    filt = dv.noise.BackgroundActivityNoiseFilter(size, backgroundActivityDuration=timedelta(microseconds=2000))
    filt.accept(store)
    expected = filt.generateEvents().numpy()
    got = F.background_activity(ev, size, 2000)
    assert 0 < len(got) < len(ev)
    np.testing.assert_array_equal(got["t"], expected["timestamp"])
    np.testing.assert_array_equal(got["x"], expected["x"])
    np.testing.assert_array_equal(got["y"], expected["y"])


def test_refractory_matches_tonic_on_real_data(sample):
    tonic_rp = pytest.importorskip("tonic.functional.refractory_period").refractory_period_numpy
    _, ev, size = sample
    ev = ev[:5000]
    np.testing.assert_array_equal(F.refractory(ev, size, 1000), tonic_rp(ev.copy(), 1000))


def test_framing_real_data_keeps_every_event_and_streams_exactly(sample):
    _, ev, size = sample
    f = bin_events(ev, size, n_time_bins=10, out_size=(128, 128))
    assert f.shape == (10, 2, 128, 128) and f.sum() == len(ev)
    assert f[:, 1].sum() == np.count_nonzero(ev["p"])
    dt = max((int(ev["t"][-1]) - int(ev["t"][0])) // 40, 1)
    whole = bin_events(ev, size, dt_us=dt, alpha=2)
    b = StreamingBinner(size, dt_us=dt, alpha=2)
    chunks = np.array_split(ev, 17)
    streamed = np.concatenate([*(b.push(c) for c in chunks), b.flush()])
    np.testing.assert_array_equal(streamed, whole)
