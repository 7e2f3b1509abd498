"""Output panel: class probabilities (bars), the predicted label and its confidence, the ground
truth where the source knows it, the running accuracy (per gesture at its end, and per labelled step), and the confidence of
the prediction over time. Class names are the model's (a checkpoint's ``class_names``); a ground
truth the source gives only as an id is named by the model's list too."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QGridLayout, QVBoxLayout

from snnstudio.engine.snapshot import Snapshot
from snnstudio.gui import theme
from snnstudio.gui.demo_view import display_name, predicted_name, truth_name
from snnstudio.gui.panels.base import SnapshotPanel
from snnstudio.gui.plots import quiet
from snnstudio.gui.steady_label import SteadyLabel

HISTORY = 300


@dataclass
class RunningAccuracy:
    """Accuracy of a labelled stream, two ways: per labelled gesture, judged by the prediction at
    its last step (when the model's window has seen the whole gesture — how a gesture classifier is
    scored), and per labelled step (harsh: early in a gesture the window still holds the last one)."""

    gestures: int = 0
    gestures_right: int = 0
    steps: int = 0
    steps_right: int = 0
    _label: int | None = None
    _last: int | None = None

    def add(self, label: int | None, predicted: int | None) -> None:
        if label != self._label:
            self.close()
            self._label = label
        if label is not None and predicted is not None:
            self.steps += 1
            self.steps_right += int(predicted == label)
            self._last = predicted

    def close(self) -> None:
        """The current gesture ended: score its last prediction."""
        if self._label is not None and self._last is not None:
            self.gestures += 1
            self.gestures_right += int(self._last == self._label)
        self._label = self._last = None

    def text(self) -> str:
        per_step = f"{100 * self.steps_right / self.steps:.0f} % of {self.steps} steps" if self.steps else ""
        if not self.gestures:
            return f"running accuracy: {per_step}"
        return f"accuracy: {100 * self.gestures_right / self.gestures:.0f} % of {self.gestures} gestures · {per_step}"


class OutputPanel(SnapshotPanel):
    def __init__(self, model, parent=None):
        super().__init__(model, parent)
        t = theme.current()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 6, 8, 6)
        grid = QGridLayout()
        self.predicted = SteadyLabel("—", "swipe right")  # per-step text: sizes that never change
        self.predicted.setObjectName("big")
        self.confidence = SteadyLabel("", "100 % confident")
        self.truth = SteadyLabel("ground truth: unknown")
        self.truth.setObjectName("muted")
        self.accuracy = SteadyLabel("running accuracy: —", "accuracy: 100 % of 999", lines=2)
        self.accuracy.setObjectName("muted")
        self.accuracy.setToolTip("per gesture: the prediction at each labelled gesture's last step (its window has "
                                 "seen all of it); per step: every labelled step, including the first ones of a "
                                 "gesture, when the window still holds the previous one")
        grid.addWidget(self.predicted, 0, 0)
        grid.addWidget(self.confidence, 0, 1)
        grid.addWidget(self.truth, 1, 0)
        grid.addWidget(self.accuracy, 1, 1)
        lay.addLayout(grid)
        self.bars_plot = pg.PlotWidget()
        quiet(self.bars_plot)
        self.bars_plot.setLabel("bottom", "probability")
        self.bars_plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.bars_plot.invertY(True)
        self.bars = pg.BarGraphItem(x0=[], y=[], width=[], height=0.7, brush=t.accent)
        self.bars_plot.addItem(self.bars)
        lay.addWidget(self.bars_plot, 3)
        self.conf_plot = pg.PlotWidget()
        quiet(self.conf_plot)
        self.conf_plot.setYRange(0, 1, padding=0)
        self.conf_plot.setXRange(0, HISTORY, padding=0)
        self.conf_plot.hideAxis("bottom")
        self.conf_plot.setLabel("left", "confidence")
        self.conf_curve = self.conf_plot.plot(pen=pg.mkPen(t.on, width=1.5))
        self.conf_plot.setMaximumHeight(90)
        lay.addWidget(self.conf_plot, 1)
        self.conf = deque(maxlen=HISTORY)
        self.score = RunningAccuracy()
        self._names: tuple[str, ...] = ()
        self.heights = np.zeros(0, np.float32)
        self._bars_key = None
        self._brushes = []
        self._top = None
        model.snapshots.connect(self.push)
        model.snapshot.connect(self.draw)

    def push(self, snaps) -> None:
        for s in snaps:
            if s.index == 0:
                self.score = RunningAccuracy()
                self.conf.clear()
            self.conf.append(s.confidence)
            self.score.add(s.label, s.predicted)

    def _set_ticks(self, names: tuple[str, ...]) -> None:
        if names != self._names:
            self._names = names
            self.bars_plot.getAxis("left").setTicks([[(i, display_name(n)[:22]) for i, n in enumerate(names)]])

    def draw(self, s: Snapshot) -> None:
        t = theme.current()
        p = s.probabilities if s.probabilities is not None else np.zeros(0)
        self.heights = np.asarray(p)
        if not self.showing():
            return
        if (p.size, s.predicted) != self._bars_key:
            self._bars_key = (p.size, s.predicted)
            self._brushes = [pg.mkBrush(t.on if i == s.predicted else t.accent) for i in range(p.size)]
            self.bars_plot.setYRange(-0.6, max(p.size, 1) - 0.4, padding=0)
        self.bars.setOpts(x0=np.zeros(p.size), y=np.arange(p.size), width=p, height=0.7, brushes=self._brushes)
        top = next((v for v in (0.25, 0.5, 1.0) if float(p.max(initial=0)) * 1.05 <= v), 1.0)
        if top != self._top:
            self._top = top
            self.bars_plot.setXRange(0, top, padding=0)
        self._set_ticks(s.class_names or tuple(str(i) for i in range(p.size)))
        name = predicted_name(s)
        if name is None:
            self.predicted.setText("—")
            self.confidence.setText("no output spikes")
        else:
            self.predicted.setText(display_name(name))
            self.confidence.setText(f"{100 * s.confidence:.0f} % confident")
        truth = truth_name(s)
        self.truth.setText("ground truth: unknown" if truth is None else f"ground truth: {display_name(truth)}")
        if self.score.steps:
            self.accuracy.setText(self.score.text())
        # the confidence history is an analysis view: drawn within the frame budget
        self.request_draw(self._draw_confidence, "confidence")

    def _draw_confidence(self) -> None:
        self.conf_curve.setData(np.arange(len(self.conf)), np.fromiter(self.conf, np.float32))
