"""Evaluate, Export and the live demo, driven through the real window (offscreen), each checked
against an oracle: ``snnstudio.train.evaluate`` called directly, the snapshots the session
produced, the events of the recording that was played, files read back."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from gui_helpers import bar_recording, empty_window


@pytest.fixture(autouse=True)
def _collect_windows_between_tests():
    """Delete the closed windows and collect their Python wrappers right after each test, while no
    session worker runs, rather than whenever the collector happens to run later."""
    yield
    import gc

    from PySide6.QtCore import QCoreApplication, QEvent
    from PySide6.QtWidgets import QApplication

    QCoreApplication.sendPostedEvents(None, QEvent.DeferredDelete)
    QApplication.processEvents()
    gc.collect()


def _wait_index(qtbot, win, n, timeout=20_000):
    qtbot.waitUntil(lambda: win.model.last is not None and win.model.last.index >= n, timeout=timeout)
    return win.model.last


# ------------------------------------------------------------------ evaluate


def test_evaluate_panel_runs_to_its_table_and_saves_csv(window, qtbot, tmp_path):
    from PySide6.QtCore import Qt

    from snnstudio.gui.panels.evaluate import format_row
    from snnstudio.snn.checkpoints import load_checkpoint
    from snnstudio.train.evaluate import COLUMNS, Variant, data_for, evaluate_model, parse_variant, resolve_model, variant_model

    win = window
    panel = win.evaluate
    win.docks["Evaluate"].raise_()
    win.model.set_model("default")
    qtbot.waitUntil(lambda: panel.loaded_spec() == "default" and panel.att_off.isEnabled(), timeout=20_000)
    assert all(b.isEnabled() for b in panel.parts.values())
    panel.limit.setValue(10)
    panel.parts["sa"].setChecked(True)
    assert panel.variants() == ["attention=off", "sa=off"] and panel.chosen_models() == ["default"]
    with qtbot.waitSignal(panel.finished, timeout=180_000) as done:
        qtbot.mouseClick(panel.run_button, Qt.LeftButton)
        assert panel.running and panel.cancel_button.isEnabled() and not panel.run_button.isEnabled()
    result = done.args[0]
    assert not result["cancelled"] and panel.table.rowCount() == 3
    # oracle: the same checkpoint, variants and samples through train.evaluate directly
    model, cfg, meta = load_checkpoint(resolve_model("default"))
    ds = data_for("synthetic:test", cfg, meta, 10, panel.request().cache_dir)
    for r, text in enumerate((None, "attention=off", "sa=off")):
        vm, vcfg, _ = variant_model(model, cfg, parse_variant(text) if text else Variant())
        ref = {"model": "gesture-lif-tcsa", "variant": text or "as trained", **evaluate_model(vm, vcfg, ds)}
        ref["latency_ms_per_step"] = result["rows"][r]["latency_ms_per_step"]  # timing: not reproducible
        cells = [panel.table.item(r, c).text() for c in range(panel.table.columnCount())]
        assert cells == format_row(ref)
    assert panel.progress.value() == panel.progress.maximum() and panel.save_csv.isEnabled()
    panel.save(tmp_path / "table.csv")
    panel.save(tmp_path / "table.json")
    got = list(csv.DictReader(open(tmp_path / "table.csv")))
    assert tuple(got[0]) == COLUMNS and [g["variant"] for g in got] == ["as trained", "attention=off", "sa=off"]
    for g, row in zip(got, result["rows"]):
        assert float(g["accuracy"]) == row["accuracy"] and float(g["spike_count"]) == pytest.approx(row["spike_count"])
    assert json.load(open(tmp_path / "table.json"))["rows"][2]["variant"] == "sa=off"
    _check_plots_against_the_table(win, panel, qtbot, tmp_path)


def _check_plots_against_the_table(win, panel, qtbot, tmp_path):
    """The live plots hold one point per table row, at the row's figures; hovering a point selects
    its row; every table column shows without scrolling sideways; PNG / SVG hold plots and table."""
    from PySide6.QtCore import QPointF

    from snnstudio.train.plots import TABLE_COLUMNS, _si

    table, plots = panel.table, panel.plots
    assert not panel.settings_button.isChecked() and not panel._settings.isVisible()  # collapsed by Evaluate
    assert table.isColumnHidden(0)  # one model: no model column
    head = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    col = {title: head.index(title) for title, _ in TABLE_COLUMNS}
    n = table.rowCount()
    for key, title, parse in (("energy_uj", "µJ", float), ("spike_count", "spikes", None)):
        spots = sorted(plots.spots(key))
        assert [s[0] for s in spots] == list(range(n))
        for r, cost, acc in spots:
            assert acc == pytest.approx(float(table.item(r, col["acc. %"]).text()), abs=0.051)
            cell = table.item(r, col[title]).text()
            if parse is None:
                assert _si(cost) == cell  # the plotted spike count, written as the table writes it
            else:
                assert cost == pytest.approx(parse(cell), abs=0.0006)
        # the front: every point no other point beats on both accuracy and cost
        costs = {r: c for r, c, _ in spots}
        accs = {r: a for r, _, a in spots}
        on_front = {r for r in costs if not any(costs[j] <= costs[r] and accs[j] >= accs[r]
                                                 and (costs[j], accs[j]) != (costs[r], accs[r]) for j in costs)}
        xs, ys = plots.fronts[key].getData()
        assert set(zip(xs.tolist(), ys.tolist())) >= {(costs[r], accs[r]) for r in on_front}
    names = [lay["name"] for lay in panel.result["rows"][0]["layers"]]
    for r, bars in enumerate(plots.bars):
        heights = bars.opts["height"]
        assert list(heights) == pytest.approx([100 * lay["firing_rate"] for lay in panel.result["rows"][r]["layers"]])
        assert len(heights) == len(names)
    # hover the last point with the mouse: its row is selected and the tip names it
    plots.setCurrentIndex(0)
    w = plots.plots["energy_uj"]
    qtbot.waitUntil(lambda: w.isVisible(), timeout=5000)
    r, cost, acc = sorted(plots.spots("energy_uj"))[-1]
    at = w.mapFromScene(w.getPlotItem().vb.mapViewToScene(QPointF(cost, acc)))
    qtbot.mouseMove(w.viewport(), at)
    qtbot.waitUntil(lambda: [i.row() for i in table.selectionModel().selectedRows()] == [r], timeout=5000)
    assert f"variant: {panel.result['rows'][r]['variant']}" in w.getPlotItem().vb.toolTip()
    # readable without scrolling sideways, at the window's usual size
    win.resize(1600, 1000)
    qtbot.waitUntil(lambda: table.viewport().width() > 0, timeout=5000)
    QApplication = __import__("PySide6.QtWidgets", fromlist=["QApplication"]).QApplication
    QApplication.processEvents()
    shown = [c for c in range(table.columnCount()) if not table.isColumnHidden(c)]
    assert sum(table.columnWidth(c) for c in shown) <= table.viewport().width()
    assert table.horizontalScrollBar().maximum() == 0
    # saved plots: the SVG holds every table cell as text, the PNG is an image of the plots + table
    panel.save(tmp_path / "plots.svg")
    panel.save(tmp_path / "plots.png")
    svg = (tmp_path / "plots.svg").read_text()
    for r in range(n):
        for c in shown:
            assert f">{table.item(r, c).text()}<" in svg
    assert (tmp_path / "plots.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert panel.save_png.isEnabled() and panel.save_svg.isEnabled()


def test_evaluate_cancel_stops_it_and_the_gui_stays_responsive(window, qtbot):
    from PySide6.QtCore import QTimer

    win = window
    panel = win.evaluate
    win.model.set_model("default")
    qtbot.waitUntil(lambda: panel.loaded_spec() == "default", timeout=20_000)
    panel.limit.setValue(0)  # everything: generating / evaluating all of it takes minutes
    panel.use_neuron.setChecked(True)
    ticks = []
    timer = QTimer(win)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(20)
    panel.run()
    qtbot.waitUntil(lambda: panel.progress.maximum() > 1 and panel.progress.value() >= 1, timeout=60_000)
    n = len(ticks)
    qtbot.wait(300)
    assert len(ticks) > n + 3  # the event loop keeps running while the evaluation works
    win.model.step(2)
    with qtbot.waitSignal(panel.finished, timeout=30_000) as done:
        panel.cancel_button.click()
    timer.stop()
    assert done.args[0]["cancelled"] and panel.run_button.isEnabled() and not panel.cancel_button.isEnabled()
    assert "cancelled" in panel.progress.format()
    assert _wait_index(qtbot, win, 1) is not None and win.isVisible()


def test_evaluate_without_a_checkpoint_says_so(window, qtbot):
    panel = window.evaluate
    qtbot.waitUntil(lambda: window.model.state.model is not None, timeout=20_000)
    assert panel.loaded_spec() is None and panel.chosen_models() == []  # the fixture runs "tiny"
    panel.run()
    assert "not a trained checkpoint" in panel.status.text() and panel.job is None
    qtbot.waitUntil(lambda: window.message_bar.isVisible(), timeout=5000)


# ------------------------------------------------------------------ export


def _colours(img) -> int:
    return len({img.pixel(x, y) for x in range(0, img.width(), 5) for y in range(0, img.height(), 5)})


def test_export_png_of_the_window_and_of_a_panel(window, qtbot, tmp_path):
    from PySide6.QtGui import QImage

    win = window
    win.model.step(5)
    _wait_index(qtbot, win, 4)
    qtbot.wait(100)
    p = win.export_png(None, str(tmp_path / "win.png"))
    img = QImage(str(p))
    assert (img.width(), img.height()) == (win.width(), win.height()) and _colours(img) > 20
    p2 = win.export_png("Output", str(tmp_path / "out"))  # the suffix is added
    assert p2.name == "out.png"
    img2 = QImage(str(p2))
    assert (img2.width(), img2.height()) == (win.docks["Output"].width(), win.docks["Output"].height())
    assert _colours(img2) > 5
    import cv2

    assert cv2.imread(str(p)).shape == (win.height(), win.width(), 3)
    # a folder that does not exist: a message, no file, no crash
    assert win.export_png(None, str(tmp_path / "nope" / "x.png")) is None
    qtbot.waitUntil(lambda: win.message_bar.isVisible(), timeout=5000)
    assert "screenshot failed" in win.message_bar.text


def test_export_metrics_csv_and_json_hold_every_step(window, qtbot, tmp_path):
    win = window
    snaps = []
    win.model.snapshots.connect(snaps.extend)
    win.model.step(12)
    _wait_index(qtbot, win, 11)
    win.export_metrics("csv", str(tmp_path / "m.csv"))
    win.export_metrics("json", str(tmp_path / "m.json"))
    rows = list(csv.DictReader(open(tmp_path / "m.csv")))
    assert len(rows) == 12  # steps taken
    for col in ("t_start_us", "t_end_us", "firing_rate", "spike_count", "sops", "energy_pj", "predicted", "confidence"):
        assert col in rows[0]
    for r, s in zip(rows, snaps):
        assert int(r["t_end_us"]) == s.t_end_us and int(r["spike_count"]) == s.metrics.spike_count
        assert float(r["firing_rate"]) == pytest.approx(s.metrics.firing_rate)
        assert r["predicted"] == ("" if s.predicted is None else str(s.predicted))
    js = json.load(open(tmp_path / "m.json"))
    assert len(js["rows"]) == 12 and js["rows"][-1]["index"] == snaps[-1].index


# The clip tests run in a child process: in 3 of 7 in-process runs of this folder, a segfault
# followed them later in the run (never reproduced in isolation); a child keeps the rest of the
# suite safe while the clip code is still checked end to end.
CLIP_SCRIPT = r"""
import json, sys
import cv2
from PySide6.QtWidgets import QApplication
app = QApplication([])
sys.path.insert(0, sys.argv[2])
from gui_helpers import bar_recording
from snnstudio.engine.session import SessionConfig
from snnstudio.gui.main_window import MainWindow
from snnstudio.gui.session_model import SessionModel
from snnstudio.gui import theme
theme.apply(app, "dark")
model = SessionModel(SessionConfig(dt_us=10_000))
win = MainWindow(model, settings=None)
win.show()
model.start()
model.set_model("tiny")
model.open(bar_recording())
model.play()
out = {}
def wait(cond, ms):
    import time
    t = time.monotonic()
    while not cond() and time.monotonic() - t < ms / 1000:
        app.processEvents()
wait(lambda: model.last is not None and model.last.index >= 2, 20000)
out["started"] = win.export_clip("Output", sys.argv[1] + "/panel.mp4", seconds=None)
out["checked"] = win.act_clip.isChecked() and win.exporter.clip_running
wait(lambda: False, 700)
p = win.exporter.stop_clip()
out["unchecked"] = not win.act_clip.isChecked()
out["dock_width"] = win.docks["Output"].width()
cap = cv2.VideoCapture(str(p)); ok, frame = cap.read()
out["panel"] = [str(p), bool(ok), int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), list(frame.shape), float(frame.std())]
cap.release()
out["timed"] = win.export_clip(None, sys.argv[1] + "/win.mp4", seconds=0.5)
wait(lambda: not win.exporter.clip_running, 10000)
cap = cv2.VideoCapture(str(win.exporter.last_clip)); out["win"] = [str(win.exporter.last_clip), bool(cap.read()[0])]; cap.release()
model.close()
print(json.dumps(out))
"""


def _child(tmp_path, script, *args):
    import os
    import subprocess
    import sys
    from pathlib import Path

    here = Path(__file__).resolve().parent
    env = {**os.environ, "PYTHONPATH": str(here.parents[1]), "QT_QPA_PLATFORM": "offscreen", "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-c", script, str(tmp_path), str(here), *args], env=env, capture_output=True,
                       text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_export_clip_mp4_of_a_panel_and_of_the_window(tmp_path):
    out = _child(tmp_path, CLIP_SCRIPT)
    assert out["started"] and out["checked"] and out["unchecked"] and out["timed"]
    path, ok, n, shape, std = out["panel"]
    assert ok and n >= 3 and shape[2] == 3 and std > 1
    assert abs(shape[1] - out["dock_width"]) <= 1 and path.endswith((".mp4", ".avi"))
    assert out["win"][1] and out["win"][0].endswith((".mp4", ".avi"))
    assert not list(tmp_path.glob(".*part*"))  # no temp files left


FALLBACK_SCRIPT = r"""
import json, sys
import cv2
import numpy as np
from snnstudio.gui.export import ClipWriter
real = cv2.VideoWriter
def no_mp4(path, fourcc, fps, size):
    if path.endswith(".mp4"):
        return real()  # not opened, as on an OpenCV build without an MP4 muxer
    return real(path, fourcc, fps, size)
cv2.VideoWriter = no_mp4
w = ClipWriter(sys.argv[1] + "/c.mp4", (64, 48), 10)
for i in range(3):
    w.write(np.full((48, 64, 3), 40 * i, np.uint8))
p = w.close()
cv2.VideoWriter = real
cap = cv2.VideoCapture(str(p))
print(json.dumps({"fallback": w.fallback, "name": p.name, "read": bool(cap.read()[0]), "n": int(cap.get(cv2.CAP_PROP_FRAME_COUNT))}))
"""


def test_clip_falls_back_to_mjpg_when_mp4_cannot_be_opened(tmp_path):
    out = _child(tmp_path, FALLBACK_SCRIPT)
    assert out["fallback"] and "Motion-JPEG" in out["fallback"]
    assert out["name"] == "c.avi" and out["read"] and out["n"] == 3


def test_export_aedat4_recording_holds_the_played_events(window, qtbot, tmp_path):
    from snnstudio.events.io import read_events

    win = window
    snaps = []
    win.model.snapshots.connect(snaps.extend)
    win.model.step(1)
    _wait_index(qtbot, win, 0)
    assert win.export_recording(str(tmp_path / "live.aedat4"))
    assert win.act_record.isChecked()
    win.model.step(20)
    _wait_index(qtbot, win, 20)
    win.exporter.stop_recording()
    qtbot.waitUntil(lambda: not win.act_record.isChecked(), timeout=10_000)
    back = read_events(tmp_path / "live.aedat4")
    played = [s for s in snaps if s.index >= 1]
    expected = win.rec.time_slice(played[0].t_start_us, played[-1].t_end_us)
    assert len(played) == 20 and len(back) == len(expected) > 0
    for f in ("t", "x", "y", "p"):
        np.testing.assert_array_equal(back.events[f], expected[f])
    assert win.exporter.last_recording.events == len(expected)


# ------------------------------------------------------------------ status bar, class names


def test_status_bar_does_not_say_playing_with_nothing_open(qtbot):
    with empty_window(qtbot) as win:
        model = win.model
        model.play()
        model.session.sync()
        qtbot.waitUntil(lambda: win.state_label.text() == "no source", timeout=5000)
        model.open("network:127.0.0.1:1")  # nothing listens: the open fails
        model.play()
        qtbot.waitUntil(lambda: win.message_bar.isVisible(), timeout=15_000)
        model.session.sync()
        qtbot.wait(100)
        assert "playing" not in win.state_label.text()


def test_output_names_an_unnamed_ground_truth_with_the_models_class_names(window, qtbot):
    from snnstudio.events.types import EventRecording, Label

    win = window
    rec = bar_recording()
    unnamed = EventRecording(rec.events, rec.sensor_size, labels=[Label(4, 0, 3_000_000)])
    win.model.set_model("default")  # class 4 of the checkpoint's class_names is circle_cw
    win.model.open(unnamed)
    win.model.step(3)
    qtbot.waitUntil(lambda: win.model.last is not None and win.model.last.model_name == "gesture-lif-tcsa", timeout=20_000)
    qtbot.wait(100)
    assert win.model.last.class_names[4] == "circle_cw"
    assert win.output.truth.text() == "ground truth: circle cw"
    ticks = [t for _, t in win.output.bars_plot.getAxis("left")._tickLevels[0]]
    assert ticks[:2] == ["swipe left", "swipe right"]


# ------------------------------------------------------------------ live demo


def _demo_window(qtbot, demo):
    from snnstudio.gui.app import GuiOptions, build_window

    win = build_window(GuiOptions(demo=demo, remember_layout=False))
    qtbot.addWidget(win)
    win.show()
    return win


def test_demo_synthetic_shows_the_big_prediction_of_the_output_panel(qtbot):
    pytest.importorskip("snnstudio.events.sources.synthetic")
    win = _demo_window(qtbot, "synthetic")
    try:
        assert win.demo_mode and win.demo.isVisible() and win.act_demo.isChecked()
        assert [n for n, d in win.docks.items() if d.isVisible()] == ["Output"]
        qtbot.waitUntil(lambda: win.model.last is not None and win.model.last.predicted is not None
                        and win.model.last.label is not None, timeout=60_000)
        win.model.pause()
        win.model.session.sync()
        qtbot.wait(200)
        s = win.model.last
        assert s.model_name == "gesture-lif-tcsa" and win.model.state.source_name == "synthetic"
        big = win.demo.prediction.text()
        assert big == win.output.predicted.text() == s.class_names[s.predicted].replace("_", " ")
        assert win.demo.confidence.value() == round(100 * s.confidence)
        assert win.demo.truth.text().startswith(f"actually: {s.label_name.replace('_', ' ')}")
        assert win.demo.prediction.font().pointSize() >= 3 * win.output.truth.font().pointSize()
        win.act_demo.trigger()  # one click ends it: the full layout is back
        assert not win.demo_mode and not win.demo.isVisible() and win.docks["Layers"].isVisible()
    finally:
        win.model.close()


def test_demo_camera_without_a_camera_is_a_message_and_the_window_lives(qtbot):
    win = _demo_window(qtbot, "camera")
    try:
        qtbot.waitUntil(lambda: win.message_bar.isVisible(), timeout=30_000)
        assert win.message_bar.text and win.demo_mode and win.isVisible()
        assert "playing" not in win.state_label.text()
        win.model.open(bar_recording())  # still usable
        win.model.step(2)
        assert _wait_index(qtbot, win, 1).t_end_us > 0
    finally:
        win.model.close()


def test_evaluate_on_a_missing_folder_fails_with_a_message(window, qtbot, tmp_path):
    panel = window.evaluate
    window.model.set_model("default")
    qtbot.waitUntil(lambda: panel.loaded_spec() == "default", timeout=20_000)
    panel.kind.setCurrentIndex(panel.kind.findData("dvsgesture"))
    assert panel.path.isEnabled()
    panel.path.setText(str(tmp_path / "DvsGesture"))
    with qtbot.waitSignal(panel.finished, timeout=60_000) as done:
        panel.run()
    assert done.args[0] is None and panel.progress.format() == "failed" and panel.run_button.isEnabled()
    qtbot.waitUntil(lambda: window.message_bar.isVisible(), timeout=5000)
    assert "DvsGesture" in window.message_bar.text and panel.table.rowCount() == 0


def test_file_export_menu_and_toolbar_run_the_exports(window, qtbot, tmp_path, monkeypatch):
    from PySide6.QtGui import QImage

    win = window
    texts = [a.text() for a in win.export_menu.actions() if a.text()]
    for want in ("Screenshot…", "Clip of the window…", "Metrics as CSV…", "Metrics as JSON…", "Record the stream to AEDAT4…"):
        assert want in texts
    file_menu = win.menuBar().actions()[0].menu()
    assert win.export_menu.menuAction() in file_menu.actions()
    assert win.export_button.menu() is win.export_menu
    monkeypatch.setattr(win, "ask_path", lambda *a: str(tmp_path / "menu.png"))
    win.model.step(3)
    _wait_index(qtbot, win, 2)
    with qtbot.waitSignal(win.exporter.done, timeout=5000):
        win.act_shot.trigger()
    assert QImage(str(tmp_path / "menu.png")).width() == win.width()
    monkeypatch.setattr(win, "ask_path", lambda *a: None)  # the dialog cancelled: nothing happens
    win.act_clip.trigger()
    assert not win.exporter.clip_running and not win.act_clip.isChecked()


def test_attention_panel_says_why_it_is_empty_before_the_first_step(qtbot):
    from snnstudio.gui.panels.attention import NO_ATTENTION, NOT_YET

    with empty_window(qtbot) as win:
        model = win.model
        model.set_model("default")  # TCSA, nothing open yet: no snapshot, no weights
        qtbot.waitUntil(lambda: win.attention.empty.text() == NOT_YET, timeout=20_000)
        assert win.attention.empty.isVisible() and not win.attention.view.isVisible()
        model.set_model("tiny")  # no attention at all
        qtbot.waitUntil(lambda: win.attention.empty.text() == NO_ATTENTION, timeout=20_000)
        model.set_model("default")
        model.open(bar_recording(size=(128, 128)))
        model.step(2)
        qtbot.waitUntil(lambda: win.attention.view.isVisible(), timeout=20_000)
        assert not win.attention.empty.isVisible()


def test_attention_panel_opens_on_the_most_varied_block_and_says_what_is_constant(qtbot):
    """The default model's conv1 temporal weights are flat at 0.5 (every step alike): the panel
    opens on the block whose weights vary most instead, and says so of a flat part when shown."""
    from PySide6.QtCore import Qt

    from snnstudio.engine.snapshot import AttentionSnapshot
    from snnstudio.gui.panels.attention import AUTO_PICK_STEPS, constant_note

    with empty_window(qtbot) as win:
        model, panel = win.model, win.attention
        win.docks["Attention"].raise_()
        model.set_model("default")
        model.open(bar_recording(size=(128, 128)))
        for k in range(AUTO_PICK_STEPS + 2):
            model.step(1)
            qtbot.waitUntil(lambda: model.last is not None and model.last.index >= k, timeout=20_000)
            qtbot.waitUntil(lambda: panel._auto_steps >= min(k + 1, AUTO_PICK_STEPS), timeout=20_000)  # drawn
        atts = model.last.attention
        best = max(atts, key=lambda a: a.spread)
        assert panel.shown == best.name != "conv1.attention"
        assert panel.note.text() == constant_note(best)
        conv1 = next(a for a in atts if a.name == "conv1.attention")
        assert "ta" in conv1.constant_parts()  # the trained model's flat temporal weights
        # the user picks conv1: it stays, and the panel says its TA is constant
        panel.block.setCurrentIndex(panel.block.findText("conv1.attention"))
        panel.block.activated.emit(panel.block.currentIndex())
        model.step(1)
        qtbot.waitUntil(lambda: panel.shown == "conv1.attention", timeout=20_000)
        assert panel.note.text().startswith(f"TA constant: {conv1.constant_parts()['ta']:.2f} for every step")
    # by hand: the spread is the summed standard deviation; a part spanning < 0.01 is constant
    a = AttentionSnapshot("b", True, ta=np.full(4, 0.5, np.float32), ca=np.array([0.0, 1.0], np.float32),
                          sa=np.array([[0.3, 0.305]], np.float32))
    assert a.spread == pytest.approx(0.5 + 0.0025, abs=1e-6)
    assert a.constant_parts() == {"ta": 0.5, "sa": pytest.approx(0.3025)}
    assert constant_note(AttentionSnapshot("c", True, ca=np.array([0.2, 0.9], np.float32))) == ""


def test_source_panel_sets_the_region_of_interest_and_mirror(qtbot):
    """A 640×480 recording is shown to the default model through a centred square; the input
    controls move and shrink it and mirror it, and the panel says what the model sees."""
    import numpy as np

    from snnstudio.engine.session import SessionConfig
    from snnstudio.events.types import EventRecording, make_events
    from snnstudio.gui.main_window import MainWindow
    from snnstudio.gui.session_model import SessionModel

    rng = np.random.default_rng(0)
    n = 20_000
    rec = EventRecording(make_events(np.sort(rng.integers(0, 500_000, n)), rng.integers(0, 640, n),
                                     rng.integers(0, 480, n), rng.integers(0, 2, n)), (640, 480))
    model = SessionModel(SessionConfig(realtime=False))
    win = MainWindow(model, settings=None)
    qtbot.addWidget(win)
    model.start()
    try:
        model.open(rec)
        panel = win.source
        qtbot.waitUntil(lambda: panel.input_note.text() == "model sees: 640×480 → ROI 480×480 at (80, 0) → 128×128",
                        timeout=30_000)
        assert not panel.mirror.isChecked()  # a recording is not a selfie camera
        panel.roi_size.setValue(50)
        qtbot.waitUntil(lambda: model.state.preprocess is not None and model.state.preprocess.roi == (0.5, 0.5, 0.5),
                        timeout=30_000)
        qtbot.waitUntil(lambda: "ROI 240×240 at (200, 120)" in panel.input_note.text(), timeout=30_000)
        panel.roi_x.setValue(25)
        qtbot.waitUntil(lambda: "ROI 240×240 at (40, 120)" in panel.input_note.text(), timeout=30_000)
        panel.mirror.setChecked(True)
        qtbot.waitUntil(lambda: panel.input_note.text().endswith(", mirrored"), timeout=30_000)
        assert model.state.preprocess.mirror is True
        assert model.state.sensor_size == (640, 480)  # the Events view shows the whole sensor
        # the square on the Events view is the box the model sees; dragging it moves the region
        roi = win.events.roi
        qtbot.waitUntil(lambda: roi.isVisible() and tuple(roi.pos()) == (40.0, 120.0), timeout=30_000)
        assert tuple(roi.size()) == (240.0, 240.0)
        roi.setPos((400, 0), finish=True)
        qtbot.waitUntil(lambda: model.state.input_box == (400, 0, 240, 240), timeout=30_000)
        assert model.state.preprocess.roi == (round(520 / 640, 4), 0.25, 0.5)
        qtbot.waitUntil(lambda: panel.roi_x.value() == round(100 * 520 / 640), timeout=30_000)  # the Source panel follows
    finally:
        model.close()


def test_source_panel_filters_drop_events_as_the_chain_does(window, qtbot):
    """Ticking filters in the Source panel reaches the engine through ``set_filters``: each step's
    event count (shown in the Events view) is then the filter chain's count over the recording."""
    from snnstudio.events.filters import FilterChain

    win, model, panel = window, window.model, window.source
    qtbot.waitUntil(lambda: model.state.model is not None and model.state.sensor_size == (64, 48), timeout=30_000)
    model.pause()
    rec = win.rec

    def count(spec, snap):
        chain = FilterChain(spec, rec.sensor_size)
        ev = rec.events[(rec.events["t"] >= snap.t_start_us) & (rec.events["t"] < snap.t_end_us)]
        return len(chain(ev))

    def step_and_read():  # a re-opened source (crop) counts its steps from 0 again: wait for a new one
        qtbot.wait(100)
        prev = model.last
        model.step(1)
        qtbot.waitUntil(lambda: model.last is not None and model.last is not prev, timeout=20_000)
        return model.last

    before = step_and_read()
    assert before.n_events == count("", before) > 0
    panel.filter_boxes["polarity"].setChecked(True)  # ON only: about half the bar's events
    qtbot.waitUntil(lambda: model.state.filters == "polarity=on", timeout=20_000)
    snap = step_and_read()
    assert snap.n_events == count("polarity=on", snap) < count("", snap)
    qtbot.waitUntil(lambda: win.events.info.text().startswith(f"{snap.n_events:,} events"), timeout=10_000)
    assert panel.filter_note.text() == "in force: polarity=on"
    ev = win.evaluate  # the Evaluate panel offers the same filters for its data
    qtbot.waitUntil(lambda: ev.use_filters.isEnabled(), timeout=10_000)
    assert ev.request().filters == ""
    ev.use_filters.setChecked(True)
    assert ev.request().filters == "polarity=on" and ev.use_filters.text() == "events filtered: polarity=on"
    # a crop: the model sees the box as its sensor, and the panel says so
    panel.filter_values["crop"].setText("8,4,32,24")
    panel.filter_boxes["crop"].setChecked(True)
    qtbot.waitUntil(lambda: model.state.filters == "polarity=on; crop=8,4,32,24", timeout=20_000)
    assert model.state.sensor_size == (32, 24)
    qtbot.waitUntil(lambda: panel.filter_note.text().endswith("sensor 64×48 → 32×24"), timeout=10_000)
    snap = step_and_read()
    assert snap.n_events == count("polarity=on; crop=8,4,32,24", snap) < count("polarity=on", snap)
    # a bad box is said in the panel and never sent
    panel.filter_values["crop"].setText("8,4,32")
    panel.filter_values["crop"].editingFinished.emit()
    assert "4 whole numbers" in panel.filter_note.text()
    assert model.state.filters == "polarity=on; crop=8,4,32,24"
    for key in ("crop", "polarity"):
        panel.filter_boxes[key].setChecked(False)
    qtbot.waitUntil(lambda: model.state.filters == "" and model.state.sensor_size == (64, 48), timeout=20_000)
    # the panel shows a state when its signal is delivered, which can be a tick after the model has it
    qtbot.waitUntil(lambda: panel.filter_note.text() == "no filter", timeout=10_000)
    qtbot.waitUntil(lambda: not ev.use_filters.isEnabled(), timeout=10_000)
    assert ev.request().filters == ""
