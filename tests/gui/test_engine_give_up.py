"""An engine process that keeps dying is given up: the window says so (message bar with a Restart
engine button, File → Restart engine), Open and Play say that it is not running instead of doing
nothing, and the restart brings back what worked (model, recording) in a working engine."""

from __future__ import annotations

import os
import signal
import time

import pytest

from gui_helpers import bar_recording
from snnstudio.engine.process_session import MAX_RESTARTS


@pytest.fixture
def process_window(qtbot):
    from snnstudio.engine.types import SessionConfig
    from snnstudio.gui.main_window import MainWindow
    from snnstudio.gui.session_model import SessionModel

    model = SessionModel(SessionConfig(dt_us=10_000, realtime=False), engine="process")
    win = MainWindow(model, settings=None)
    qtbot.addWidget(win)
    model.start()
    model.set_model("tiny")
    model.open(bar_recording())
    win.show()
    yield win
    model.close()


def _kill_and_wait(qtbot, session, said_before: int, win) -> None:
    assert session.sync(120), "the engine did not answer"
    pid = session.pid
    os.kill(pid, signal.SIGKILL)
    session._proc.join(10)
    qtbot.waitUntil(lambda: len(win.message_bar.history) > said_before and session.pid != pid or session.given_up,
                    timeout=60_000)


def test_a_given_up_engine_is_said_and_restarted_from_the_window(process_window, qtbot):
    win = process_window
    session = win.model.session
    assert session.sync(120) and win.model.state.sensor_size == (64, 48)
    assert not win.act_restart_engine.isEnabled() and win.message_bar.action is None
    for _ in range(MAX_RESTARTS + 1):
        _kill_and_wait(qtbot, session, len(win.message_bar.history), win)
    qtbot.waitUntil(lambda: win.message_bar.action == "Restart engine", timeout=10_000)
    assert session.given_up and not session.alive
    assert "not restarted again" in win.message_bar.text and win.message_bar.isVisible()
    assert win.act_restart_engine.isEnabled()

    # Play and Open do not vanish silently: they say the engine is not running, the button stays
    n = len(win.message_bar.history)
    win.act_play.trigger()
    win.model.open(bar_recording(seed=1))
    qtbot.waitUntil(lambda: len(win.message_bar.history) >= n + 2, timeout=5_000)
    assert all("engine is not running" in m for m in win.message_bar.history[n:])
    assert win.message_bar.action == "Restart engine"

    win.message_bar.action_button.click()  # what the user clicks
    assert session.alive and not session.given_up
    assert session.sync(120)
    qtbot.waitUntil(lambda: win.message_bar.action is None, timeout=10_000)
    assert not win.act_restart_engine.isEnabled()
    st = win.model.state
    assert st.model is not None and st.model.name == "tiny" and st.sensor_size == (64, 48) and not st.playing
    index = win.model.last.index if win.model.last is not None else -1
    win.model.step(2)  # the restarted engine works
    qtbot.waitUntil(lambda: win.model.last is not None and win.model.last.index > index, timeout=60_000)
    # and it may crash MAX_RESTARTS times again before being given up
    _kill_and_wait(qtbot, session, len(win.message_bar.history), win)
    qtbot.waitUntil(lambda: session.alive, timeout=60_000)
    assert not session.given_up and win.message_bar.action is None
