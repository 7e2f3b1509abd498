"""Compare panel: two to four models (or variants of the loaded one) in lock-step on the same
stream, one column each — column 1 is the loaded model. A column shows the prediction and its
confidence, the class probabilities, a small raster per spiking layer, every layer's firing rate
over time and the running accuracy / spikes / SOPs / energy, what differs from column 1 in the
warning colour. Below, the running figures as a table (one row per model).

Columns are added from the panel ("Add column": a bundled model, or the loaded model with
attention off — whole or one part —, another neuron, a block switched off: a
:class:`~snnstudio.engine.types.Variant`) and removed with their × button; the set goes to the
engine as ``set_compare``, which the controls table replays after an engine restart.

Every snapshot is recorded; each column's redraw is one request to the frame budget
(:mod:`snnstudio.gui.frame_budget`), so the live view stays fluid."""

from __future__ import annotations

import time
from collections import deque

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import (QComboBox, QFrame, QHBoxLayout, QHeaderView, QLabel, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout)

from snnstudio.engine.compare import CompareTable, ModelRow
from snnstudio.engine.snapshot import Snapshot
from snnstudio.engine.types import SessionState, Variant
from snnstudio.gui.help import PLOT_TIPS
from snnstudio.gui import theme
from snnstudio.gui.panels.base import SnapshotPanel
from snnstudio.gui.plots import quiet

#: table redraws per second at most
RATE_HZ = 4.0
COLUMNS = ("model", "predicted", "conf %", "rate %", "spikes", "SOPs", "energy µJ", "step ms", "accuracy %", "agrees %")
#: steps of raster and firing-rate history a column shows
HISTORY = 100
#: at most this many models side by side (the engine's limit)
MAX_COLUMNS = 4


def spec_label(spec) -> str:
    """A companion spec as the column list names it."""
    if isinstance(spec, Variant):
        base = "loaded model" if spec.base_spec is None else str(spec.base_spec)
        return f"{base} — {spec.label}"
    return "default" if spec is None else str(spec)


def column_choices(state: SessionState) -> list[tuple[str, object]]:
    """What "Add column" offers for ``state``: ``(label, spec)`` — the loaded model with a variant
    (attention off, each attention part off, each switchable block off, each other neuron), then
    every model the engine can load."""
    out: list[tuple[str, object]] = []
    info = state.model
    if info is not None:
        switchable = [m.name for m in info.modules if m.switchable]
        if switchable:
            out.append(("loaded model — attention off", Variant(None, (("attention", False),))))
            parts = sorted({n.rsplit(".", 1)[-1] for n in switchable if n.rsplit(".", 1)[-1] in ("ta", "ca", "sa")})
            out += [(f"loaded model — {p} off", Variant(None, ((p, False),))) for p in parts]
            out += [(f"loaded model — {n} off", Variant(None, ((n, False),))) for n in switchable]
        if any(m.type.endswith("Node") or "neuron" in m.name for m in info.modules):
            out += [(f"loaded model — neuron {n}", Variant(None, neuron=n)) for n in state.neurons]
    out += [(f"model {m}", m) for m in state.models]
    return out


def _fmt(v: float | None, scale: float = 1.0, digits: int = 0) -> str:
    return "—" if v is None else f"{v * scale:,.{digits}f}"


class CompareColumn(QFrame):
    """One model's column: its figures and small plots, with the history they draw from."""

    def __init__(self, index: int, on_remove=None, parent=None):
        super().__init__(parent)
        t = theme.current()
        self.index = index
        self.setFrameShape(QFrame.StyledPanel)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(3, 3, 3, 3)
        lay.setSpacing(2)
        head = QHBoxLayout()
        self.title = QLabel()
        self.title.setWordWrap(True)
        head.addWidget(self.title, 1)
        self.remove = QPushButton("×")
        self.remove.setToolTip("Remove this column")
        self.remove.setFixedWidth(24)
        self.remove.setVisible(on_remove is not None)
        if on_remove is not None:
            self.remove.clicked.connect(lambda: on_remove(self.index))
        head.addWidget(self.remove)
        lay.addLayout(head)
        self.prediction = QLabel("—")
        self.figures = QLabel()
        self.figures.setWordWrap(True)
        lay.addWidget(self.prediction)
        lay.addWidget(self.figures)
        self.view = pg.GraphicsLayoutWidget()
        self.view.setToolTip(PLOT_TIPS[("Compare", "view")])
        self.view.ci.setSpacing(1)
        lay.addWidget(self.view, 1)
        self.bars_plot = self.bars = None
        self._build_bars()
        self.rate_plot = None
        self.layer_names: tuple[str, ...] = ()
        self.rasters: list[pg.ImageItem] = []
        self.curves: list[pg.PlotCurveItem] = []
        self.raster_hist: list[deque] = []
        self.rate_hist: list[deque] = []
        self.lut = np.array([pg.mkColor(t.base).getRgb()[:3], pg.mkColor(t.spike).getRgb()[:3]], dtype=np.uint8)
        self.last: Snapshot | None = None
        #: the probabilities the bars show now (for tests and the export)
        self.shown_probabilities: np.ndarray | None = None

    def _build_bars(self) -> None:
        t = theme.current()
        self.bars_plot = self.view.addPlot(row=0, col=0)
        quiet(self.bars_plot)
        self.bars_plot.setYRange(0, 1, padding=0)
        self.bars_plot.hideAxis("bottom")
        self.bars_plot.hideAxis("left")  # 0 … 1, the prediction line says the confidence
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush=t.accent)
        self.bars_plot.addItem(self.bars)

    def _layout_layers(self, snap: Snapshot) -> None:
        """(Re)build one raster per spiking layer and the firing-rate plot for ``snap``'s layers."""
        self.view.clear()  # as the Layers panel does: the whole layout anew
        self._build_bars()
        self.layer_names = tuple(layer.name for layer in snap.layers)
        self.rasters, self.curves, self.raster_hist, self.rate_hist = [], [], [], []
        for k, layer in enumerate(snap.layers):
            box = self.view.addViewBox(row=1 + k, col=0, enableMouse=False, invertY=True)
            img = pg.ImageItem(autoDownsample=True)
            img.setLookupTable(self.lut)  # 0 → background, 1 → spike
            box.addItem(img)
            self.rasters.append(img)
            self.raster_hist.append(deque(maxlen=HISTORY))
            self.rate_hist.append(deque(maxlen=HISTORY))
        self.rate_plot = self.view.addPlot(row=1 + len(snap.layers), col=0)
        quiet(self.rate_plot)
        self.rate_plot.hideAxis("bottom")
        self.rate_plot.getAxis("left").setWidth(28)
        self.rate_plot.setXRange(0, HISTORY, padding=0)
        for k in range(len(snap.layers)):
            hue = pg.intColor(k, hues=max(3, len(snap.layers)))
            curve = pg.PlotCurveItem(pen=pg.mkPen(hue, width=1.2))
            self.rate_plot.addItem(curve)
            self.curves.append(curve)
        self.view.ci.layout.setRowStretchFactor(0, 3)
        for k in range(len(snap.layers)):
            self.view.ci.layout.setRowStretchFactor(1 + k, 1)
        self.view.ci.layout.setRowStretchFactor(1 + len(snap.layers), 2)

    def record(self, snap: Snapshot) -> None:
        """Note one step (every step, drawn or not)."""
        if tuple(layer.name for layer in snap.layers) != self.layer_names:
            self._layout_layers(snap)
        if snap.index == 0:
            for h in (*self.raster_hist, *self.rate_hist):
                h.clear()
        for k, layer in enumerate(snap.layers):
            self.raster_hist[k].append(np.asarray(layer.raster, dtype=np.uint8).reshape(-1))
            self.rate_hist[k].append(layer.rate if layer.window_rate is None else layer.window_rate)
        self.last = snap

    def draw(self, row: ModelRow | None, first: Snapshot | None, first_row: ModelRow | None, name: str) -> None:
        """Show the newest step; ``first`` / ``first_row``: column 1's, to highlight differences."""
        t = theme.current()
        snap = self.last
        if snap is None:
            return
        self.title.setText(f"<b>{self.index + 1}. {name}</b>")
        names = snap.class_names
        pred = "—" if snap.predicted is None else (names[snap.predicted] if snap.predicted < len(names) else str(snap.predicted))
        differs = first is not None and self.index > 0 and snap.predicted != first.predicted
        colour = t.warn if differs else t.text
        self.prediction.setText(f"<span style='font-size:15px;color:{colour}'><b>{pred}</b> {100 * snap.confidence:.0f} %</span>")
        p = snap.probabilities
        if p is not None:
            p = np.asarray(p, dtype=float).reshape(-1)
            brushes = [t.accent] * len(p)
            if first is not None and self.index > 0 and first.probabilities is not None and len(first.probabilities) == len(p):
                brushes = [t.warn if abs(a - b) >= 0.05 else t.accent for a, b in zip(p, np.asarray(first.probabilities).reshape(-1))]
            self.bars.setOpts(x=np.arange(len(p)), height=p, width=0.8, brushes=brushes)
            self.bars_plot.setXRange(-0.5, len(p) - 0.5, padding=0)
            self.shown_probabilities = p
        for img, hist in zip(self.rasters, self.raster_hist):
            box = img.getViewBox()
            # autoDownsample divides by the box's size on screen: a collapsed or hidden box
            # (a column just added or removed) would crash the paint, so it waits for a size
            if box is None or box.width() < 2 or box.height() < 2 or not self.isVisible():
                continue
            if hist and len({h.shape for h in hist}) == 1:
                a = np.stack(hist, axis=1)  # [neurons, steps]
                img.setImage(a.astype(np.float32), autoLevels=False, levels=(0, 1))  # row-major: neurons × steps
        top = 0.0
        for curve, hist in zip(self.curves, self.rate_hist):
            y = np.fromiter(hist, dtype=float)
            curve.setData(np.arange(len(y)), y)
            top = max(top, float(y.max()) if len(y) else 0.0)
        if self.rate_plot is not None:
            self.rate_plot.setYRange(0, max(0.05, top * 1.1), padding=0)
        self.figures.setText(self._figures(row, first_row))

    def _figures(self, row: ModelRow | None, first: ModelRow | None) -> str:
        if row is None:
            return ""
        t = theme.current()
        vals = (
            ("acc", row.accuracy, None if first is None else first.accuracy, 100.0, 1, "%"),
            ("spikes", row.mean_spikes, None if first is None else first.mean_spikes, 1.0, 0, ""),
            ("SOPs", row.mean_sops, None if first is None else first.mean_sops, 1e-6, 2, " M"),
            ("energy", row.mean_energy_pj, None if first is None else first.mean_energy_pj, 1e-6, 3, " µJ"),
        )
        parts = []
        for label, v, ref, scale, digits, unit in vals:
            text = f"{label} {_fmt(v, scale, digits)}{unit if v is not None else ''}"
            if self.index > 0 and v is not None and ref is not None and abs(v - ref) * scale >= 10 ** -digits / 2:
                # the difference from column 1: relative where column 1 has a figure, else absolute
                d = f"{100 * (v - ref) / abs(ref):+.0f} %" if ref else f"{(v - ref) * scale:+,.{digits}f}"
                if not ref or abs(v - ref) / abs(ref) >= 0.005:
                    text += f" <span style='color:{t.warn}'>Δ{d}</span>"
            parts.append(text)
        # two figures a line, small: the plots keep the column's height
        lines = [" · ".join(parts[i:i + 2]) for i in range(0, len(parts), 2)]
        return f"<span style='font-size:11px'>{'<br>'.join(lines)}</span>"


class ComparePanel(SnapshotPanel):
    def __init__(self, model, parent=None):
        super().__init__(model, parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        bar = QHBoxLayout()
        self.hint = QLabel("Compare models on the same stream: add a column (or snnstudio gui --compare MODEL …)")
        self.hint.setObjectName("muted")
        self.hint.setWordWrap(True)
        bar.addWidget(self.hint, 1)
        self.choices = QComboBox()
        self.choices.setMinimumContentsLength(24)
        self.choices.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.choices.setToolTip("A bundled model, or the loaded model with attention, a block or its neuron changed")
        self.add_button = QPushButton("Add column")
        self.add_button.clicked.connect(self.add_selected)
        bar.addWidget(self.choices)
        bar.addWidget(self.add_button)
        lay.addLayout(bar)
        self.columns_box = QHBoxLayout()
        self.columns_box.setSpacing(4)
        lay.addLayout(self.columns_box, 1)
        self.columns: list[CompareColumn] = []
        self._pool: list[CompareColumn] = []
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.table.setVerticalScrollBarPolicy(self.table.verticalScrollBarPolicy().ScrollBarAlwaysOff)
        # four rows and the header, never a scroll bar
        self.table.setFixedHeight(self.table.horizontalHeader().sizeHint().height() + MAX_COLUMNS * 20 + 6)
        lay.addWidget(self.table)
        self.stats = CompareTable()
        self._last_draw = -1e9
        model.snapshots.connect(self.push)
        model.state_changed.connect(self._offer)
        model.compare_changed.connect(self._set_columns)
        self._offer(model.state)
        self._set_columns(model.compare_specs)

    # columns -----------------------------------------------------------------
    @property
    def specs(self) -> tuple:
        """The companions (columns 2…)."""
        return self.model.compare_specs

    def _offer(self, state: SessionState) -> None:
        choices = column_choices(state)
        if [c[0] for c in choices] == [self.choices.itemText(i) for i in range(self.choices.count())]:
            return
        current = self.choices.currentText()
        self.choices.clear()
        for label, spec in choices:
            self.choices.addItem(label, spec)
        i = self.choices.findText(current)
        if i >= 0:
            self.choices.setCurrentIndex(i)
        self._enable()

    def _enable(self) -> None:
        self.add_button.setEnabled(self.choices.count() > 0 and len(self.specs) + 1 < MAX_COLUMNS)

    def add_column(self, spec) -> None:
        """Run ``spec`` (a model spec or :class:`Variant`) as one more column."""
        if len(self.specs) + 1 >= MAX_COLUMNS:
            return
        self.model.set_compare([*self.specs, spec])

    def add_selected(self) -> None:
        if self.choices.currentIndex() >= 0:
            self.add_column(self.choices.currentData())

    def remove_column(self, index: int) -> None:
        """Stop running column ``index`` (1-based beyond the loaded model: 1 … 3)."""
        specs = list(self.specs)
        if 1 <= index <= len(specs):
            del specs[index - 1]
            self.model.set_compare(specs)

    def _set_columns(self, specs) -> None:
        n = 1 + len(specs)
        # a removed column is hidden and kept for the next one (deleting a live pyqtgraph view
        # while a paint is pending can crash)
        while len(self._pool) < n:
            k = len(self._pool)
            col = CompareColumn(k, None if k == 0 else self.remove_column)
            self._pool.append(col)
            self.columns_box.addWidget(col, 1)
        for k, col in enumerate(self._pool):
            col.setVisible(k < n and n > 1)  # the loaded model's column alone: the hint instead
            col.last = None  # the companions changed: wait for snapshots of the new set
            col.shown_probabilities = None
            if k >= n:
                self.cancel_draw(k)
        self.columns = self._pool[:n]
        self.stats.reset()
        self.hint.setVisible(not specs)
        self._enable()

    # data ----------------------------------------------------------------------
    def push(self, snaps) -> None:
        for s in snaps:
            if s.index == 0:
                self.stats.reset()
            self.stats.add(s)
            group = (s, *s.compare)
            if len(group) == len(self.columns):
                for col, g in zip(self.columns, group):
                    col.record(g)
        if not snaps or not self.showing():
            return
        if len(self.columns) > 1:  # one column alone repeats the Output and Layers panels: not drawn
            for col in self.columns:
                self.request_draw(lambda c=col: self._draw_column(c), col.index)
        now = time.perf_counter()
        if now - self._last_draw < 1.0 / RATE_HZ:  # running means: a few redraws a second suffice
            return
        self._last_draw = now
        self._draw_table(snaps[-1])

    def _draw_column(self, col: CompareColumn) -> None:
        rows = self.stats.rows
        row = rows[col.index] if col.index < len(rows) else None
        first = self.columns[0].last if self.columns else None
        name = row.name if row is not None else (col.last.model_name if col.last is not None else "")
        col.draw(row, first, rows[0] if rows else None, name)

    def _draw_table(self, last: Snapshot) -> None:
        rows = self.stats.rows
        if self.table.rowCount() != len(rows):
            self.table.setRowCount(len(rows))
        group = (last, *last.compare)
        for r, (row, s) in enumerate(zip(rows, group)):
            names = s.class_names
            pred = "—" if row.last_predicted is None else (names[row.last_predicted] if row.last_predicted < len(names) else str(row.last_predicted))
            acc = row.accuracy
            cells = (
                row.name, pred, f"{100 * row.last_confidence:.0f}", f"{100 * row.mean_rate:.2f}", f"{row.mean_spikes:,.0f}",
                "—" if row.mean_sops is None else f"{row.mean_sops:,.0f}",
                "—" if row.mean_energy_pj is None else f"{row.mean_energy_pj / 1e6:.3f}",
                f"{row.mean_latency_ms:.1f}", "—" if acc is None else f"{100 * acc:.1f}", f"{100 * row.agreement:.0f}",
            )
            for c, text in enumerate(cells):
                item = self.table.item(r, c)
                if item is None:
                    item = QTableWidgetItem()
                    self.table.setItem(r, c, item)
                if item.text() != text:  # an unchanged cell is not re-laid out (ResizeToContents)
                    item.setText(text)
