"""Recordings made in memory for the GUI tests (a module with a unique name, importable from
any test in this folder; ``conftest`` is ambiguous when the whole suite runs)."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from snnstudio.events.types import EventRecording, Label, make_events


def bar_recording(duration_us=3_000_000, size=(64, 48), seed=0) -> EventRecording:
    """A vertical bar sweeping left to right, ON events on its right edge, OFF on its left."""
    rng = np.random.default_rng(seed)
    n = duration_us // 20
    t = np.sort(rng.integers(0, duration_us, n))
    xc = (t % 1_000_000) / 1_000_000 * size[0]
    on = rng.random(n) < 0.5
    x = np.clip(np.round(xc + np.where(on, 1, -1)), 0, size[0] - 1)
    y = rng.integers(0, size[1], n)
    return EventRecording(make_events(t, x, y, on.astype(np.int8)), size, labels=[Label(1, 0, duration_us, "sweep")])


@contextmanager
def empty_window(qtbot):
    """A shown studio window over a started session with nothing open (closed afterwards)."""
    from snnstudio.engine.session import SessionConfig
    from snnstudio.gui.main_window import MainWindow
    from snnstudio.gui.session_model import SessionModel

    model = SessionModel(SessionConfig())
    win = MainWindow(model, settings=None)
    qtbot.addWidget(win)
    win.show()
    model.start()
    try:
        yield win
    finally:
        model.close()
