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
