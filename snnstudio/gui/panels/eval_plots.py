"""The Evaluate panel's live plots: accuracy vs energy, accuracy vs spikes (a point per row, the
Pareto front dashed, hovering a point names its row and selects it in the table) and per-layer
firing-rate bars per row — pyqtgraph views of the same data the exported files draw
(:mod:`snnstudio.train.plots`: :func:`~snnstudio.train.plots.points`,
:func:`~snnstudio.train.plots.front_line`, :func:`~snnstudio.train.plots.layer_rates`, the same
row colours)."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QTabWidget

from snnstudio.gui import theme
from snnstudio.train.plots import COSTS, TABLE_COLUMNS, colour, format_cells, front_line, layer_rates, points, row_labels

#: tab titles of the cost plots
TITLES = {"energy_uj": "accuracy vs energy", "spike_count": "accuracy vs spikes"}


class EvalPlots(QTabWidget):
    """Three tabs of plots over an evaluation's rows; :meth:`show_result` redraws them.

    ``scatters[key]`` / ``fronts[key]`` (``key`` in :data:`~snnstudio.train.plots.COSTS`) are the
    point and front items (accuracy in %), ``bars`` the per-row :class:`pyqtgraph.BarGraphItem` s;
    ``hovered(row)`` is emitted with the row index of a hovered point."""

    hovered = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        t = theme.current()
        self.setDocumentMode(True)
        self.result: dict | None = None
        self.plots: dict[str, pg.PlotWidget] = {}
        self.scatters: dict[str, pg.ScatterPlotItem] = {}
        self.fronts: dict[str, pg.PlotDataItem] = {}
        self.labels: dict[str, list[pg.TextItem]] = {}
        for key, title in TITLES.items():
            w = pg.PlotWidget()
            w.setLabel("left", "accuracy", units="%")
            w.setLabel("bottom", COSTS[key])
            w.getAxis("left").enableAutoSIPrefix(False)
            w.getAxis("bottom").enableAutoSIPrefix(False)
            w.showGrid(x=True, y=True, alpha=0.25)
            w.setYRange(-5, 108, padding=0)
            w.setMenuEnabled(False)
            front = w.plot(pen=pg.mkPen(t.muted, width=1.2, style=Qt.DashLine), name="Pareto front")
            sc = pg.ScatterPlotItem(hoverable=True, tip=self._tip, hoverPen=pg.mkPen(t.text, width=2), hoverSize=15)
            sc.sigHovered.connect(lambda _item, pts, _ev: self._on_hover(pts))
            w.addItem(sc)
            self.plots[key], self.scatters[key], self.fronts[key], self.labels[key] = w, sc, front, []
            self.addTab(w, title)
        w = pg.PlotWidget()
        w.setLabel("left", "firing rate", units="%")
        w.getAxis("left").enableAutoSIPrefix(False)
        w.showGrid(y=True, alpha=0.25)
        w.setMenuEnabled(False)
        self.legend = w.addLegend(offset=(-10, 2), labelTextSize="8pt", brush=pg.mkBrush(t.base + "c0"))
        self.plots["layers"] = w
        self.bars: list[pg.BarGraphItem] = []
        self.addTab(w, "firing rate per layer")
        self.setToolTip("")

    # ------------------------------------------------------------------ drawing
    def show_result(self, result: dict | None) -> None:
        """Redraw every tab from ``result`` (``{"rows": [...]}``; ``None`` or no rows: empty)."""
        self.result = result
        rows = (result or {}).get("rows") or []
        ring = theme.current().text
        for key in TITLES:
            w, sc = self.plots[key], self.scatters[key]
            for item in self.labels[key]:
                w.removeItem(item)
            self.labels[key] = []
            if not rows:
                sc.setData([])
                self.fronts[key].setData([], [])
                continue
            pts = points(result, key)
            sc.setData(spots=[{"pos": (p.cost, 100 * p.accuracy), "data": p.row, "size": 13 if p.on_front else 10,
                               "brush": pg.mkBrush(colour(p.row)),
                               "pen": pg.mkPen(ring, width=1.5) if p.on_front else pg.mkPen(colour(p.row))}
                              for p in pts])
            xs, ys = front_line(pts)
            self.fronts[key].setData(xs, [100 * y for y in ys])
            for p in pts:
                label = pg.TextItem(p.label, color=QColor(colour(p.row)), anchor=(0, 1))
                label.setPos(p.cost, 100 * p.accuracy)
                w.addItem(label)
                self.labels[key].append(label)
            lo, hi = min(p.cost for p in pts), max(p.cost for p in pts)
            pad = 0.12 * (hi - lo) if hi > lo else max(abs(hi) * 0.1, 1.0)
            w.setXRange(max(0.0, lo - pad) if lo >= 0 else lo - pad, hi + 2.5 * pad, padding=0)
        self._draw_bars(result if rows else None)

    def _draw_bars(self, result: dict | None) -> None:
        w = self.plots["layers"]
        for b in self.bars:
            w.removeItem(b)
        self.bars = []
        self.legend.clear()
        if result is None:
            return
        names, rates = layer_rates(result)
        labels = row_labels(result)
        n = len(rates)
        width = 0.8 / n
        for i, (label, row_rates) in enumerate(zip(labels, rates)):
            x = np.arange(len(names)) + (i - (n - 1) / 2) * width
            h = np.array([0.0 if math.isnan(r) else 100 * r for r in row_rates])
            b = pg.BarGraphItem(x=x, height=h, width=width, brush=colour(i), pen=None, name=label)
            w.addItem(b)  # named: the legend lists it
            self.bars.append(b)
        self.legend.setColumnCount(min(n, 4))
        w.getAxis("bottom").setTicks([list(enumerate(names))])
        w.setXRange(-0.5, len(names) - 0.5, padding=0.02)
        top = max((100 * r for rr in rates for r in rr if not math.isnan(r)), default=1.0)
        w.setYRange(0, 1.3 * top + 1e-9, padding=0)  # head-room for the legend

    # ------------------------------------------------------------------ reading back, hover
    def spots(self, key: str) -> list[tuple[int, float, float]]:
        """``(row, cost, accuracy %)`` of every point now drawn on the ``key`` plot."""
        return [(int(s.data()), float(s.pos().x()), float(s.pos().y())) for s in self.scatters[key].points()]

    def _tip(self, x, y, data) -> str:
        rows = (self.result or {}).get("rows") or []
        if data is None or not 0 <= int(data) < len(rows):
            return ""
        cells = format_cells(rows[int(data)])
        return "\n".join(f"{title}: {cell}" for (title, _), cell in zip(TABLE_COLUMNS, cells))

    def _on_hover(self, pts) -> None:
        if len(pts):
            self.hovered.emit(int(pts[0].data()))
