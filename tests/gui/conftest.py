"""GUI test fixtures: a window over a session on an in-memory recording and the tiny model."""

from __future__ import annotations

import pytest

from gui_helpers import bar_recording


@pytest.fixture
def window(qtbot):
    from snnstudio.engine.session import SessionConfig
    from snnstudio.gui import theme
    from snnstudio.gui.main_window import MainWindow
    from snnstudio.gui.session_model import SessionModel
    from PySide6.QtWidgets import QApplication

    theme.apply(QApplication.instance(), "dark")
    model = SessionModel(SessionConfig(dt_us=10_000, realtime=True))
    win = MainWindow(model, settings=None)
    qtbot.addWidget(win)
    model.start()
    model.set_model("tiny")
    win.rec = bar_recording()
    model.open(win.rec)
    win.show()
    yield win
    model.close()
