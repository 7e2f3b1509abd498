"""The engine in its own process: the same snapshots, states and messages as in-process, controls
in order, windows tapped across, and a dead engine restarted with what it had open."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

from engine_helpers import random_recording
from snnstudio.engine.process_session import MAX_RESTARTS, ProcessSession
from snnstudio.engine.session import Session, SessionConfig
from snnstudio.events.types import Label


def _at(session, index, timeout=60):
    snap = session.wait_for(lambda s: s is not None and s.index >= index, timeout)
    assert snap is not None and snap.index >= index, f"no snapshot {index} within {timeout} s"
    return snap


@pytest.fixture
def proc():
    s = ProcessSession(SessionConfig(dt_us=20_000, realtime=False)).start()
    yield s
    s.close()


def test_steps_give_the_same_snapshots_as_the_in_process_session(proc):
    rec = random_recording(labels=[Label(2, 0, 500_000, "two")])
    got = []
    proc.on_snapshot = got.append
    with Session(SessionConfig(dt_us=20_000, realtime=False)) as ref:
        for s in (proc, ref):
            s.set_model("tiny")
            s.open(rec)
            s.step(12)
        a, b = _at(proc, 11), _at(ref, 11)
    assert [s.index for s in got] == list(range(12))  # every step, in order, through the callback
    assert (a.t_start_us, a.t_end_us, a.n_events, a.label_name) == (b.t_start_us, b.t_end_us, b.n_events, "two")
    np.testing.assert_array_equal(a.frame, b.frame)
    np.testing.assert_array_equal(a.probabilities, b.probabilities)
    assert len(a.layers) == len(b.layers) > 0
    for la, lb in zip(a.layers, b.layers):
        assert la.name == lb.name and la.spike_count == lb.spike_count
        np.testing.assert_array_equal(la.raster, lb.raster)
    assert proc.state.cursor_us == a.t_end_us and proc.state.source_classes == {2: "two"}
    assert proc.pid != os.getpid()


def test_controls_reach_the_engine_and_its_state_comes_back(proc):
    proc.set_model("tiny")
    proc.open(random_recording())
    proc.set_speed(2.0)
    proc.set_dt(5_000)
    proc.set_loop(False)
    assert proc.sync(60)
    st = proc.state
    assert (st.speed, st.dt_us, st.loop, st.model.name) == (2.0, 5_000, False, "tiny")
    assert (proc.config.speed, proc.config.dt_us, proc.config.loop) == (2.0, 5_000, False)
    proc.step(3)
    snap = _at(proc, 2)
    assert snap.t_end_us - snap.t_start_us == 5_000
    proc.seek(300_000)
    proc.step()
    snap = proc.wait_for(lambda s: s is not None and s.t_start_us >= 300_000, 30)
    assert 300_000 <= snap.t_start_us <= 305_000  # the shown seek position, or the step after it


def test_a_bad_file_is_a_message_and_the_engine_keeps_running(proc, tmp_path):
    bad = tmp_path / "broken.aedat4"
    bad.write_bytes(b"#!AER-DAT4.0\r\n" + os.urandom(300))
    said = []
    proc.on_message = said.append
    proc.set_model("tiny")
    proc.open(bad)
    assert proc.sync(60)
    assert said and "broken.aedat4" in said[-1] and "corrupt AEDAT4 header" in said[-1] and proc.alive
    proc.open(random_recording())
    proc.step()
    assert _at(proc, 0).n_events > 0


def test_window_taps_receive_what_the_engine_plays(proc):
    rec = random_recording()
    seen = []
    proc.set_model("tiny")
    proc.open(rec)
    assert proc.sync(60)
    proc.add_window_tap(seen.append)
    proc.step(5)
    _at(proc, 4)
    assert proc.sync(30)
    t0 = int(rec.t_start_us)
    assert [w.t_start_us for w in seen] == [t0 + 20_000 * i for i in range(5)]
    np.testing.assert_array_equal(np.concatenate([w.events for w in seen]), rec.time_slice(t0, t0 + 100_000))
    proc.remove_window_tap(seen.append)
    proc.step(2)
    _at(proc, 6)
    assert proc.sync(30) and len(seen) == 5


def test_a_killed_engine_is_restarted_with_its_source_and_model(proc):
    said = []
    proc.on_message = said.append
    proc.set_model("tiny")
    proc.open(random_recording())
    proc.set_dt(10_000)
    assert proc.sync(60)
    first = proc.pid
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while (proc.pid == first or not proc.alive) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.pid != first and proc.alive
    assert proc.sync(60)
    assert any("stopped unexpectedly" in m for m in said)
    st = proc.state
    assert (st.model.name, st.dt_us, st.sensor_size, st.playing) == ("tiny", 10_000, (32, 24), False)
    proc.step()
    snap = _at(proc, 0)
    assert snap.t_end_us - snap.t_start_us == 10_000 and snap.t_start_us < 10_000  # a fresh engine, from the start


def test_an_engine_that_keeps_dying_is_given_up_with_a_message():
    said = []
    s = ProcessSession(SessionConfig(realtime=False), on_message=said.append).start()
    try:
        for _ in range(MAX_RESTARTS + 1):
            assert s.sync(60)
            os.kill(s.pid, signal.SIGKILL)
            s._proc.join(10)
            deadline = time.monotonic() + 20
            while len(said) <= _ and time.monotonic() < deadline:
                time.sleep(0.05)
        assert "not restarted again" in said[-1] and not s.alive
        s.play()  # controls to a dead engine are dropped, not raised
        assert s.sync(0.5) is False
    finally:
        s.close()


def test_live_source_objects_must_be_opened_by_spec(proc):
    from snnstudio.errors import SnnStudioError
    from engine_helpers import ChunkedSource

    with pytest.raises(SnnStudioError, match="by spec"):
        proc.open(ChunkedSource(random_recording()))


def _restarted(proc, first, timeout=30):
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while (proc.pid == first or not proc.alive) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.pid != first and proc.alive
    assert proc.sync(120)


def _switches(state):
    return {m.name: m.enabled for m in state.model.modules if m.switchable}


def test_a_killed_engine_comes_back_with_its_neuron_swap_switches_follows_and_position(proc):
    said = []
    proc.on_message = said.append
    proc.set_model("ma_snn_gesture_small")
    proc.open(random_recording())
    proc.set_enabled("conv1.attention", False)  # undone by the neuron swap (a new model): not replayed
    proc.set_neuron("psn")
    proc.set_enabled("conv2.attention", False)
    proc.set_enabled(module="conv3.attention.sa", enabled=False)
    proc.set_enabled("conv3.attention.sa", True)
    proc.set_enabled("fc1.attention", False)
    proc.follow("conv1.neuron", 5)
    proc.step(4)
    shown = _at(proc, 3)
    assert proc.sync(120)
    before = proc.state
    off = {"conv2.attention", "fc1.attention"}
    assert before.model.name.endswith("[psn]") and {n for n, on in _switches(before).items() if not on} == off
    _restarted(proc, proc.pid)
    assert any("stopped unexpectedly" in m and "neuron psn" in m for m in said)
    st = proc.state
    assert st.model.name == before.model.name and {k for _, k, _ in st.model.layers} == {"psn"}
    assert _switches(st) == _switches(before)
    # the position shown last is shown again (index 0: a fresh engine), with the followed neuron
    snap = proc.wait_for(lambda s: s is not None and s.index == 0, 60)
    assert snap is not None and snap.index == 0 and snap.t_start_us == shown.t_start_us
    assert 5 in snap.layer("conv1.neuron").membrane
    assert not st.playing


def test_a_failed_open_or_model_load_is_not_replayed_after_a_crash(proc, tmp_path):
    said = []
    proc.on_message = said.append
    proc.set_model("tiny")
    proc.open(random_recording())
    proc.set_speed(2.0)
    assert proc.sync(60)
    good = proc.state.source_name
    proc.open(tmp_path / "missing.aedat4")
    proc.set_model("no-such-model")
    proc.set_speed(-1)  # refused by the engine: the speed stays 2
    assert proc.sync(60)
    assert any("missing.aedat4: no such file" in m for m in said) and any("no-such-model" in m for m in said)
    assert proc.state.source_name == good and proc.state.model.name == "tiny"
    n = len(said)
    _restarted(proc, proc.pid)
    st = proc.state
    assert (st.source_name, st.model.name, st.speed, st.sensor_size) == (good, "tiny", 2.0, (32, 24))
    assert not any("missing.aedat4" in m or "no-such-model" in m or "speed must" in m for m in said[n:]), said[n:]
    proc.step()
    assert proc.wait_for(lambda s: s is not None and s.index == 0, 60).n_events > 0


def test_a_file_opened_as_a_named_format_is_opened_so_again_after_a_crash(proc, tmp_path):
    """``file[format=…,sensor=…]:PATH`` (the window's Open as…) is what a restart replays: the
    headerless file comes back with the sensor size the user named, not a guess."""
    from snnstudio.events.io import write_events
    from snnstudio.events.io.detect import prophesee_header
    from snnstudio.events.sources import file_spec

    rec = random_recording()
    full = tmp_path / "full.raw"
    write_events(full, rec.__class__(rec.events.copy(), rec.sensor_size), format="evt2")
    data = full.read_bytes()
    path = tmp_path / "cut.raw"
    path.write_bytes(data[prophesee_header(data)[1]:])
    wide = (rec.sensor_size[0] + 8, rec.sensor_size[1] + 4)  # larger than the events' extent: only named, not inferred
    proc.set_model("tiny")
    proc.open(file_spec(path, "evt2", wide))
    assert proc.sync(60) and proc.state.sensor_size == wide
    _restarted(proc, proc.pid)
    assert proc.state.sensor_size == wide and proc.state.source_name == "cut.raw"
