"""The window's Open as… dialog (format and sensor of a headerless file) and a partial read's
warning in the message bar."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QTimer

from snnstudio.events.io import write_events
from snnstudio.events.io.detect import prophesee_header
from snnstudio.events.types import EVENT_DTYPE, EventRecording

SAMPLE = Path("/work/shared/samples/davis346_sample.aedat4")


@pytest.fixture()
def headerless_evt2(tmp_path) -> tuple[np.ndarray, Path]:
    """A GenX320-like (320×320) EVT2 file from the project's writer with its '%' header cut off."""
    rng = np.random.default_rng(3)
    n = 30_000
    ev = np.zeros(n, EVENT_DTYPE)
    ev["t"] = np.sort(rng.integers(0, 1_000_000, n))
    ev["t"][0] = 0
    ev["x"], ev["y"], ev["p"] = rng.integers(0, 320, n), rng.integers(0, 320, n), rng.integers(0, 2, n)
    ev["x"][0], ev["y"][0] = 319, 319
    full = tmp_path / "full.raw"
    write_events(full, EventRecording(ev, (320, 320)), format="evt2")
    data = full.read_bytes()
    path = tmp_path / "genx320.raw"
    path.write_bytes(data[prophesee_header(data)[1]:])
    return ev, path


def _answer(panel, qtbot, fmt: str, sensor: str, then=None) -> None:
    """Fill the Open as… dialog once it is open (its exec() runs its own event loop)."""
    def fill():
        dlg = panel.open_as_dialog
        if dlg is None:
            QTimer.singleShot(20, fill)
            return
        dlg.format.setCurrentIndex(dlg.format.findData(fmt))
        dlg.sensor.setText(sensor)
        dlg.accept()
        if then is not None:
            then(dlg)
    QTimer.singleShot(0, fill)


def test_open_as_names_format_and_sensor_of_a_headerless_file(window, qtbot, headerless_evt2):
    ev, path = headerless_evt2
    win, panel = window, window.source
    seen = {}

    def bad_then_good(dlg):  # a malformed size is said in the dialog, which stays open
        seen["error"] = dlg.error.text() if not dlg.error.isHidden() else ""
        seen["open"] = dlg.isVisible()
        seen["reason"] = dlg.reason.text() + " | " + dlg.reason.toolTip()
        dlg.sensor.setText("320x320")
        dlg.accept()

    _answer(panel, qtbot, "evt2", "320", then=bad_then_good)
    assert panel.open_file(str(path))  # detection cannot tell: the dialog asks
    assert "WIDTHxHEIGHT" in seen["error"] and seen["open"]
    assert "choose its format" in seen["reason"] and "without a '%' header" in seen["reason"]
    qtbot.waitUntil(lambda: win.model.state.source_name == "genx320.raw"
                    and win.model.state.sensor_size != (64, 48), timeout=20_000)
    st = win.model.state
    assert st.sensor_size == (320, 320) and st.source_sensor_size == (320, 320)
    assert st.end_us - st.start_us >= int(ev["t"][-1]) - int(ev["t"][0])


def test_open_as_with_a_too_small_sensor_says_why_in_the_window(window, qtbot, headerless_evt2):
    _, path = headerless_evt2
    win = window
    _answer(win.source, qtbot, "evt2", "100x100")
    assert win.source.open_file(str(path), ask=True)
    qtbot.waitUntil(lambda: "outside the sensor size given (100x100)" in win.message_bar.text, timeout=20_000)
    assert win.model.state.source_name != "genx320.raw"


def test_cancelling_open_as_opens_nothing(window, qtbot, headerless_evt2):
    _, path = headerless_evt2
    win = window
    before = win.model.state.source_name

    def cancel():
        dlg = win.source.open_as_dialog
        if dlg is None:
            QTimer.singleShot(20, cancel)
            return
        dlg.reject()
    QTimer.singleShot(0, cancel)
    assert not win.source.open_file(str(path))
    assert win.model.session.sync(10)
    assert win.model.state.source_name == before


@pytest.mark.skipif(not SAMPLE.is_file(), reason="the shared samples are not on this machine")
def test_a_truncated_recording_says_so_in_the_message_bar(window, qtbot, tmp_path):
    """A partial read's warning reaches the window, not only stderr."""
    cut = tmp_path / "cut.aedat4"
    data = SAMPLE.read_bytes()
    cut.write_bytes(data[: len(data) * 6 // 10])
    win = window
    with pytest.warns(Warning, match="truncated"):  # still a warning too (stderr, logs)
        win.model.open(str(cut))
        qtbot.waitUntil(lambda: win.model.state.source_name == "cut.aedat4", timeout=20_000)
        qtbot.waitUntil(lambda: "truncated" in win.message_bar.text, timeout=5_000)
    assert win.message_bar.isVisible() and "cut.aedat4" in win.message_bar.text
    assert win.model.state.sensor_size == (346, 260)
