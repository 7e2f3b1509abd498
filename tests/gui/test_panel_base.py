"""The panel base class: a hidden panel asks the frame budget for nothing, a redraw waiting when
the panel is hidden is skipped, a newer request for a part replaces the waiting one; and every
panel that draws snapshots is built on it rather than writing the rules out again."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PANELS = Path(__file__).resolve().parents[2] / "snnstudio" / "gui" / "panels"


class _Model:
    def __init__(self):
        from snnstudio.gui.frame_budget import FrameBudget

        self.budget = FrameBudget(budget_ms=0.0, idle_ms=10_000)


@pytest.fixture
def panel(qtbot):
    from snnstudio.gui.panels.base import SnapshotPanel

    p = SnapshotPanel(_Model())
    qtbot.addWidget(p)
    return p


def test_hidden_panels_ask_for_nothing(panel):
    done = []
    assert panel.request_draw(lambda: done.append(1)) is False
    assert panel.model.budget.waiting == 0 and panel.model.budget.flush() == 0 and done == []


def test_shown_panels_draw_through_the_budget_newest_request_per_part(panel, qtbot):
    panel.show()
    qtbot.waitExposed(panel)
    done = []
    assert panel.request_draw(lambda: done.append("a1"), "a")
    assert panel.request_draw(lambda: done.append("whole"))
    assert panel.request_draw(lambda: done.append("a2"), "a")  # replaces a1, keeps its place
    assert panel.model.budget.waiting == 2
    assert panel.model.budget.run() == 1 and done == ["a2"]  # budget 0 ms: one per frame, oldest first
    panel.cancel_draw()
    assert panel.model.budget.waiting == 0 and done == ["a2"]


def test_a_redraw_waiting_when_the_panel_is_hidden_is_skipped(panel, qtbot):
    panel.show()
    qtbot.waitExposed(panel)
    done = []
    panel.request_draw(lambda: done.append(1))
    panel.hide()
    assert panel.model.budget.flush() == 1 and done == []  # its turn came, nothing drawn


def _classes_on_snapshots(tree: ast.Module) -> dict[str, tuple[list[str], str]]:
    """Classes of a panel module whose body connects to the model's snapshots: their bases and
    their source."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            text = ast.unparse(node)
            if "model.snapshot.connect" in text or "model.snapshots.connect" in text:
                found[node.name] = ([ast.unparse(b) for b in node.bases], text)
    return found


def test_every_drawing_panel_is_a_snapshot_panel_and_keeps_no_copy_of_the_rules():
    """A panel drawing snapshots derives from SnapshotPanel, asks the budget through it (no
    ``model.budget.request`` of its own) and tests its own visibility through ``showing()``."""
    drawing, bad = {}, []
    for f in sorted(PANELS.glob("*.py")):
        for name, (bases, text) in _classes_on_snapshots(ast.parse(f.read_text(encoding="utf-8"))).items():
            drawing[name] = bases
            bad += [f"{name}: {s}" for s in ("budget.request(", "budget.cancel(", "self.isVisible()") if s in text]
    draws = {"AttentionPanel", "ComparePanel", "EventsPanel", "LayersPanel", "MembranePanel", "MetricsPanel", "OutputPanel"}
    assert draws <= set(drawing)
    assert all(drawing[n] == ["SnapshotPanel"] for n in draws), {n: drawing[n] for n in draws}
    assert not bad, bad
