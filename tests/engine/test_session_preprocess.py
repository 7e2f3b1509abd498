"""The session maps every source onto the model's sensor (snnstudio.events.preprocess)."""

from __future__ import annotations

import numpy as np

from snnstudio.events.preprocess import Preprocess
from snnstudio.events.types import EventRecording, make_events


def test_session_maps_a_big_recording_onto_the_models_sensor():
    from snnstudio.engine.session import Session, SessionConfig

    rng = np.random.default_rng(0)
    n = 20_000
    ev = make_events(np.sort(rng.integers(0, 400_000, n)), rng.integers(0, 640, n), rng.integers(0, 480, n),
                     rng.integers(0, 2, n))
    rec = EventRecording(ev, (640, 480))
    s = Session(SessionConfig(realtime=False)).start()
    try:
        s.open(rec)
        s.step(2)
        assert s.sync()
        st = s.state
        assert st.sensor_size == (640, 480)  # the Events view shows the whole sensor
        assert st.input_box == (80, 0, 480, 480)  # the default model (trained on 128×128) sees this
        assert st.preprocess is not None and st.preprocess.out_size == (128, 128)
        assert st.preprocess_note == "640×480 → ROI 480×480 at (80, 0) → 128×128"
        s.set_preprocess(Preprocess(out_size=None))
        assert s.sync()
        assert s.state.sensor_size == (640, 480) and s.state.preprocess_note == "640×480"
        assert s.state.input_box == (0, 0, 640, 480)
    finally:
        s.close()


def test_runner_input_map_equals_mapping_the_events():
    """The runner's cut + pool + rate factor on a 640×480 count frame equals EventPreprocessor's
    mapping of the events to 128×128 pooled to the input (rate 'none': exactly; the factor: a scale)."""
    import torch

    from snnstudio.engine.models import load_model
    from snnstudio.engine.runner import ModelRunner
    from snnstudio.engine.windows import count_frame
    from snnstudio.events.frames import bin_events
    from snnstudio.events.preprocess import EventPreprocessor

    rng = np.random.default_rng(5)
    n = 50_000
    ev = make_events(np.sort(rng.integers(0, 10_000, n)), rng.integers(0, 640, n), rng.integers(0, 480, n),
                     rng.integers(0, 2, n))
    runner = ModelRunner(load_model("default").module, sensor_hw=(480, 640), step_us=10_000)
    exact = Preprocess(out_size=(128, 128), rate="none")
    runner.set_input_map(*exact.input_map((640, 480)))
    mapped = EventPreprocessor(exact, (640, 480))(ev)
    want = bin_events(mapped, (128, 128), dt_us=10_000, t_start_us=0, n_frames=1, out_size=(32, 32))[0]
    np.testing.assert_array_equal(runner.bin_steps(ev, (640, 480), 0, 1, 10_000)[0], want)  # from the events
    np.testing.assert_allclose(runner._prepare(count_frame(ev, (640, 480))).numpy(), want, rtol=1e-6)  # from the frame
    # the session's path (the frame's box summed over blocks) and the events' path give one read-out
    runner.reset()
    from_frame = runner.step_events_many([(ev, 0, count_frame(ev, (640, 480)))], (640, 480))[0][2]
    runner.reset()
    from_events = runner.step_events_many([(ev, 0, None)], (640, 480))[0][2]
    np.testing.assert_allclose(from_frame, from_events, rtol=1e-5, atol=1e-6)
    area = Preprocess(out_size=(128, 128))
    box, gain = area.input_map((640, 480))
    runner.set_input_map(box, gain)
    np.testing.assert_allclose(runner.bin_steps(ev, (640, 480), 0, 1, 10_000)[0], want * gain, rtol=1e-6)
    thinned = EventPreprocessor(area, (640, 480))(ev)  # the event path thins by the same factor
    assert abs(thinned.size - mapped.size * gain) < 5 * np.sqrt(mapped.size * gain)
    assert isinstance(runner._prepare(count_frame(ev, (640, 480))), torch.Tensor)
    with np.testing.assert_raises(Exception):
        runner.set_input_map((600, 0, 100, 100))  # not inside the sensor
