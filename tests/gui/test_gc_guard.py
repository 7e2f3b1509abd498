"""Garbage collection runs on the GUI thread only while a window is open, and comes back after."""

import gc
import threading


def test_a_window_moves_collection_to_the_gui_thread_and_gives_it_back(qtbot):
    from snnstudio.engine.session import SessionConfig
    from snnstudio.gui.main_window import MainWindow
    from snnstudio.gui.session_model import SessionModel

    assert gc.isenabled()
    win = MainWindow(SessionModel(SessionConfig(dt_us=10_000)), settings=None)
    assert not gc.isenabled()  # a worker thread can no longer trip a collection

    collected_on = []

    class Cycle:
        def __del__(self):
            collected_on.append(threading.current_thread() is threading.main_thread())

    c = Cycle()
    c.me = c
    del c
    kept = []
    worker = threading.Thread(target=lambda: kept.extend([] for _ in range(20_000)))  # way past gen 0's threshold
    worker.start()
    worker.join()
    assert collected_on == []  # the worker's allocations collected nothing
    qtbot.waitUntil(lambda: bool(collected_on), timeout=5000)  # the GUI timer did
    assert collected_on == [True]  # on the GUI (main) thread
    win.close()
    assert gc.isenabled()


def _force_full(monkeypatch):
    """Make the next ``collect`` a full one (its counts past every threshold)."""
    monkeypatch.setattr(gc, "get_count", lambda: (10**6, 10**6, 10**6))


def test_full_collections_freeze_the_survivors_and_a_sweep_lifts_the_freeze(qtbot, monkeypatch):
    from snnstudio.gui import gc_guard
    from snnstudio.gui.gc_guard import GuiThreadCollector

    GuiThreadCollector.acquire()
    try:
        _force_full(monkeypatch)
        monkeypatch.setattr(gc_guard, "FULL_SWEEP_S", 1e9)
        GuiThreadCollector.collect()
        frozen = gc.get_freeze_count()
        assert frozen > 1000  # the long-lived objects (this test process's modules …) are out of later scans

        class Cycle:
            pass

        old = Cycle()
        old.me = old
        GuiThreadCollector.collect()  # frozen with the survivors
        probe = __import__("weakref").ref(old)
        del old
        GuiThreadCollector.collect()
        assert probe() is not None  # a cycle among frozen objects waits for a sweep ...
        monkeypatch.setattr(gc_guard, "FULL_SWEEP_S", 0.0)
        GuiThreadCollector.collect()  # ... which lifts the freeze for one complete collection
        assert probe() is None
        assert gc.get_freeze_count() > 0  # and freezes the survivors again
    finally:
        monkeypatch.undo()
        GuiThreadCollector.release()
    assert gc.get_freeze_count() == 0 and gc.isenabled()
