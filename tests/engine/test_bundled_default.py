"""The studio's start-up model is the bundled default checkpoint, run at its trained step."""

import json

from snnstudio.engine.models import load_model
from snnstudio.engine.session import Session, SessionConfig
from snnstudio.snn.checkpoints import ALIASES, bundled_models_dir


def test_default_is_the_aliased_checkpoint():
    loaded = load_model("default")
    assert loaded.name == ALIASES["default"] == "gesture-lif-tcsa"
    assert list(loaded.class_names)[:2] == ["swipe_left", "swipe_right"]


def test_session_keeps_the_step_and_feeds_the_trained_frame_length():
    """The default checkpoint (trained on 150 ms frames) runs at the user's 10 ms step with
    frames of 15 steps; a step that does not divide the trained dt falls back to the trained dt."""
    trained = json.loads((bundled_models_dir() / "gesture-lif-tcsa.json").read_text())["config"]["dt_us"]
    s = Session(SessionConfig(dt_us=10_000, realtime=False))
    s.start()
    try:
        s.set_model("tiny")
        s.sync()
        assert s.config.dt_us == 10_000  # a model without a trained step leaves dt alone
        s.set_model("default")
        s.sync()
        info = s.state.model
        assert s.config.dt_us == 10_000 and info.step_us == 10_000
        assert info.frame_us == trained == info.trained_frame_us and info.alpha == trained // 10_000
        s.set_dt(7_000)  # 150 ms is not a multiple of 7 ms: nearest whole number of steps
        s.sync()
        info = s.state.model
        assert s.config.dt_us == 7_000 and info.alpha == round(trained / 7_000) and info.frame_us == 7_000 * info.alpha
        assert any("trained on 150 ms" in m for m in s.messages)
        s.set_model("default")  # the user's explicit step stays, the model is not a multiple of it
        s.sync()
        assert s.config.dt_us == trained and s.state.model.alpha == 1
    finally:
        s.close()


def _slow_session(adaptive: bool, delay_s: float):
    """The default model on a paced 4 s recording, its steps made ``delay_s`` slower each (load
    shedding off: it would keep the session on the clock, see the session tests)."""
    import time as _time

    from snnstudio.engine.demo import rotating_bar_recording

    rec = rotating_bar_recording(duration_us=4_000_000, rate_hz=50_000.0, sensor_size=(128, 128))
    s = Session(SessionConfig(dt_us=10_000, realtime=True, max_batch=1, adaptive_step=adaptive, shed_load=False))
    s.start()
    s.set_model("default")
    s.open(rec)
    s.sync(120)
    runner = s._runner
    step = runner.step_events_many

    def slow(*a, **k):
        _time.sleep(delay_s)
        return step(*a, **k)

    runner.step_events_many = slow
    return s


def test_adaptive_step_coarsens_a_paced_playback_that_keeps_falling_behind():
    """40 ms a step against a 10 ms step: the session falls 0.5 s behind twice, then steps by the
    next divisor of the 150 ms frame at least twice as long (25 ms) and says so; the model still
    gets 150 ms frames (6 steps each)."""
    import time as _time

    s = _slow_session(True, 0.04)
    try:
        s.play()
        deadline = _time.monotonic() + 30
        while s.config.dt_us == 10_000 and _time.monotonic() < deadline:
            _time.sleep(0.1)
        s.sync(30)
        assert s.config.dt_us == 25_000
        info = s.state.model
        assert info.step_us == 25_000 and info.alpha == 6 and info.frame_us == 150_000
        assert any("cannot keep up with 10 ms steps" in m and "every 25 ms" in m for m in s.messages)
    finally:
        s.close()


def test_without_adaptive_step_the_session_keeps_its_step_and_lags():
    import time as _time

    s = _slow_session(False, 0.04)
    try:
        s.play()
        _time.sleep(2.5)
        s.sync(30)
        assert s.config.dt_us == 10_000
        assert not any("cannot keep up" in m for m in s.messages)
    finally:
        s.close()


def test_the_default_streams_through_its_fused_copy_with_the_same_read_out():
    """Window steps run the conv/BN/pool-fused copy (snnstudio.snn.fuse), metered steps the model
    as built; both give the read-out the model as built gives, and the op counts are its own."""
    import numpy as np

    from snnstudio.engine.demo import rotating_bar_recording
    from snnstudio.engine.runner import ModelRunner

    loaded = load_model("default")
    rec = rotating_bar_recording(duration_us=1_000_000, rate_hz=200_000.0, sensor_size=(128, 128))

    def run(fuse: bool):
        r = ModelRunner(loaded.module, loaded.name, step_us=10_000, cost_every=4)
        assert r.mode == "window"
        if not fuse:
            r._fast = None
        out = []
        for k in range(60):
            t0 = int(rec.t_start_us) + 10_000 * k
            ev = rec.time_slice(t0, t0 + 10_000)
            out.append(r.step_events(ev, rec.sensor_size, t0))
        return r, out

    fast_runner, fast = run(True)
    _, plain = run(False)
    spikes = flips = 0
    for (la, _, ra, ca), (lb, _, rb, cb) in zip(fast, plain):
        np.testing.assert_allclose(ra, rb, atol=0.02)
        assert ca == cb  # SOPs / energy: measured on the model as built, on the same steps
        for a, b in zip(la, lb):
            spikes += a.spike_count
            flips += abs(a.spike_count - b.spike_count)
    assert spikes > 1000 and flips <= 1e-3 * spikes
    assert fast_runner._fast and ModelRunner(loaded.module, loaded.name)._fast is False  # built on the first window step
    assert fast_runner.model.conv2.pool is not None and fast_runner._fast[0].conv2.pool is None
    fast_runner.set_enabled("conv2.attention", False)  # a switch reaches both copies
    assert fast_runner._fast[0].conv2.attention.enabled is False and fast_runner.model.conv2.attention.enabled is False
