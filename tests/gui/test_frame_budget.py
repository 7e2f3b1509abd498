"""The frame budget: redraws oldest first within the frame's time, none lost, flushed when idle."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def budget(qtbot):
    from snnstudio.gui.frame_budget import FrameBudget

    return FrameBudget(budget_ms=5.0, idle_ms=40)


class FakeClock:
    """Seconds that pass only when a redraw says so (no wall-clock timing in the tests)."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def spend(self, ms: float) -> None:
        self.now += ms / 1e3


def test_oldest_request_draws_first_and_a_repeated_key_keeps_its_place(budget):
    done = []
    budget.request("a", lambda: done.append("a1"))
    budget.request("b", lambda: done.append("b"))
    budget.request("a", lambda: done.append("a2"))  # newer data for a: a is still the oldest request
    budget.budget_ms = 0.0  # one redraw per frame
    assert budget.run() == 1 and done == ["a2"]
    assert budget.run() == 1 and done == ["a2", "b"]
    assert budget.run() == 0 and budget.waiting == 0


def test_a_frame_stops_drawing_once_its_time_is_spent_and_the_rest_follow(qtbot):
    from snnstudio.gui.frame_budget import FrameBudget

    clock = FakeClock()
    budget = FrameBudget(budget_ms=5.0, clock=clock)
    done = []
    for k in range(6):
        budget.request(k, lambda k=k: (clock.spend(3.0), done.append(k)))
    first = budget.run()  # 3 ms each against a 5 ms budget: two fit (the second starts at 3 ms)
    assert first == 2 and done == [0, 1]
    while budget.waiting:
        budget.run()
    assert done == list(range(6))  # every request drawn once, in order


def test_always_at_least_one_redraw_per_frame_however_slow(qtbot):
    from snnstudio.gui.frame_budget import FrameBudget

    clock = FakeClock()
    budget = FrameBudget(budget_ms=5.0, clock=clock)
    done = []
    budget.request("slow", lambda: (clock.spend(8.0), done.append(1)))
    budget.request("next", lambda: done.append(2))
    assert budget.run() == 1 and done == [1]


def test_what_is_left_is_drawn_when_the_ticks_stop(budget, qtbot):
    done = []
    budget.budget_ms = 0.0
    for k in range(4):
        budget.request(k, lambda k=k: done.append(k))
    budget.run()
    assert done == [0]
    qtbot.waitUntil(lambda: done == [0, 1, 2, 3], timeout=2000)  # the idle flush
    assert budget.waiting == 0


def test_cancel_and_clear_drop_requests(budget, qtbot):
    done = []
    budget.request("a", lambda: done.append("a"))
    budget.request("b", lambda: done.append("b"))
    budget.cancel("a")
    assert budget.flush() == 1 and done == ["b"]
    budget.request("c", lambda: done.append("c"))
    budget.clear()
    qtbot.wait(120)
    assert done == ["b"] and budget.waiting == 0


def test_session_tick_spends_the_budget_on_the_panels_requests(qtbot):
    """A tick emits the snapshots, then draws requested redraws; with no time to spare, one."""
    from snnstudio.engine.session import SessionConfig
    from snnstudio.engine.snapshot import Snapshot
    from snnstudio.gui.session_model import SessionModel

    model = SessionModel(SessionConfig(realtime=False))
    model.budget.budget_ms = 0.0
    drawn = []
    model.snapshots.connect(lambda snaps: [model.budget.request(k, lambda k=k: drawn.append(k)) for k in "xyz"])
    frame = np.zeros((2, 4, 4), np.float32)
    model._on_snapshot(Snapshot(0, 0, 10, frame, 0))
    assert model.tick() == 1 and drawn == ["x"]
    model._on_snapshot(Snapshot(1, 10, 20, frame, 0))
    assert model.tick() == 1 and drawn == ["x", "y"]  # x asked again, but y and z are older
    model.close()
