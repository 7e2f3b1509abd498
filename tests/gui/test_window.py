"""The studio window over a live session (offscreen): play, pause, step, errors, drawing."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from snnstudio.engine.windows import count_frame
from snnstudio.gui.panels.events import event_image

REPO = Path(__file__).resolve().parents[2]


def _wait_index(qtbot, win, n, timeout=15_000):
    qtbot.waitUntil(lambda: win.model.last is not None and win.model.last.index >= n, timeout=timeout)
    return win.model.last


def test_the_clock_ticks_at_most_ten_times_a_second_playing_and_to_the_step_paused(window, qtbot):
    from snnstudio.gui.panels.source import CLOCK_INTERVAL_S

    win = window
    shown = []
    win.source.time.setText = lambda text, f=win.source.time.setText: (shown.append(text), f(text))
    win.model.play()
    first = _wait_index(qtbot, win, 3).index
    qtbot.wait(1000)
    steps = win.model.last.index - first
    assert steps >= 40 and 3 <= len(shown) <= 1.0 / CLOCK_INTERVAL_S + 4  # ~10 updates for ~100 steps
    win.model.pause()
    win.model.session.sync()
    qtbot.waitUntil(lambda: not win.model.state.playing, timeout=5000)
    qtbot.waitUntil(lambda: win.model.last.index == win.model.session.latest().index, timeout=5000)
    qtbot.wait(100)
    assert win.source.time.text().endswith(f"step {win.model.last.index}")
    win.act_step.trigger()
    _wait_index(qtbot, win, win.model.last.index + 1)
    qtbot.wait(50)
    assert win.source.time.text().endswith(f"step {win.model.last.index}")  # stepping: every step


def test_plays_pauses_and_steps(window, qtbot):
    win = window
    win.model.play()
    a = _wait_index(qtbot, win, 5)
    assert win.model.state.playing
    win.model.pause()
    win.model.session.sync()
    produced = win.model.session.latest().index
    qtbot.waitUntil(lambda: win.model.last.index == produced, timeout=5000)
    paused = win.model.last
    qtbot.wait(300)
    assert win.model.last.index == paused.index  # paused: time stands still
    win.act_step.trigger()  # the → shortcut's action
    b = _wait_index(qtbot, win, paused.index + 1)
    assert b.t_start_us == paused.t_end_us and b.t_end_us - b.t_start_us == 10_000
    assert b.t_end_us > a.t_end_us
    win.act_back.trigger()
    c = _wait_index(qtbot, win, b.index + 1)
    assert (c.t_start_us, c.t_end_us) == (paused.t_start_us, paused.t_end_us)
    win.act_play.trigger()  # space
    qtbot.waitUntil(lambda: win.model.state.playing, timeout=5000)
    assert "playing" in win.state_label.text()


def test_events_view_draws_the_snapshot_frame(window, qtbot):
    win = window
    win.model.step(3)
    snap = _wait_index(qtbot, win, 2)
    qtbot.waitUntil(lambda: win.events.rgb is not None, timeout=5000)
    expected_frame = count_frame(win.rec.time_slice(snap.t_start_us, snap.t_end_us), win.rec.sensor_size)
    np.testing.assert_array_equal(snap.frame, expected_frame)
    np.testing.assert_array_equal(win.events.rgb, event_image(snap.frame))
    np.testing.assert_array_equal(win.events.image.image, event_image(snap.frame))
    # a pixel with only ON events has the ON colour, an empty one the background
    on_only = np.argwhere((snap.frame[1] >= 3) & (snap.frame[0] == 0))
    empty = np.argwhere(snap.frame.sum(0) == 0)
    y, x = on_only[0]
    assert tuple(win.events.rgb[y, x]) == (0xFF, 0x9F, 0x43)
    y, x = empty[0]
    assert tuple(win.events.rgb[y, x]) == (0x15, 0x17, 0x1C)
    assert f"{snap.n_events:,} events" in win.events.info.text()


def test_layer_rasters_get_one_column_per_step(window, qtbot):
    win = window
    win.model.step(12)
    _wait_index(qtbot, win, 11)
    qtbot.waitUntil(lambda: win.layers.rows and next(iter(win.layers.rows.values())).count >= 12, timeout=5000)
    snaps = []
    win.model.snapshots.connect(snaps.extend)
    win.model.step(1)
    snap = _wait_index(qtbot, win, 12)
    row = win.layers.rows["sn1"]
    assert row.count == 13
    last_col = row.spikes[:, (row.ptr - 1) % row.spikes.shape[1]]
    np.testing.assert_array_equal(last_col, snap.layer("sn1").raster)
    shown = row.raster.image  # RGB: the spike colour where a neuron fired, the background elsewhere
    spike, base = row.raster_lut[1], row.raster_lut[0]
    assert tuple(spike) != tuple(base)
    np.testing.assert_array_equal((shown[:, -1] == spike).all(-1), snap.layer("sn1").raster.astype(bool))
    np.testing.assert_array_equal((shown[:, -1] == base).all(-1), ~snap.layer("sn1").raster.astype(bool))
    np.testing.assert_allclose(row.chans[:, (row.ptr - 1) % row.chans.shape[1]], snap.layer("sn1").channel_rates)
    assert set(win.layers.rows) == {"sn1", "sn2", "sn3"}


def test_clicking_a_neuron_follows_its_membrane(window, qtbot):
    win = window
    win.model.step(2)
    _wait_index(qtbot, win, 1)
    row = win.layers.rows["sn2"]
    row._raster_click(5, 0)
    neuron = int(row.index[5])
    win.model.step(5)
    snap = _wait_index(qtbot, win, 6)
    layer = snap.layer("sn2")
    assert neuron in layer.membrane and layer.threshold == 1.0
    qtbot.waitUntil(lambda: ("sn2", neuron) in win.membrane.traces, timeout=5000)
    trace = win.membrane.traces[("sn2", neuron)]
    assert trace.v[-1] == pytest.approx(layer.membrane[neuron])
    # the trace's data are kept every step; the plot (and its threshold line) is drawn within the
    # frame budget, a moment later on a loaded machine
    qtbot.waitUntil(lambda: 1.0 in win.membrane.thresholds, timeout=5000)


def test_output_panel_shows_the_prediction(window, qtbot):
    win = window
    win.model.step(20)
    snap = _wait_index(qtbot, win, 19)
    qtbot.wait(50)
    np.testing.assert_allclose(win.output.heights, snap.probabilities)
    if snap.predicted is not None:
        assert win.output.predicted.text() == snap.class_names[snap.predicted]
    assert "sweep" in win.output.truth.text()
    assert win.metrics.table.rowCount() == 3
    assert win.metrics.table.item(0, 0).text() == "sn1"


def test_bad_file_shows_a_message_and_the_window_lives_on(window, qtbot, tmp_path):
    win = window
    bad = tmp_path / "nope.aedat4"
    bad.write_bytes(b"not an event file at all")
    win.model.open(str(bad))
    qtbot.waitUntil(lambda: win.message_bar.isVisible(), timeout=5000)
    assert "nope.aedat4" in win.message_bar.text
    win.model.open(win.rec)
    win.model.step(2)
    snap = _wait_index(qtbot, win, 1)
    assert snap.t_end_us > 0 and win.isVisible()


def test_session_model_survives_thousands_of_updates(qtbot):
    from snnstudio.engine.session import SessionConfig
    from snnstudio.gui.session_model import SessionModel
    from snnstudio.engine.snapshot import Snapshot

    model = SessionModel(SessionConfig(realtime=False))
    got, latest = [], []
    model.snapshots.connect(got.extend)
    model.snapshot.connect(latest.append)
    frame = np.zeros((2, 4, 4), np.float32)
    for i in range(5000):
        model._on_snapshot(Snapshot(i, i * 10, (i + 1) * 10, frame, 0))
        if i % 7 == 0:
            model.tick()
    model.tick()
    assert [s.index for s in got] == list(range(5000))
    assert latest[-1].index == 4999 and len(latest) == 5000 // 7 + 2


def test_real_session_streams_many_snapshots(qtbot):
    from snnstudio.engine.session import SessionConfig
    from snnstudio.gui.session_model import SessionModel

    from gui_helpers import bar_recording

    model = SessionModel(SessionConfig(realtime=False, dt_us=1000))
    seen = []
    model.snapshots.connect(lambda snaps: seen.extend(s.index for s in snaps))
    model.start()
    try:
        model.set_model("tiny")
        model.open(bar_recording(duration_us=600_000, size=(32, 32)))
        model.play()
        qtbot.waitUntil(lambda: len(seen) >= 200, timeout=60_000)
    finally:
        model.close()
    assert seen[:200] == list(range(200))  # none lost, none repeated, in order


def test_layout_is_saved_and_restored(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from snnstudio.engine.session import SessionConfig
    from snnstudio.gui.main_window import MainWindow
    from snnstudio.gui.session_model import SessionModel

    ini = str(tmp_path / "s.ini")
    win = MainWindow(SessionModel(SessionConfig()), QSettings(ini, QSettings.IniFormat))
    qtbot.addWidget(win)
    win.show()
    win.docks["Attention"].hide()
    win.close()
    win2 = MainWindow(SessionModel(SessionConfig()), QSettings(ini, QSettings.IniFormat))
    qtbot.addWidget(win2)
    win2.show()
    assert win2.docks["Attention"].isHidden() and not win2.docks["Layers"].isHidden()
    win2.reset_layout()
    assert not win2.docks["Attention"].isHidden()
    win2.close()


def test_gui_never_imports_torch():
    for path in (REPO / "snnstudio" / "gui").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n == "torch" or n.startswith("torch.") for n in names), f"{path} imports torch"


@pytest.mark.slow
def test_screenshot_command_writes_a_png_of_the_playing_window(tmp_path):
    from PySide6.QtGui import QImage

    out = tmp_path / "shot.png"
    env = {"PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen", "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    import os

    env = {**os.environ, **env}
    r = subprocess.run(
        [sys.executable, "-m", "snnstudio", "gui", "--model", "tiny", "--screenshot", str(out), "--quit-after", "10"],
        env=env, capture_output=True, text=True, timeout=180,
    )
    assert r.returncode == 0, r.stderr
    shown = re.search(r"snnstudio: (\d+) steps shown, engine in a process, model tiny", r.stdout)
    assert shown and int(shown.group(1)) > 0, r.stdout + r.stderr  # the engine process ran and delivered
    img = QImage(str(out))
    assert img.width() >= 1200 and img.height() >= 800
    # not a blank window: many distinct colours
    colours = {img.pixel(x, y) for x in range(0, img.width(), 7) for y in range(0, img.height(), 7)}
    assert len(colours) > 50


def test_screenshot_needs_quit_after():
    r = subprocess.run([sys.executable, "-m", "snnstudio", "gui", "--screenshot", "x.png"], capture_output=True, text=True,
                       env={**__import__("os").environ, "PYTHONPATH": str(REPO)}, timeout=60)
    assert r.returncode == 1 and "--quit-after" in r.stderr


def test_compare_panel_shows_one_row_per_model(window, qtbot):
    win = window
    win.model.set_compare(["tiny"])
    win.docks["Compare"].raise_()
    win.model.step(6)
    snap = _wait_index(qtbot, win, 5)
    assert len(snap.compare) == 1
    qtbot.waitUntil(lambda: win.compare.table.rowCount() == 2, timeout=5000)
    assert [win.compare.table.item(r, 0).text() for r in range(2)] == ["tiny", "tiny"]
    # same weights (seeded), same frames: the two rows agree on every step
    assert win.compare.table.item(1, 9).text() == "100"


def test_a_missing_camera_is_a_message_not_a_crash(window, qtbot):
    win = window
    win.source.live.setText("network:127.0.0.1:1")  # nothing listens on port 1
    win.source._open_live()
    qtbot.waitUntil(lambda: win.message_bar.isVisible(), timeout=15_000)
    assert win.message_bar.text
    win.model.open(win.rec)
    win.model.step(2)
    assert _wait_index(qtbot, win, 1).t_end_us > 0


def test_attention_panel_draws_the_zoo_nets_weights(qtbot):
    pytest.importorskip("snnstudio.snn.zoo")
    from snnstudio.engine.session import SessionConfig
    from snnstudio.gui.main_window import MainWindow
    from snnstudio.gui.session_model import SessionModel

    from gui_helpers import bar_recording

    model = SessionModel(SessionConfig(realtime=False))
    win = MainWindow(model, settings=None)
    qtbot.addWidget(win)
    win.show()
    model.start()
    try:
        from snnstudio.snn import zoo

        model.set_model(zoo.build_model(zoo.default_config("ma_snn_gesture_small", T=4)))
        model.open(bar_recording(size=(128, 128)))
        model.step(3)
        qtbot.waitUntil(lambda: model.last is not None and model.last.index >= 2, timeout=20_000)
        qtbot.waitUntil(lambda: win.attention.shown is not None, timeout=5000)
        a = model.last.attention[0]
        assert win.attention.shown == a.name == "conv1.attention"
        np.testing.assert_allclose(win.attention.ca.image[0], a.ca)
        np.testing.assert_allclose(win.attention.sa.image, a.sa)
        assert win.attention.block.count() == len(model.last.attention)
        # switching the block off in the model tree reaches the model and the snapshot
        item = win.model_panel.items["conv1.attention"]
        from PySide6.QtCore import Qt

        item.setCheckState(0, Qt.Unchecked)
        model.step(1)
        qtbot.waitUntil(lambda: model.last.index >= 3, timeout=20_000)
        off = model.last.attention[0]
        assert not off.enabled and off.ta is None and off.sa is None
        # the events view overlays the last block's spatial map when asked
        win.events.show_attention.setChecked(True)
        model.step(1)
        qtbot.waitUntil(lambda: model.last.index >= 4, timeout=20_000)
        qtbot.wait(100)
        sa = next(x.sa for x in reversed(model.last.attention) if x.sa is not None)
        assert win.events.overlay.isVisible()
        np.testing.assert_allclose(win.events.overlay.image, sa)
        # … or where a spiking layer fired, when the user picks it
        combo = win.events.overlay_source
        keys = [combo.itemData(i) for i in range(combo.count())]
        assert keys[0].startswith("sa:") and "spikes:conv1.neuron" in keys
        combo.setCurrentIndex(keys.index("spikes:conv2.neuron"))
        model.step(1)
        qtbot.waitUntil(lambda: model.last.index >= 5, timeout=20_000)
        qtbot.wait(100)
        want = model.last.layer("conv2.neuron").spatial_rate
        assert combo.currentData() == "spikes:conv2.neuron" and want.shape == (16, 16)
        np.testing.assert_allclose(win.events.overlay.image, want)
    finally:
        model.close()


def test_swapping_model_and_neuron_rebuilds_the_panels(window, qtbot):
    zoo = pytest.importorskip("snnstudio.snn.zoo")
    win = window
    win.model.step(3)
    _wait_index(qtbot, win, 2)
    assert set(win.layers.rows) == {"sn1", "sn2", "sn3"}
    win.model.set_model(zoo.build_model(zoo.default_config("ma_snn_gesture_small", T=4)))
    win.model.step(2)
    qtbot.waitUntil(lambda: win.model.last.layers[0].name == "conv1.neuron", timeout=20_000)
    qtbot.waitUntil(lambda: "conv1.neuron" in win.layers.rows, timeout=5000)
    assert "sn1" not in win.layers.rows
    assert win.model_panel.neuron.currentText() == "lif"
    assert "conv1.attention" in win.model_panel.items
    i = win.model_panel.neuron.findText("psn")
    win.model_panel.neuron.setCurrentIndex(i)
    win.model_panel.neuron.activated.emit(i)
    win.model.step(1)
    qtbot.waitUntil(lambda: win.model.last.layers[0].kind == "psn", timeout=20_000)
    assert win.model.last.model_name.endswith("[psn]")
