"""SteadyLabel: per-step text that repaints itself without re-laying out the window."""

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication, QLabel, QVBoxLayout, QWidget

from snnstudio.gui.steady_label import SteadyLabel


class _LayoutRequests(QObject):
    def __init__(self):
        super().__init__()
        self.seen = []

    def eventFilter(self, obj, ev):
        if ev.type() == QEvent.LayoutRequest and isinstance(obj, QWidget):
            self.seen.append(obj)
        return False


def _panel(label):
    panel = QWidget()
    lay = QVBoxLayout(panel)
    lay.addWidget(label)
    lay.addWidget(QLabel("below"))
    panel.resize(400, 120)
    panel.show()
    QApplication.processEvents()
    return panel


def test_a_new_text_relays_out_nothing_but_a_qlabel_does(qtbot):
    """The oracle is QLabel itself: its new texts make its panel lay out again; SteadyLabel's
    do not, and its geometry stays put."""
    app = QApplication.instance()
    spy = _LayoutRequests()
    app.installEventFilter(spy)
    try:
        for make, relays in ((lambda: QLabel("1 event"), True), (lambda: SteadyLabel("1 event", "9,999,999 events"), False)):
            label = make()
            panel = _panel(label)
            qtbot.addWidget(panel)
            before = label.geometry()
            spy.seen.clear()
            for n in (10, 1_000, 1_000_000, 5):
                label.setText(f"{n:,} events")
                QApplication.processEvents()
            assert (panel in spy.seen) is relays
            assert label.text() == "5 events"
            if not relays:
                assert label.geometry() == before
    finally:
        app.removeEventFilter(spy)


def test_the_size_hint_fits_the_template_in_the_style_sheets_font(qtbot):
    holder = QWidget()
    holder.setStyleSheet("QLabel#big { font-size: 30pt; padding: 0 12px; }")
    label = SteadyLabel("x", "a rather long template", parent=holder)
    label.setObjectName("big")
    qtbot.addWidget(holder)
    plain = QLabel("a rather long template", holder)
    plain.setObjectName("big")
    plain.ensurePolished()
    assert label.label.objectName() == "big"
    assert label.sizeHint().width() >= plain.sizeHint().width()  # QLabel's own hint for that text
    assert label.sizeHint().height() >= plain.sizeHint().height()
    two = SteadyLabel("x", "a", lines=2, parent=holder)
    assert two.label.wordWrap() and two.sizeHint().height() > SteadyLabel("x", "a", parent=holder).sizeHint().height()
