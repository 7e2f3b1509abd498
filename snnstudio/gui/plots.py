"""Small helpers shared by the panels' pyqtgraph plots."""

from __future__ import annotations

import numpy as np
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


def colour_table(name: str) -> np.ndarray:
    """``[256, 3]`` uint8 colours of a pyqtgraph colour map (``"viridis"``, ``"inferno"``, ...)."""
    return np.ascontiguousarray(pg.colormap.get(name).getLookupTable(nPts=256, alpha=False), np.uint8)


def colourise(values: np.ndarray, table: np.ndarray, lo: float = 0.0, hi: float = 1.0) -> np.ndarray:
    """RGB ``[..., 3]`` uint8 of ``values`` scaled from ``[lo, hi]`` onto the ``[256, 3]`` ``table``.

    An ImageItem given a look-up table rebuilds a 256-entry Qt colour table in Python on every
    render (~0.3 ms an image, 15 images a frame in the Layers panel); colouring in numpy first and
    handing it RGB makes the render a plain copy (pass ``levels=None`` to ``setImage``: with levels
    set, pyqtgraph rescales even uint8 data, 5× the cost)."""
    a = np.asarray(values)
    if a.dtype == np.uint8 and lo == 0.0 and hi == 255.0:
        return table[a]
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    idx = np.clip((a.astype(np.float32) - lo) * scale + 0.5, 0, 255).astype(np.uint8)
    return table[idx]


def cache_static(*items) -> None:
    """Draw graphics items that rarely change (titles, labels) from a cached pixmap: a rich-text
    label is otherwise laid out and rendered again on every repaint of its view."""
    for item in items:
        item.setCacheMode(QGraphicsItem.DeviceCoordinateCache)



def pool_to_fit(a: np.ndarray, box) -> tuple[np.ndarray, int, int]:
    """Max-pool a 2-D ``a`` ``[rows, cols]`` so that it has no more pixels than the ViewBox
    ``box`` shows; returns ``(pooled, fy, fx)`` (the block sizes). A raster squeezed into fewer
    pixels than it has rows or columns keeps every spike this way (a block is lit when any of its
    cells is), where drawing it scaled would drop rows and averaging would fade them.

    Hand-written instead of ``ImageItem(autoDownsample=True)``: that averages, and on an RGB image
    (these panels colour in numpy) it hands Qt float data and crashes."""
    rows, cols = a.shape[:2]
    fy = max(1, -(-rows // max(1, int(box.height()))))
    fx = max(1, -(-cols // max(1, int(box.width()))))
    if fy == 1 and fx == 1:
        return a, 1, 1
    pr, pc = -(-rows // fy) * fy, -(-cols // fx) * fx
    if (pr, pc) != (rows, cols):
        padded = np.zeros((pr, pc), a.dtype)
        padded[:rows, :cols] = a
        a = padded
    return a.reshape(pr // fy, fy, pc // fx, fx).max(axis=(1, 3)), fy, fx
