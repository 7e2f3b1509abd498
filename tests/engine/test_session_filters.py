"""The session's ``set_filters`` control: every step's events are the filter chain's output over
the recording (oracle: the chain run over the whole recording, cut into the same windows), crop /
downsample change the sensor the model sees, a bad spec is a message, and a restarted engine
comes back with its filters."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

from engine_helpers import random_recording
from snnstudio.engine.process_session import ProcessSession
from snnstudio.engine.session import Session, SessionConfig
from snnstudio.events.filters import FilterChain

DT = 20_000


def _steps(session, got, n, timeout=60):
    start = len(got)
    session.step(n)
    deadline = time.monotonic() + timeout
    while len(got) < start + n and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(got) >= start + n
    return got[start:start + n]


def _oracle(rec, spec, t0, t1):
    """Events per window ``[t, t + DT)`` of ``[t0, t1)`` after the chain, run from ``t0`` on."""
    chain = FilterChain(spec, rec.sensor_size)
    ev = rec.events[(rec.events["t"] >= t0) & (rec.events["t"] < t1)]
    out = chain(ev)
    return [int(((out["t"] >= t) & (out["t"] < t + DT)).sum()) for t in range(t0, t1, DT)]


@pytest.fixture
def session():
    got = []
    s = Session(SessionConfig(dt_us=DT, realtime=False), on_snapshot=got.append).start()
    s.got = got
    s.set_model("tiny")
    yield s
    s.close()


def test_filters_apply_to_every_step_in_place_and_by_reopening(session):
    rec = random_recording(n=60_000, seed=4)
    session.open(rec)
    assert session.sync(60)
    plain = _steps(session, session.got, 3)
    assert [s.n_events for s in plain] == _oracle(rec, "", plain[0].t_start_us, plain[-1].t_end_us)
    spec = "polarity=on; refractory=30000; denoise=5000"
    session.set_filters(spec)
    assert session.sync(60)
    st = session.state
    assert st.filters == "polarity=on; refractory=30000; denoise=5000" and st.sensor_size == (32, 24)
    snaps = _steps(session, session.got, 4)
    want = _oracle(rec, spec, snaps[0].t_start_us, snaps[-1].t_end_us)
    assert [s.n_events for s in snaps] == want and sum(want) < sum(s.n_events for s in plain) * 4 / 3 / 2
    # crop + downsample: the model sees a smaller sensor, the source keeps its own
    session.set_filters("crop=4,2,24,20; downsample=12x10")
    assert session.sync(60)
    st = session.state
    assert (st.sensor_size, st.source_sensor_size) == ((12, 10), (32, 24))
    snaps = _steps(session, session.got, 2)
    assert snaps[-1].frame.shape[-2:] == (10, 12)
    assert [s.n_events for s in snaps] == _oracle(rec, "crop=4,2,24,20; downsample=12x10", snaps[0].t_start_us,
                                                  snaps[-1].t_end_us)
    # a bad spec: a message, the filters in force stay
    session.set_filters("polarity=sideways")
    assert session.sync(60)
    assert "polarity: expected on or off" in session.messages[-1]
    assert session.state.filters == "crop=4,2,24,20; downsample=12x10"
    session.set_filters("")
    assert session.sync(60)
    assert (session.state.filters, session.state.sensor_size) == ("", (32, 24))


def test_a_restarted_engine_comes_back_with_its_filters():
    proc = ProcessSession(SessionConfig(dt_us=DT, realtime=False)).start()
    try:
        proc.set_model("tiny")
        proc.open(random_recording(n=60_000, seed=4))
        proc.set_filters("polarity=off; crop=0,0,16,12")
        proc.step()
        assert proc.sync(120)
        before = proc.wait_for(lambda s: s is not None and s.index >= 0, 60)
        # every snapshot of the step in (opening shows one too): the engine comes back at the newest
        # shown, and a kill racing the last one's delivery made the oracle the one before it
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            time.sleep(0.3)
            latest = proc.wait_for(lambda s: s is not None, 1)
            if latest is before:
                break
            before = latest
        assert proc.state.filters == "polarity=off; crop=0,0,16,12" and proc.state.sensor_size == (16, 12)
        first = proc.pid
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while (proc.pid == first or not proc.alive) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.pid != first and proc.sync(120)
        assert proc.state.filters == "polarity=off; crop=0,0,16,12" and proc.state.sensor_size == (16, 12)
        snap = proc.wait_for(lambda s: s is not None and s.index == 0, 60)
        assert snap.t_start_us == before.t_start_us and snap.frame.shape[-2:] == (12, 16)
    finally:
        proc.close()
