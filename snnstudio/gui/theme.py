"""Light and dark themes: one palette for Qt widgets and the matching pyqtgraph colours.

Dark is the default. Colours are chosen to stay calm (muted background, one accent) and to keep
ON/OFF events distinguishable for colour-blind viewers (ON warm orange, OFF cool blue).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication


@dataclass(frozen=True)
class Theme:
    name: str
    window: str
    base: str
    panel: str
    text: str
    muted: str
    accent: str
    on: str
    off: str
    spike: str
    warn: str
    error: str
    grid: str


DARK = Theme("dark", "#1b1e24", "#15171c", "#22262e", "#d8dce3", "#8a919e", "#5aa9e6",
             "#ff9f43", "#4aa3ff", "#f2f4f8", "#e6b450", "#e05561", "#2e333d")
LIGHT = Theme("light", "#f3f4f6", "#ffffff", "#e8eaee", "#1f2430", "#5c6370", "#1f6fb2",
              "#d9730d", "#1f6fd1", "#111318", "#a86b00", "#c43c48", "#d5d8de")
THEMES = {"dark": DARK, "light": LIGHT}

_current: Theme = DARK


def current() -> Theme:
    return _current


def apply(app: QApplication, name: str = "dark") -> Theme:
    """Apply theme ``name`` to the application and to pyqtgraph's defaults."""
    global _current
    t = THEMES[name]
    _current = t
    app.setStyle("Fusion")
    pal = QPalette()
    roles = {
        QPalette.Window: t.window, QPalette.WindowText: t.text, QPalette.Base: t.base,
        QPalette.AlternateBase: t.panel, QPalette.Text: t.text, QPalette.Button: t.panel,
        QPalette.ButtonText: t.text, QPalette.ToolTipBase: t.panel, QPalette.ToolTipText: t.text,
        QPalette.Highlight: t.accent, QPalette.HighlightedText: t.base, QPalette.PlaceholderText: t.muted,
        QPalette.Link: t.accent,
    }
    for role, col in roles.items():
        pal.setColor(role, QColor(col))
    pal.setColor(QPalette.Disabled, QPalette.Text, QColor(t.muted))
    pal.setColor(QPalette.Disabled, QPalette.ButtonText, QColor(t.muted))
    app.setPalette(pal)
    app.setStyleSheet(
        f"""
        QMainWindow::separator {{ background: {t.window}; width: 4px; height: 4px; }}
        QDockWidget {{ color: {t.muted}; font-weight: 600; }}
        QDockWidget::title {{ background: {t.panel}; padding: 4px 8px; border-bottom: 1px solid {t.grid}; }}
        QToolBar {{ background: {t.panel}; border: none; spacing: 4px; padding: 3px; }}
        QStatusBar {{ background: {t.panel}; color: {t.muted}; }}
        QStatusBar QLabel {{ color: {t.muted}; padding: 0 8px; }}
        QTableWidget, QTreeWidget {{ gridline-color: {t.grid}; border: none; }}
        QHeaderView::section {{ background: {t.panel}; color: {t.muted}; border: none; padding: 3px; }}
        QLabel#big {{ font-size: 20pt; font-weight: 600; color: {t.text}; }}
        QLabel#muted {{ color: {t.muted}; }}
        QFrame#messageBar {{ background: {t.panel}; border-left: 4px solid {t.error}; }}
        """
    )
    pg.setConfigOptions(antialias=False, background=t.base, foreground=t.muted, imageAxisOrder="row-major")
    return t
