"""The streaming session: source → fixed-``dt`` windows → model (+ read-out) → :class:`Snapshot`.

Qt-free. One worker thread owns the windows, the model and the pacing; every control call from
any thread (play, seek, toggle a module, swap the model, ...) is queued and run by that worker
between steps, so the model is never touched by two threads. Delivery is *coalescing*: the
newest snapshot sits in a one-slot ``latest()`` and is passed to ``on_snapshot`` — a slow consumer
simply reads the newest and never sees a queue of stale ones.

Step and frame: ``dt_us`` is the **step** — how often the stream advances and a snapshot is made
(10 ms by default). A trained model sees **frames** of its own trained ``dt`` (e.g. 150 ms): when
that is a multiple of the step, its runner sums that many steps per frame over a sliding window
of the last T frames (see :mod:`snnstudio.engine.runner`), so the prediction updates every step
on the input the model was trained on; otherwise the session runs it at its trained dt as the
step. An explicit ``set_dt`` is always obeyed (the runner then uses the nearest whole number of
steps per frame and says so).

Pacing: a recording plays on the stream clock scaled by ``speed`` (a step is computed once its
window has fully elapsed in wall time); when the model is slower than that the session catches up
in batches (up to ``max_batch`` due steps evaluated together, the same results as one by one) and
otherwise lags, which shows in the counters (``realtime_factor`` < 1); with ``adaptive_step`` a
session that keeps falling behind coarsens its step instead (a window model's prediction still
sees the frames it was trained on, it just updates less often). A live source paces itself
(the worker blocks on it). Each snapshot carries the wall times at which its window's events
arrived (``wall_window_s``), from which the GUI side measures end-to-end latency. Errors from the source or the model become a one-line message
(``on_message``) and pause the session; they never propagate out of the worker.
"""

from __future__ import annotations

import threading
import time
import traceback
import warnings
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from queue import Empty, SimpleQueue

import numpy as np

from snnstudio.engine.runner import ModelRunner, _ro, rates_to_probabilities
from snnstudio.engine.snapshot import Counters, Metrics, Snapshot
from snnstudio.engine.controls import SessionControls
from snnstudio.engine.slot import SnapshotSlot
from snnstudio.engine.spec import ModelSpec
from snnstudio.engine.types import ModelInfo, SessionConfig, SessionState, Variant  # noqa: F401 - re-exported
from snnstudio.engine.variant_watch import VariantWatch, trained_alternative
from snnstudio.engine.windows import FilteredWindows, RecordingWindows, StreamWindows, Window, count_frame
from snnstudio.errors import SnnStudioError, SnnStudioWarning, SourceError
from snnstudio.events.preprocess import Preprocess, PreprocessedSource, default_preprocess
from snnstudio.events.sources.base import EventSource
from snnstudio.events.sources.kinds import FRAME_KINDS, LIVE_KINDS, SELF_PACED_KINDS
from snnstudio.events.types import EventRecording

#: feature maps and attention maps are read out at most this often (s) while a stream plays: the
#: window ticks at most 50 times a second (``SessionModel``'s ``display_hz``), so a read-out more often
#: is never drawn (`snnstudio bench --only stream`'s probe_overhead)
DETAIL_INTERVAL_S = 1 / 50


def _build_kernels_aside() -> None:
    """Compile the neuron kernels (:mod:`snnstudio.snn.functional.native`) in a background
    thread when this machine has not built them yet (the first start after an install): a window
    step of the default model runs ~1.8× slower on the eager fallback. Steps use the eager path
    until the build (a few seconds of ``cc``, cached on disk) lands; never on the GUI thread."""
    from snnstudio.snn.functional import native

    if native.load() is None:
        threading.Thread(target=native.build, name="snn-kernel-build", daemon=True).start()


def _is_live_spec(spec: str) -> bool:
    """``camera``, ``webcam:1``, ``network:HOST:PORT``, ``synthetic`` ... (and not a file path)."""
    return spec.split(":", 1)[0] in LIVE_KINDS and not Path(spec).exists()


def _message(exc: BaseException) -> str:
    if isinstance(exc, SnnStudioError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class Session(SnapshotSlot, SessionControls):
    """A streaming session (see module docstring). Call :meth:`start` then the controls (their
    meaning: :class:`~snnstudio.engine.controls.SessionControls`); :meth:`close` stops the worker
    and releases the source."""

    def __init__(self, *args, **kw):
        """``config``, ``on_snapshot``, ``on_message``, ``on_state`` (see :class:`SnapshotSlot`)."""
        super().__init__(*args, **kw)
        #: called on the worker after each control has run: ``on_done(name, ok)`` (``ok``: without
        #: error), in call order — how the engine process tells its proxy what to replay
        self.on_done: Callable[[str, bool], None] | None = None
        self._q: SimpleQueue[Callable[[], None]] = SimpleQueue()
        self._windows: RecordingWindows | StreamWindows | None = None
        self._runner: ModelRunner | None = None
        self._model_spec = None
        self._companions: list[ModelRunner] = []
        self._compare_specs: list = []
        #: the step the user asked for (``config.dt_us`` may differ: a stateful trained model runs at its own dt)
        self._user_dt_us = self.config.dt_us
        self._playing = False
        self._pending_steps = 0
        self._index = 0
        self._anchor: tuple[float, int] | None = None
        self._history: deque[tuple[float, int, int]] = deque()
        self._dropped = 0
        self._shed = 0  # steps shed since the source opened (see SessionConfig.shed_load)
        self._stop = False
        self._thread: threading.Thread | None = None
        self._behind: list[float] = []  # wall times at which paced playback fell far behind
        #: what was opened last (to open it again with new preprocessing) and how the models see it:
        #: (preprocessing, source size, box the model sees, rate factor)
        self._target = None
        self._input: tuple | None = None
        self._loaded = None  # (spec, LoadedModel) loaded before a runner was built for it
        self._model_error: str | None = None  # why the last set_model failed (said again while none runs)
        #: watches a neuron swap or a module switched off for signs it runs untrained (it says so once)
        self._variant_watch: VariantWatch | None = None
        self._said_after_open: list[str] = []  # a file's read warnings, said once it is open

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Session:
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="snnstudio-session", daemon=True)
            self._thread.start()
        return self

    def close(self, timeout: float = 5.0) -> None:
        self._stop = True
        self._q.put(lambda: None)
        if self._thread is not None:
            self._thread.join(timeout)
        if self._runner is not None:  # its background meter must not outlive the session mid-forward
            self._runner.stop_meter(timeout)
        if self._windows is not None:
            try:
                self._windows.close()
            except Exception:  # closing a dead device must not raise at shutdown
                pass

    def sync(self, timeout: float = 30.0) -> bool:
        """Block until every control queued so far has run (tests, scripts)."""
        done = threading.Event()
        self._q.put(done.set)
        return done.wait(timeout)

    # ------------------------------------------------------------------ controls (any thread; documented in SessionControls)
    def open(self, target: str | Path | EventRecording | EventSource, live: bool | None = None) -> None:
        self._queue("open", lambda: self._open(target, live))

    def set_preprocess(self, pre: Preprocess) -> None:
        self.config.preprocess = pre

        def cmd():
            target = self._target
            if target is None or isinstance(target, EventSource):  # a source object cannot be reopened
                self._publish_state()
                return
            cursor = self._windows.cursor_us if self._windows is not None and self._windows.seekable else None
            self._open(target, None)
            if cursor is not None:
                self._seek(cursor, show=not self._playing)

        self._queue("set_preprocess", cmd)

    def set_filters(self, spec: str) -> None:
        self._queue("set_filters", lambda: self._set_filters(spec))

    def set_model(self, spec=None) -> None:
        def cmd():
            try:
                self._set_model(spec)
                self._model_error = None
            except Exception as exc:
                self._model_error = _message(exc)
                if self._runner is None:
                    # nothing runs yet: a source opened next must say this error again, never
                    # play the default model instead (``gui --model broken.nir``)
                    self._model_spec = spec
                raise

        self._queue("set_model", cmd)

    def set_neuron(self, name: str) -> None:
        def cmd():
            from snnstudio.engine.models import with_neuron

            runner = self._runner_or_raise()
            base = runner.name.split(" [")[0]
            self._set_model(with_neuron(runner.model, name, base))
            cfg = getattr(self._runner.model, "config", None)
            self._variant_watch = VariantWatch(
                f"the neuron swap to {name}",
                trained_alternative(getattr(cfg, "arch", None), name, getattr(cfg, "attention", None)))

        self._queue("set_neuron", cmd)

    def set_compare(self, specs) -> None:
        def cmd():
            try:
                self._set_compare(list(specs))
            finally:  # ran, well or not: the window's columns follow what runs now
                self._publish_state(compare=tuple(self._compare_specs), compare_runs=self._state.compare_runs + 1)

        self._queue("set_compare", cmd)

    def play(self) -> None:
        self._queue("play", lambda: self._set_playing(True))

    def pause(self) -> None:
        self._queue("pause", lambda: self._set_playing(False))

    def toggle_play(self) -> None:
        self._queue("toggle_play", lambda: self._set_playing(not self._playing))

    def step(self, n: int = 1) -> None:
        def cmd():
            self._set_playing(False)
            self._pending_steps += n

        self._queue("step", cmd)

    def step_back(self) -> None:
        def cmd():
            self._set_playing(False)
            if self._windows is not None and self._windows.cursor_us is not None:
                self._seek(self._windows.cursor_us - 2 * self.config.dt_us, show=True)

        self._queue("step_back", cmd)

    def seek(self, t_us: int) -> None:
        self._queue("seek", lambda: self._seek(int(t_us), show=not self._playing))

    def set_speed(self, speed: float) -> None:
        def cmd():
            if not speed > 0:
                raise SnnStudioError(f"speed must be positive, got {speed}")
            self.config.speed = float(speed)
            self._anchor = None
            self._publish_state()

        self._queue("set_speed", cmd)

    def set_loop(self, loop: bool) -> None:
        def cmd():
            self.config.loop = bool(loop)
            self._publish_state()

        self._queue("set_loop", cmd)

    def set_realtime(self, realtime: bool) -> None:
        def cmd():
            self.config.realtime = bool(realtime)
            self._anchor = None

        self._queue("set_realtime", cmd)

    def set_dt(self, dt_us: int) -> None:
        def cmd():
            if int(dt_us) < 1:
                raise SnnStudioError(f"dt must be at least 1 µs, got {dt_us}")
            self.config.dt_us = self._user_dt_us = int(dt_us)
            self._restart_stream()
            for r in self._runners():
                if r.frame_mismatch:
                    self._say(r.frame_mismatch)

        self._queue("set_dt", cmd)

    def set_window(self, T: int) -> None:
        def cmd():
            if self._runner is not None:
                self._runner.set_window(int(T))
            self.config.window_T = int(T)
            self._restart_stream()

        self._queue("set_window", cmd)

    def set_enabled(self, module: str, enabled: bool) -> None:
        def cmd():
            runner = self._runner_or_raise()
            runner.set_enabled(module, enabled)
            self._watch_switch(runner, module, enabled)
            self._publish_state()

        self._queue("set_enabled", cmd)

    def follow(self, layer: str, index: int, on: bool = True) -> None:
        self._queue("follow", lambda: self._runner_or_raise().follow(layer, int(index), on))

    def export_nir(self, path: str) -> None:
        def cmd():
            try:
                self._say(self._export_nir(str(path)))
            except Exception as exc:  # said, and playback goes on (a refusal is not a broken stream)
                self._say(f"export as NIR: {_message(exc)}")

        self._queue("export_nir", cmd)

    def _export_nir(self, path: str) -> str:
        from snnstudio.safe_files import check_output
        from snnstudio.snn.nir_io import export_zoo_model, save_nir

        runner = self._runner_or_raise()
        cfg = getattr(runner.model, "config", None)
        if cfg is None or not hasattr(cfg, "dt_us"):
            raise SnnStudioError(f"{runner.name} is not one of the studio's own networks; only those export as NIR here")
        check_output(path)
        graph = export_zoo_model(runner.model, cfg, getattr(runner.model, "trained_sensor", None))
        out = save_nir(graph, path)
        return (f"wrote {out}: {runner.name} as NIR (T = {cfg.T} steps of {cfg.dt_us / 1000:g} ms); "
                f"File → Open model… plays it")

    def add_window_tap(self, fn: Callable) -> None:
        """Also hand every window the session plays (``windows.Window``) to ``fn``, on the worker
        thread (the studio's AEDAT4 recorder); ``fn`` must be quick and must not raise."""
        self._taps = (*self._taps, fn)

    def remove_window_tap(self, fn: Callable) -> None:
        self._taps = tuple(f for f in self._taps if f != fn)  # != : a bound method is a new object on each access

    def _queue(self, name: str, cmd: Callable[[], None]) -> None:
        """Queue control ``name``'s work for the worker; it reports to ``on_done`` once run."""

        def run():
            ok = False
            try:
                cmd()
                ok = True
            finally:
                if self.on_done is not None:
                    try:
                        self.on_done(name, ok)
                    except Exception:
                        traceback.print_exc()

        self._q.put(run)

    def call(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the worker between steps (errors become messages)."""
        self._q.put(fn)

    # ------------------------------------------------------------------ worker side
    def _runner_or_raise(self) -> ModelRunner:
        if self._runner is None:
            why = self._model_error
            raise SnnStudioError(f"no model is loaded ({why})" if why else "no model is loaded")
        return self._runner

    def _publish_state(self, **changes) -> None:
        w = self._windows
        info = self._runner.info() if self._runner is not None else None
        self._state = replace(
            self._state,
            playing=self._playing,
            seekable=bool(w is not None and w.seekable),
            start_us=getattr(w, "start_us", None),
            end_us=getattr(w, "end_us", None),
            cursor_us=getattr(w, "cursor_us", None),
            sensor_size=tuple(w.sensor_size) if w is not None else None,
            source_classes=getattr(w, "class_names", None),
            dt_us=self.config.dt_us,
            window_T=self._runner.window_T if self._runner is not None else self.config.window_T,
            speed=self.config.speed,
            loop=self.config.loop,
            model=info,
            filters=self.config.filters,
            source_sensor_size=tuple((w.inner if isinstance(w, FilteredWindows) else w).sensor_size) if w is not None else None,
            **changes,
        )
        if self.on_state is not None:
            try:
                self.on_state(self._state)
            except Exception:
                traceback.print_exc()

    def _open(self, target, live: bool | None) -> None:
        if isinstance(target, str) and target == "demo":
            from snnstudio.engine import demo

            if not demo.bundled_demo_files() and demo.synthetic_available():
                target = "synthetic"
        self._input = None  # (preprocessing, source size, box, gain) of what is being opened
        if isinstance(target, (str, Path)) and Path(str(target)).suffix:
            from snnstudio.events.sources import parse_source_spec

            if parse_source_spec(str(target))[0] == "video" and not str(target).lower().startswith("video:"):
                target = f"video:{target}"  # a video file opened by path (the file dialog, drag and drop)
        if isinstance(target, str) and _is_live_spec(target):
            from snnstudio.engine.prefetch import Prefetched
            from snnstudio.events.sources import open_source

            kind = target.split(":", 1)[0]
            pre = self._preprocess_for(kind)
            if kind in FRAME_KINDS:  # mirrored and scaled before the emulator
                source = open_source(target, preprocess=pre)
                self._input = (pre, source.frame_size, source.model_box, 1.0)
                if kind == "video":
                    self._label_video(source)
            else:
                source = open_source(target)
                size = tuple(source.sensor_size)
                if pre.mirror:
                    source = PreprocessedSource(source, Preprocess(out_size=None, mirror=True, rate="none"))
                self._input = (pre, size, *pre.input_map(size))
            opened = self._input
            if kind in SELF_PACED_KINDS:
                self._open(source, True)
            else:  # a generator: read ahead losslessly, paced on the session's clock
                self._open(Prefetched(source), False)
            self._target, self._input = target, opened
            self._input_after_filters(self._windows)
            self._apply_input()
            self._state = replace(self._state, source_name=target)
            self._publish_state()
            return
        if isinstance(target, (str, Path)):
            path = Path(target)
            if str(target) == "demo":
                from snnstudio.engine.demo import demo_recording

                rec = demo_recording()
                name = rec.path.name if rec.path else "synthetic demo"
            else:
                from snnstudio.events.sources import parse_file_spec

                file, fmt, size = parse_file_spec(str(target))  # file[format=…,sensor=…]:PATH says what it is
                path = Path(file)
                if not path.exists():
                    raise SourceError(f"{path}: no such file")
                rec = self._read_saying_warnings(path, fmt, size)
                name = path.name
            self._target = target
            windows = RecordingWindows(self._mirrored(rec))
        elif isinstance(target, EventRecording):
            self._target = target
            windows = RecordingWindows(self._mirrored(target))
            name = target.path.name if target.path else "recording in memory"
        elif isinstance(target, EventSource):
            self._target = target
            windows = StreamWindows(target, live=True if live is None else live)
            name = getattr(target, "name", None) or type(target).__name__
        else:
            raise SourceError(f"cannot open {type(target).__name__!r} as an event source")
        if windows.seekable and len(windows.recording) == 0:
            raise SourceError(f"{name}: the recording has no events")
        windows = self._filtered(windows)
        if self._input is None:  # a source object: not mirrored, mapped onto the model's sensor
            pre = self._preprocess_for("")
            size = tuple(windows.sensor_size)
            self._input = (pre, size, *pre.input_map(size))
        self._input_after_filters(windows)
        old, self._windows = self._windows, windows
        if old is not None:
            old.close()
        self._index = 0
        self._shed = 0
        self._state = replace(self._state, source_name=name, ended=False)
        if self._runner is None or self._runner.sensor_hw != (windows.sensor_size[1], windows.sensor_size[0]):
            self._set_model(self._model_spec)
            if self._compare_specs:
                self._set_compare(self._compare_specs)
        else:
            for r in self._runners():
                r.reset()
        self._apply_input()
        self._latest = None
        self._anchor = None
        self._publish_state()
        said, self._said_after_open = self._said_after_open, []
        for text in said:  # last: what the window shows once the file is open
            self._say(text)

    def _model_classes(self) -> list[str]:
        """The class names of the model that runs (or will run) the source opened now."""
        if self._runner is not None:
            return list(self._runner.class_names)
        try:
            names = self._load(self._model_spec).class_names
        except SnnStudioError:  # no model loads: the video plays without ground truth (building the runner says why)
            return []
        return list(names.values()) if isinstance(names, dict) else list(names or ())

    def _read_saying_warnings(self, path: Path, fmt: str | None, size: tuple[int, int] | None) -> EventRecording:
        """``read_events`` whose warnings (a truncated or damaged file read in part, a stray
        sidecar) become messages — the window's message bar — as well as staying warnings."""
        from snnstudio.events.io import read_events

        self._said_after_open = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SnnStudioWarning)
            rec = read_events(path, format=fmt, sensor_size=size)
        for w in caught:
            if issubclass(w.category, SnnStudioWarning):
                self._said_after_open.append(f"warning: {w.message}")
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)  # stderr and test capture as before
        return rec

    def _label_video(self, source) -> None:
        """Ground truth for a video file from the nearest ``labels.csv`` naming it (the format of a
        labelled videos folder, :func:`snnstudio.train.videos.labels_for_video`): its gesture
        spans become batch labels, as ids of the model's classes (a label the model does not
        know is left out and said)."""
        try:
            from snnstudio.train.videos import labels_for_video, with_stamped_fps
        except ImportError:  # a slimmed install without train/
            return
        clips = labels_for_video(source.name)
        if not clips:
            return
        names = self._model_classes()
        if not names:
            return
        spans, unknown = [], []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for clip in clips:
                clip = with_stamped_fps(clip, source.fps)
                if clip.label not in names:
                    unknown.append(clip.label)
                    continue
                end = clip.end_us(None) if clip.end_frame is not None else 2**62
                spans.append((clip.start_us, end, names.index(clip.label)))
        for w in caught:
            self._say(str(w.message))
        if unknown:
            self._say(f"{Path(source.name).name}: labels {', '.join(sorted(set(unknown)))} are not classes of the model (shown without them)")
        if spans:
            source.set_labels(spans, dict(enumerate(names)))

    def _filtered(self, windows):
        """``windows`` through the session's filters (``config.filters``), or as they are when none;
        a recording's hot pixels are learnt from the whole of it."""
        from snnstudio.events.filters import FilterChain

        inner = windows.inner if isinstance(windows, FilteredWindows) else windows
        chain = FilterChain(self.config.filters, inner.sensor_size)
        if not chain.specs:
            return inner
        if inner.seekable and any(s.name == "hot" for s in chain.specs):
            chain.fit(inner.recording.events)
        return FilteredWindows(inner, chain)

    def _input_after_filters(self, windows) -> None:
        """When crop / downsample change the sensor, the model sees the filtered sensor (the
        preprocessing's box is taken on it, not on the source's)."""
        if self._input is None or not isinstance(windows, FilteredWindows):
            return
        size = tuple(windows.sensor_size)
        if size != tuple(windows.inner.sensor_size):
            pre = self._input[0]
            self._input = (pre, size, *pre.input_map(size))

    def _set_filters(self, spec: str) -> None:
        from snnstudio.events.filters import format_filters, parse_filters

        text = format_filters(parse_filters(spec))  # a bad spec: a message, nothing changes
        self.config.filters = text
        w = self._windows
        if w is None:
            self._publish_state()
            return
        new = self._filtered(w)
        if tuple(new.sensor_size) == tuple(w.sensor_size):  # in place: the model keeps its input map
            self._windows = new
            if new.seekable and self._latest is not None:
                self._restart_stream()  # re-primed at the same position, on filtered events
            else:
                self._publish_state()
            return
        target = self._target
        if target is not None and not isinstance(target, EventSource):  # open again at the new size
            cursor = w.cursor_us if w.seekable else None
            self._open(target, None)
            if cursor is not None:
                self._seek(cursor, show=not self._playing)
            return
        self._windows = new  # a source object: the same stream, the model rebuilt for its new size
        self._input_after_filters(new)
        self._set_model(self._model_spec)
        self._apply_input()
        self._publish_state()

    def _preprocess_for(self, kind: str) -> Preprocess:
        """``config.preprocess`` for a source of ``kind`` (its mirror default) and the model's
        trained sensor (the model is loaded first when none is yet)."""
        if self._runner is not None:
            model = self._runner.model
        else:
            try:
                model = self._load(self._model_spec).module
            except SnnStudioError:  # the source still opens; building the runner then says why
                model = None
        trained = getattr(model, "trained_sensor", None)
        return default_preprocess(kind, self.config.preprocess).for_model(trained)

    def _load(self, spec):
        """The model of ``spec``, loaded once: what :meth:`_preprocess_for` loads to learn its trained
        sensor before a source is open is what :meth:`_build_runner` then runs (not a second load)."""
        from snnstudio.engine.models import load_model

        cached = self._loaded
        if cached is not None and (cached[0] is spec or (isinstance(spec, (str, ModelSpec)) and cached[0] == spec)):
            return cached[1]
        loaded = load_model(spec)
        self._loaded = (spec, loaded)
        return loaded

    def _mirrored(self, rec: EventRecording) -> EventRecording:
        """``rec`` flipped left-right when the preprocessing says so (recordings: off by default);
        records what the model will see of it."""
        pre = self._preprocess_for("file")
        size = tuple(rec.sensor_size)
        self._input = (pre, size, *pre.input_map(size))
        if not pre.mirror or len(rec) == 0:
            return rec
        from snnstudio.events.filters import flip

        return replace(rec, events=flip(rec.events, size, x=True), meta={**rec.meta, "mirrored": True})

    def _apply_input(self) -> None:
        """Give every runner the part of the sensor it sees and the rate factor; say so in the state."""
        if self._input is None:
            return
        pre, size, box, gain = self._input
        for r in self._runners():
            r.set_input_map(box, gain)
        self._state = replace(self._state, preprocess=pre, preprocess_note=pre.describe(size), input_box=box)

    def _load_variant(self, v: Variant):
        """The companion of :class:`Variant` ``v``: its base loaded afresh (never the main runner's
        module), the neuron swapped and the switches applied to this copy only."""
        import copy

        from snnstudio.engine.models import LoadedModel, load_model, with_neuron
        from snnstudio.train.evaluate import apply_switches

        base = self._model_spec if v.base_spec is None else v.base_spec
        loaded = load_model(base)
        if loaded is base or (self._runner is not None and loaded.module is self._runner.model):
            # an in-memory model (a neuron swap, an nn.Module): a copy without the probes' hooks
            module = copy.deepcopy(loaded.module)
            for m in module.modules():
                m._forward_hooks.clear()
                m._forward_pre_hooks.clear()
            loaded = LoadedModel(module, loaded.name, loaded.class_names)
        name = loaded.name
        if v.neuron:
            loaded = with_neuron(loaded.module, v.neuron, name)
        apply_switches(loaded.module, dict(v.switches))
        return LoadedModel(loaded.module.eval(), f"{name} [{v.label}]", loaded.class_names)

    def _build_runner(self, spec) -> ModelRunner:
        loaded = self._load_variant(spec) if isinstance(spec, Variant) else self._load(spec)
        self._loaded = None  # a runner owns its module from now on (a second runner loads its own)
        size = self._windows.sensor_size if self._windows is not None else (128, 128)
        return ModelRunner(
            loaded.module,
            name=loaded.name,
            class_names=loaded.class_names,
            window_T=self.config.window_T,
            raster_neurons=self.config.raster_neurons,
            feature_channels=self.config.feature_channels,
            sensor_hw=(size[1], size[0]),
            step_us=self.config.dt_us,
            # SOPs / energy twice a second while playing, on every step stepped by hand, metered
            # in a background thread (a metered step costs ~2 window steps)
            cost_every=128,
            cost_interval_s=0.5,
            meter_aside=True,
            detail_interval_s=DETAIL_INTERVAL_S,
        )

    def _watch_switch(self, runner: ModelRunner, module: str, enabled: bool) -> None:
        """Watch a module switched off (a variant the weights were not trained as); switching
        every module back on ends the watch."""
        switches = [m.enabled for n, m in runner.model.named_modules() if n and hasattr(m, "enabled")]
        if all(switches):
            self._variant_watch = None
            return
        if enabled:
            return
        cfg = getattr(runner.model, "config", None)
        alt = trained_alternative(getattr(cfg, "arch", None), getattr(cfg, "neuron", None), "none") \
            if not any(switches) else None
        self._variant_watch = VariantWatch(f"switching {module} off", alt)

    def _set_model(self, spec) -> None:
        self._variant_watch = None
        old = self._input[0] if self._input is not None else None
        self._runner, self._model_spec = self._build_runner(spec), spec
        self._follow_loaded_model()
        trained = getattr(self._runner.model, "trained_sensor", None)
        if old is not None and self._target is not None and not isinstance(self._target, EventSource) \
                and replace(self.config.preprocess, mirror=old.mirror).for_model(trained) != old:
            self._open(self._target, None)  # a model trained on another sensor: map the source anew
            return
        self._apply_input()
        # a trained model sees the world in frames of its own dt: when that is a multiple of the
        # step, it gets frames of that many steps (the step stays, the prediction updates every
        # step, see runner); otherwise it runs at its trained dt as the step (the user can
        # still change dt: set_dt)
        user, trained = self._user_dt_us, self._runner.trained_frame_us
        # (a network of another library streams stateful only: it always steps at its own frame)
        self.config.dt_us = trained if trained and (trained % user or self._runner.peers) else user
        self._restart_stream()

    def _follow_loaded_model(self) -> None:
        """Companions that are variants of the loaded model (``Variant(None, …)``) follow a model
        swap; one that does not fit the new model (no attention to switch off …) is dropped,
        with a message — the swap itself stands."""
        if not any(isinstance(s, Variant) and s.base_spec is None for s in self._compare_specs):
            return
        keep_specs, keep = [], []
        for spec, old in zip(self._compare_specs, self._companions):
            if not (isinstance(spec, Variant) and spec.base_spec is None):
                keep_specs.append(spec)
                keep.append(old)
                continue
            try:
                keep.append(self._build_runner(spec))
                keep_specs.append(spec)
            except Exception as exc:
                self._say(f"compare: {spec.label} dropped — {_message(exc)}")
        self._compare_specs, self._companions = keep_specs, keep
        self._state = replace(self._state, compare=tuple(keep_specs))
        self._apply_input()

    def _set_compare(self, specs) -> None:
        if len(specs) > 3:
            raise SnnStudioError(f"compare runs up to 4 models side by side, got {1 + len(specs)}")
        self._companions = [self._build_runner(spec) for spec in specs]
        self._apply_input()
        self._compare_specs = list(specs)
        self._state = replace(self._state, compare=tuple(self._compare_specs))
        self._restart_stream()

    def _runners(self) -> list[ModelRunner]:
        return ([self._runner] if self._runner is not None else []) + self._companions

    def _restart_stream(self) -> None:
        """Re-prime the model at the current position (after dt/T/model changes)."""
        if self._runner is None:
            return
        for r in self._runners():
            if r.step_us != self.config.dt_us:
                r.set_step(self.config.dt_us)
        w = self._windows
        if w is not None and w.seekable and w.cursor_us is not None and self._latest is not None:
            self._seek(self._latest.t_start_us, show=False)
        else:
            for r in self._runners():
                r.reset()
        self._anchor = None
        self._publish_state()

    def _set_playing(self, playing: bool) -> None:
        if playing and self._state.ended and self._windows is not None and self._windows.seekable:
            self._seek(self._windows.start_us, show=False)
        self._playing = playing
        self._anchor = None
        self._publish_state(ended=False if playing else self._state.ended)

    def _seek(self, t_us: int, show: bool) -> None:
        w = self._windows
        if w is None:
            return
        if not w.seekable:
            raise SourceError(f"{self._state.source_name}: a live source cannot seek")
        self._runner_or_raise()
        dt = self.config.dt_us
        t_us = int(min(max(t_us, w.start_us), w.end_us - 1))
        runners = self._runners()
        for r in runners:
            r.reset()
        # prime: the models see the steps before the target, as if they had played up to it
        # (window models the T frames of alpha steps each, binned in one go)
        k = min(max(r.prime_steps for r in runners), max(0, (t_us - w.start_us) // dt))
        if k:
            w.seek(t_us - k * dt)
            past = w.next_window(k * dt)
            for r in runners:
                n = min(k, r.prime_steps)
                r.prime(r.bin_steps(past.events, tuple(w.sensor_size), t_us - n * dt, n, dt))
        w.seek(t_us)
        self._anchor = None
        self._state = replace(self._state, ended=False)
        if show:
            self._pending_steps = max(self._pending_steps, 1)
        self._publish_state()

    def _due_wall(self) -> float | None:
        """Wall time (``perf_counter``) at which the next window's end passes on a paced
        playback clock (``None``: live or flat out — the window is complete when it arrives)."""
        w = self._windows
        if not self.config.realtime or w is None or getattr(w, "live", False) or w.cursor_us is None or self._anchor is None:
            return None
        wall0, sim0 = self._anchor
        return wall0 + (w.cursor_us + self.config.dt_us - sim0) / 1e6 / self.config.speed

    def _time_to_next(self) -> float:
        w = self._windows
        if not self.config.realtime or w is None or getattr(w, "live", False) or w.cursor_us is None:
            return 0.0
        now = time.perf_counter()
        if self._anchor is None:
            self._anchor = (now, w.cursor_us)
        wall0, sim0 = self._anchor
        due = wall0 + (w.cursor_us + self.config.dt_us - sim0) / 1e6 / self.config.speed
        if now - due > 0.5:  # far behind: stop trying to catch up, re-anchor at now
            self._anchor = (now - self.config.dt_us / 1e6 / self.config.speed, w.cursor_us)
            self._fell_behind(now)
            return 0.0
        return due - now

    def _fell_behind(self, now: float) -> None:
        """Paced playback fell 0.5 s behind. With ``adaptive_step``, the second time within 5 s,
        step by the next coarser divisor of the model's trained frame (whole ms, at least twice
        the current step)."""
        if not self.config.adaptive_step:
            return
        self._behind = [t for t in self._behind if now - t < 5.0] + [now]
        runner = self._runner
        if len(self._behind) < 2 or runner is None or runner.mode != "window" or not runner.trained_frame_us:
            return
        frame, cur = int(runner.trained_frame_us), int(self.config.dt_us)
        coarser = [d for d in range(2 * cur, frame + 1, 1000) if frame % d == 0]
        if not coarser:
            return
        self._behind.clear()
        self.config.dt_us = self._user_dt_us = coarser[0]
        self._restart_stream()
        self._say(f"{runner.name} cannot keep up with {cur / 1000:g} ms steps here: stepping every "
                  f"{coarser[0] / 1000:g} ms instead (Source → step dt sets it back)")

    def _work(self) -> None:
        if self.config.torch_threads:
            import torch

            torch.set_num_threads(int(self.config.torch_threads))
        _build_kernels_aside()
        try:  # what the window offers in its model and neuron lists (it does not load torch itself)
            from snnstudio.engine.models import model_choices, neuron_choices

            self._state = replace(self._state, models=tuple(model_choices()), neurons=tuple(neuron_choices()))
        except Exception as exc:
            self._say(_message(exc))
        while not self._stop:
            try:
                cmd = None
                try:
                    cmd = self._q.get_nowait()
                except Empty:
                    pass
                if cmd is None and not self._pending_steps and not (self._playing and self._windows is not None):
                    cmd = self._q.get()
                if cmd is not None:
                    cmd()
                    continue
                if self._pending_steps:
                    k = min(self._pending_steps, self._catch_up())
                    self._pending_steps -= k
                    self._step(k)
                    continue
                wait = self._time_to_next()
                if wait > 0:
                    try:
                        self._q.get(timeout=min(wait, 0.05))()
                    except Empty:
                        pass
                    continue
                self._step(self._catch_up())
            except Exception as exc:  # a bad file / model / command: say it, pause, keep running
                self._pending_steps = 0
                self._playing = False
                self._say(_message(exc))
                try:
                    self._publish_state()
                except Exception:
                    traceback.print_exc()

    def _catch_up(self) -> int:
        """How many steps to run as one batch now: 1 when on time; when behind (a paced
        recording whose next windows have already elapsed, a live source with complete windows
        buffered, or flat out with ``batch_flat_out``), up to ``max_batch`` — the window models
        then evaluate them together (see ``ModelRunner.step_events_many``)."""
        cap = max(1, int(self.config.max_batch))
        w = self._windows
        if w is None or w.cursor_us is None:
            return 1
        if self._shedding():
            cap = max(cap, int(self.config.shed_max_steps))
        if cap == 1:
            return 1
        if getattr(w, "live", False):
            return max(1, min(cap, w.ready(self.config.dt_us)))
        if not self.config.realtime:
            return cap if self.config.batch_flat_out else 1
        due = self._due_wall()
        if due is None:
            return 1
        late = time.perf_counter() - due
        return max(1, min(cap, 1 + int(late / (self.config.dt_us / 1e6 / self.config.speed))))

    def _shedding(self) -> bool:
        """Whether late steps are shed now: ``shed_load`` on and a stream that runs on the wall clock
        (live, or paced playback). A window model evaluates only the newest window; a stateful
        one gets the late steps' input folded into its newest step (``ModelRunner.skip_events_many``)."""
        w = self._windows
        if not self.config.shed_load or w is None or self._runner is None:
            return False
        return bool(getattr(w, "live", False) or self.config.realtime)

    def _step(self, n: int = 1) -> None:
        w = self._windows
        if w is None:
            self._pending_steps = 0
            return
        runner = self._runner_or_raise()
        dt = self.config.dt_us
        wins = []
        for _ in range(max(1, n)):
            due = self._due_wall()
            win = w.next_window(dt)
            if win is None and wins:  # the end: show what there is, loop or stop on the next call
                break
            if win is None:
                if self.config.loop and w.seekable:
                    w.seek(w.start_us)
                    for r in self._runners():
                        r.reset()
                    self._anchor = None
                    due = None
                    win = w.next_window(dt)
                if win is None:
                    self._playing = False
                    self._pending_steps = 0
                    self._publish_state(ended=True)
                    return
            wins.append((win, due))
        for win, _ in wins:
            for tap in self._taps:
                tap(win)
        shown = None  # shedding: the snapshot shows every late step's events with the newest
        if len(wins) > 1 and self._shedding():  # behind: take the late steps in, evaluate the newest
            late, wins = wins[:-1], wins[-1:]
            skipped = [(win.events, win.t_start_us, None) for win, _ in late]
            for r in self._runners():
                r.skip_events_many(skipped, w.sensor_size)
            for win, _ in late:
                self._count(len(win.events), dt)
                self._dropped += win.dropped
            self._shed += len(late)
            newest = wins[0][0]
            shown = Window(np.concatenate([win.events for win, _ in late] + [newest.events]), late[0][0].t_start_us,
                           newest.t_end_us, newest.label)
        t0 = time.perf_counter()
        speed = self.config.speed
        inputs, extras = [], []
        for win, due in wins:
            frame = count_frame(win.events, w.sensor_size)
            counters = self._count(len(win.events), dt)
            self._dropped += win.dropped
            inputs.append((win.events, win.t_start_us, frame))
            if shown is not None:  # the newest step's frame for the model, all of them on screen
                win, frame = shown, frame + count_frame(shown.events[: len(shown.events) - len(win.events)], w.sensor_size)
            span = (win.t_end_us - win.t_start_us) / 1e6 / (speed if due is not None else 1.0)
            arrived = (due - span, due) if due is not None else (t0 - span, t0)
            extras.append((win, frame, counters, arrived))
        results = runner.step_events_many(inputs, w.sensor_size)
        latency = (time.perf_counter() - t0) * 1e3
        snaps = [self._snapshot(runner, win, frame, res, latency, counters, arrived=arrived) for (win, frame, counters, arrived), res in zip(extras, results)]
        if self._companions:
            others = []
            for r in self._companions:
                c0 = time.perf_counter()
                res_r = r.step_events_many(inputs, w.sensor_size)
                lat_r = (time.perf_counter() - c0) * 1e3
                others.append([self._snapshot(r, win, frame, res, lat_r, counters, share_frame=snap.frame)
                               for (win, frame, counters, _), res, snap in zip(extras, res_r, snaps)])
            snaps = [replace(snap, compare=tuple(o[i] for o in others)) for i, snap in enumerate(snaps)]
        ready = time.perf_counter()
        for snap in snaps:
            snap = replace(snap, index=self._index, wall_ready_s=ready)
            self._index += 1
            with self._cond:
                self._latest = snap
                self._cond.notify_all()
            self._state = replace(self._state, cursor_us=w.cursor_us)
            if self.on_snapshot is not None:
                self.on_snapshot(snap)
            if self._variant_watch is not None:
                verdict = self._variant_watch.observe(snap)
                if self._variant_watch.done:
                    self._variant_watch = None
                if verdict:
                    self._say(verdict)

    def _snapshot(self, runner: ModelRunner, win, frame, result, latency_ms: float, counters: Counters,
                  share_frame=None, arrived=None) -> Snapshot:
        """Package one step's read-out ``result`` (a ``runner.step`` result) for the GUI."""
        w = self._windows
        layers, attention, readout, (sops, energy) = result
        probs = rates_to_probabilities(readout)
        pred = int(np.argmax(probs)) if probs.size and np.ptp(probs) > 0 else None
        total_spikes = sum(layer.spike_count for layer in layers)
        total_neurons = sum(layer.n_neurons for layer in layers)
        fired = sum(layer.mean_rate * layer.n_neurons for layer in layers)  # over the steps the model ran
        return Snapshot(
            index=self._index,
            t_start_us=win.t_start_us,
            t_end_us=win.t_end_us,
            frame=share_frame if share_frame is not None else _ro(frame),
            n_events=len(win.events),
            layers=layers,
            attention=attention,
            probabilities=_ro(probs),
            predicted=pred,
            confidence=float(probs[pred]) if pred is not None else 0.0,
            label=win.label,
            label_name=(w.class_names or {}).get(win.label) if win.label is not None else None,
            class_names=runner.class_names or tuple(str(i) for i in range(probs.size)),
            metrics=Metrics(
                firing_rate=fired / total_neurons if total_neurons else 0.0,
                spike_count=total_spikes,
                sops=sops,
                energy_pj=energy,
                latency_ms=latency_ms,
            ),
            counters=counters,
            recording_start_us=w.start_us,
            recording_end_us=w.end_us,
            model_name=runner.name,
            wall_window_s=arrived,
        )

    def _count(self, n_events: int, dt_us: int) -> Counters:
        now = time.perf_counter()
        h = self._history
        h.append((now, n_events, dt_us, time.thread_time()))
        while h and now - h[0][0] > 1.0:
            h.popleft()
        span = now - h[0][0] if len(h) > 1 else 0.0
        if span <= 0:
            return Counters(dropped=self._dropped, shed_steps=self._shed)
        items = list(h)[1:]
        return Counters(
            events_per_s=sum(it[1] for it in items) / span,
            steps_per_s=len(items) / span,
            dropped=self._dropped,
            shed_steps=self._shed,
            realtime_factor=sum(it[2] for it in items) / 1e6 / span,
            cpu_ms_per_step=1e3 * (h[-1][3] - h[0][3]) / len(items),
        )
