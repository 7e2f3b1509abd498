"""Attention panel: per attention block its temporal weights (bars over T), channel weights (a
strip over C) and spatial map (heat map). Blocks that are switched off are drawn dimmed."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from snnstudio.engine.snapshot import Snapshot
from snnstudio.gui import theme
from snnstudio.gui.plots import quiet


class AttentionPanel(QWidget):
    def __init__(self, model, parent=None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        self.empty = QLabel("This model has no attention blocks.")
        self.empty.setObjectName("muted")
        lay.addWidget(self.empty)
        self.view = pg.GraphicsLayoutWidget()
        lay.addWidget(self.view, 1)
        self.view.hide()
        self.rows: dict[str, dict] = {}
        self._key = None
        model.snapshot.connect(self.draw)

    def _rebuild(self, snap: Snapshot) -> None:
        t = theme.current()
        self.view.clear()
        self.rows = {}
        for i, a in enumerate(snap.attention):
            self.view.addLabel(f"<b>{a.name}</b>", row=i, col=0)
            ta_plot = self.view.addPlot(row=i, col=1, title="TA over T")
            quiet(ta_plot)
            ta_plot.setYRange(0, 1)
            ta = pg.BarGraphItem(x=[], height=[], width=0.8, brush=t.accent)
            ta_plot.addItem(ta)
            ca_box = self.view.addViewBox(row=i, col=2, enableMouse=False)
            ca = pg.ImageItem()
            ca.setColorMap(pg.colormap.get("viridis"))
            ca_box.addItem(ca)
            sa_box = self.view.addViewBox(row=i, col=3, enableMouse=False, lockAspect=True, invertY=True)
            sa = pg.ImageItem()
            sa.setColorMap(pg.colormap.get("inferno"))
            sa_box.addItem(sa)
            self.rows[a.name] = {"ta": ta, "ta_plot": ta_plot, "ca": ca, "ca_box": ca_box, "sa": sa, "sa_box": sa_box}
        self._key = tuple(a.name for a in snap.attention)

    def draw(self, snap: Snapshot) -> None:
        if not self.isVisible():
            return
        has = bool(snap.attention)
        self.empty.setVisible(not has)
        self.view.setVisible(has)
        if not has:
            return
        if self._key != tuple(a.name for a in snap.attention):
            self._rebuild(snap)
        for a in snap.attention:
            r = self.rows[a.name]
            op = 1.0 if a.enabled else 0.3
            if a.ta is not None:
                r["ta"].setOpts(x=np.arange(a.ta.size), height=a.ta, width=0.8)
            if a.ca is not None:
                r["ca"].setImage(a.ca[None, :], autoLevels=False, levels=(0, 1))
                r["ca_box"].autoRange(padding=0)
            if a.sa is not None:
                r["sa"].setImage(a.sa, autoLevels=False, levels=(0, 1))
                r["sa_box"].autoRange(padding=0)
            for k in ("ta", "ca", "sa"):
                r[k].setOpacity(op)
