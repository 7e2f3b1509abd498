"""What a session's readers see — the newest snapshot, state and messages — shared by the
in-process :class:`~snnstudio.engine.session.Session` and the engine-process proxy
:class:`~snnstudio.engine.process_session.ProcessSession`. Torch-free."""

from __future__ import annotations

import threading
import time
import traceback
from collections import deque
from collections.abc import Callable

from snnstudio.engine.snapshot import Snapshot
from snnstudio.engine.types import SessionConfig, SessionState


class SnapshotSlot:
    """What a session's readers see, shared by :class:`Session` and the engine-process proxy: the
    config and callbacks, the newest snapshot in a one-slot ``latest()`` (``_latest`` under
    ``_cond``, notified on each new one), the newest ``state``, the last ``messages``, and
    ``with session:`` (``start`` … ``close``)."""

    def __init__(
        self,
        config: SessionConfig | None = None,
        on_snapshot: Callable[[Snapshot], None] | None = None,
        on_message: Callable[[str], None] | None = None,
        on_state: Callable[[SessionState], None] | None = None,
    ):
        self.config = c = config or SessionConfig()
        self.on_snapshot = on_snapshot
        self.on_message = on_message
        self.on_state = on_state
        self.messages: deque[str] = deque(maxlen=50)
        self._cond = threading.Condition()
        self._latest: Snapshot | None = None
        self._state = SessionState(dt_us=c.dt_us, window_T=c.window_T, speed=c.speed, loop=c.loop)
        self._taps: tuple[Callable, ...] = ()

    def start(self):
        raise NotImplementedError

    def close(self, timeout: float = 5.0) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def latest(self) -> Snapshot | None:
        """The newest snapshot (coalescing slot), or ``None`` before the first step."""
        return self._latest

    @property
    def state(self) -> SessionState:
        return self._state

    def wait_for(self, predicate: Callable[[Snapshot | None], bool], timeout: float = 10.0) -> Snapshot | None:
        """Block until ``predicate(latest())`` holds (or ``timeout`` s); returns the snapshot."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self._latest):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return self._latest

    def _say(self, text: str) -> None:
        self.messages.append(text)
        if self.on_message is not None:
            try:
                self.on_message(text)
            except Exception:
                traceback.print_exc()
