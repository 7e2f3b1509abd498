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
        assert st.sensor_size == (128, 128)  # the default model was trained on 128×128
        assert st.preprocess is not None and st.preprocess.out_size == (128, 128)
        assert st.preprocess_note == "640×480 → ROI 480×480 at (80, 0) → 128×128"
        s.set_preprocess(Preprocess(out_size=None))
        assert s.sync()
        assert s.state.sensor_size == (640, 480) and s.state.preprocess_note == "640×480"
    finally:
        s.close()
