"""The Compare view driven through the real window: a variant column added from the panel runs
in lock-step, differs from column 1, column 1 equals the loaded model run alone, and the column
goes away again."""

from __future__ import annotations

import numpy as np



def _alone(rec, t_start_us: int, steps: int):
    """The default model run alone on ``rec`` (the oracle): its snapshot starting at ``t_start_us``."""
    from snnstudio.engine.session import Session, SessionConfig

    s = Session(SessionConfig(dt_us=10_000, realtime=False))
    got = []
    s.on_snapshot = got.append
    s.start()
    try:
        s.set_model("default")
        s.open(rec)
        s.step(steps)
        s.wait_for(lambda x: x is not None and x.t_start_us >= t_start_us, 60)
    finally:
        s.close()
    return next(g for g in got if g.t_start_us == t_start_us)


def test_add_a_variant_column_from_the_panel_and_remove_it(window, qtbot):
    from PySide6.QtCore import Qt

    from snnstudio.engine.types import Variant

    win = window
    model, panel = win.model, win.compare
    win.docks["Compare"].raise_()
    model.pause()
    model.set_model("default")
    qtbot.waitUntil(lambda: panel.choices.findText("loaded model — attention off") >= 0
                    and (model.state.model is not None and model.state.model.name != "tiny"), timeout=30_000)
    assert len(panel.columns) == 1 and panel.columns[0].remove.isHidden()
    panel.choices.setCurrentIndex(panel.choices.findText("loaded model — attention off"))
    qtbot.mouseClick(panel.add_button, Qt.LeftButton)
    assert model.compare_specs == (Variant(None, (("attention", False),)),)
    assert len(panel.columns) == 2 and not panel.columns[1].remove.isHidden()
    # the first column added brings the view forward in the wide bottom-left area (room for its columns)
    qtbot.waitUntil(lambda: win.docks["Compare"] in win.tabifiedDockWidgets(win.docks["Layers"]), timeout=10_000)
    assert not win.docks["Compare"].visibleRegion().isEmpty()

    model.step(6)
    qtbot.waitUntil(lambda: model.last is not None and len(model.last.compare) == 1 and model.last.index >= 5,
                    timeout=30_000)
    model.budget.flush()
    qtbot.waitUntil(lambda: panel.columns[1].last is not None and panel.columns[1].shown_probabilities is not None,
                    timeout=10_000)
    model.budget.flush()
    first, second = panel.columns
    assert second.last is model.last.compare[0] and first.last is model.last
    assert "attention off" in second.title.text()
    np.testing.assert_allclose(first.shown_probabilities, model.last.probabilities)
    np.testing.assert_allclose(second.shown_probabilities, model.last.compare[0].probabilities)
    # the variant's figures differ from column 1 (probabilities or spikes) ...
    assert not np.allclose(first.shown_probabilities, second.shown_probabilities, atol=1e-4) \
        or first.last.metrics.spike_count != second.last.metrics.spike_count
    # ... shown as differences in column 2 only
    assert "Δ" in second.figures.text() and "Δ" not in first.figures.text()
    assert len(second.rasters) == len(model.last.layers) > 0 and second.rasters[0].image is not None
    # column 1 is what the loaded model alone gives on the same window
    oracle = _alone(win.rec, first.last.t_start_us, first.last.index + 8)
    np.testing.assert_allclose(first.shown_probabilities, oracle.probabilities, atol=1e-5)

    qtbot.mouseClick(second.remove, Qt.LeftButton)
    assert model.compare_specs == () and len(panel.columns) == 1
    model.step(1)
    qtbot.waitUntil(lambda: model.last is not None and model.last.compare == () and panel.columns[0].last is not None,
                    timeout=20_000)


def test_column_choices_offer_variants_and_bundled_models():
    from snnstudio.engine.types import ModelInfo, ModuleInfo, SessionState, Variant
    from snnstudio.gui.panels.compare import column_choices

    mods = (ModuleInfo("conv1.attention", "Att", 1, True, True), ModuleInfo("conv1.attention.ta", "TA", 2, True, True),
            ModuleInfo("conv1.neuron", "LIFNode", 1, False, True))
    info = ModelInfo("m", "window", 16, (64, 64), (), ("conv1.attention",), 11, (), mods, 10)
    got = dict(column_choices(SessionState(model=info, models=("gesture-lif-none",), neurons=("lif", "psn"))))
    assert got["loaded model — attention off"] == Variant(None, (("attention", False),))
    assert got["loaded model — ta off"] == Variant(None, (("ta", False),))
    assert got["loaded model — conv1.attention off"] == Variant(None, (("conv1.attention", False),))
    assert got["loaded model — neuron psn"] == Variant(None, neuron="psn")
    assert got["model gesture-lif-none"] == "gesture-lif-none"
    assert column_choices(SessionState()) == []


def test_a_variant_parses_from_the_command_line_text():
    from snnstudio.engine.types import Variant

    assert Variant.parse("attention=off") == Variant(None, (("attention", False),))
    assert Variant.parse("ta=off, neuron=psn") == Variant(None, (("ta", False),), "psn")
    assert Variant.parse("ta=off, neuron=psn").label == "ta off, neuron psn"
    for spec in ("gesture-lif-none", "net.py:build", "attention=maybe", "a/b=off"):
        assert Variant.parse(spec) is None


def test_a_column_the_engine_cannot_run_goes_away_with_a_message(window, qtbot):
    from snnstudio.engine.types import Variant

    win = window
    model, panel = win.model, win.compare
    said = []
    model.message.connect(said.append)
    qtbot.waitUntil(lambda: model.state.model is not None, timeout=20_000)
    panel.add_column(Variant(None, (("attention", False),)))  # the tiny model has no attention
    assert len(panel.columns) == 2
    qtbot.waitUntil(lambda: len(panel.columns) == 1 and model.compare_specs == (), timeout=20_000)
    assert any("attention" in m for m in said)
    panel.add_column("tiny")
    qtbot.waitUntil(lambda: model.state.compare == ("tiny",), timeout=20_000)
    assert model.compare_specs == ("tiny",) and len(panel.columns) == 2


def test_three_columns_widen_the_compare_area_over_the_whole_bottom(window, qtbot):
    """Two columns share the bottom with the Membrane view; the third moves Membrane into the tabs
    so the columns get the whole bottom width."""
    from snnstudio.engine.types import Variant

    win = window
    compare, layers, membrane = win.docks["Compare"], win.docks["Layers"], win.docks["Membrane"]
    win._show_compare((Variant(None, (("attention", False),)),))
    qtbot.wait(50)
    assert compare in win.tabifiedDockWidgets(layers) and membrane not in win.tabifiedDockWidgets(layers)
    narrow = compare.width()
    win._show_compare((Variant(None, (("attention", False),)), "gesture-lif-none"))
    qtbot.waitUntil(lambda: membrane in win.tabifiedDockWidgets(layers), timeout=5000)
    qtbot.waitUntil(lambda: compare.width() > narrow + 100, timeout=5000)
    assert not compare.visibleRegion().isEmpty()
