"""Events panel: the current window's ON/OFF events, with an overlay of one layer's activity.

The image is an RGB composite ``[H, W, 3]`` (uint8): ON counts in the theme's ON colour, OFF
counts in its OFF colour, on the background; counts saturate at ``saturation`` events per pixel
(a 16-colour table indexed by the clipped counts: exact and ~50× cheaper than blending floats).
The overlay (the user picks it: off, an attention block's spatial map, or a spiking layer's
spatial firing — the share of its channels that fired at each position) is upsampled to the
sensor and drawn semi-transparently on top; by default the last attention block's map. A square marks the region of interest the model sees
(:mod:`snnstudio.events.preprocess`); drag it to move it, drag its corner to resize it.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QVBoxLayout

from snnstudio.engine.types import SessionState
from snnstudio.engine.snapshot import Snapshot
from snnstudio.events.preprocess import Preprocess
from snnstudio.gui import theme
from snnstudio.gui.panels.base import SnapshotPanel
from snnstudio.gui.steady_label import SteadyLabel


def _rgb(hex_colour: str) -> np.ndarray:
    h = hex_colour.lstrip("#")
    return np.array([int(h[i : i + 2], 16) for i in (0, 2, 4)], np.float32)


def _palette_lut(t: theme.Theme, levels: int) -> np.ndarray:
    """``[levels·levels, 3]`` uint8: colour of (ON count, OFF count), each clipped to ``levels-1``."""
    bg, on, off = _rgb(t.base), _rgb(t.on), _rgb(t.off)
    a = np.arange(levels, dtype=np.float32) / (levels - 1)
    a_on = np.repeat(a, levels)[:, None]
    a_off = np.tile(a, levels)[:, None]
    img = bg * (1 - np.maximum(a_on, a_off)) + on * a_on + off * a_off * (1 - a_on)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


_LUTS: dict[tuple[str, int], np.ndarray] = {}


def event_image(frame: np.ndarray, saturation: int = 3, t: theme.Theme | None = None) -> np.ndarray:
    """RGB ``[H, W, 3]`` uint8 of a ``[2, H, W]`` count frame (OFF = channel 0, ON = channel 1):
    ON in the theme's ON colour, OFF in its OFF colour (ON drawn over OFF), intensity growing
    with the count up to ``saturation`` events; one table look-up per pixel."""
    t = t or theme.current()
    key = (t.name, saturation)
    lut = _LUTS.get(key)
    if lut is None:
        lut = _LUTS[key] = _palette_lut(t, saturation + 1)
    on = np.minimum(frame[1], saturation).astype(np.intp)
    off = np.minimum(frame[0], saturation).astype(np.intp)
    return lut[on * (saturation + 1) + off]


class EventsPanel(SnapshotPanel):
    def __init__(self, model, parent=None):
        super().__init__(model, parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        self.view = pg.GraphicsLayoutWidget()
        self.plot = self.view.addViewBox(lockAspect=True, invertY=True, enableMouse=False)
        # RGB, no autoDownsample (pyqtgraph averages RGB to float and crashes); Qt scales it
        self.image = pg.ImageItem()
        self.overlay = pg.ImageItem()
        self.overlay.setOpacity(0.45)
        self.overlay.setVisible(False)
        self.plot.addItem(self.image)
        self.plot.addItem(self.overlay)
        row = QHBoxLayout()
        self.info = SteadyLabel("no events yet", "9,999,999 events in 150 ms   ·   1280×720")
        self.info.setObjectName("muted")
        self.show_attention = QCheckBox("overlay")
        self.show_attention.setToolTip("draw the chosen map over the events")
        self.show_attention.toggled.connect(self._toggle_overlay)
        self.overlay_source = QComboBox()
        self.overlay_source.setToolTip("what the overlay shows: an attention block's spatial map, or where a "
                                       "spiking layer fired (share of its channels, newest step)")
        self.overlay_source.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        self.overlay_source.currentIndexChanged.connect(lambda _i: self._toggle_overlay(self.show_attention.isChecked()))
        self._overlay_choices: tuple[str, ...] = ()
        row.addWidget(self.info, 1)
        row.addWidget(self.show_attention)
        row.addWidget(self.overlay_source)
        lay.addWidget(self.view, 1)
        lay.addLayout(row)
        self.rgb: np.ndarray | None = None
        self._size: tuple[int, int] | None = None
        self._overlay_ready = False
        self._last: Snapshot | None = None
        self.roi = pg.ROI((0, 0), (1, 1), pen=pg.mkPen(theme.current().text, width=1.5), movable=True,
                          rotatable=False, resizable=False, removable=False)
        self.roi.addScaleHandle((1, 1), (0, 0), lockAspect=True)
        self.roi.setToolTip("what the model sees: drag to move, drag the corner to resize")
        self.roi.setZValue(10)
        self.roi.setVisible(False)
        self.roi.sigRegionChangeFinished.connect(self._roi_moved)
        self.plot.addItem(self.roi)
        self._roi_state: tuple | None = None  # (sensor size, box, preprocessing) the square shows
        self._placing = False
        model.snapshot.connect(self.draw)
        model.state_changed.connect(self.show_state)

    def show_state(self, s: SessionState) -> None:
        """Place the region-of-interest square where the session says the model looks."""
        if s.input_box is None or s.sensor_size is None or s.preprocess is None or s.preprocess.out_size is None:
            self.roi.setVisible(False)
            self._roi_state = None
            return
        state = (tuple(s.sensor_size), tuple(s.input_box), s.preprocess)
        if state == self._roi_state:
            return
        self._roi_state = state
        W, H = s.sensor_size
        x0, y0, w, h = s.input_box
        self._placing = True
        try:
            self.roi.maxBounds = QRectF(0, 0, W, H)
            self.roi.setPos((x0, y0), update=False, finish=False)
            self.roi.setSize((w, h), update=True, finish=False)
        finally:
            self._placing = False
        self.roi.setVisible(True)

    def _roi_moved(self) -> None:
        """The user moved or resized the square: the new region as fractions of the picture."""
        if self._placing or self._roi_state is None:
            return
        (W, H), _box, pre = self._roi_state
        x, y = self.roi.pos()
        w, h = self.roi.size()
        largest = Preprocess(out_size=pre.out_size).box((W, H))[2]
        size = float(np.clip(w / largest, 0.05, 1.0))
        cx = float(np.clip((x + w / 2) / W, 0.0, 1.0))
        cy = float(np.clip((y + h / 2) / H, 0.0, 1.0))
        self.model.update_preprocess(roi=(round(cx, 4), round(cy, 4), round(size, 4)))

    def _toggle_overlay(self, on: bool) -> None:
        if self._last is not None:
            self.draw(self._last)
        else:
            self.overlay.setVisible(on and self.overlay.image is not None)

    def _offer_overlays(self, snap: Snapshot) -> None:
        """Keep the overlay list to what this model has (the choice kept while it is still there;
        else the last attention block's map, else the deepest spatial layer)."""
        choices = overlay_choices(snap)
        if choices == self._overlay_choices:
            return
        keep = self.overlay_source.currentData()
        self._overlay_choices = choices
        self.overlay_source.blockSignals(True)
        try:
            self.overlay_source.clear()
            for key in choices:
                kind, _, name = key.partition(":")
                self.overlay_source.addItem(f"{'attention' if kind == 'sa' else 'spikes'} · {name}", key)
            attention = [k for k in choices if k.startswith("sa:")]
            pick = keep if keep in choices else (attention[-1] if attention else (choices[-1] if choices else None))
            self.overlay_source.setCurrentIndex(choices.index(pick) if pick is not None else -1)
        finally:
            self.overlay_source.blockSignals(False)
        self.overlay_source.setEnabled(bool(choices))

    def draw(self, snap: Snapshot) -> None:
        self._last = snap
        if not self.showing():
            return
        self.rgb = event_image(snap.frame)
        self.image.setImage(self.rgb, autoLevels=False, levels=None)
        h, w = snap.frame.shape[1:]
        if self._size != (w, h):  # re-range (a full re-layout) only when the sensor changes
            self._size = (w, h)
            self.plot.setRange(xRange=(0, w), yRange=(0, h), padding=0.0)
        self._offer_overlays(snap)
        sa = overlay_map(snap, self.overlay_source.currentData())
        show = self.show_attention.isChecked() and sa is not None
        if show:  # the overlay is only computed while it is shown
            self.overlay.setImage(np.asarray(sa, np.float32), autoLevels=False, levels=(0.0, 1.0))
            if not self._overlay_ready:
                self.overlay.setColorMap(pg.colormap.get("inferno"))
                self._overlay_ready = True
            self.overlay.setRect(0, 0, w, h)
        if self.overlay.isVisible() != show:
            self.overlay.setVisible(show)
        if self.show_attention.isEnabled() != bool(self._overlay_choices):
            self.show_attention.setEnabled(bool(self._overlay_choices))
        self.info.setText(f"{snap.n_events:,} events in {(snap.t_end_us - snap.t_start_us) / 1000:g} ms   ·   {w}×{h}")


def overlay_choices(snap: Snapshot) -> tuple[str, ...]:
    """The overlays a snapshot can give: ``"sa:NAME"`` per attention block with a spatial map,
    ``"spikes:NAME"`` per spiking layer with a spatial shape (input to output order)."""
    return (tuple(f"sa:{a.name}" for a in snap.attention if a.sa is not None)
            + tuple(f"spikes:{la.name}" for la in snap.layers if la.spatial_rate is not None))


def overlay_map(snap: Snapshot, key: str | None) -> np.ndarray | None:
    """The ``[h, w]`` map (0–1) of overlay ``key`` in ``snap`` (``None``: not there)."""
    if not key:
        return None
    kind, _, name = key.partition(":")
    if kind == "sa":
        return next((a.sa for a in snap.attention if a.name == name and a.sa is not None), None)
    return next((la.spatial_rate for la in snap.layers if la.name == name), None)
