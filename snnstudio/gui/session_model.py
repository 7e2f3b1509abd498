"""The Qt face of the engine session (the napari pattern): views subscribe to its signals.

:class:`SessionModel` owns an :class:`~snnstudio.engine.session.Session` (which runs its own
worker thread). A new snapshot wakes the GUI thread at once (one queued signal however many
snapshots arrive before it is handled), and the GUI ticks — at most ``display_hz`` times a second,
so a fast engine cannot starve the event loop, and with no fixed timer phase to wait for: latency
is the draw, not a polling interval. Each tick takes the snapshots the worker produced since the
last tick (a bounded buffer: when the GUI falls behind, the oldest are dropped — never queued
without end) and emits

* ``snapshots(list)`` — every new snapshot in order, for views that accumulate history (rasters,
  traces, accuracy);
* ``snapshot(Snapshot)`` — only the newest, for views that draw the present (frames, bars).

After both, the tick spends its :class:`~snnstudio.gui.frame_budget.FrameBudget` (``budget``) on
the redraws the analysis panels asked for (rasters, traces, attention), oldest first.

Every delivered snapshot also goes into ``history`` (a
:class:`~snnstudio.engine.history.MetricsHistory`: the per-step metrics that File → Export saves).

With ``engine="process"`` the session runs in its own process
(:class:`~snnstudio.engine.process_session.ProcessSession`, the studio's default: the engine and
the drawing then each have an interpreter of their own); ``"thread"`` keeps it in this process.

State changes (play/pause, position, model) and messages from the worker arrive as
``state_changed`` / ``message`` signals, delivered on the GUI thread. This module imports the
engine's torch-free modules only (:mod:`snnstudio.engine.types`, :mod:`~snnstudio.engine.controls`
…); ``engine="thread"`` imports the engine itself (and torch) when the model is made.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from snnstudio.engine.controls import forward_controls
from snnstudio.engine.history import MetricsHistory
from snnstudio.engine.snapshot import Snapshot
from snnstudio.engine.types import SessionConfig, SessionState
from snnstudio.gui.frame_budget import FrameBudget

#: where the engine runs: its own process (the studio) or a thread of this one
ENGINES = ("process", "thread")
SPEEDS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


@forward_controls
class SessionModel(QObject):
    """Wraps one engine session; controls are forwarded (the methods of
    :class:`~snnstudio.engine.controls.SessionControls`), results come back as signals."""

    snapshot = Signal(object)
    snapshots = Signal(object)
    state_changed = Signal(object)
    message = Signal(str)
    model_changed = Signal(object)
    #: the companions ``set_compare`` was last given (a tuple of specs / ``Variant``)
    compare_changed = Signal(object)
    #: emitted by the worker thread when the first snapshot since the last tick arrives
    _wake = Signal()

    def __init__(self, config: SessionConfig | None = None, display_hz: float = 50.0, buffer: int = 512,
                 frame_budget_ms: float = 2.0, engine: str = "thread", parent=None):
        super().__init__(parent)
        self._lock = threading.Lock()
        self._fresh: deque[Snapshot] = deque(maxlen=buffer)
        self._wake_pending = False
        self._last_tick = 0.0
        self._min_interval = 1.0 / display_hz
        self._model_key = None
        #: what ``set_model`` was last given (``None`` = the default model)
        self.model_spec = None
        #: what ``set_compare`` was last given (the Compare view's columns after the first)
        self.compare_specs: tuple = ()
        #: the engine's ``compare_runs`` when set_compare was last asked for (None: none waiting)
        self._compare_pending: int | None = None
        self.history = MetricsHistory()
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
        if engine == "process":
            from snnstudio.engine.process_session import ProcessSession as Session
        else:
            from snnstudio.engine.session import Session
        self.engine = engine
        self.session = Session(
            config,
            on_snapshot=self._on_snapshot,
            on_message=self.message.emit,
            on_state=self._on_state,
        )
        self.last: Snapshot | None = None
        self.display_fps = 0.0
        self._draw_times: deque[float] = deque(maxlen=120)
        self._pace = QTimer(self)  # holds a tick back to the display rate
        self._pace.setSingleShot(True)
        self._pace.timeout.connect(self.tick)
        self._wake.connect(self._woken, Qt.QueuedConnection)  # emitted on the worker thread
        #: the analysis panels' redraws, spread over frames (see :mod:`snnstudio.gui.frame_budget`)
        self.budget = FrameBudget(budget_ms=frame_budget_ms, parent=self)

    # worker thread -------------------------------------------------------
    def _on_snapshot(self, snap: Snapshot) -> None:
        with self._lock:
            self._fresh.append(snap)
            wake, self._wake_pending = not self._wake_pending, True
        if wake:
            self._wake.emit()

    def _on_state(self, state: SessionState) -> None:
        self.state_changed.emit(state)

    # GUI thread ------------------------------------------------------------
    def start(self) -> SessionModel:
        self.session.start()
        self.state_changed.connect(self._track_model)
        self.state_changed.connect(self._track_compare)
        return self

    def close(self) -> None:
        self._pace.stop()
        self.budget.clear()
        self.session.close()

    def restart_engine(self) -> bool:
        """Start the engine process again after it was given up (see
        :meth:`~snnstudio.engine.process_session.ProcessSession.restart`); False when there is
        nothing to restart (it runs, or the engine is a thread of this process)."""
        restart = getattr(self.session, "restart", None)
        return bool(restart is not None and restart())

    @property
    def state(self) -> SessionState:
        """The newest session state (the worker replaces it atomically; views that must react
        to changes listen to ``state_changed``)."""
        return self.session.state

    def _track_model(self, state: SessionState) -> None:
        info = state.model
        key = None if info is None else (info.name, info.layers, info.window_T, tuple(m.enabled for m in info.modules))
        if key != self._model_key:
            self._model_key = key
            self.model_changed.emit(info)

    def _track_compare(self, state: SessionState) -> None:
        """Follow the engine's companions once it has run a ``set_compare`` asked for here (a
        companion that failed to load is not a column), and when a variant that does not fit a new
        model is dropped; a request not yet run is not undone."""
        if self._compare_pending is not None:
            if state.compare_runs == self._compare_pending:
                return
            self._compare_pending = None
        if state.compare != self.compare_specs:
            self.compare_specs = tuple(state.compare)
            self.compare_changed.emit(self.compare_specs)

    def _woken(self) -> None:
        if self._pace.isActive():
            return
        wait = self._min_interval - (time.perf_counter() - self._last_tick)
        if wait > 0.001:
            self._pace.start(int(wait * 1000) + 1)
        else:
            self.tick()

    def tick(self) -> int:
        """Deliver what the worker produced since the last tick; returns how many snapshots."""
        with self._lock:
            fresh = list(self._fresh)
            self._fresh.clear()
            self._wake_pending = False
        if not fresh:
            return 0
        self._last_tick = time.perf_counter()
        self.last = fresh[-1]
        self.history.add(fresh)
        self.snapshots.emit(fresh)
        self.snapshot.emit(fresh[-1])
        self.budget.run()
        now = time.perf_counter()
        self._draw_times.append(now)
        while self._draw_times and now - self._draw_times[0] > 1.0:
            self._draw_times.popleft()
        n = len(self._draw_times)
        self.display_fps = (n - 1) / (self._draw_times[-1] - self._draw_times[0]) if n > 1 else 0.0
        return len(fresh)

    # controls --------------------------------------------------------------
    # open, set_model, play, seek, set_enabled … are generated from the one table of controls
    # (snnstudio.engine.controls.CONTROLS) and forwarded to the session by _control.
    def _control(self, name: str, args: tuple, kw: dict) -> None:
        if name == "set_model":
            self.model_spec = args[0]
        if name == "open":  # what was asked to open (a text spec is remembered once it opens)
            self.source_target = args[0] if isinstance(args[0], str) else None
        getattr(self.session, name)(*args, **kw)
        if name == "set_compare":
            self.compare_specs, self._compare_pending = tuple(args[0]), self.state.compare_runs
            self.compare_changed.emit(self.compare_specs)

    def update_preprocess(self, **changes) -> None:
        """The session's preprocessing with ``changes`` (e.g. ``roi=(0.5, 0.5, 0.8)``, ``mirror=True``)."""
        from dataclasses import replace

        self.set_preprocess(replace(self.session.config.preprocess, **changes))

    def faster(self, sign: int = 1) -> float:
        """Next speed up (``sign=1``) or down (``-1``) in :data:`SPEEDS`; returns it."""
        cur = self.session.config.speed
        i = min(range(len(SPEEDS)), key=lambda k: abs(SPEEDS[k] - cur))
        new = SPEEDS[max(0, min(len(SPEEDS) - 1, i + sign))]
        self.set_speed(new)
        return new
