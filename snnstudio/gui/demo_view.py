"""The live demo's banner: the prediction in large type, its confidence as a bar, the ground truth
where the source knows it (the synthetic generator does) — what a visitor reads from across a
booth. Shown above the event view in demo mode (see ``MainWindow.enter_demo``)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressBar, QVBoxLayout

from snnstudio.engine.snapshot import Snapshot
from snnstudio.gui import theme


DEMO_SOURCES = ("synthetic", "webcam", "camera")


def demo_target(demo: str | None) -> str:
    """What a demo source opens: ``None`` → the demo recording; ``synthetic`` → the live synthetic
    gesture source where installed (else the demo recording); ``webcam`` / ``camera`` → that live
    source. Opening happens on the session's worker, so a missing camera is a message, not a crash."""
    if demo is None:
        return "demo"
    if demo == "synthetic":
        from snnstudio.engine.demo import synthetic_available

        return "synthetic" if synthetic_available() else "demo"
    return demo


def display_name(name: str | None) -> str:
    """A class name as people read it: ``swipe_left`` → ``swipe left``."""
    return "" if name is None else str(name).replace("_", " ")


def predicted_name(s: Snapshot) -> str | None:
    if s.predicted is None:
        return None
    return s.class_names[s.predicted] if s.predicted < len(s.class_names) else str(s.predicted)


def truth_name(s: Snapshot) -> str | None:
    """The ground truth's name: the source's own name for it, else the model's name for that id."""
    if s.label is None:
        return None
    if s.label_name:
        return s.label_name
    return s.class_names[s.label] if 0 <= s.label < len(s.class_names) else str(s.label)


class DemoView(QFrame):
    def __init__(self, model, parent=None):
        super().__init__(parent)
        self.setObjectName("demoView")
        self.model = model
        lay = QHBoxLayout(self)
        lay.setContentsMargins(28, 14, 28, 14)
        lay.setSpacing(28)
        left = QVBoxLayout()
        left.setSpacing(0)
        left.addStretch(1)
        self.caption = QLabel("the network sees")
        self.caption.setObjectName("demoCaption")
        self.prediction = QLabel("—")
        self.prediction.setObjectName("demoPrediction")
        self.prediction.setTextInteractionFlags(Qt.NoTextInteraction)
        left.addWidget(self.caption)
        left.addWidget(self.prediction)
        left.addStretch(1)
        lay.addLayout(left, 3)
        right = QVBoxLayout()
        right.addStretch(1)
        self.confidence_text = QLabel("")
        self.confidence_text.setObjectName("demoConfidence")
        self.confidence = QProgressBar()
        self.confidence.setObjectName("demoBar")
        self.confidence.setRange(0, 100)
        self.confidence.setTextVisible(False)
        self.confidence.setFixedHeight(14)
        self.truth = QLabel("")
        self.truth.setObjectName("demoTruth")
        self.status = QLabel("")
        self.status.setObjectName("muted")
        self.status.setWordWrap(True)
        for w in (self.confidence_text, self.confidence, self.truth, self.status):
            right.addWidget(w)
        right.addStretch(1)
        lay.addLayout(right, 2)
        self.last: Snapshot | None = None
        model.snapshot.connect(self.draw)
        model.message.connect(self._message)
        self.restyle()

    def restyle(self) -> None:
        """Fonts and colours set directly (no per-widget style sheet: a widget's own style sheet
        keeps a pointer to the application style, which ``theme.apply`` replaces)."""
        t = theme.current()
        self.setAutoFillBackground(True)
        pal = self.palette()
        pal.setColor(QPalette.Window, QColor(t.panel))
        self.setPalette(pal)
        for label, size, bold, colour in ((self.caption, 13, False, t.muted), (self.prediction, 46, True, t.text),
                                          (self.confidence_text, 20, True, t.text), (self.truth, 15, False, t.muted)):
            font = QFont(label.font())
            font.setPointSize(size)
            font.setBold(bold)
            label.setFont(font)
            p = label.palette()
            p.setColor(QPalette.WindowText, QColor(colour))
            label.setPalette(p)
        p = self.confidence.palette()
        p.setColor(QPalette.Highlight, QColor(t.on))
        p.setColor(QPalette.Base, QColor(t.base))
        self.confidence.setPalette(p)

    def _message(self, text: str) -> None:
        if self.isVisible():
            self.status.setText(text)

    def draw(self, s: Snapshot) -> None:
        self.last = s
        if not self.isVisible():
            return
        name = predicted_name(s)
        if name is None:
            self.prediction.setText("—")
            self.confidence_text.setText("no output spikes")
            self.confidence.setValue(0)
        else:
            self.prediction.setText(display_name(name))
            self.confidence_text.setText(f"{100 * s.confidence:.0f} % confident")
            self.confidence.setValue(int(round(100 * s.confidence)))
        truth = truth_name(s)
        if truth is None:
            self.truth.setText("")
        else:
            mark = "" if name is None else ("  ✓" if s.predicted == s.label else "  ✗")
            self.truth.setText(f"actually: {display_name(truth)}{mark}")
        self.status.setText(s.model_name)
