"""Teaching from the live stream, torch-free: examples cut from the session's snapshots and
fine-tuning (:func:`snnstudio.train.finetune.finetune`) in the background.

:func:`pool_counts` maps a full-sensor count frame onto the model's input the way the runner's
``bin_steps`` maps events (cut to the input box, sum-pooled with ``x·w // W``), and
:class:`ExampleRecorder` sums the snapshots' ``frame`` s of ``T`` model frames (``dt_us`` each,
aligned to the first snapshot it takes) into one example ``[T, 2, h, w]`` uint16 — exactly the
frames the model would see (the event-rate gain, when on, is not applied: examples are stored as
counts, like every framed dataset).

:class:`FinetuneJob` runs ``finetune`` on the recorded examples in a spawned process of its own
(the window's process never imports torch) — ``process=False`` runs it on a thread of this one
(tests, scripts). Its callbacks run on the job's thread: ``on_progress(FinetuneProgress-like
dict)``, ``on_done(result dict)``, ``on_error(message)``, ``on_cancelled()``; ``cancel`` reaches
the child through a shared event and it stops at its next batch (nothing saved).
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from snnstudio.engine.background import ProcessJob
from snnstudio.errors import SnnStudioError

#: models the studio can run that are no checkpoints (nothing to fine-tune from)
NOT_CHECKPOINTS = ("tiny",)


def _pool_matrix(n_in: int, n_out: int) -> np.ndarray:
    """``[n_out, n_in]`` 0/1: input index ``i`` goes to output ``i·n_out // n_in``."""
    m = np.zeros((n_out, n_in), np.float64)
    m[np.arange(n_in) * n_out // n_in, np.arange(n_in)] = 1.0
    return m


def pool_counts(frame: np.ndarray, box: tuple[int, int, int, int] | None, out_hw: tuple[int, int]) -> np.ndarray:
    """Counts ``[..., H, W]`` cut to ``box`` = ``(x0, y0, w, h)`` (``None``: all) and sum-pooled to
    ``out_hw`` with the mapping of ``bin_events(out_size=…)`` (pixel ``x`` → ``x·w_out // w``);
    float64 ``[..., h_out, w_out]``."""
    a = np.asarray(frame, np.float64)
    if box is not None:
        x0, y0, bw, bh = (int(v) for v in box)
        a = a[..., y0:y0 + bh, x0:x0 + bw]
    h, w = a.shape[-2:]
    oh, ow = (int(v) for v in out_hw)
    if (h, w) == (oh, ow):
        return a.copy()
    return _pool_matrix(h, oh) @ a @ _pool_matrix(w, ow).T


class ExampleRecorder:
    """Collects ``T`` frames of ``dt_us`` from snapshots (``feed``), starting at the first one fed;
    ``done`` once a snapshot reaches the end, then ``example`` is ``[T, 2, h, w]`` uint16.

    A snapshot that goes back in time (a seek, a loop) restarts the example there."""

    def __init__(self, T: int, dt_us: int, box: tuple[int, int, int, int] | None, input_hw: tuple[int, int]):
        self.T, self.dt_us, self.box, self.input_hw = int(T), int(dt_us), box, tuple(input_hw)
        self.t0: int | None = None
        self._last_t: int | None = None
        self.frames = np.zeros((self.T, 2, *self.input_hw), np.float64)
        self.done = False
        self.restarts = 0
        #: µs of the example's span that no snapshot covered (snapshots the window dropped)
        self.gap_us = 0
        self._last_end: int | None = None

    @property
    def t_end_us(self) -> int | None:
        return None if self.t0 is None else self.t0 + self.T * self.dt_us

    def feed(self, t_start_us: int, t_end_us: int, frame: np.ndarray) -> bool:
        """Add one step's counts ``frame`` ``[2, H, W]`` covering ``[t_start_us, t_end_us)``; returns ``done``."""
        if self.done:
            return True
        if self._last_t is not None and t_start_us < self._last_t:
            self.t0, self.restarts = None, self.restarts + 1
            self.frames[:] = 0
            self.gap_us, self._last_end = 0, None
        if self.t0 is None:
            self.t0 = int(t_start_us)
        if self._last_end is not None and t_start_us > self._last_end:
            self.gap_us += int(t_start_us) - self._last_end
        self._last_end = int(t_end_us)
        self._last_t = int(t_start_us)
        k = (int(t_start_us) - self.t0) // self.dt_us
        if 0 <= k < self.T:
            self.frames[k] += pool_counts(frame, self.box, self.input_hw)
        if t_end_us >= self.t_end_us:
            self.done = True
        return self.done

    @property
    def example(self) -> np.ndarray:
        return np.clip(np.rint(self.frames), 0, np.iinfo(np.uint16).max).astype(np.uint16)


# ------------------------------------------------------------------------------------------------
# fine-tuning in the background


@dataclass
class FinetuneRequest:
    """``model``: the loaded model's spec (``default``, a bundled name or a checkpoint path);
    ``frames`` uint16 ``[N, T, 2, H, W]`` with ``labels`` (class names, one per example);
    ``classes``: the new model's classes in order; ``out``: the name it is saved as (in the
    user's models folder)."""

    model: str
    frames: np.ndarray
    labels: Sequence[str]
    classes: Sequence[str]
    dt_us: int
    out: str
    adapt: str = "auto"
    epochs: int | None = None
    copies: int = 8
    extra: dict = field(default_factory=dict)
    #: per example (same order as ``frames``): where in the source it starts (µs) and the
    #: event-rate gain the live model applied; saved with the examples
    source_t_start_us: Sequence[int | None] = ()
    rate_factors: Sequence[float] = ()
    #: save the examples next to the taught checkpoint (:mod:`snnstudio.engine.teach_store`)
    save_examples: bool = True
    #: samples per class of the base's own synthetic data for each class kept but not shown (as
    #: ``train --finetune --replay``): negatives, so one new class is not learnt as "everything"
    replay_per_class: int = 4


def request_examples(req: FinetuneRequest):
    """The request's examples as a :class:`~snnstudio.engine.teach_store.ExampleSet`."""
    from snnstudio.engine.teach_store import ExampleSet, TaughtExample

    frames = np.asarray(req.frames)
    src = list(req.source_t_start_us) + [None] * (len(req.labels) - len(req.source_t_start_us))
    rates = list(req.rate_factors) + [1.0] * (len(req.labels) - len(req.rate_factors))
    items = [TaughtExample(lab, frames[i], src[i], float(rates[i])) for i, lab in enumerate(req.labels)]
    return ExampleSet(int(frames.shape[1]), int(req.dt_us), tuple(int(v) for v in frames.shape[-2:]), items,
                      str(req.model), list(req.classes))


def resolve_checkpoint(spec: str | None) -> str:
    """The checkpoint JSON path of ``spec`` (``None``/``default``, a bundled or taught model's name,
    or a path); :class:`SnnStudioError` when it is no checkpoint (the tiny model, a zoo preset)."""
    from pathlib import Path

    from snnstudio.engine.catalog import bundled_models_dir

    if spec is None or spec == "default":
        from snnstudio.snn.checkpoints import ALIASES

        spec = ALIASES["default"]
    if spec in NOT_CHECKPOINTS:
        raise SnnStudioError(f"the {spec} model is not a trained checkpoint: load a gesture model to teach it")
    p = bundled_models_dir() / f"{spec}.json"
    if p.is_file():
        return str(p)
    from snnstudio.snn.checkpoints import user_models_dir

    p = user_models_dir() / f"{spec}.json"
    if p.is_file():
        return str(p)
    p = Path(spec)
    if p.suffix in (".json", ".safetensors") or p.with_suffix(".json").is_file():
        return str(p.with_suffix(".json"))
    raise SnnStudioError(f"{spec!r} is not a trained checkpoint (a zoo preset or an unknown name): "
                         "load a gesture model to teach it")


def run_finetune(req: FinetuneRequest, progress: Callable[[dict], None] | None = None,
                 cancel: Callable[[], bool] | None = None) -> dict:
    """Fine-tune and save (imports torch), the examples beside the checkpoint (``examples/NAME-examples.aedat4``
    …, named in its ``meta["examples"]``): returns ``{"json", "name", "classes", "adapt", "epochs",
    "before", "after", "method", "held_out", "seconds", "examples", "examples_error"}``."""
    from snnstudio.train.data import FrameDataset
    from snnstudio.train.finetune import finetune, output_stem

    path = resolve_checkpoint(req.model)
    names = list(dict.fromkeys(req.labels))
    labels = np.asarray([names.index(lab) for lab in req.labels], np.int64)
    ds = FrameDataset(np.ascontiguousarray(req.frames, np.uint16), labels, names, "studio examples", int(req.dt_us))

    def report(p) -> None:
        if progress is not None:
            progress({"stage": p.stage, "epoch": p.epoch, "epochs": p.epochs, "loss": p.loss, "accuracy": p.accuracy})

    replay = None
    if req.replay_per_class > 0:  # the base's own samples of the classes kept but not shown: negatives
        from snnstudio.engine.evaluation import default_cache_dir
        from snnstudio.train.finetune import replay_for_untaught

        replay, _ = replay_for_untaught(path, ds, list(req.classes), req.replay_per_class, default_cache_dir())
    res = finetune(path, ds, classes=list(req.classes), adapt=req.adapt, epochs=req.epochs, copies=req.copies,
                   progress=report, cancel=cancel, name=req.out, replay=replay)
    stem = output_stem(req.out)
    examples, examples_error = None, None
    if req.save_examples:  # next to the checkpoint, which names them (a failure keeps the checkpoint)
        from snnstudio.engine.teach_store import SUBFOLDER, save_examples

        try:
            examples = save_examples(stem.parent / SUBFOLDER / f"{stem.name}-examples", request_examples(req))
            res.meta["examples"] = f"{SUBFOLDER}/{examples.name}"
        except SnnStudioError as exc:
            examples_error = str(exc)
    json_path = res.save(stem)
    h = res.meta.get("holdout") or {}
    held = int((h.get("before") or {}).get("n") or 0)
    return {"json": str(json_path), "name": res.meta["name"], "classes": res.class_names, "adapt": res.meta["adapt"],
            "epochs": res.meta["epochs"], "before": res.meta.get("accuracy_before"),
            "after": res.meta.get("accuracy_after"), "method": h.get("method"), "held_out": held,
            "seconds": res.meta.get("seconds"), "examples": None if examples is None else str(examples),
            "examples_error": examples_error}


class FinetuneJob(ProcessJob):
    """One fine-tuning run on a daemon thread, the work itself in a spawned process with
    ``process=True`` (see the module docstring). ``start()``, ``cancel()``, ``wait()``."""

    thread_name = "snnstudio-finetune"

    def __init__(self, request: FinetuneRequest, on_progress: Callable[[dict], None] | None = None,
                 on_done: Callable[[dict], None] | None = None, on_error: Callable[[str], None] | None = None,
                 on_cancelled: Callable[[], None] | None = None, process: bool = True):
        super().__init__(process)
        self.request = request
        self.on_progress, self.on_done, self.on_error, self.on_cancelled = on_progress, on_done, on_error, on_cancelled
        self.result: dict | None = None
        self.error: str | None = None
        self.was_cancelled = False

    def _work(self) -> None:
        end = self._run_aside() if self.process else _outcome(self.request, self._cancel,
                                                               lambda p: self._emit(self.on_progress, p))
        kind, payload = end
        if kind == "done":
            self.result = payload
            self._emit(self.on_done, payload)
        elif kind == "cancelled":
            self.was_cancelled = True
            self._emit(self.on_cancelled)
        else:
            self.error = payload
            self._emit(self.on_error, payload)

    def _run_aside(self) -> tuple[str, object]:
        end = []

        def report(kind, payload) -> bool:
            if kind == "progress":
                self._emit(self.on_progress, payload)
                return False
            end.append((kind, payload))
            return True

        code = self._relay(_finetune_in_child, (self.request,), report)
        return end[0] if end else ("error", f"the fine-tuning process stopped (exit code {code})")


def _outcome(req: FinetuneRequest, cancel, progress) -> tuple[str, object]:
    """``("done", result)``, ``("cancelled", None)`` or ``("error", one line)``."""
    try:
        from snnstudio.train.finetune import FinetuneCancelled
    except Exception as exc:  # torch missing …
        return "error", f"fine-tuning is not available: {exc}"
    try:
        return "done", run_finetune(req, progress, cancel.is_set)
    except FinetuneCancelled:
        return "cancelled", None
    except SnnStudioError as exc:
        return "error", str(exc)
    except Exception as exc:
        traceback.print_exc()
        return "error", f"{type(exc).__name__}: {exc}"


def _finetune_in_child(conn, request: FinetuneRequest, cancel) -> None:
    """The fine-tuning process: progress reports, then one of ``done`` / ``cancelled`` / ``error``."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the window's to handle
    kind, payload = _outcome(request, cancel, lambda p: conn.send(("progress", p)))
    conn.send((kind, payload))
    conn.close()
