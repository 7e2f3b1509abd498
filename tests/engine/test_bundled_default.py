"""The studio's start-up model is the bundled default checkpoint, run at its trained step."""

import json

from snnstudio.engine.models import load_model
from snnstudio.engine.session import Session, SessionConfig
from snnstudio.snn.checkpoints import ALIASES, bundled_models_dir


def test_default_is_the_aliased_checkpoint():
    loaded = load_model("default")
    assert loaded.name == ALIASES["default"] == "gesture-lif-tcsa"
    assert list(loaded.class_names)[:2] == ["swipe_left", "swipe_right"]


def test_session_adopts_the_trained_step_length():
    trained = json.loads((bundled_models_dir() / "gesture-lif-tcsa.json").read_text())["config"]["dt_us"]
    s = Session(SessionConfig(dt_us=10_000, realtime=False))
    s.start()
    try:
        s.set_model("tiny")
        s.sync()
        assert s.config.dt_us == 10_000  # a model without a trained step leaves dt alone
        s.set_model("default")
        s.sync()
        assert s.config.dt_us == trained != 10_000
    finally:
        s.close()
