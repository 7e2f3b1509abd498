"""The one table of session controls: every session offers exactly its controls with its
signatures, and the replay log brings back what succeeded, in a sensible order."""

from __future__ import annotations

import inspect

import pytest

from snnstudio.engine.controls import CONTROLS, ReplayLog, SessionControls, normalise
from snnstudio.engine.process_session import ProcessSession
from snnstudio.engine.session import Session


def _params(fn):
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


def test_the_table_is_the_control_api_of_every_session():
    stubs = {n for n, f in vars(SessionControls).items() if callable(f) and not n.startswith("_")}
    assert set(CONTROLS) == stubs
    from snnstudio.gui.session_model import SessionModel

    for name in CONTROLS:
        spec = getattr(SessionControls, name)
        assert _params(getattr(Session, name)) == _params(spec), name  # the one implementation
        for cls in (ProcessSession, SessionModel):
            fn = getattr(cls, name)
            assert _params(fn) == _params(spec) and inspect.getdoc(fn) == inspect.getdoc(spec), (cls, name)
        assert inspect.getdoc(getattr(Session, name)) == inspect.getdoc(spec)


def test_calls_are_normalised_to_the_signature():
    assert normalise("set_enabled", (), {"module": "a", "enabled": False}) == (("a", False), {})
    assert normalise("follow", ("l", 3), {}) == (("l", 3, True), {})
    with pytest.raises(TypeError):
        normalise("set_speed", (1.0, 2.0), {})


def test_the_replay_order_and_what_voids_what():
    log = ReplayLog()
    for name, args in [("open", ("a.aedat4", None)), ("set_enabled", ("x", False)), ("set_model", ("m",)),
                       ("position", 5), ("set_speed", (2.0,)), ("set_neuron", ("psn",)), ("set_enabled", ("y", False)),
                       ("set_enabled", ("y", True)), ("follow", ("l", 3, True)), ("set_neuron", ("plif",)),
                       ("set_enabled", ("z", False)), ("play", ()), ("set_preprocess", ("pre",)), ("position", 7),
                       ("set_speed", (4.0,))]:
        log.position(args) if name == "position" else log.record(name, args, {})
    assert log.calls() == [
        ("set_preprocess", ("pre",), {}),
        ("set_model", ("m",), {}),  # the model before the source, settings before the source
        ("set_speed", (4.0,), {}),  # the last value
        ("open", ("a.aedat4", None), {}),
        ("set_neuron", ("psn",), {}), ("set_neuron", ("plif",), {}),  # after the model, in order
        ("set_enabled", ("z", False), {}),  # x was voided by set_model, y by the second neuron swap
        ("seek", (7,), {}),  # the position last
    ]
    log.record("open", ("b.aedat4", None), {})  # a new source: the old position is void
    assert ("open", ("b.aedat4", None), {}) in log.calls() and all(c[0] != "seek" for c in log.calls())


class _Wire:
    """Stands for the pipe to the engine: keeps what is sent."""

    def __init__(self):
        self.sent = []

    def send(self, msg):
        self.sent.append(msg)


def test_the_proxy_records_only_what_the_engine_says_succeeded():
    p = ProcessSession()
    p._conn = _Wire()
    p.set_model("tiny")
    p.open("good.aedat4")
    p.set_speed(3.0)
    p.open("bad.aedat4")
    p.set_neuron("psn")
    assert p.config.speed == 3.0  # the proxy's settings follow at once
    assert [m[0] for m in p._conn.sent] == ["set_model", "open", "set_speed", "open", "set_neuron"]
    for name, ok in [("set_model", True), ("open", True), ("set_speed", True), ("open", False)]:
        p._deliver("done", (name, ok))
    assert [(n, a[0]) for n, a, _ in p.replay_log.calls()] == [("set_model", "tiny"), ("set_speed", 3.0),
                                                               ("open", "good.aedat4")]
    assert [c[0] for c in p._pending] == ["set_neuron"]  # still unanswered

