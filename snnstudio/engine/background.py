"""The engine's one pattern for background work (evaluation, fine-tuning, stream recording): a
job on its own daemon thread, a cancel flag, callbacks that never raise into the worker, and —
for work that needs torch while the window's process must not load it — the same work in a
spawned process whose reports come back over a pipe.

A child reports ``(kind, payload)`` tuples; :meth:`ProcessJob._relay` hands each to
``on_report(kind, payload)`` until that returns ``True`` (the child's last word) or the pipe
closes (the child died)."""

from __future__ import annotations

import multiprocessing as mp
import threading
import traceback
from collections.abc import Callable


class ThreadJob:
    """Base of the engine's background jobs; a subclass starts ``self._thread``."""

    _thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait (at most ``timeout`` s) for the job to end by itself; True when it has."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    @staticmethod
    def _emit(fn, *args) -> None:
        """Call a callback; its exception is printed, never raised into the worker."""
        if fn is not None:
            try:
                fn(*args)
            except Exception:
                traceback.print_exc()


class ProcessJob(ThreadJob):
    """A :class:`ThreadJob` whose work runs in this process (``process=False``) or in a spawned
    one (``process=True``); ``cancel()`` sets an event both can see. A subclass implements
    ``_work`` (run by :meth:`start` on the thread)."""

    thread_name = "snnstudio-job"

    def __init__(self, process: bool):
        self.process = process
        self._cancel = mp.get_context("spawn").Event() if process else threading.Event()

    def start(self):
        self._thread = threading.Thread(target=self._work, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def _work(self) -> None:  # pragma: no cover - every job defines it
        raise NotImplementedError

    def _relay(self, target: Callable, args: tuple, on_report: Callable[[str, object], bool]) -> int | None:
        """Run ``target(conn, *args, cancel_event)`` in a spawned process and pass its reports to
        ``on_report`` (see the module docstring); returns the child's exit code."""
        ctx = mp.get_context("spawn")
        here, there = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=target, args=(there, *args, self._cancel), name=self.thread_name, daemon=True)
        proc.start()
        there.close()
        while True:
            try:
                kind, payload = here.recv()
            except (EOFError, OSError):
                break
            if on_report(kind, payload):
                break
        here.close()
        proc.join(10.0)
        return proc.exitcode
