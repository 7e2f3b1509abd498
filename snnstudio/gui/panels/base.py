"""The base of the panels that draw the session's snapshots: the two rules every one of them
follows, written once.

* **Skip when hidden.** A panel behind another tab or in a closed dock records what it is sent
  (nothing is lost) but draws nothing: :meth:`SnapshotPanel.showing` says whether to draw.
* **Ask the frame budget.** An analysis view's redraw is a request to the session model's
  :class:`~snnstudio.gui.frame_budget.FrameBudget` (:meth:`SnapshotPanel.request_draw`), made
  only while the panel shows, and skipped if the panel was hidden before its turn came; a newer
  request for the same part replaces the waiting one. What must show at once (the event frame,
  the prediction) draws straight away instead, still only while showing.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from PySide6.QtWidgets import QWidget


class SnapshotPanel(QWidget):
    """A panel on ``model`` (a :class:`~snnstudio.gui.session_model.SessionModel`, or anything
    with a ``budget``); see the module docstring."""

    def __init__(self, model, parent=None):
        super().__init__(parent)
        self.model = model

    def showing(self) -> bool:
        """Whether the panel is on screen (drawing anything else is wasted)."""
        return self.isVisible()

    def draw_key(self, part: Hashable | None = None) -> Hashable:
        """The frame-budget key of ``part`` of this panel (the whole panel: ``None``)."""
        return self if part is None else (self, part)

    def request_draw(self, draw: Callable[[], None], part: Hashable | None = None) -> bool:
        """Ask the frame budget for ``draw()`` (the panel's ``part``: one waiting request each);
        ``False`` (nothing asked) while the panel is hidden."""
        if not self.showing():
            return False
        self.model.budget.request(self.draw_key(part), lambda: self.showing() and draw())
        return True

    def cancel_draw(self, part: Hashable | None = None) -> None:
        """Forget the waiting redraw of ``part`` (its view is going away)."""
        self.model.budget.cancel(self.draw_key(part))
