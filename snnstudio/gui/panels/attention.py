"""Attention panel: one attention block at a time (chosen in a list, all blocks listed): its
temporal weights (bars over T), channel weights (a strip over C) and spatial map (heat map) —
only the parts the block has — and, for token attention (Spikformer's SSA, Spikeformer's STA), its
token × token map (mean over heads and time steps; row: query token, column: key token).
A block that is switched off is drawn dimmed.

It opens on the most informative block — the one whose weights vary most
(:attr:`~snnstudio.engine.snapshot.AttentionSnapshot.spread`, summed over a model's first
:data:`AUTO_PICK_STEPS` steps) — until the user picks one; and it says when a part's weights are
constant (e.g. temporal weights flat at 0.5: every step weighted alike, the part only scales)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout

from snnstudio.engine.snapshot import AttentionSnapshot, Snapshot
from snnstudio.gui import theme
from snnstudio.gui.panels.base import SnapshotPanel
from snnstudio.gui.plots import cache_static, quiet


NO_ATTENTION = "This model has no attention blocks."
SILENT_TOKENS = "Token attention is 0 at this step: no query and key spikes coincide."
NOT_YET = "The attention weights appear with the model's first step: open a source and play or step."
#: the block shown is chosen over this many first steps of a model (then it stays, or the user's pick)
AUTO_PICK_STEPS = 10
PART_NAMES = {"ta": ("TA", "step"), "ca": ("CA", "channel"), "sa": ("SA", "pixel")}
TOKENS_TITLE = "token attention ({}, mean over heads)"


def tokens_title(measure: str) -> str:
    """The token map's title: what it holds (``"Q·Kᵀ"``: Spikformer's SSA, no softmax)."""
    return TOKENS_TITLE.format(measure or "Q·Kᵀ")


def constant_note(a: AttentionSnapshot) -> str:
    """A line saying which parts of ``a`` are constant (``""`` when none)."""
    flat = a.constant_parts()
    return "  ·  ".join(f"{PART_NAMES[k][0]} constant: {v:.2f} for every {PART_NAMES[k][1]} (it only scales)"
                        for k, v in flat.items())


class AttentionPanel(SnapshotPanel):
    def __init__(self, model, parent=None):
        super().__init__(model, parent)
        t = theme.current()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 4)
        self.empty = QLabel(NO_ATTENTION)
        self.empty.setObjectName("muted")
        lay.addWidget(self.empty)
        row = QHBoxLayout()
        self.block = QComboBox()
        self.state = QLabel("")
        self.state.setObjectName("muted")
        row.addWidget(self.block, 1)
        row.addWidget(self.state)
        lay.addLayout(row)
        self.note = QLabel("")
        self.note.setObjectName("muted")
        self.note.setWordWrap(True)
        lay.addWidget(self.note)
        self.block.activated.connect(self._picked)
        self.view = pg.GraphicsLayoutWidget()
        lay.addWidget(self.view, 1)
        self.ta_plot = self.view.addPlot(row=0, col=0, colspan=2, title="temporal (TA): weight per step")
        quiet(self.ta_plot)
        self.ta_plot.setYRange(0, 1, padding=0)
        self.ta_plot.getAxis("left").setWidth(28)
        self.ta = pg.BarGraphItem(x=[], height=[], width=0.8, brush=t.accent)
        self.ta_plot.addItem(self.ta)
        self.ca_label = self.view.addLabel("channel (CA)", row=1, col=0)
        self.sa_label = self.view.addLabel("spatial (SA)", row=1, col=1)
        cache_static(self.ca_label, self.sa_label, self.ta_plot.titleLabel)
        self.ca_box = self.view.addViewBox(row=2, col=0, enableMouse=False)
        self.ca = pg.ImageItem()
        self.ca.setColorMap(pg.colormap.get("viridis"))
        self.ca_box.addItem(self.ca)
        self.sa_box = self.view.addViewBox(row=2, col=1, enableMouse=False, lockAspect=True, invertY=True)
        self.sa = pg.ImageItem()
        self.sa.setColorMap(pg.colormap.get("inferno"))
        self.sa_box.addItem(self.sa)
        self.view.ci.layout.setRowStretchFactor(0, 2)
        self.view.ci.layout.setRowStretchFactor(2, 3)
        # token attention: its own view (shown instead of, or beside, the TA/CA/SA view)
        self.tokens_view = pg.GraphicsLayoutWidget()
        lay.addWidget(self.tokens_view, 1)
        self.tokens_label = self.tokens_view.addLabel(tokens_title(""), row=0, col=0)
        cache_static(self.tokens_label)
        self.tokens_box = self.tokens_view.addViewBox(row=1, col=0, enableMouse=False, lockAspect=True, invertY=True)
        self.tokens = pg.ImageItem()
        self.tokens.setColorMap(pg.colormap.get("magma"))
        self.tokens_box.addItem(self.tokens)
        self._names: tuple[str, ...] = ()
        self._spread: dict[str, float] = {}  # summed over a model's first steps (auto pick)
        self._auto_steps = 0
        self._user_picked = False
        self.shown: str | None = None
        self._drawn: tuple | None = None
        self._sizes: dict = {}
        self._set_visible(False)
        # drawn within the frame budget (see snnstudio.gui.frame_budget), the newest snapshot
        model.snapshot.connect(lambda snap: self.request_draw(lambda: self.draw(snap)))
        model.model_changed.connect(self._on_model)

    def _on_model(self, info) -> None:
        """A new model: say whether it has attention (its weights come with its first step)."""
        has = bool(info is not None and info.attention)
        self.empty.setText(NOT_YET if has else NO_ATTENTION)
        self._names = ()
        self._drawn = None
        self._spread, self._auto_steps, self._user_picked = {}, 0, False
        self._set_visible(False)

    def _picked(self, _index: int) -> None:
        self._user_picked = True
        self._drawn = None

    def _auto_pick(self, snap: Snapshot) -> None:
        """Over a model's first steps, show the block whose weights vary most (unless the user chose)."""
        if self._user_picked or self._auto_steps >= AUTO_PICK_STEPS:
            return
        self._auto_steps += 1
        for a in snap.attention:
            self._spread[a.name] = self._spread.get(a.name, 0.0) + (a.spread if a.enabled else 0.0)
        best = max(self._names, key=lambda n: self._spread.get(n, 0.0))
        i = self._names.index(best)
        if i != self.block.currentIndex():
            self.block.setCurrentIndex(i)

    def _set_visible(self, has: bool, gated: bool = True, tokens: bool = False) -> None:
        """``has``: any block at all; ``gated``: the block shown has TA/CA/SA; ``tokens``: a token map."""
        self.empty.setVisible(not has)
        for w in (self.block, self.state, self.note):
            w.setVisible(has)
        self.view.setVisible(has and gated)
        self.tokens_view.setVisible(has and tokens)

    def draw(self, snap: Snapshot) -> None:
        if not self.showing():
            return
        names = tuple(a.name for a in snap.attention)
        self._set_visible(bool(names))
        if not names:
            self.empty.setText(NO_ATTENTION)
            return
        if names != self._names:
            self._names = names
            self.block.blockSignals(True)
            self.block.clear()
            self.block.addItems(names)
            self.block.blockSignals(False)
        self._auto_pick(snap)
        a = snap.attention[max(0, self.block.currentIndex())]
        key = (a.name, a.enabled, id(a.ta), id(a.ca), id(a.sa), id(a.tokens))
        if key == self._drawn:  # the same weights (a compare row, a paused stream): nothing to redraw
            return
        self._drawn = key
        self.shown = a.name
        gated = any(w is not None for w in (a.ta, a.ca, a.sa))
        self._set_visible(True, gated or a.tokens is None, a.tokens is not None)
        for item, present in ((self.ta_plot, a.ta is not None), (self.ca_label, a.ca is not None),
                              (self.ca_box, a.ca is not None), (self.sa_label, a.sa is not None),
                              (self.sa_box, a.sa is not None)):
            if item.isVisible() != present:
                item.setVisible(present)
        self.state.setText("on" if a.enabled else "off")
        note = constant_note(a) if a.enabled else ""
        if a.enabled and a.tokens is not None and not np.any(a.tokens):
            note = "  ·  ".join(x for x in (note, SILENT_TOKENS) if x)
        if self.note.text() != note:
            self.note.setText(note)
        op = 1.0 if a.enabled else 0.3
        # ranges are set only when a size changes (a re-range re-lays out and re-paints the axes)
        if a.ta is not None:
            self.ta.setOpts(x=np.arange(a.ta.size), height=a.ta, width=0.8)
            if self._sizes.get("ta") != a.ta.size:
                self._sizes["ta"] = a.ta.size
                self.ta_plot.setXRange(-0.6, a.ta.size - 0.4, padding=0)
        else:
            self.ta.setOpts(x=[], height=[], width=0.8)
        if a.ca is not None:
            self.ca.setImage(np.asarray(a.ca)[None, :], autoLevels=False, levels=(0, 1))  # 1 × C strip
            if self._sizes.get("ca") != a.ca.size:
                self._sizes["ca"] = a.ca.size
                self.ca_box.setRange(xRange=(0, a.ca.size), yRange=(0, 1), padding=0)
        self.ca.setVisible(a.ca is not None)
        if a.sa is not None:
            self.sa.setImage(a.sa, autoLevels=False, levels=(0, 1))
            if self._sizes.get("sa") != a.sa.shape:
                self._sizes["sa"] = a.sa.shape
                self.sa_box.setRange(xRange=(0, a.sa.shape[1]), yRange=(0, a.sa.shape[0]), padding=0)
        self.sa.setVisible(a.sa is not None)
        if a.tokens is not None:
            title = tokens_title(a.tokens_measure)
            if self.tokens_label.text != title:
                self.tokens_label.setText(title)
            top = float(np.max(a.tokens)) if a.tokens.size else 0.0
            # row-major images (gui.theme): row = query token (downwards), column = key token
            self.tokens.setImage(a.tokens, autoLevels=False, levels=(0.0, top if top > 0 else 1.0))
            if self._sizes.get("tk") != a.tokens.shape:
                self._sizes["tk"] = a.tokens.shape
                self.tokens_box.setRange(xRange=(0, a.tokens.shape[1]), yRange=(0, a.tokens.shape[0]), padding=0)
        self.tokens.setVisible(a.tokens is not None)
        for item in (self.ta, self.ca, self.sa, self.tokens):
            if item.opacity() != op:
                item.setOpacity(op)
