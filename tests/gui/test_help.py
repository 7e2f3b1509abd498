"""Help → Guide and the plots' tooltips: every panel has its paragraph, every plot its
"what am I looking at", and the shortcut list is the window's own."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QAction, QKeySequence


def test_every_panel_has_a_guide_and_every_plot_a_tooltip(window, qtbot):
    from snnstudio.gui.help import PANEL_GUIDE
    from snnstudio.gui.panels.compare import CompareColumn

    assert set(window.docks) <= set(PANEL_GUIDE), "a new dock needs its paragraph in gui/help.PANEL_GUIDE"
    views = window.findChildren(pg.GraphicsView)
    assert len(views) >= 8
    missing = [type(v.parent()).__name__ for v in views if not v.toolTip().strip()]
    assert not missing, f"plots without a tooltip in: {missing}"
    column = CompareColumn(1)  # columns come and go with the compare set: built with their tooltip
    qtbot.addWidget(column)
    assert "column" in column.view.toolTip()


def test_the_guide_lists_the_panels_and_the_windows_own_shortcuts(window, qtbot):
    from snnstudio.gui.help import guide_html, shortcuts

    rows = dict(shortcuts(window))
    want = {a.text().replace("&", ""): a for a in window.findChildren(QAction) if not a.shortcut().isEmpty()}
    assert set(rows) == set(want) and "Guide to the panels and shortcuts" in rows
    assert rows["Guide to the panels and shortcuts"] == QKeySequence("F1").toString(QKeySequence.NativeText)
    text = guide_html(window)
    for title in window.docks:
        assert f"<b>{title}</b>" in text
    assert all(keys in text for keys in rows.values())
    help_menu = next(m for m in window.menuBar().actions() if m.text() == "&Help").menu()
    help_menu.actions()[0].trigger()
    qtbot.waitUntil(lambda: window._guide.isVisible(), timeout=5000)
    assert "Keyboard shortcuts" in window._guide.browser.toPlainText()
    window._guide.close()
