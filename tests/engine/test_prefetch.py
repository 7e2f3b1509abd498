import time

import numpy as np
import pytest

from snnstudio.engine.prefetch import Prefetched
from snnstudio.errors import SourceError
from snnstudio.events.sources.base import EventBatch, EventSource

from engine_helpers import ChunkedSource, random_recording


def test_prefetch_is_lossless_and_in_order_even_when_the_consumer_is_slow():
    rec = random_recording()
    direct = list(ChunkedSource(rec).batches())
    pre = Prefetched(ChunkedSource(rec), max_batches=3)
    got = []
    for b in pre.batches():
        got.append(b)
        time.sleep(0.002)
        assert len(pre._q) <= 4  # the producer waits: never more than max_batches (+ the end mark) ahead
    assert len(got) == len(direct)
    for a, b in zip(got, direct):
        assert (a.t_start_us, a.t_end_us) == (b.t_start_us, b.t_end_us)
        np.testing.assert_array_equal(a.events, b.events)


def test_prefetch_reraises_the_source_error_after_the_good_batches():
    class Fails(EventSource):
        sensor_size = (4, 4)

        def batches(self):
            for i in range(3):
                yield EventBatch(np.zeros(0, dtype=[("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("p", "i1")]), i, i + 1)
            raise SourceError("camera unplugged")

    it = Prefetched(Fails()).batches()
    assert [next(it).t_start_us for _ in range(3)] == [0, 1, 2]
    with pytest.raises(SourceError, match="unplugged"):
        next(it)


def test_session_plays_the_synthetic_gesture_source_with_labels():
    pytest.importorskip("snnstudio.events.sources.synthetic")
    from snnstudio.engine.session import Session, SessionConfig

    s = Session(SessionConfig(realtime=False))
    s.start()
    try:
        s.set_model("tiny")
        s.open("synthetic")
        s.step(30)
        snap = s.wait_for(lambda x: x is not None and x.index >= 29, 60)
        assert snap.index == 29 and not s.messages
        assert snap.t_start_us == 29 * 10_000
        assert not s.state.seekable and s.state.source_name == "synthetic"
        assert snap.label is not None and snap.label_name  # the first gesture starts at t = 0
    finally:
        s.close()
