"""The session's controls, written once: their signatures and meaning (:class:`SessionControls`)
and how each is replayed into a restarted engine (:data:`CONTROLS`). Torch-free, Qt-free.

:class:`~snnstudio.engine.session.Session` is the one implementation (it subclasses
:class:`SessionControls`). The engine-process proxy
(:class:`~snnstudio.engine.process_session.ProcessSession`) and the GUI's
:class:`~snnstudio.gui.session_model.SessionModel` get their control methods generated from the
table by :func:`forward_controls`, with the signatures and docstrings below.

Replay after an engine crash (:class:`ReplayLog`): a control's calls are recorded once the engine
reports that they ran without error (a failed ``open`` or ``set_model`` changed nothing and is
not replayed); calls still unanswered at the crash are kept unless the control is ``if_ok``
(that call may be what killed the engine). The recorded calls are replayed by ``order``:
settings and model, then the source, then the neuron swaps, module switches and followed neurons
(each on the model as it then is), and the position last.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from snnstudio.engine.types import SessionConfig


class SessionControls:
    """The control API every session offers (see :class:`~snnstudio.engine.session.Session`).
    Controls return at once; the engine runs them in call order between steps, and an error
    becomes a message (``on_message``), never an exception here."""

    def open(self, target: Any, live: bool | None = None) -> None:
        """Open a file path, a source spec (``"camera"``, ``"webcam:0"``, ``"synthetic"`` …), an
        in-memory recording or (in-process only) a live source object; replaces the current one."""

    def set_preprocess(self, pre: Any) -> None:
        """Map sources onto the model's sensor this way from now on (a
        :class:`~snnstudio.events.preprocess.Preprocess`: region of interest, mirror, flicker …);
        the open source is opened again with it, at the same position when seekable."""

    def set_filters(self, spec: str) -> None:
        """Filter every source's events from now on, before framing: a spec of
        :func:`snnstudio.events.filters.parse_filters` (``"denoise=2000; hot; polarity=on"``,
        ``""`` for none). Filters that keep the sensor's size switch in place (a recording is
        re-primed at the same position); crop and downsample open the source again at its size."""

    def set_model(self, spec: Any = None) -> None:
        """Swap the model: ``None``/``"default"``, ``"tiny"``, a zoo name, a checkpoint, a ``.nir`` graph,
        ``file.py:factory`` / ``package.module:factory``, a :class:`~snnstudio.engine.spec.ModelSpec`
        (with weights / a NIR step) or an ``nn.Module``. A model that fails to load is a message; the
        model playing stays, and with none yet no other model (not the default) takes its place."""

    def set_neuron(self, name: str) -> None:
        """Rebuild the (zoo) model with another neuron type, keeping the other weights."""

    def set_compare(self, specs: Any) -> None:
        """Run up to 3 more models in lock-step on the same frames (``[]`` stops comparing); their
        snapshots ride along in ``Snapshot.compare``."""

    def play(self) -> None:
        """Play (from the start when the recording has ended)."""

    def pause(self) -> None:
        """Pause."""

    def toggle_play(self) -> None:
        """Play when paused, pause when playing."""

    def step(self, n: int = 1) -> None:
        """Pause and advance ``n`` steps."""

    def step_back(self) -> None:
        """Pause and show the previous step (seekable sources)."""

    def seek(self, t_us: int) -> None:
        """Go to ``t_us`` (µs, recording clock; seekable sources), the models primed as if they had
        played up to it; shown at once when paused."""

    def set_speed(self, speed: float) -> None:
        """Playback rate (1 = real time; positive)."""

    def set_loop(self, loop: bool) -> None:
        """Start a recording over at its end (else stop there)."""

    def set_realtime(self, realtime: bool) -> None:
        """Pace recordings on the stream clock (``False``: as fast as the model runs)."""

    def set_dt(self, dt_us: int) -> None:
        """The step (µs, at least 1): how often the stream advances and a snapshot is made."""

    def set_window(self, T: int) -> None:
        """The number of steps the read-out / window models see."""

    def set_enabled(self, module: str, enabled: bool) -> None:
        """Switch a block with an ``enabled`` flag (an attention block) on or off."""

    def follow(self, layer: str, index: int, on: bool = True) -> None:
        """Record (``on``) or stop recording the membrane potential of neuron ``index`` (flat, per
        sample) of spiking ``layer`` (``LayerSnapshot.membrane``)."""


    def export_nir(self, path: str) -> None:
        """Write the model that runs (as trained: a zoo model's weights and frame length) as a NIR
        graph at ``path``; what was written, or what NIR cannot express, is said as a message.
        Not replayed after a restart."""


class Replay(enum.Enum):
    """How a control's calls are replayed into a restarted engine."""

    NEVER = "never"  # a transient action: play, step, …
    LAST = "last value wins"
    KEYED = "last value per key wins"  # key from the arguments (a module, a neuron)
    IN_ORDER = "every call, in order"
    POSITION = "the last position shown"  # the newest snapshot's start, else the last seek


@dataclass(frozen=True)
class Control:
    """One row of the controls table (see module docstring)."""

    name: str
    replay: Replay = Replay.NEVER
    #: replayed only once the engine has reported that the call ran without error
    if_ok: bool = False
    #: rank in the replay (lower first; calls of one control keep their order)
    order: int = 0
    #: controls whose recorded calls this one voids when it runs (they applied to what it replaced)
    clears: tuple[str, ...] = ()
    #: ``Replay.KEYED``: the key from the call's positional arguments
    key: Callable[[tuple], Any] | None = None
    #: what the caller's copy of the settings takes at once (the proxy's ``config``)
    local: Callable[[SessionConfig, tuple], None] | None = None

    @property
    def signature(self) -> inspect.Signature:
        """The control's signature (``self`` first), from :class:`SessionControls`."""
        return inspect.signature(getattr(SessionControls, self.name))

    @property
    def doc(self) -> str:
        return getattr(SessionControls, self.name).__doc__ or ""


def _set(field: str, coerce: Callable[[Any], Any], valid: Callable[[Any], bool] = lambda v: True):
    def local(config: SessionConfig, args: tuple) -> None:
        if valid(args[0]):
            setattr(config, field, coerce(args[0]))

    return local


def _filter_spec(v: Any) -> bool:
    from snnstudio.events.filters import FilterError, parse_filters

    try:
        parse_filters(v)
    except (FilterError, TypeError):
        return False
    return True


def _positive(v: Any) -> bool:
    try:
        return float(v) > 0
    except (TypeError, ValueError):
        return False


_MODEL_BOUND = ("set_neuron", "set_enabled", "follow")

#: every control, by name
CONTROLS: dict[str, Control] = {c.name: c for c in (
    Control("set_preprocess", Replay.LAST, order=0, local=_set("preprocess", lambda p: p)),
    Control("set_filters", Replay.LAST, if_ok=True, order=0, local=_set("filters", str, _filter_spec)),
    Control("set_model", Replay.LAST, if_ok=True, order=1, clears=_MODEL_BOUND),
    Control("set_compare", Replay.LAST, if_ok=True, order=2),
    Control("set_dt", Replay.LAST, order=3),
    Control("set_window", Replay.LAST, order=4),
    Control("set_speed", Replay.LAST, order=5, local=_set("speed", float, _positive)),
    Control("set_loop", Replay.LAST, order=6, local=_set("loop", bool)),
    Control("set_realtime", Replay.LAST, order=7, local=_set("realtime", bool)),
    Control("open", Replay.LAST, if_ok=True, order=8, clears=("seek",)),
    Control("set_neuron", Replay.IN_ORDER, if_ok=True, order=9, clears=("set_enabled", "follow")),
    Control("set_enabled", Replay.KEYED, order=10, key=lambda a: a[0]),
    Control("follow", Replay.KEYED, order=11, key=lambda a: (a[0], int(a[1]))),
    Control("seek", Replay.POSITION, order=12),
    Control("play"),
    Control("pause"),
    Control("toggle_play"),
    Control("step"),
    Control("step_back"),
    Control("export_nir"),
)}


def normalise(name: str, args: tuple, kw: dict) -> tuple[tuple, dict]:
    """``(args, kwargs)`` of a call to control ``name`` bound to its signature, defaults filled in
    (so ``set_enabled(module="x", enabled=False)`` and ``set_enabled("x", False)`` are one call);
    a call that does not fit the signature is a :class:`TypeError`, here and now."""
    bound = CONTROLS[name].signature.bind(None, *args, **kw)
    bound.apply_defaults()
    return bound.args[1:], bound.kwargs


def forward_controls(cls: type) -> type:
    """Class decorator: give ``cls`` every control of :data:`CONTROLS` it does not define itself,
    each calling ``self._control(name, args, kwargs)`` with the call normalised (:func:`normalise`),
    with the control's signature and docstring."""
    for name in CONTROLS:
        if name in cls.__dict__:
            continue

        def method(self, *args, _name=name, **kw):
            a, k = normalise(_name, args, kw)
            return self._control(_name, a, k)

        method.__name__ = name
        method.__qualname__ = f"{cls.__qualname__}.{name}"
        method.__doc__ = CONTROLS[name].doc
        method.__signature__ = CONTROLS[name].signature
        method.__module__ = cls.__module__
        setattr(cls, name, method)
    return cls


Call = tuple[str, tuple, dict]


class ReplayLog:
    """The calls that bring a fresh engine back to where the lost one was (see module docstring)."""

    def __init__(self):
        self._calls: dict[tuple[str, Any], tuple[tuple, dict]] = {}
        self._n = 0

    def record(self, name: str, args: tuple, kw: dict) -> None:
        """Note a call that ran (normalised, see :func:`normalise`)."""
        c = CONTROLS[name]
        if c.replay is Replay.NEVER:
            return
        for other in c.clears:
            for k in [k for k in self._calls if k[0] == other]:
                del self._calls[k]
        if c.replay is Replay.KEYED:
            key = c.key(args)
        elif c.replay is Replay.IN_ORDER:
            key = self._n = self._n + 1
        else:
            key = None
        self._calls.pop((name, key), None)
        self._calls[(name, key)] = (args, kw)

    def discard(self, name: str, args: tuple, kw: dict) -> None:
        """Forget a recorded call (a replayed call that failed in the new engine)."""
        for k, v in list(self._calls.items()):
            if k[0] == name and v[0] is args:  # the very tuple replayed (recordings do not compare)
                del self._calls[k]

    def position(self, t_us: int) -> None:
        """The newest shown position (µs): replayed as ``seek(t_us)``, last."""
        self.record("seek", (int(t_us),), {})

    def calls(self) -> list[Call]:
        """The recorded calls in replay order."""
        items = sorted(self._calls.items(), key=lambda kv: CONTROLS[kv[0][0]].order)  # stable: call order within a rank
        return [(name, args, kw) for (name, _), (args, kw) in items]

    def describe(self) -> str:
        """One line: what the replay brings back (for the restart message)."""
        parts = []
        for name, args, _ in self.calls():
            if name == "open":
                t = args[0]
                parts.append(f"source {Path(t).name if isinstance(t, (str, Path)) else type(t).__name__}")
            elif name == "set_model":
                parts.append(f"model {args[0] or 'default' if isinstance(args[0], (str, type(None))) else type(args[0]).__name__}")
            elif name == "set_compare" and args[0]:
                parts.append(f"{len(args[0])} compared")
            elif name == "set_neuron":
                parts.append(f"neuron {args[0]}")
            elif name == "set_enabled":
                parts.append(f"{args[0]} {'on' if args[1] else 'off'}")
            elif name == "seek":
                parts.append(f"position {args[0] / 1e6:.2f} s")
        settings = sum(1 for name, _, _ in self.calls() if CONTROLS[name].replay is Replay.LAST and name not in ("open", "set_model", "set_compare"))
        if settings:
            parts.append(f"{settings} setting{'s' if settings > 1 else ''}")
        return ", ".join(parts) or "nothing to restore"
