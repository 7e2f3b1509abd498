"""Streaming readers keep memory bounded: a file is never decoded whole (tracemalloc sees
numpy's allocations), and the chunks are exactly the file's events in order."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from snnstudio.events.io import Aedat4Writer, iter_event_chunks, read_events, write_events
from snnstudio.events.types import EVENT_DTYPE


@pytest.mark.parametrize("fmt,name,size", [("aedat3", "s.aedat", (128, 128)), ("aedat2", "s2.aedat", (128, 128)),
                                           ("evt2", "s.raw", (640, 480)), ("evt3", "s3.raw", (640, 480)),
                                           ("dat", "s.dat", (640, 480)), ("hdf5", "s.h5", (640, 480)),
                                           ("npy", "s.npy", (640, 480)), ("aedat4", "s.aedat4", (640, 480))])
def test_streaming_memory_is_bounded(tmp_path, make_recording, fmt, name, size):
    n = 1_500_000
    path = tmp_path / name
    if fmt == "aedat4":  # written the way the live recorder writes: many packets
        rec = make_recording(n=n, size=size, t0=0, span_us=30_000_000, seed=9)
        with Aedat4Writer(path, size) as w:
            for k in range(0, n, 20_000):
                w.write(rec.events[k : k + 20_000])
    else:
        rec = make_recording(n=n, size=size, t0=0, span_us=30_000_000, seed=9)
        write_events(path, rec, format=fmt)
    expected_t = rec.events["t"].copy()
    whole = n * EVENT_DTYPE.itemsize
    del rec
    chunk = 50_000
    tracemalloc.start()
    count, t_sum, t_last = 0, 0, -1
    chunks = iter_event_chunks(path, chunk_events=chunk)
    for ev in chunks:
        assert ev.dtype == EVENT_DTYPE and ev.shape[0] <= chunk
        assert int(ev["t"][0]) >= t_last
        t_last = int(ev["t"][-1])
        t_sum += int(ev["t"].sum())
        count += ev.shape[0]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == n and t_sum == int(expected_t.sum())
    assert peak < whole / 3, f"{fmt}: peak {peak / 1e6:.1f} MB while streaming a {whole / 1e6:.1f} MB recording"
    assert chunks.sensor_size == size


def test_chunks_are_exact_and_carry_header_facts(tmp_path, labelled):
    path = tmp_path / "g.aedat"
    write_events(path, labelled)
    chunks = iter_event_chunks(path, chunk_events=1000)
    assert chunks.format == "aedat3" and chunks.sensor_size == (128, 128) and chunks.labels == labelled.labels
    parts = list(chunks)
    assert [p.shape[0] for p in parts] == [1000] * 5
    np.testing.assert_array_equal(np.concatenate(parts), labelled.events)
    np.testing.assert_array_equal(np.concatenate(list(chunks)), labelled.events)  # iterable again
    with pytest.raises(ValueError, match="positive"):
        iter_event_chunks(path, chunk_events=0)
    np.testing.assert_array_equal(read_events(path).events, labelled.events)
