"""A model's prediction timeline over a source, through the studio's own :class:`Session`, and how
fast it recognises labelled gestures (``snnstudio predict``). Qt-free.

:class:`Predictor` drives one session flat out (``realtime=False``, no loop): every step the
session makes becomes a :class:`Step` (its window ``[t_start_us, t_end_us)`` in µs, the predicted
class, its confidence and the class probabilities — the very snapshot the studio would draw).
A file plays to its end; a live source until ``stop_us`` or until the caller stops.

Scoring (pure functions, no session): a :class:`Gesture` is a labelled range ``[start_us,
end_us)`` of one model class. Its steps are those whose window ends in ``(start_us, end_us]``;
the **prediction at its end** is its last step's; the **time to recognition** is ``t_end_us −
start_us`` of the first step from which the prediction is right at every step up to the
gesture's end (``None`` when its last step is wrong, or it has no step).
"""

from __future__ import annotations

import queue
import statistics
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from snnstudio.errors import SnnStudioError

OTHER = "other"


@dataclass(frozen=True)
class Step:
    """One session step: window ``[t_start_us, t_end_us)`` (µs), ``predicted`` class index
    (``None`` while the read-out is flat), ``confidence`` (its probability), ``probabilities``
    per class, and the source's own ``label`` at that time (class id, where it has labels)."""

    t_start_us: int
    t_end_us: int
    predicted: int | None
    confidence: float
    probabilities: tuple[float, ...] = ()
    label: int | None = None


@dataclass(frozen=True)
class Gesture:
    """A labelled range ``[start_us, end_us)`` (µs) of model class ``class_id`` (named ``name``)."""

    class_id: int
    start_us: int
    end_us: int
    name: str = ""


@dataclass(frozen=True)
class GestureResult:
    """How a gesture was predicted: at its end (``predicted``, ``correct``) and ``ttr_us``, the
    time to recognition (µs from its start; ``None``: not recognised by its end)."""

    gesture: Gesture
    predicted: int | None
    correct: bool
    ttr_us: int | None
    steps: int = 0


@dataclass
class Timeline:
    """Every step of one run, plus what the session said about it."""

    steps: list[Step] = field(default_factory=list)
    class_names: tuple[str, ...] = ()
    step_us: int = 0
    model: str = ""
    source: str = ""
    ended: bool = False
    #: what the session's preprocessing did to the source (``640×480 → ROI 480×480 … → 128×128``)
    preprocess_note: str = ""
    #: the source's own label names (class id → name), where it has labels
    source_classes: dict[int, str] | None = None


# ---------------------------------------------------------------------------------------------
# scoring


def gesture_steps(steps: Sequence[Step], start_us: int, end_us: int) -> list[Step]:
    """The steps whose window ends inside ``(start_us, end_us]`` (in order)."""
    return [s for s in steps if start_us < s.t_end_us <= end_us]


def time_to_recognition(steps: Sequence[Step], class_id: int, start_us: int, end_us: int) -> int | None:
    """µs from ``start_us`` to the end of the first step from which every step up to ``end_us``
    predicts ``class_id``; ``None`` when the last step before ``end_us`` is wrong (or there is none)."""
    inside = gesture_steps(steps, start_us, end_us)
    first = None
    for s in reversed(inside):
        if s.predicted != class_id:
            break
        first = s
    return None if first is None else int(first.t_end_us - start_us)


def score_gesture(steps: Sequence[Step], g: Gesture) -> GestureResult:
    inside = gesture_steps(steps, g.start_us, g.end_us)
    pred = inside[-1].predicted if inside else None
    return GestureResult(g, pred, pred is not None and pred == g.class_id,
                         time_to_recognition(steps, g.class_id, g.start_us, g.end_us), len(inside))


def labels_from_steps(steps: Sequence[Step], class_names: dict[int, str] | None = None) -> list:
    """The ground truth a live labelled source (the synthetic generator) stamped on its steps, as
    :class:`~snnstudio.events.types.Label` ranges: one per run of steps with the same label
    (``[first step's start, last step's end)`` µs; unlabelled steps separate runs)."""
    from snnstudio.events.types import Label

    out: list = []
    run: list[Step] = []
    for s in [*steps, None]:
        if run and (s is None or s.label != run[-1].label):
            cid = run[0].label
            out.append(Label(cid, run[0].t_start_us, run[-1].t_end_us, (class_names or {}).get(cid)))
            run = []
        if s is not None and s.label is not None:
            run.append(s)
    return out


def summarize(results: Sequence[GestureResult], class_names: Sequence[str]) -> dict:
    """Accuracy at the gestures' ends (all; ``motion`` = every class but ``other``; ``other``),
    per-class accuracy, and the median time to recognition (ms) of the recognised motion
    gestures (``other`` is what the model should say when nothing happens, so its "recognition"
    is not a latency) and of all recognised ones."""
    names = list(class_names)

    def acc(rs):
        return sum(r.correct for r in rs) / len(rs) if rs else None

    def median_ms(rs):
        t = [r.ttr_us for r in rs if r.ttr_us is not None]
        return statistics.median(t) / 1000 if t else None

    def is_other(r):
        return 0 <= r.gesture.class_id < len(names) and names[r.gesture.class_id] == OTHER

    motion = [r for r in results if not is_other(r)]
    other = [r for r in results if is_other(r)]
    per_class = {}
    for c, name in enumerate(names):
        rs = [r for r in results if r.gesture.class_id == c]
        if rs:
            per_class[name] = {"accuracy": acc(rs), "samples": len(rs)}
    return {
        "gestures": len(results),
        "accuracy": acc(results),
        "motion_gestures": len(motion),
        "motion_accuracy": acc(motion),
        "other_gestures": len(other),
        "other_accuracy": acc(other),
        "recognised": sum(r.ttr_us is not None for r in results),
        "median_ttr_ms": median_ms(motion),
        "median_ttr_ms_all": median_ms(results),
        "per_class": per_class,
    }


# ---------------------------------------------------------------------------------------------
# running a session


class Predictor:
    """One :class:`~snnstudio.engine.session.Session` (flat out, no loop) with ``model`` loaded;
    :meth:`run` plays one source through it and returns its :class:`Timeline`. ``dt_us``: the
    step (µs; the session's default when ``None``); ``preprocess``: a
    :class:`~snnstudio.events.preprocess.Preprocess` for every source (``None``: the session's);
    ``filters``: an event-filter spec (:func:`snnstudio.events.filters.parse_filters`) for every source."""

    def __init__(self, model: str = "default", dt_us: int | None = None, preprocess=None, filters: str = ""):
        from snnstudio.engine.session import Session, SessionConfig

        cfg = SessionConfig(realtime=False, loop=False)
        if dt_us is not None:
            if int(dt_us) < 1:
                raise SnnStudioError(f"the step must be at least 1 µs, got {dt_us}")
            cfg.dt_us = int(dt_us)
        if preprocess is not None:
            cfg.preprocess = preprocess
        if filters:
            from snnstudio.events.filters import format_filters, parse_filters

            cfg.filters = format_filters(parse_filters(filters))
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._done = threading.Event()
        self._stop_us: int | None = None
        self.session = Session(cfg, on_snapshot=self._got, on_message=self._said, on_state=self._state)
        self.session.start()
        self.model = model
        #: the model's class names (known once a source is open)
        self.class_names: tuple[str, ...] = ()
        self.session.set_model(model)
        self._check(self.session.sync(120), "loading the model timed out")

    # callbacks (worker thread)
    def _got(self, snap) -> None:
        if self._done.is_set():  # past the stop: the worker may make a step or two before it pauses
            return
        probs = tuple(float(p) for p in snap.probabilities) if snap.probabilities is not None else ()
        # a model without class names (a bare NIR graph, your own network): its outputs by number
        self._q.put(("names", tuple(snap.class_names) or tuple(str(i) for i in range(len(probs)))))
        self._q.put(Step(int(snap.t_start_us), int(snap.t_end_us), snap.predicted, float(snap.confidence), probs,
                         snap.label))
        if self._stop_us is not None and snap.t_end_us >= self._stop_us:
            self._done.set()

    def _said(self, text: str) -> None:
        self._q.put(("message", text))
        self._done.set()

    def _state(self, st) -> None:
        if st.ended:
            self._done.set()

    def _check(self, ok: bool, what: str) -> None:
        msgs = list(self.session.messages)
        if msgs:
            raise SnnStudioError(msgs[-1])
        if not ok:
            raise SnnStudioError(what)

    def run(self, target, *, live: bool | None = None, stop_us: int | None = None, seconds: float | None = None,
            on_step: Callable[[Step], None] | None = None, name: str = "") -> Timeline:
        """Play ``target`` (anything ``Session.open`` takes) flat out; stop at its end, after the
        first step ending at or after ``stop_us`` (µs, stream clock; that step is kept), after ``seconds`` of stream time,
        or on Ctrl-C (the steps so far are kept, then ``KeyboardInterrupt`` propagates unless
        some steps were made). ``on_step(step)`` is called in this thread as steps arrive."""
        s = self.session
        s.messages.clear()
        self._done.clear()
        self._stop_us = stop_us
        while True:  # drain leftovers of a previous run
            try:
                self._q.get_nowait()
            except queue.Empty:
                break
        s.open(target, live)
        self._check(s.sync(120), "opening the source timed out")
        st = s.state
        self.class_names = tuple(st.model.class_names) if st.model else ()
        tl = Timeline(class_names=tuple(st.model.class_names) if st.model else (), step_us=int(st.dt_us),
                      model=st.model.name if st.model else str(self.model), source=name or st.source_name,
                      preprocess_note=st.preprocess_note, source_classes=st.source_classes)
        error = None
        s.play()
        try:
            while True:
                finished = self._done.wait(0.1)
                while True:
                    try:
                        item = self._q.get_nowait()
                    except queue.Empty:
                        break
                    if isinstance(item, Step):
                        if seconds is not None and tl.steps and item.t_end_us - tl.steps[0].t_start_us > seconds * 1e6:
                            finished = True
                            self._done.set()
                            continue
                        tl.steps.append(item)
                        if on_step is not None:
                            on_step(item)
                    elif item[0] == "names":
                        tl.class_names = self.class_names = item[1]
                    elif item[0] == "message" and error is None:
                        error = item[1]
                if finished:
                    break
        except KeyboardInterrupt:
            s.pause()
            if not tl.steps:
                raise
        s.pause()
        s.sync(10)
        if error is not None:
            raise SnnStudioError(error)
        tl.ended = bool(s.state.ended)
        return tl

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Predictor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
