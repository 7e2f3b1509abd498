"""Small helpers shared by the panels' pyqtgraph plots."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QGraphicsItem


def quiet(plot: pg.PlotItem | pg.PlotWidget) -> pg.PlotItem:
    """A plot for live data: no mouse, no auto-range button, axes cached as pixmaps.

    Axis painting is the largest single cost of a live pyqtgraph window (each repaint of a view
    replays every axis picture); caching them in device coordinates makes an unchanged axis a
    pixmap blit.
    """
    item = plot.getPlotItem() if isinstance(plot, pg.PlotWidget) else plot
    item.setMouseEnabled(False, False)
    item.hideButtons()
    item.setMenuEnabled(False)
    for name in ("left", "bottom", "right", "top"):
        axis = item.getAxis(name)
        axis.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
    return item
