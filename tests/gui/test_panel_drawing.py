"""The panels' cheap drawing paths draw the same thing: numpy-coloured images equal the colour
map, the Metrics table redraws a few times a second with the newest numbers, a hidden Layers
panel keeps recording, and the Membrane axis holds still unless the data leave it."""

from __future__ import annotations

import time

import numpy as np
import pytest

from snnstudio.engine.snapshot import LayerSnapshot, Metrics, Snapshot


def _ro(a, dtype=np.float32):
    a = np.array(a, dtype)
    a.setflags(write=False)
    return a


def _layer(step: int, n_ch=3, hw=(2, 2), membrane=None):
    rng = np.random.default_rng(step)
    spikes = (rng.random(n_ch * hw[0] * hw[1]) < 0.4).astype(np.uint8)
    idx = np.arange(0, spikes.size, 2)
    return LayerSnapshot(
        name="conv1", kind="lif", shape=(n_ch, *hw), rate=float(spikes.mean()),
        channel_rates=_ro(spikes.reshape(n_ch, -1).mean(1)), raster=_ro(spikes[idx], np.uint8),
        raster_index=_ro(idx, np.int64), spike_count=int(spikes.sum()), membrane=membrane or {},
        spiked={i: bool(spikes[i]) for i in (membrane or {})}, threshold=1.0,
        feature_map=_ro(spikes.reshape(n_ch, *hw)[:2]),
    )


def _snap(i: int, **kw):
    layer = _layer(i, **kw)
    return Snapshot(i, i * 10_000, (i + 1) * 10_000, _ro(np.zeros((2, 4, 4))), 5, layers=(layer,),
                    metrics=Metrics(layer.rate, layer.spike_count, latency_ms=1.0 + i))


@pytest.fixture
def model(qtbot):
    from PySide6.QtWidgets import QApplication

    from snnstudio.engine.session import SessionConfig
    from snnstudio.gui import theme
    from snnstudio.gui.session_model import SessionModel

    theme.apply(QApplication.instance(), "dark")  # as the app does (pyqtgraph row-major images)
    m = SessionModel(SessionConfig())  # not started: the tests emit its signals themselves
    yield m
    m.close()


def test_colourise_equals_the_colour_table_lookup():
    from snnstudio.gui.plots import colour_table, colourise

    table = colour_table("viridis")
    assert table.shape == (256, 3) and table.dtype == np.uint8
    v = np.array([[-1.0, 0.0, 0.25], [0.5, 2.0, 4.0]], np.float32)
    got = colourise(v, table, 0.0, 2.0)
    want = table[np.clip(np.round(v / 2.0 * 255), 0, 255).astype(int)]
    np.testing.assert_array_equal(got, want)
    u8 = np.array([[0, 7], [255, 128]], np.uint8)
    np.testing.assert_array_equal(colourise(u8, table, 0.0, 255.0), table[u8])


def test_metrics_table_redraws_a_few_times_a_second_with_the_newest(model, qtbot):
    from snnstudio.gui.panels import metrics

    panel = metrics.MetricsPanel(model)
    qtbot.addWidget(panel)
    panel.show()
    for i in range(30):  # 30 snapshots in a burst: one redraw
        model.snapshot.emit(_snap(i))
    assert panel.draws == 1
    assert panel.table.item(0, 4).text() == f"{_snap(0).layers[0].spike_count:,}"
    time.sleep(1.05 / metrics.RATE_HZ)
    model.snapshot.emit(_snap(31))
    assert panel.draws == 2
    assert panel.table.item(0, 3).text() == f"{100 * _snap(31).layers[0].rate:.2f}"
    assert "step 32.0 ms" in panel.totals.text()
    assert panel.table.item(0, 5).text() == "–"  # not metered yet
    # a window model: the rate over its window (eval's), the newest step's in the tooltip; its block's cost
    from dataclasses import replace

    s = _snap(40)
    layer = replace(s.layers[0], window_rate=0.25, window_steps=10, sops=1234.4, energy_pj=5.6e6)
    panel.draw(replace(s, layers=(layer, *s.layers[1:])), force=True)
    assert panel.table.item(0, 3).text() == "25.00"
    assert panel.table.item(0, 3).toolTip() == f"25.00 % over 10 step(s); {100 * layer.rate:.2f} % at the newest step"
    assert (panel.table.item(0, 5).text(), panel.table.item(0, 6).text()) == ("1,234", "5.6000")


def test_hidden_layers_panel_records_and_draws_rgb_when_shown(model, qtbot):
    from snnstudio.gui.panels.layers import LayersPanel
    from snnstudio.gui.plots import colourise

    panel = LayersPanel(model)
    qtbot.addWidget(panel)
    snaps = [_snap(i) for i in range(5)]
    model.snapshots.emit(snaps)  # never shown: recorded, not drawn
    row = panel.rows["conv1"]
    assert row.count == 5 and row.raster.image is None
    panel.show()
    model.snapshots.emit([_snap(5)])
    assert row.count == 6
    qtbot.waitUntil(lambda: row.raster.image is not None, timeout=2000)  # the frame budget's idle flush
    img = row.raster.image
    assert img.shape == (snaps[0].layers[0].raster.size, 6, 3) and img.dtype == np.uint8
    for k in range(6):  # each column: spike colour where the sampled neuron fired
        fired = _snap(k).layers[0].raster.astype(bool)
        np.testing.assert_array_equal((img[:, k] == row.raster_lut[1]).all(-1), fired)
    chans = np.stack([_snap(k).layers[0].channel_rates for k in range(6)], axis=1)
    np.testing.assert_array_equal(row.chan.image, colourise(chans, row.chan_lut, 0.0, max(1e-3, float(chans.max()))))


def test_layers_rate_curve_is_the_window_rate_and_the_title_says_the_blocks_cost(model, qtbot):
    from dataclasses import replace

    from snnstudio.gui.panels.layers import LayersPanel, cost_line

    panel = LayersPanel(model)
    qtbot.addWidget(panel)
    panel.show()
    snaps = []
    for i in range(4):  # a window model: the newest step silent, the window not (the output layer's case)
        s = _snap(i)
        layer = replace(s.layers[0], rate=0.0, window_rate=0.1 * (i + 1), window_steps=10,
                        sops=None if i < 2 else 3700.0, energy_pj=None if i < 2 else 3.4e3)
        snaps.append(replace(s, layers=(layer,)))
    model.snapshots.emit(snaps)
    row = panel.rows["conv1"]
    model.budget.flush()
    qtbot.waitUntil(lambda: row.rate_curve.getData()[1] is not None and len(row.rate_curve.getData()[1]) == 4,
                    timeout=2000)
    assert list(row.rate_curve.getData()[1]) == pytest.approx([0.1, 0.2, 0.3, 0.4])
    assert cost_line(snaps[-1].layers[0]) == "3.7 k SOPs · 0.0034 µJ" and cost_line(snaps[0].layers[0]) == ""
    assert row.cost_text == "3.7 k SOPs · 0.0034 µJ" and "3.7 k SOPs" in row.title.text


def test_membrane_axis_holds_still_until_the_data_leave_it(model, qtbot):
    from snnstudio.gui.panels.membrane import MembranePanel

    panel = MembranePanel(model)
    qtbot.addWidget(panel)
    panel.show()
    vals = [0.2, 0.5, 0.9, 0.4]
    model.snapshots.emit([_snap(i, membrane={1: v}) for i, v in enumerate(vals)])
    model.budget.flush()  # a tick draws this within its frame budget
    y0 = panel.plot.viewRange()[1]
    assert y0[0] <= 0.0 and y0[1] >= 1.12  # the data and the spike marks above the threshold
    model.snapshots.emit([_snap(4, membrane={1: 0.7})])
    model.budget.flush()  # a tick draws this within its frame budget
    assert panel.plot.viewRange()[1] == y0  # nothing left the range: the axis is not touched
    model.snapshots.emit([_snap(5, membrane={1: 3.0})])
    model.budget.flush()  # a tick draws this within its frame budget
    y1 = panel.plot.viewRange()[1]
    assert y1[1] >= 3.0 > y0[1]  # grows at once
    x = panel.plot.viewRange()[0]
    from snnstudio.gui.panels.membrane import HISTORY

    assert x[0] == pytest.approx(-HISTORY * 0.01) and x[1] == pytest.approx(0.0)


def test_membrane_time_axis_sums_the_steps_when_the_step_changes(model, qtbot):
    """Three 10 ms steps, then two of 50 ms (the adaptive step): the newest sample sits at 0 s and
    the others at minus the stream time shown since (not steps × the current step)."""
    from dataclasses import replace

    from snnstudio.gui.panels.membrane import MembranePanel

    panel = MembranePanel(model)
    qtbot.addWidget(panel)
    panel.show()
    snaps = [_snap(i, membrane={1: 0.1 * i}) for i in range(3)]
    t = 30_000
    for i in (3, 4):
        snaps.append(replace(_snap(i, membrane={1: 0.1 * i}), t_start_us=t, t_end_us=t + 50_000))
        t += 50_000
    model.snapshots.emit(snaps)
    model.budget.flush()
    curve, _ = panel.curves[("conv1", 1)]
    x, y = curve.getData()
    np.testing.assert_allclose(x, [-0.12, -0.11, -0.10, -0.05, 0.0], atol=1e-9)
    np.testing.assert_allclose(y, [0.0, 0.1, 0.2, 0.3, 0.4], atol=1e-6)


def test_feature_maps_are_paged_as_many_as_fit_and_a_click_follows_the_channel_shown(model, qtbot, monkeypatch):
    """A row shows as many of its channels' maps as fit; the arrows turn every row's page; the
    last page shows the last channels; clicking a map follows that channel's neuron."""
    from snnstudio.gui.panels.layers import LayersPanel

    panel = LayersPanel(model)
    qtbot.addWidget(panel)
    panel.show()

    def snap(i):  # 7 channels of 2×2, all maps kept (as the engine sends them)
        la = _layer(i, n_ch=7)
        spikes = np.arange(7 * 4).reshape(7, 2, 2) % 3 == i % 3
        from dataclasses import replace

        return _snap(i, n_ch=7).__class__(i, i * 10_000, (i + 1) * 10_000, _ro(np.zeros((2, 4, 4))), 5,
                                          layers=(replace(la, feature_map=_ro(spikes, np.uint8)),),
                                          metrics=Metrics(la.rate, la.spike_count))
    model.snapshots.emit([snap(0)])
    row = panel.rows["conv1"]
    monkeypatch.setattr(row, "fits", lambda h, w: 3)  # three maps fit the cell
    qtbot.waitUntil(lambda: row.fmap_shape is not None, timeout=2000)
    row.draw()
    assert row.fmap_shape == (3, 2, 2) and row.fmap_start == 0 and panel.pages() == 3
    panel.turn_page(1)
    assert row.fmap_start == 3 and "page 2 of 3" in panel.page_label.text()
    fm = row.last.feature_map
    img = row.fmap.image  # tiles of 2 px with a 1 px gap: tile 1 is channel 4
    on = (img[:, 3:5] == row.fmap_lut[-1]).all(-1)
    np.testing.assert_array_equal(on, fm[4].astype(bool))
    panel.turn_page(5)  # past the end: the last page (channel 6 alone)
    assert panel.fmap_page == 2 and row.fmap_start == 6 and row.fmap_shape[0] == 1
    followed = []
    monkeypatch.setattr(panel, "follow", lambda layer, index: followed.append((layer, index)))
    panel.turn_page(-1)
    row._fmap_click(1, 4)  # row 1, column 1 of tile 1 → channel 4, (y 1, x 1)
    assert followed == [("conv1", 4 * 4 + 1 * 2 + 1)]
