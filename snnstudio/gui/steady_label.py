"""A text label whose size does not follow its text, for text that changes with every step.

A QLabel asks for a new geometry on every ``setText`` (``updateGeometry``, unless its size is
fixed), and the layout request climbs through the panel, its dock and the main window, which lays
out every dock again and repaints what moved — in paints of their own after the frame's. The
studio's per-step labels (the Events panel's count, the prediction and its confidence, the
running accuracy, the playback clock) did that on every frame: 15.4 ms of GUI-thread CPU per drawn
frame against 11.7–12.6 ms with their sizes pinned (``snnstudio bench --only stream`` setting,
every dock visible, side by side; a QLabel that only reports a constant size hint still climbs).

:class:`SteadyLabel` is a plain widget in the layout, with a size hint that depends on its
template text, font and line count only, holding a QLabel placed by hand (no layout): the label's geometry requests
stop at the holder, so a new text repaints the text and nothing else. The inner label keeps the
object name, so the theme's ``QLabel#muted`` / ``QLabel#big`` rules apply.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


class SteadyLabel(QWidget):
    """``lines`` lines of text (word-wrapped when more than one) in a box the layout sizes, as
    wide as ``template`` (the widest text expected) by default; ``setText`` / ``text`` /
    ``setObjectName`` act on the label inside (``label``)."""

    def __init__(self, text: str = "", template: str = "", lines: int = 1, parent=None):
        super().__init__(parent)
        self._lines = max(1, int(lines))
        self._template = template or text or "00000000"
        self.label = QLabel(text, self)
        self.label.setWordWrap(self._lines > 1)
        self._probe = QLabel(self._template, self)
        self._probe.hide()
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Fixed)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        self.label.setText(text)

    def text(self) -> str:
        return self.label.text()

    def setObjectName(self, name: str) -> None:  # noqa: N802 - Qt's name
        super().setObjectName(name)
        self.label.setObjectName(name)
        self._probe.setObjectName(name)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.label.setGeometry(self.rect())
        super().resizeEvent(event)

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.type() in (QEvent.StyleChange, QEvent.FontChange):  # a theme switch: new metrics
            self.updateGeometry()
        super().changeEvent(event)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        # a hidden QLabel holding the template: QLabel's own measure, in the style sheet's font
        # and padding (same object name and parents as the label that shows the text)
        hint = self._probe.sizeHint()
        return QSize(hint.width(), hint.height() + self._probe.fontMetrics().lineSpacing() * (self._lines - 1))

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(0, self.sizeHint().height())
