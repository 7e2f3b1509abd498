"""Membrane panel: the membrane potential ``h`` (before reset) of followed neurons over time,
against their threshold (dashed), with a tick where the neuron fired. x is time in s before now,
summed over the steps shown (so it stays monotonic when a recording loops or is seeked, and stays
true when the step changes).

Live-plot economy: the axes keep their range (x is the fixed history span; y grows at once but
shrinks only when the data use less than half of it), so an unchanged axis is a cached pixmap
instead of a re-layout and re-paint every frame."""

from __future__ import annotations

from collections import deque

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout

from snnstudio.gui import theme
from snnstudio.gui.panels.base import SnapshotPanel
from snnstudio.gui.plots import quiet

HISTORY = 400
MAX_FOLLOWED = 4
COLOURS = ("#5aa9e6", "#ff9f43", "#7bd389", "#d98ee8")


class Trace:
    def __init__(self):
        self.t = deque(maxlen=HISTORY)
        self.v = deque(maxlen=HISTORY)
        self.s = deque(maxlen=HISTORY)
        self.threshold: float | None = None


class MembranePanel(SnapshotPanel):
    def __init__(self, model, parent=None):
        super().__init__(model, parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        top = QHBoxLayout()
        self.hint = QLabel("click a neuron in the Layers panel to follow its membrane")
        self.hint.setObjectName("muted")
        clear = QPushButton("Clear")
        clear.clicked.connect(self.clear)
        top.addWidget(self.hint, 1)
        top.addWidget(clear)
        lay.addLayout(top)
        self.plot = pg.PlotWidget()
        quiet(self.plot)
        self.plot.setLabel("bottom", "time", units="s")
        self.plot.setLabel("left", "membrane h")
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.legend = self.plot.addLegend(offset=(8, 8), labelTextColor=theme.current().muted)
        lay.addWidget(self.plot, 1)
        self.traces: dict[tuple[str, int], Trace] = {}
        self.curves: dict[tuple[str, int], tuple] = {}
        self.thresholds: dict[float, pg.InfiniteLine] = {}
        self.plot.disableAutoRange()
        self._x_span: float | None = None
        self._clock = 0.0
        self._y_range: tuple[float, float] | None = None
        model.snapshots.connect(self.push)

    def clear(self) -> None:
        for layer, idx in list(self.traces):
            self.model.follow(layer, idx, False)
        self.traces.clear()
        for curve, marks in self.curves.values():
            self.plot.removeItem(curve)
            self.plot.removeItem(marks)
        self.curves.clear()
        for line in self.thresholds.values():
            self.plot.removeItem(line)
        self.thresholds.clear()
        self.legend.clear()

    def _curve(self, key):
        if key not in self.curves:
            if len(self.curves) >= MAX_FOLLOWED:
                old = next(iter(self.curves))
                self.model.follow(old[0], old[1], False)
                curve, marks = self.curves.pop(old)
                self.traces.pop(old, None)
                self.plot.removeItem(curve)
                self.plot.removeItem(marks)
                self.legend.removeItem(curve)
            colour = COLOURS[len(self.curves) % len(COLOURS)]
            used = {c.opts["pen"].color().name() for c, _ in self.curves.values()}
            colour = next((c for c in COLOURS if c not in used), colour)
            # a bare PlotCurveItem (PlotDataItem's setData costs 10× more); the plot adds it to the legend
            curve = pg.PlotCurveItem(pen=pg.mkPen(colour, width=1.6), name=f"{key[0]} #{key[1]}")
            self.plot.addItem(curve)
            marks = pg.ScatterPlotItem(symbol="t1", size=9, brush=pg.mkBrush(colour), pen=None)
            self.plot.addItem(marks)
            self.curves[key] = (curve, marks)
        return self.curves[key]

    def push(self, snaps) -> None:
        for snap in snaps:
            self._clock += (snap.t_end_us - snap.t_start_us) / 1e6  # s of stream shown so far
            for layer in snap.layers:
                for idx, v in layer.membrane.items():
                    tr = self.traces.setdefault((layer.name, idx), Trace())
                    tr.t.append(self._clock)
                    tr.v.append(v)
                    tr.s.append(layer.spiked.get(idx, False))
                    tr.threshold = layer.threshold
        if not snaps or not self.traces:
            return
        self.hint.setText(f"following {len(self.traces)} neuron(s)   ·   dashed: threshold   ·   ▼ spike")
        now = self._clock
        dt_s = (snaps[-1].t_end_us - snaps[-1].t_start_us) / 1e6
        self.request_draw(lambda: self.draw(now, dt_s))  # hidden: the traces keep their history, drawing waits

    def draw(self, now: float, dt_s: float) -> None:
        """Draw the followed traces up to ``now`` (s on the panel's clock; ``dt_s`` s the step now)."""
        span = HISTORY * dt_s
        if span != self._x_span:
            self._x_span = span
            self.plot.setXRange(-span, 0, padding=0)
        lo, hi = np.inf, -np.inf
        for key, tr in list(self.traces.items()):
            curve, marks = self._curve(key)
            t = np.fromiter(tr.t, np.float64) - now
            v = np.fromiter(tr.v, np.float64)
            s = np.fromiter(tr.s, bool)
            curve.setData(t, v, skipFiniteCheck=True)
            top = (tr.threshold if tr.threshold is not None else float(v.max(initial=1.0))) * 1.12
            marks.setData(t[s], np.full(int(s.sum()), top))
            if v.size:
                lo, hi = min(lo, float(v.min()), 0.0), max(hi, float(v.max()), top)
            if tr.threshold is not None and tr.threshold not in self.thresholds:
                line = pg.InfiniteLine(tr.threshold, angle=0, pen=pg.mkPen(theme.current().error, width=1, style=Qt.DashLine))
                self.plot.addItem(line)
                self.thresholds[tr.threshold] = line
        self._fit_y(lo, hi)

    def _fit_y(self, lo: float, hi: float) -> None:
        """Grow the y range at once to hold ``[lo, hi]``; shrink it only when the data use less
        than half of it (so the axis is not re-drawn every frame)."""
        if not np.isfinite(lo) or not np.isfinite(hi):
            return
        if hi - lo < 1e-6:
            hi = lo + 1.0
        cur = self._y_range
        if cur is not None and cur[0] <= lo and hi <= cur[1] and (hi - lo) >= 0.5 * (cur[1] - cur[0]):
            return
        pad = 0.08 * (hi - lo)
        self._y_range = (lo - pad, hi + pad)
        self.plot.setYRange(*self._y_range, padding=0)
