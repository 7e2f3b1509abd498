"""A :class:`~snnstudio.engine.session.Session` run in its own process, behind the same API.

Why: binning a 1 M events/s stream and running the default model every 10 ms takes most of a core,
and so does drawing every panel; in one process the engine's worker thread and the GUI thread take
turns on one interpreter lock, and the window fell behind real time
(``snnstudio bench --only stream`` measures both ways). Here the engine gets its own interpreter:
the GUI process keeps only the drawing.

How: the child (started with ``spawn``: a fork would copy Qt's and torch's threads) runs an ordinary
:class:`Session`. Controls are sent by name over a :func:`multiprocessing.Pipe` and queued there
exactly as in-process (so their order holds); snapshots, states and messages come back pickled, in
order, and a reader thread here hands them to the same ``on_snapshot`` / ``on_state`` /
``on_message`` callbacks. Snapshots are plain dataclasses of numpy arrays (pickled cheaply; their
size and cost: ``snnstudio bench --only stream``). The child never blocks on a slow parent: past
:data:`MAX_PENDING` unsent snapshots it drops the new ones (the GUI coalesces anyway).

The controls are generated from the one table :data:`~snnstudio.engine.controls.CONTROLS`. The
child reports after each control whether it ran without error (``("done", (name, ok))``, in call
order), and the parent keeps a :class:`~snnstudio.engine.controls.ReplayLog` of what succeeded.
If the child dies (a crash in native code), the parent says so, starts a new one and replays that
log — settings, model, the last good source, neuron swaps, module switches, followed neurons and
the position shown, paused — at most :data:`MAX_RESTARTS` times.

Torch-free on this side: only the child imports :mod:`snnstudio.engine.session` (and torch).
"""

from __future__ import annotations

import atexit
import multiprocessing as mp
import os
import sys
import threading
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from queue import SimpleQueue

from snnstudio.engine.controls import CONTROLS, ReplayLog, forward_controls
from snnstudio.engine.slot import SnapshotSlot
from snnstudio.engine.snapshot import Snapshot
from snnstudio.engine.types import SessionConfig
from snnstudio.errors import SnnStudioError

#: snapshots queued in the child and not yet sent, beyond which new ones are dropped
MAX_PENDING = 64
#: times a dead engine process is restarted before the session gives up
MAX_RESTARTS = 3

_exiting = False


@atexit.register
def _at_exit() -> None:  # runs before multiprocessing terminates its daemon children: no restart then
    global _exiting
    _exiting = True


# ---------------------------------------------------------------------------- child side
class _Outbox:
    """The child's sender thread: everything goes out in order; snapshots past ``MAX_PENDING``
    waiting are dropped rather than block the engine."""

    def __init__(self, conn):
        self._conn = conn
        self._q: SimpleQueue = SimpleQueue()
        self._pending = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._send, name="snnstudio-outbox", daemon=True)
        self._thread.start()

    def put(self, item) -> None:
        self._q.put(item)

    def snapshot(self, snap: Snapshot) -> None:
        with self._lock:
            if self._pending >= MAX_PENDING:
                return
            self._pending += 1
        self._q.put(("snapshot", snap))

    def close(self) -> None:
        self._q.put(None)
        self._thread.join(5.0)

    def _send(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                return
            if item[0] == "snapshot":
                with self._lock:
                    self._pending -= 1
            try:
                self._conn.send(item)
            except (OSError, EOFError, BrokenPipeError):  # the parent is gone
                return


def _child_main(conn, config: SessionConfig) -> None:
    """The engine process: a Session driven by the commands arriving on ``conn``."""
    import signal

    from snnstudio.engine.session import Session

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the parent's to handle
    out = _Outbox(conn)
    session = Session(config, on_snapshot=out.snapshot, on_message=lambda m: out.put(("message", m)),
                      on_state=lambda s: out.put(("state", s)))
    session.on_done = lambda name, ok: out.put(("done", (name, ok)))
    session.start()
    tap = lambda win: out.put(("window", win))  # noqa: E731
    try:
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                break  # the parent died
            kind = msg[0]
            if kind == "close":
                break
            try:
                if kind == "sync":
                    session.call(lambda tok=msg[1]: out.put(("synced", tok)))
                elif kind == "taps":
                    session.remove_window_tap(tap)
                    if msg[1]:
                        session.add_window_tap(tap)
                elif kind in CONTROLS:
                    try:
                        getattr(session, kind)(*msg[1], **msg[2])
                    except Exception:
                        out.put(("done", (kind, False)))  # it never reached the worker
                        raise
                else:
                    out.put(("message", f"engine: unknown command {kind!r}"))
            except Exception as exc:
                out.put(("message", f"engine: {type(exc).__name__}: {exc}"))
    finally:
        session.close()
        out.close()
    # everything said is sent: leave without the interpreter's finalisation, during which a daemon
    # thread still inside torch (the background meter, the kernels' pool) could trip a C++
    # destructor ("terminate called without an active exception" on the terminal, seen about one
    # close in six under load)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


# ---------------------------------------------------------------------------- parent side
@forward_controls
class ProcessSession(SnapshotSlot):
    """The :class:`Session` API (controls, ``latest``, ``state``, ``messages``, ``sync``,
    ``wait_for``, window taps) over an engine process. Callbacks run on this side's reader
    thread, as the in-process session runs them on its worker. The controls are generated from
    :data:`~snnstudio.engine.controls.CONTROLS` (see :class:`~snnstudio.engine.controls.SessionControls`);
    ``open`` takes paths, specs and in-memory recordings, not live source objects."""

    def __init__(self, *args, **kw):
        """As :class:`Session`: ``config``, ``on_snapshot``, ``on_message``, ``on_state``."""
        super().__init__(*args, **kw)
        self._send_lock = threading.RLock()  # held across a restart's spawn and replay
        self._synced: dict[int, threading.Event] = {}
        self._token = 0
        #: what succeeded, to replay into a restarted engine
        self.replay_log = ReplayLog()
        #: controls sent and not yet reported done: ``(name, args, kwargs, replayed)``, in order
        self._pending: deque[tuple[str, tuple, dict, bool]] = deque()
        self._restarts = 0
        self._closing = False
        self._conn = None
        self._proc = None
        self._reader: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> ProcessSession:
        if self._proc is None:
            self._spawn()
        return self

    def _spawn(self) -> None:
        ctx = mp.get_context("spawn")
        here, there = ctx.Pipe(duplex=True)
        self._proc = ctx.Process(target=_child_main, args=(there, self.config), name="snnstudio-engine", daemon=True)
        self._proc.start()
        there.close()
        self._conn = here
        self._reader = threading.Thread(target=self._read, args=(here, self._proc), name="snnstudio-engine-reader",
                                        daemon=True)
        self._reader.start()

    def close(self, timeout: float = 5.0) -> None:
        self._closing = True
        self._send(("close",))
        proc, reader = self._proc, self._reader
        if proc is not None:
            proc.join(timeout)
            if proc.is_alive():
                proc.terminate()
                proc.join(1.0)
        if reader is not None and reader is not threading.current_thread():
            reader.join(timeout)
        if self._conn is not None:
            self._conn.close()
        for ev in list(self._synced.values()):
            ev.set()

    @property
    def alive(self) -> bool:
        """Whether the engine process is running."""
        return self._proc is not None and self._proc.is_alive()

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    # ------------------------------------------------------------------ reading
    def sync(self, timeout: float = 30.0) -> bool:
        """Block until every control sent so far has run in the engine and everything it sent
        before has been delivered here."""
        with self._send_lock:
            self._token += 1
            tok = self._token
            ev = self._synced[tok] = threading.Event()
        self._send(("sync", tok))
        try:
            return ev.wait(timeout) and self.alive
        finally:
            self._synced.pop(tok, None)

    # ------------------------------------------------------------------ controls
    def _control(self, name: str, args: tuple, kw: dict, replayed: bool = False) -> None:
        """Send control ``name`` (its call normalised) to the engine; the generated control
        methods call this."""
        if name == "open":
            from snnstudio.events.sources.base import EventSource

            if isinstance(args[0], EventSource):
                raise SnnStudioError("an engine process opens sources by spec (\"camera\", \"webcam:0\" …), not as objects")
        if self.given_up and not replayed:  # said, not silently dropped: the window offers the restart
            self._say(f"the engine is not running ({name} not done): Restart engine to start it again")
            return
        local = CONTROLS[name].local
        if local is not None and not replayed:
            local(self.config, args)
        self._send((name, args, kw), pending=(name, args, kw, replayed))

    def add_window_tap(self, fn: Callable) -> None:
        """As :meth:`Session.add_window_tap`; the windows are sent over from the engine process
        while any tap is set, and ``fn`` runs on this side's reader thread."""
        self._taps = (*self._taps, fn)
        self._send(("taps", True))

    def remove_window_tap(self, fn: Callable) -> None:
        self._taps = tuple(f for f in self._taps if f != fn)  # != : a bound method is a new object on each access
        if not self._taps:
            self._send(("taps", False))

    # ------------------------------------------------------------------ plumbing
    def _send(self, msg, pending: tuple | None = None) -> None:
        with self._send_lock:
            conn = self._conn
            if conn is None:
                return
            if pending is not None:
                self._pending.append(pending)
            try:
                conn.send(msg)
            except (OSError, EOFError, BrokenPipeError, ValueError):
                pass  # the engine is gone: the reader says so and restarts it

    def _read(self, conn, proc) -> None:
        while True:
            try:
                kind, *rest = conn.recv()
            except (EOFError, OSError):
                break
            except Exception as exc:  # an unpicklable item: say so, keep reading
                self._say(f"engine: could not read a result ({type(exc).__name__}: {exc})")
                continue
            try:
                self._deliver(kind, rest[0] if rest else None)
            except Exception:
                traceback.print_exc()
        if not (self._closing or _exiting):
            self._died(proc)

    def _deliver(self, kind: str, item) -> None:
        if kind == "snapshot":
            self._state = replace(self._state, cursor_us=item.t_end_us)
            if self._state.seekable:
                self.replay_log.position(item.t_start_us)
            with self._cond:
                self._latest = item
                self._cond.notify_all()
            if self.on_snapshot is not None:
                self.on_snapshot(item)
        elif kind == "state":
            self._state = item
            self.config.dt_us, self.config.window_T = item.dt_us, item.window_T
            self.config.speed, self.config.loop = item.speed, item.loop
            if self.on_state is not None:
                self.on_state(item)
        elif kind == "message":
            self._say(item)
        elif kind == "done":
            self._done(*item)
        elif kind == "synced":
            ev = self._synced.get(item)
            if ev is not None:
                ev.set()
        elif kind == "window":
            for tap in self._taps:
                tap(item)

    def _done(self, name: str, ok: bool) -> None:
        """The engine ran the oldest pending control: note it in the replay log if it succeeded
        (a replayed call that now fails is forgotten)."""
        with self._send_lock:
            while self._pending and self._pending[0][0] != name:  # cannot happen: the engine runs controls in order
                self._pending.popleft()
            if not self._pending:
                return
            _, args, kw, replayed = self._pending.popleft()
        if replayed and not ok:
            self.replay_log.discard(name, args, kw)
        elif ok and not replayed:
            self.replay_log.record(name, args, kw)

    def _died(self, proc) -> None:
        proc.join(2.0)
        code = proc.exitcode
        self._state = replace(self._state, playing=False)
        with self._send_lock:  # no control slips in between the crash and the replay
            lost, self._pending = list(self._pending), deque()
            for name, args, kw, replayed in lost:  # unanswered: kept unless only a success is replayed (it may be the crash)
                if not replayed and not CONTROLS[name].if_ok:
                    self.replay_log.record(name, args, kw)
            if self._restarts >= MAX_RESTARTS:
                self._conn = None
                why = (f"the engine process stopped (exit code {code}) {self._restarts + 1} times; it was not "
                       "restarted again: Restart engine to try once more")
                self._state = replace(self._state, engine_down=why)
                self._say(why)
            else:
                self._restarts += 1
                self._say(f"the engine process stopped unexpectedly (exit code {code}); restarted it paused with "
                          f"{self.replay_log.describe()}")
                self._respawn()
        if self.on_state is not None:
            self.on_state(self._state)

    def _respawn(self) -> None:
        """A new engine process, given what succeeded in the old one (``_send_lock`` held)."""
        self._spawn()
        for name, args, kw in self.replay_log.calls():
            self._control(name, args, kw, replayed=True)
        if self._taps:
            self._send(("taps", True))

    @property
    def given_up(self) -> bool:
        """Whether the engine died more than :data:`MAX_RESTARTS` times and is not running."""
        return bool(self._state.engine_down)

    def restart(self) -> bool:
        """Start the engine again after it was given up, with what succeeded before (paused), and
        allow :data:`MAX_RESTARTS` more automatic restarts. False (nothing done) while it runs."""
        with self._send_lock:
            if not self.given_up or self._closing:
                return False
            self._restarts = 0
            self._state = replace(self._state, engine_down="", playing=False)
            self._say(f"engine restarted, paused, with {self.replay_log.describe()}")
            self._respawn()
        if self.on_state is not None:
            self.on_state(self._state)
        return True
