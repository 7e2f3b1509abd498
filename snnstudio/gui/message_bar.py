"""An in-window message bar: errors and notices show here (never a traceback dialog)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton


#: messages kept in :attr:`MessageBar.history`
HISTORY = 500


class MessageBar(QFrame):
    """A one-line bar that shows the latest message and hides itself after ``timeout_ms`` — unless
    an action is set (:meth:`set_action`: a button, e.g. "Restart engine"), which keeps it shown
    until the action is cleared."""

    def __init__(self, timeout_ms: int = 12_000, parent=None):
        super().__init__(parent)
        self.setObjectName("messageBar")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 4, 4, 4)
        self.label = QLabel()
        self.label.setWordWrap(True)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.clicked.connect(self.hide)
        self.action_button = QPushButton()
        self.action_button.hide()
        self.action_button.clicked.connect(self._run_action)
        self._action: Callable[[], object] | None = None
        lay.addWidget(self.label, 1)
        lay.addWidget(self.action_button)
        lay.addWidget(close)
        #: the last :data:`HISTORY` messages shown, oldest first
        self.history: list[str] = []
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(timeout_ms)
        self._timer.timeout.connect(self.hide)
        self.hide()

    def show_message(self, text: str) -> None:
        self.history.append(text)
        del self.history[:-HISTORY]  # a long session's notices must not pile up
        self.label.setText(text)
        self.show()
        if self._action is None:
            self._timer.start()

    def set_action(self, label: str, action: Callable[[], object]) -> None:
        """Show a button ``label`` running ``action``; the bar stays until :meth:`clear_action`."""
        self._action = action
        self.action_button.setText(label)
        self.action_button.show()
        self._timer.stop()
        self.show()

    def clear_action(self) -> None:
        self._action = None
        self.action_button.hide()
        self._timer.start()

    @property
    def action(self) -> str | None:
        """The action button's label while one is set."""
        return self.action_button.text() if self._action is not None else None

    def _run_action(self) -> None:
        if self._action is not None:
            self._action()

    @property
    def text(self) -> str:
        return self.label.text()
