"""Layers panel: for every spiking layer a scrolling spike raster of a fixed neuron subset, a
per-channel rate raster, its firing rate over time and its feature maps, four channels a page,
paged with the arrows in the header (the engine sends every channel).

Every snapshot adds one column (views accumulate from ``SessionModel.snapshots`` so no step is
lost when the display is slower than the model). A raster squeezed into fewer pixels than it has
rows or columns is max-pooled to fit (:func:`~snnstudio.gui.plots.pool_to_fit`) rather than
silently dropping spikes. Images are coloured in numpy and handed over as RGB
(:func:`~snnstudio.gui.plots.colourise`), and a hidden panel only records (it draws when shown).
Each row's redraw is one request to the frame budget (:mod:`snnstudio.gui.frame_budget`): the
rows are recorded every step and drawn as the frame's time allows.
Clicking a neuron in a raster or a feature map follows it (its membrane appears in the Membrane
panel).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QVBoxLayout

from snnstudio.gui import theme
from snnstudio.gui.panels.base import SnapshotPanel
from snnstudio.gui.plots import cache_static, colour_table, colourise, pool_to_fit, quiet

HISTORY = 200
#: feature maps a page shows per row (the arrows in the header turn the page)
MAPS_PER_PAGE = 4
_STEPS = np.arange(HISTORY, dtype=np.float64)


def _lut(a: str, b: str) -> np.ndarray:
    ca = np.array([int(a.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4)], np.float32)
    cb = np.array([int(b.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4)], np.float32)
    s = np.linspace(0, 1, 256)[:, None]
    return (ca * (1 - s) + cb * s).astype(np.uint8)


class ClickableImage(pg.ImageItem):
    """An ImageItem that reports clicks as (row, column) in image pixels."""

    def __init__(self, on_click=None, **kw):
        super().__init__(**kw)
        self.on_click = on_click
        self.block = (1, 1)  # (rows, columns) of the data per image pixel (max-pooled rasters)

    def mouseClickEvent(self, ev):
        if self.on_click is None or self.image is None:
            return
        p = ev.pos()
        r, c = int(p.y()), int(p.x())
        if 0 <= r < self.image.shape[0] and 0 <= c < self.image.shape[1]:
            self.on_click(r * self.block[0], c * self.block[1])
            ev.accept()


def cost_line(layer) -> str:
    """``"3.7 k SOPs · 0.0034 µJ"`` per time step of the layer's block (``""`` until metered)."""
    if layer.sops is None or layer.energy_pj is None:
        return ""
    sops = layer.sops
    text = f"{sops / 1e6:.3g} M" if sops >= 1e6 else f"{sops / 1e3:.3g} k" if sops >= 1e3 else f"{sops:.0f}"
    return f"{text} SOPs · {layer.energy_pj / 1e6:.4f} µJ"


def _show_pooled(item, box, values: np.ndarray, colour) -> None:
    """Max-pool ``values`` ``[rows, cols]`` to the box's pixels, colour it, and stretch the image
    over the unpooled extent (the box's range stays in rows and steps)."""
    rows, cols = values.shape
    pooled, fy, fx = pool_to_fit(values, box)
    item.setImage(colour(pooled), autoLevels=False, levels=None)
    if isinstance(item, ClickableImage):
        item.block = (fy, fx)
    item.setRect(0, 0, pooled.shape[1] * fx, pooled.shape[0] * fy)


class LayerRow:
    """The plots of one layer, plus its history buffers."""

    def __init__(self, panel: LayersPanel, row: int, name: str, kind: str, shape: tuple[int, ...]):
        t = theme.current()
        self.name, self.shape = name, shape
        self.panel = panel
        lw = panel.view
        framework, _, cls = kind.rpartition(".")  # another library's layer: "spikingjelly.LIFNode"
        where = f"<br>{framework}" if framework else ""
        self._head = f"<b>{name}</b><br><span style='color:{t.muted}'>{cls} {'×'.join(map(str, shape))}{where}"
        self.title = lw.addLabel(self._head + "</span>", row=row, col=0)
        self.cost_text = ""  # SOPs and energy per step of the layer's block, once metered
        self.title.setMaximumWidth(150)
        cache_static(self.title)
        self.raster_box = lw.addViewBox(row=row, col=1, enableMouse=False, invertY=True)
        self.raster = ClickableImage(self._raster_click)
        self.raster_lut = _lut(t.base, t.spike)[[0, 255]]  # 0 → background, 1 → spike
        self.raster_box.addItem(self.raster)
        self.chan_box = lw.addViewBox(row=row, col=2, enableMouse=False, invertY=True)
        self.chan = pg.ImageItem()
        self.chan_lut = colour_table("viridis")
        self.chan_box.addItem(self.chan)
        self.rate_plot = lw.addPlot(row=row, col=3)
        quiet(self.rate_plot)
        self.rate_plot.setYRange(0, 0.2)
        self.rate_plot.hideAxis("bottom")
        self.rate_top = 0.2
        self.rate_plot.getAxis("left").setWidth(36)
        # a bare PlotCurveItem: PlotDataItem's setData costs 10× more (bounds, downsampling logic)
        self.rate_curve = pg.PlotCurveItem(pen=pg.mkPen(t.accent, width=1.5))
        self.rate_plot.addItem(self.rate_curve)
        self.rate_plot.setXRange(0, HISTORY, padding=0)
        self.rate_plot.setYRange(0, self.rate_top, padding=0)
        self.fmap_box = lw.addViewBox(row=row, col=4, enableMouse=False, invertY=True, lockAspect=True)
        self.fmap = ClickableImage(self._fmap_click)
        self.fmap_lut = _lut(t.base, t.on)
        self.fmap_box.addItem(self.fmap)
        self.index: np.ndarray | None = None
        self.spikes: np.ndarray | None = None
        self.chans: np.ndarray | None = None
        self.rates = np.zeros(HISTORY, np.float32)
        self.ptr = 0
        self.count = 0
        self.fmap_shape: tuple[int, int, int] | None = None  # (maps shown, h, w)
        self.fmap_start = 0  # the first channel shown
        self.fmap_channels = 0  # the layer's channels

    def push(self, layer) -> None:
        if self.spikes is None or self.spikes.shape[0] != layer.raster.size:
            self.spikes = np.zeros((layer.raster.size, HISTORY), np.uint8)
            self.raster_box.setRange(xRange=(0, HISTORY), yRange=(0, layer.raster.size), padding=0)
        if self.chans is None or self.chans.shape[0] != layer.channel_rates.size:
            self.chans = np.zeros((layer.channel_rates.size, HISTORY), np.float32)
            self.chan_box.setRange(xRange=(0, HISTORY), yRange=(0, layer.channel_rates.size), padding=0)
        self.index = layer.raster_index
        p = self.ptr
        self.spikes[:, p] = layer.raster
        self.chans[:, p] = layer.channel_rates
        self.rates[p] = layer.mean_rate  # over the steps the model ran (a window model's T), as eval
        self.ptr = (p + 1) % HISTORY
        self.count += 1
        self.last = layer

    def _ordered(self, a: np.ndarray) -> np.ndarray:
        """Oldest to newest; while the history is not full, only the steps seen so far (so the
        raster grows from the left, then scrolls)."""
        if self.count < HISTORY:
            return a[..., : self.count]
        return np.concatenate([a[..., self.ptr :], a[..., : self.ptr]], axis=-1)

    def draw(self) -> None:
        if self.spikes is None:
            return
        _show_pooled(self.raster, self.raster_box, self._ordered(self.spikes), lambda a: self.raster_lut[a])
        ch = self._ordered(self.chans)
        top = max(1e-3, float(ch.max()))
        _show_pooled(self.chan, self.chan_box, ch, lambda a: colourise(a, self.chan_lut, 0.0, top))
        r = self._ordered(self.rates)
        self.rate_curve.setData(_STEPS[: r.size], r, skipFiniteCheck=True)
        top = float(r.max()) if r.size else 0.0
        nice = next((v for v in (0.02, 0.05, 0.1, 0.2, 0.5, 1.0) if top * 1.1 <= v), 1.0)
        if nice != self.rate_top:  # re-range (and re-draw the axis) only when the scale changes
            self.rate_top = nice
            self.rate_plot.setYRange(0, nice, padding=0)
        cost = cost_line(self.last)
        if cost != self.cost_text:  # changes only when the model is metered again (a re-render of the label)
            self.cost_text = cost
            self.title.setText(self._head + (f"<br>{cost}" if cost else "") + "</span>")
        fm = self.last.feature_map
        if fm is not None and fm.size:
            c, h, w = fm.shape
            start, k = self.panel.fmap_page_of(c, self.fits(h, w))
            tiled = np.ones((h, k * (w + 1) - 1), np.float32) * 0.15
            for i in range(k):
                tiled[:, i * (w + 1) : i * (w + 1) + w] = fm[start + i]
            if self.fmap_shape != (k, h, w):
                self.fmap_box.setRange(xRange=(0, tiled.shape[1]), yRange=(0, h), padding=0)
            self.fmap_shape, self.fmap_start, self.fmap_channels = (k, h, w), start, c
            self.fmap.setImage(colourise(tiled, self.fmap_lut), autoLevels=False, levels=None)

    def fits(self, h: int, w: int) -> int:
        """How many ``h × w`` maps a page shows in this row: :data:`MAPS_PER_PAGE` (sizing the
        page to the cell as laid out made the aspect-locked view settle on a stale range while the
        dock was still being laid out)."""
        return MAPS_PER_PAGE

    def _raster_click(self, r: int, c: int) -> None:
        if self.index is not None and r < self.index.size:
            self.panel.follow(self.name, int(self.index[r]))

    def _fmap_click(self, r: int, c: int) -> None:
        if self.fmap_shape is None:
            return
        k, h, w = self.fmap_shape
        tile, x = divmod(c, w + 1)
        if x < w and tile < k:
            self.panel.follow(self.name, (self.fmap_start + tile) * h * w + r * w + x)


class LayersPanel(SnapshotPanel):
    """All spiking layers, one row each (see module docstring)."""

    def __init__(self, model, parent=None):
        super().__init__(model, parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        head = QLabel("spikes of 64 sampled neurons   ·   rate per channel   ·   firing rate   ·   feature maps  (click a neuron to follow it)")
        head.setObjectName("muted")
        top = QHBoxLayout()
        top.addWidget(head, 1)
        #: feature maps are paged: each row shows as many channels as fit, page ``fmap_page`` of them
        self.fmap_page = 0
        self.page_label = QLabel("maps: page 1")
        self.page_label.setObjectName("muted")
        self.prev_page, self.next_page = QToolButton(), QToolButton()
        self.prev_page.setArrowType(Qt.LeftArrow)
        self.next_page.setArrowType(Qt.RightArrow)
        self.prev_page.setToolTip("previous channels of the feature maps")
        self.next_page.setToolTip("next channels of the feature maps")
        self.prev_page.clicked.connect(lambda: self.turn_page(-1))
        self.next_page.clicked.connect(lambda: self.turn_page(1))
        for w_ in (self.page_label, self.prev_page, self.next_page):
            top.addWidget(w_)
        lay.addLayout(top)
        self.view = pg.GraphicsLayoutWidget()
        lay.addWidget(self.view, 1)
        self.rows: dict[str, LayerRow] = {}
        self._layout_key = None
        model.snapshots.connect(self.push)
        model.model_changed.connect(lambda info: self.rebuild(info.layers if info else ()))

    def rebuild(self, layers) -> None:
        key = tuple((n, k) for n, k, _ in layers)
        if key == self._layout_key:
            return
        self._layout_key = key
        for name in self.rows:  # their plots go with the old layout
            self.cancel_draw(name)
        self.view.clear()
        self.rows = {}
        for i, (name, kind, shape) in enumerate(layers):
            self.rows[name] = LayerRow(self, i, name, kind, shape)
        ci = self.view.ci
        for col, stretch in enumerate((1, 5, 3, 3, 3)):
            ci.layout.setColumnStretchFactor(col, stretch)

    def push(self, snaps) -> None:
        if not snaps:
            return
        if any(layer.name not in self.rows for layer in snaps[-1].layers):
            self.rebuild(tuple((layer.name, layer.kind, layer.shape) for layer in snaps[-1].layers))
        for snap in snaps:
            for layer in snap.layers:
                row = self.rows.get(layer.name)
                if row is not None:
                    row.push(layer)
        for name, row in self.rows.items():
            if not self.request_draw(row.draw, name):
                break  # hidden: recorded, drawn when shown

    def fmap_page_of(self, channels: int, fit: int) -> tuple[int, int]:
        """``(first channel, how many)`` a row of ``channels`` maps, ``fit`` to a page, shows on the
        current page (its last page when the panel's page is past it)."""
        fit = max(1, min(fit, channels))
        pages = -(-channels // fit)
        start = min(self.fmap_page, pages - 1) * fit
        return start, min(fit, channels - start)

    def pages(self) -> int:
        """Pages of the layer with the most (1 when no layer has feature maps)."""
        most = 1
        for row in self.rows.values():
            if row.fmap_shape is not None and row.fmap_channels:
                k, h, w = row.fmap_shape
                most = max(most, -(-row.fmap_channels // max(1, min(row.fits(h, w), row.fmap_channels))))
        return most

    def turn_page(self, step: int) -> None:
        """Show the next (``+1``) or previous (``-1``) channels of every row's feature maps."""
        self.fmap_page = int(np.clip(self.fmap_page + step, 0, self.pages() - 1))
        self.page_label.setText(f"maps: page {self.fmap_page + 1} of {self.pages()}")
        for row in self.rows.values():
            if row.last is not None:
                row.draw()

    def follow(self, layer: str, index: int) -> None:
        self.model.follow(layer, index)
        self.followed = (layer, index)
