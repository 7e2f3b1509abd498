"""Guards the Qt binding itself: PySide6 6.12.0 on Python 3.11 leaks a reference to True on
every Signal.emit() and aborts the interpreter after ~570 emits. The pinned 6.11.3 must
survive many thousands."""

import PySide6
from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    changed = Signal(bool)
    value = Signal(object)


def test_pinned_pyside6_version():
    assert PySide6.__version__ == "6.11.3"


def test_signal_emits_thousands_of_times_without_crashing(qtbot):
    em = _Emitter()
    seen = []
    em.changed.connect(seen.append)
    em.value.connect(lambda v: None)
    for i in range(20_000):
        em.changed.emit(i % 2 == 0)
        em.value.emit(i)
    assert len(seen) == 20_000
    assert seen[:4] == [True, False, True, False]
