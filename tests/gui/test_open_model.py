"""File → Open model…: the dialog says which code will run, the window loads a SpikingJelly net from
``file.py:factory`` and shows its layers, remembers it in Recent models once it runs, and a model
that fails shows a one-line message (no stack trace) while the model playing stays (and is not
remembered)."""

from __future__ import annotations

import textwrap

from PySide6.QtWidgets import QDialogButtonBox

from snnstudio.engine.spec import ModelSpec

SJ_NET = """
from torch import nn
from spikingjelly.activation_based import layer, neuron


def factory():
    net = nn.Sequential(layer.Conv2d(2, 4, 3, padding=1), neuron.IFNode(), layer.Flatten(),
                        layer.Linear(4 * 8 * 8, 3), neuron.IFNode())
    net.input_hw = (8, 8)
    return net


def broken():
    raise RuntimeError("the GPU is not here")
"""


def test_dialog_says_which_code_runs_and_checks_files(qtbot, tmp_path):
    from snnstudio.gui.open_model import OpenModelDialog

    py = tmp_path / "mine.py"
    py.write_text("def factory():\n    pass\n")
    dlg = OpenModelDialog()
    qtbot.addWidget(dlg)
    dlg.kind.setCurrentIndex(2)  # Python factory
    dlg.path.setText(str(py))
    dlg.factory.setText("factory")
    note = dlg.code_note.text()
    assert "runs Python code" in note and str(py) in note and "factory()" in note
    assert dlg.buttons.button(QDialogButtonBox.Ok).text() == "Run this code and open"
    assert dlg.spec() == ModelSpec(f"{py}:factory")
    dlg.weights.setText(str(tmp_path / "missing.safetensors"))
    dlg._accept()
    assert "no such weights file" in dlg.error.text() and dlg.result() == 0
    dlg.kind.setCurrentIndex(1)  # NIR graph
    dlg.path.setText(str(tmp_path / "net.nir"))
    assert dlg.code_note.text().startswith("No code runs")
    assert not dlg.factory.isVisibleTo(dlg) and dlg.dt.isVisibleTo(dlg)
    dlg.dt.setValue(100)
    assert dlg.spec() == ModelSpec(str(tmp_path / "net.nir"), dt_us=100)
    dlg._accept()
    assert "no such model file" in dlg.error.text()
    again = OpenModelDialog(start=ModelSpec(f"{py}:factory", "w.pt"))
    qtbot.addWidget(again)
    assert again.path.text() == str(py) and again.factory.text() == "factory" and again.weights.text() == "w.pt"


def test_window_opens_a_spikingjelly_factory_and_remembers_it(window, qtbot, tmp_path):
    win = window
    py = tmp_path / "sjnet.py"
    py.write_text(textwrap.dedent(SJ_NET))
    spec = ModelSpec(f"{py}:factory")
    win.open_model(spec)
    win.model.step(2)
    qtbot.waitUntil(lambda: win.model.last is not None and win.model.last.model_name == "sjnet:factory", timeout=30_000)
    assert [layer.kind for layer in win.model.last.layers] == ["spikingjelly.IFNode"] * 2
    qtbot.waitUntil(lambda: set(win.layers.rows) == {"1", "4"}, timeout=10_000)
    assert not win.model_panel.neuron.isEnabled()  # another library's neurons cannot be swapped
    assert win.model_panel.neuron.currentIndex() == -1  # none of ours is shown as if it were theirs
    assert win.model_panel.neuron.placeholderText() == "spikingjelly (fixed)"
    assert "IFNode" in win.layers.rows["1"].title.text and "spikingjelly" in win.layers.rows["1"].title.text
    box = win.model_panel.choice
    qtbot.waitUntil(lambda: box.currentText() == "sjnet:factory (opened)", timeout=5000)
    assert box.itemData(box.currentIndex()) == spec and box.findText("tiny") >= 0
    from dataclasses import replace

    win.model_panel.show_model(replace(win.model.state.model, unprobed=("head.odd",)))
    assert "not shown (layers the probes cannot read): head.odd" in win.model_panel.summary.text()
    assert "your own network" in win.teach.teachable()  # teaching fine-tunes our checkpoints only
    assert win.evaluate.loaded_spec() is None
    qtbot.waitUntil(lambda: bool(win.recent_menu.actions()), timeout=10_000)
    entries = [a.text() for a in win.recent_menu.actions()]
    assert entries and entries[0].startswith("sjnet:factory") and "runs Python" in entries[0]

    win.open_model(ModelSpec(f"{py}:broken"))
    qtbot.waitUntil(lambda: "the GPU is not here" in win.message_bar.text, timeout=20_000)
    assert "Traceback" not in win.message_bar.text and "\n" not in win.message_bar.text.strip()
    win.model.step(1)
    qtbot.wait(300)
    assert win.model.last.model_name == "sjnet:factory"  # the model playing stays
    i = box.findText("tiny")
    box.setCurrentIndex(i)
    box.activated.emit(i)  # back to a listed model: the opened one leaves the list
    win.model.step(1)
    qtbot.waitUntil(lambda: win.model.last.model_name == "tiny", timeout=20_000)
    qtbot.waitUntil(lambda: box.findText("sjnet:factory (opened)") < 0 and box.currentText() == "tiny", timeout=5000)
    assert win.model_panel.neuron.isEnabled() and win.model_panel.neuron.currentText() == "lif"  # tiny's neuron
    assert [a.text().split(" ")[0] for a in win.recent_menu.actions()] == ["sjnet:factory"]  # not the broken one


def test_recent_models_are_kept_in_settings_newest_first(tmp_path):
    from PySide6.QtCore import QSettings

    from snnstudio.gui.open_model import RECENT_MAX, recent_models, remember_model

    settings = QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat)
    a, b = ModelSpec("a.nir", dt_us=100), ModelSpec("net.py:make", "w.safetensors")
    remember_model(settings, a)
    remember_model(settings, b)
    remember_model(settings, a)
    settings.sync()
    again = QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat)
    assert recent_models(again) == [a, b]
    for i in range(RECENT_MAX + 3):
        remember_model(again, ModelSpec(f"m{i}.json"))
    assert len(recent_models(again)) == RECENT_MAX and recent_models(again)[0] == ModelSpec(f"m{RECENT_MAX + 2}.json")
    again.setValue("models/recent", "not json")
    assert recent_models(again) == []


def test_dropping_a_model_file_loads_it_and_a_python_file_asks_first(window, qtbot, tmp_path):
    from PySide6.QtCore import QTimer

    from snnstudio.snn.nir_io import save_nir
    from snnstudio.snn.neurons import build_neuron
    import torch
    from torch import nn

    win = window
    net = nn.Sequential(nn.Flatten(start_dim=2), nn.Linear(2 * 64 * 48, 3), build_neuron("lif"))
    path = save_nir(net.eval(), tmp_path / "dropped.nir", example_input=torch.rand(2, 1, 2, 48, 64))
    win.open_dropped(str(path))
    win.model.step(1)
    qtbot.waitUntil(lambda: win.model.last is not None and win.model.last.model_name == "dropped", timeout=20_000)

    py = tmp_path / "sjnet.py"
    marker = tmp_path / "ran.txt"
    py.write_text(f"open({str(marker)!r}, 'w').write('ran')\n" + textwrap.dedent(SJ_NET))
    seen = {}

    def cancel():
        dlg = win._drop_dialog
        seen["note"] = dlg.code_note.text()
        seen["path"] = dlg.path.text()
        dlg.reject()

    QTimer.singleShot(200, cancel)
    win.open_dropped(str(py))  # the dialog, cancelled: nothing ran
    assert seen["path"] == str(py) and "runs Python code" in seen["note"]
    assert not marker.exists()
    win.model.step(1)
    qtbot.wait(300)
    assert win.model.last.model_name == "dropped"


def test_gui_model_nir_that_cannot_load_never_plays_the_default(tmp_path):
    """The reported bug, end to end (the engine in its own process): ``gui --model X.nir`` whose
    graph gives no time step says so and plays nothing — not the default model."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import nir
    import numpy as np

    graph = nir.NIRGraph.from_list(nir.Affine(weight=np.ones((3, 4), np.float32), bias=np.zeros(3, np.float32)),
                                   nir.LIF(tau=np.full(3, 1e-3), r=np.ones(3), v_leak=np.zeros(3),
                                           v_threshold=np.ones(3), v_reset=np.zeros(3)))
    path = tmp_path / "no_dt.nir"
    nir.write(str(path), graph)
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo), "QT_QPA_PLATFORM": "offscreen", "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "snnstudio", "gui", "--model", str(path), "--screenshot",
                        str(tmp_path / "s.png"), "--quit-after", "6"], env=env, capture_output=True, text=True,
                       timeout=180, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "snnstudio: 0 steps shown, engine in a process\n" in r.stdout, r.stdout + r.stderr
    assert "does not say its time step" in r.stdout and "--dt-us" in r.stdout, r.stdout
    assert "Traceback" not in r.stdout + r.stderr


def test_file_export_model_as_nir_asks_a_name_and_the_engine_says_what_it_wrote(window, qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    asked = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *a, **k: (asked.append(a[2]) or (str(tmp_path / "net"), "NIR graphs (*.nir)")))
    window.act_export_nir.trigger()
    assert asked and asked[0].endswith(".nir")
    # the window's fixture plays the "tiny" stand-in, not a zoo network: the engine says so (a
    # zoo network is written: tests/engine/test_session_export.py), nothing is left behind
    qtbot.waitUntil(lambda: window.message_bar.text.startswith("export as NIR:"), timeout=30_000)
    assert "studio's own networks" in window.message_bar.text and not (tmp_path / "net.nir").exists()
