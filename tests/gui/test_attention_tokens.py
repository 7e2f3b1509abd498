"""The Attention panel draws token attention (Spikformer's SSA) as a token × token image, and only
the TA/CA/SA plots a block has."""

import numpy as np
import pytest

from snnstudio.gui.panels.attention import tokens_title


def _attention_of(qtbot, net):
    """A window playing ``net`` over a bar for three steps: ``(window, its session model, the
    attention snapshot the Attention panel shows)``; the caller closes the model."""
    from snnstudio.engine.session import SessionConfig
    from snnstudio.gui.main_window import MainWindow
    from snnstudio.gui.session_model import SessionModel

    from gui_helpers import bar_recording

    model = SessionModel(SessionConfig(realtime=False))
    win = MainWindow(model, settings=None)
    qtbot.addWidget(win)
    win.show()
    win.docks["Attention"].show()
    win.docks["Attention"].raise_()
    model.start()
    model.set_model(net)
    model.open(bar_recording(size=(128, 128)))
    model.step(3)
    qtbot.waitUntil(lambda: model.last is not None and model.last.index >= 2, timeout=20_000)
    qtbot.waitUntil(lambda: win.attention.shown is not None, timeout=5000)
    qtbot.wait(100)
    return win, model, next(x for x in model.last.attention if x.name == win.attention.shown)


def test_attention_panel_draws_the_spikformer_token_map(qtbot):
    pytest.importorskip("snnstudio.snn.zoo")
    from snnstudio.snn.checkpoints import load_checkpoint

    net, _cfg, _meta = load_checkpoint("resources/models/gesture-spikformer.json")
    win, model, a = _attention_of(qtbot, net)
    try:
        panel = win.attention
        assert a.name == "blocks.0.attn" and a.tokens is not None and a.tokens.ndim == 2
        assert a.tokens.shape[0] == a.tokens.shape[1]
        np.testing.assert_allclose(panel.tokens.image, a.tokens)
        assert panel.tokens_view.isVisible() and panel.tokens.isVisible()
        assert a.tokens_measure == "Q·Kᵀ" and panel.tokens_label.text == tokens_title("Q·Kᵀ")
        assert panel.tokens_label.text == "token attention (Q·Kᵀ, mean over heads)"
        # the block has no TA/CA/SA: their view is hidden
        assert a.ta is None and a.ca is None and a.sa is None
        assert not panel.view.isVisible()
    finally:
        model.close()


def test_gated_blocks_keep_their_plots_and_hide_the_token_map(qtbot):
    pytest.importorskip("snnstudio.snn.zoo")
    from snnstudio.snn import zoo

    win, model, a = _attention_of(qtbot, zoo.build_model(zoo.default_config("syna_resnet", T=4, widths=(8, 16, 16))))
    try:
        panel = win.attention
        assert a.tokens is None and a.ta is not None and a.ca is None and a.sa is None
        assert panel.view.isVisible() and not panel.tokens_view.isVisible()
        assert panel.ta_plot.isVisible() and not panel.ca_box.isVisible() and not panel.sa_box.isVisible()
        np.testing.assert_allclose(panel.ta.opts["height"], a.ta)
    finally:
        model.close()


def test_a_silent_token_map_is_said_to_be_zero(qtbot):
    from snnstudio.engine.session import SessionConfig
    from snnstudio.engine.snapshot import AttentionSnapshot, Snapshot
    from snnstudio.gui.panels.attention import SILENT_TOKENS, AttentionPanel
    from snnstudio.gui.session_model import SessionModel

    panel = AttentionPanel(SessionModel(SessionConfig(realtime=False)))
    qtbot.addWidget(panel)
    panel.show()

    def snap(tokens):
        att = AttentionSnapshot("blocks.0.attn", True, tokens=tokens, tokens_measure="Q·Kᵀ")
        return Snapshot(0, 0, 1000, np.zeros((2, 8, 8), np.float32), 0, attention=(att,))

    panel.draw(snap(np.zeros((4, 4), np.float32)))
    assert panel.note.text() == SILENT_TOKENS and panel.tokens_view.isVisible()
    spiking = np.arange(16, dtype=np.float32).reshape(4, 4)
    panel.draw(snap(spiking))
    assert panel.note.text() == ""
    np.testing.assert_array_equal(panel.tokens.image, spiking)
    assert tuple(panel.tokens.levels) == (0.0, 15.0)  # 0 … the map's largest value
