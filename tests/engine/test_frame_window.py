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
