"""A short step (10 ms) feeding a model trained on long frames (150 ms): the window the runner
feeds equals framing the same events directly with the model's dt (``bin_events``), and the
prediction equals running the model on that tensor."""

import numpy as np
import pytest
import torch

from snnstudio.engine.demo import rotating_bar_recording
from snnstudio.engine.models import load_model
from snnstudio.engine.runner import ModelRunner, rates_to_probabilities
from snnstudio.engine.session import Session, SessionConfig
from snnstudio.events.frames import FramingError, SlidingFrames, bin_events

STEP = 10_000


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Small ops: one thread (two spin-wait for each other on a loaded 2-core machine, 10× slower)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.mark.parametrize("T,alpha", [(3, 1), (4, 3), (2, 15)])
def test_sliding_frames_equal_sums_of_the_last_sub_bins(T, alpha):
    rng = np.random.default_rng(T * alpha)
    ring = SlidingFrames(T, alpha, (2, 3, 4))
    pushed = []
    for i in range(3 * T * alpha + 5):  # past several re-sums of the ring
        sub = rng.integers(0, 9, (2, 3, 4)).astype(np.float32)
        pushed.append(sub)
        got = ring.push(sub).copy()
        hist = [np.zeros((2, 3, 4), np.float32)] * (T * alpha) + pushed
        want = np.stack(hist[-T * alpha :]).reshape(T, alpha, 2, 3, 4).sum(1)
        np.testing.assert_array_equal(got, want)
    other = SlidingFrames(T, alpha, (2, 3, 4))
    np.testing.assert_array_equal(other.extend(np.stack(pushed)), ring.frames)  # bulk = one by one
    other.reset()
    np.testing.assert_array_equal(other.extend(np.stack(pushed[:2])), SlidingFrames(T, alpha, (2, 3, 4)).extend(pushed[:2]))


def test_sliding_frames_reject_bad_shapes():
    with pytest.raises(FramingError, match="alpha"):
        SlidingFrames(4, 0, (2, 3, 3))
    with pytest.raises(FramingError, match="does not match"):
        SlidingFrames(4, 2, (2, 3, 3)).push(np.zeros((2, 4, 4)))


@pytest.fixture(scope="module")
def stream():
    return rotating_bar_recording(duration_us=2_200_000, rate_hz=150_000.0, sensor_size=(128, 128))


def _oracle_window(rec, t_end_us, T, frame_us, hw):
    """Frame the events directly: T frames of the model's dt ending at ``t_end_us``, pooled."""
    return bin_events(rec.events[rec.events["t"] < t_end_us], rec.sensor_size, dt_us=frame_us,
                      t_start_us=t_end_us - T * frame_us, n_frames=T, out_size=(hw[1], hw[0]))


_MODELS: dict = {}


def _model_on(spec, window):
    """The model run afresh on the whole window ``[T, 1, 2, h, w]`` (multi-step)."""
    if spec not in _MODELS:
        _MODELS[spec] = load_model(spec).module.eval()
    model = _MODELS[spec]
    for m in model.modules():
        if hasattr(m, "step_mode"):
            m.step_mode = "m"
        if hasattr(m, "reset") and m is not model:
            m.reset()
    with torch.inference_mode():
        return model(torch.from_numpy(window)[:, None]).float().reshape(-1).numpy()


@pytest.mark.parametrize("spec,step,checks", [
    ("default", STEP, (0, 7, 148, 149, 150, 153)),  # past one full window (150 steps), a ring re-sum
    ("gesture-lif-none", 30_000, (0, 49, 50, 53)),
])
def test_runner_feeds_the_trained_frames_and_predicts_as_the_model(stream, spec, step, checks):
    rec = stream
    runner = ModelRunner(load_model(spec).module, sensor_hw=(128, 128), step_us=step)
    T, frame_us = runner.window_T, runner.trained_frame_us
    # the default (TCSA) looks across time; lif-none is stateful but trained on frames of several steps
    assert runner.mode == "window" and runner.alpha == frame_us // step > 1 and runner.frame_us == frame_us
    t0 = rec.t_start_us
    for k in range(checks[-1] + 1):
        a = t0 + k * step
        _, _, readout, _ = runner.step_events(rec.time_slice(a, a + step), rec.sensor_size, a)
        if k in checks:
            want = _oracle_window(rec, a + step, T, frame_us, runner.input_hw)
            np.testing.assert_array_equal(runner._window.frames, want)
            np.testing.assert_allclose(readout, _model_on(spec, want), rtol=0, atol=1e-6)
    assert runner._window.frames.sum() > 0


def test_session_snapshots_equal_the_model_on_directly_framed_events(stream):
    rec = stream
    s = Session(SessionConfig(dt_us=STEP, realtime=False, loop=False))
    s.start()
    try:
        s.set_model("default")
        s.open(rec)
        s.sync()
        assert not s.messages, s.messages
        info = s.state.model
        assert s.config.dt_us == STEP and info.alpha == 15
        T, frame_us, hw = info.window_T, info.frame_us, info.input_hw
        s.step(3)
        snap = s.wait_for(lambda x: x is not None and x.index >= 2)
        want = _model_on("default", _oracle_window(rec, snap.t_end_us, T, frame_us, hw))
        np.testing.assert_allclose(snap.probabilities, rates_to_probabilities(want), atol=1e-6)
        # a seek primes the window with the 1.5 s before the target: the next step is as if played
        target = rec.t_start_us + 1_730_000
        s.seek(target)
        s.sync()
        snap = s.wait_for(lambda x: x is not None and x.t_start_us == target)
        assert snap.t_start_us == target
        want = _model_on("default", _oracle_window(rec, target + STEP, T, frame_us, hw))
        np.testing.assert_allclose(snap.probabilities, rates_to_probabilities(want), atol=1e-6)
        assert snap.predicted == int(np.argmax(rates_to_probabilities(want)))
    finally:
        s.close()


def test_a_batch_of_steps_equals_the_steps_one_by_one(stream):
    """Catching up: B consecutive windows evaluated as one batch [T, B, ...] give exactly the
    read-out of stepping through them one at a time."""
    rec = stream
    one = ModelRunner(load_model("default").module, sensor_hw=(128, 128), step_us=STEP)
    many = ModelRunner(load_model("default").module, sensor_hw=(128, 128), step_us=STEP)
    one.follow("conv2.neuron", 17)
    many.follow("conv2.neuron", 17)
    t0 = rec.t_start_us + 40 * STEP
    wins = [(rec.time_slice(t0 + k * STEP, t0 + (k + 1) * STEP), t0 + k * STEP, None) for k in range(7)]
    singles = [one.step_events(ev, rec.sensor_size, a) for ev, a, _ in wins]
    batched = many.step_events_many(wins[:1], rec.sensor_size) + many.step_events_many(wins[1:5], rec.sensor_size)
    batched += many.step_events_many(wins[5:], rec.sensor_size)
    assert len(batched) == 7
    for (l1, a1, r1, _), (l2, a2, r2, _) in zip(singles, batched):
        np.testing.assert_allclose(r2, r1, atol=1e-6)
        for x, y in zip(l1, l2):
            assert x.name == y.name and x.spike_count == y.spike_count and x.shape == y.shape
            np.testing.assert_array_equal(x.raster, y.raster)
            np.testing.assert_array_equal(x.feature_map, y.feature_map) if x.feature_map is not None else None
            assert x.membrane.keys() == y.membrane.keys()
            for i in x.membrane:
                assert y.membrane[i] == pytest.approx(x.membrane[i], abs=1e-5)
        for x, y in zip(a1, a2):
            for part in ("ta", "ca", "sa"):
                u, v = getattr(x, part), getattr(y, part)
                assert (u is None) == (v is None)
                if u is not None:
                    np.testing.assert_allclose(v, u, atol=1e-6)
    np.testing.assert_array_equal(one._window.frames, many._window.frames)


def test_flat_out_catch_up_batches_give_the_same_snapshots(stream):
    rec = stream
    probs = {}
    for batch in (False, True):
        got = []
        s = Session(SessionConfig(dt_us=STEP, realtime=False, loop=False, max_batch=4, batch_flat_out=batch),
                    on_snapshot=got.append)
        s.start()
        try:
            s.set_model("default")
            s.open(rec)
            s.sync()
            s.play()
            s.wait_for(lambda x: x is not None and x.index >= 21, timeout=60)
            s.pause()
            s.sync()
        finally:
            s.close()
        assert [g.index for g in got[:22]] == list(range(22))  # every step, in order, none lost
        probs[batch] = np.stack([g.probabilities for g in got[:22]])
        assert [g.t_start_us for g in got[:22]] == [rec.t_start_us + k * STEP for k in range(22)]
    np.testing.assert_allclose(probs[True], probs[False], atol=1e-6)
