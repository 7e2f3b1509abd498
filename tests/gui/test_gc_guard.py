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
