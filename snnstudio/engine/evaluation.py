"""Evaluation in the background: the studio's Evaluate panel runs :mod:`snnstudio.train.evaluate`
on a worker thread (Qt-free), with progress, cancel and one callback per finished row.

:class:`EvaluationJob` evaluates every model × variant of an :class:`EvalRequest` over one
labelled set (``synthetic:test``, ``dvsgesture:DIR:test``, ``DIR:test`` — the spec strings of
``snnstudio eval --data``) through :func:`~snnstudio.train.evaluate.ablation_table` itself, so its rows carry the same keys
and figures as ``snnstudio eval`` (``model``, ``variant``, ``accuracy``, ``spike_count``,
``firing_rate``, ``sops``, ``energy_uj``, ``latency_ms_per_step``, ``layers`` …); the job adds the
thread, the cancel flag and the Qt-free callbacks.

With ``process=True`` (the studio, whose engine runs in its own process) the evaluation itself
runs in a spawned process of its own, so the window's process never loads torch; the job's thread
here receives the child's reports and runs the same callbacks, and ``cancel`` reaches the child
through a shared event. :func:`write_result` is torch-free.

Callbacks run on the worker thread: ``on_progress(done, total, phase)`` (phase ``"data"`` while
framing or generating samples, ``"eval"`` per batch), ``on_row(row)``, ``on_done(result)`` (also
after a cancel: ``result["cancelled"]`` is then True and holds the rows done so far) and
``on_error(message)`` (a one-line message; nothing propagates out of the thread).
"""

from __future__ import annotations

import csv
import io
import json
import os
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from snnstudio.engine.background import ProcessJob
from snnstudio.errors import SnnStudioError

#: the headline columns of a saved CSV (``snnstudio.train.evaluate.COLUMNS``, which imports torch)
EVAL_COLUMNS = ("model", "variant", "accuracy", "spike_count", "firing_rate", "sops", "energy_uj", "latency_ms_per_step")


def default_cache_dir() -> Path:
    """Where the studio caches framed datasets: ``$SNNSTUDIO_CACHE/frames`` (else ``~/.cache/snnstudio/frames``)."""
    root = os.environ.get("SNNSTUDIO_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "snnstudio")
    return Path(root) / "frames"


@dataclass
class EvalRequest:
    """``models``: bundled names, ``default`` or checkpoint paths; ``variants``: ``snnstudio eval``
    variant strings (``attention=off``, ``ta=off``, ``neuron=psn`` …); ``limit``: at most this many
    samples (class-balanced, as ``--limit``), ``None`` for all; ``filters``: every sample's events
    through these event filters first (``--filter``: a spec of
    :func:`snnstudio.events.filters.parse_filters`, e.g. the Source panel's)."""

    models: Sequence[str]
    data: str = "synthetic:test"
    variants: Sequence[str] = ()
    include_base: bool = True
    limit: int | None = None
    batch_size: int = 32
    cache_dir: str | os.PathLike | None = field(default_factory=default_cache_dir)
    filters: str = ""


def write_result(result: dict, path: str | os.PathLike) -> Path:
    """Save an evaluation table: ``.csv`` (the ``snnstudio eval`` headline columns) or ``.json``
    (everything); written to a temp file beside ``path`` and renamed (never half-written)."""
    from snnstudio.events.io._common import atomic_write

    p = Path(path)
    if p.suffix.lower() == ".csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(EVAL_COLUMNS)
        for r in result["rows"]:
            w.writerow([r[c] for c in EVAL_COLUMNS])
        text = buf.getvalue()
    elif p.suffix.lower() == ".json":
        text = json.dumps(result, indent=2)
    else:
        raise SnnStudioError(f"{p.name}: save the table as .csv or .json")
    with atomic_write(p, "w") as (_tmp, f):
        f.write(text)
    return p


class EvaluationJob(ProcessJob):
    """One evaluation on its own daemon thread, or in a process of its own with ``process=True``
    (see module docstring). ``start()``, then ``cancel()`` to stop between batches / samples;
    ``wait()`` joins."""

    thread_name = "snnstudio-evaluate"

    def __init__(self, request: EvalRequest,
                 on_progress: Callable[[int, int, str], None] | None = None,
                 on_row: Callable[[dict], None] | None = None,
                 on_done: Callable[[dict], None] | None = None,
                 on_error: Callable[[str], None] | None = None,
                 process: bool = False):
        super().__init__(process)
        self.request = request
        self.on_progress, self.on_row, self.on_done, self.on_error = on_progress, on_row, on_done, on_error
        self.result: dict | None = None
        self.error: str | None = None

    # ------------------------------------------------------------------ worker
    def _work(self) -> None:
        if self.process:
            self._work_aside()
            return
        try:
            self.result = self._evaluate()
            self._emit(self.on_done, self.result)
        except Exception as exc:
            self.error = str(exc) if isinstance(exc, SnnStudioError) else f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, SnnStudioError):
                traceback.print_exc()
            self._emit(self.on_error, self.error)

    def _work_aside(self) -> None:
        """Run the evaluation in a spawned process and relay its reports (see module docstring)."""
        end = []

        def report(kind, payload) -> bool:
            if kind == "progress":
                self._emit(self.on_progress, *payload)
            elif kind == "row":
                self._emit(self.on_row, payload)
            elif kind == "note":
                self._emit(self.on_error, payload)
            elif kind == "end":
                end.append(payload)
                return True
            return False

        code = self._relay(_evaluate_in_child, (self.request,), report)
        result, error = end[0] if end else (None, f"the evaluation process stopped (exit code {code})")
        self.result, self.error = result, error
        if error is None:
            self._emit(self.on_done, result)
        else:
            self._emit(self.on_error, error)

    def _evaluate(self) -> dict:
        from snnstudio.train.evaluate import EvaluationError, ablation_table

        req = self.request
        if not req.models:
            raise EvaluationError("no model to evaluate: tick at least one")
        if not req.include_base and not req.variants:
            raise EvaluationError("nothing to evaluate: no variant ticked")
        return ablation_table(
            list(req.models), req.data, list(req.variants), include_base=req.include_base, limit=req.limit,
            batch_size=req.batch_size, device="cpu", cache_dir=req.cache_dir, workers=1,
            progress=lambda done, total: self._emit(self.on_progress, done, total, "eval"),
            data_progress=lambda done, total: self._emit(self.on_progress, done, total, "data"),
            cancel=self._cancel.is_set,
            on_row=lambda row: self._emit(self.on_row, row),
            on_skip=lambda message: self._emit(self.on_error, message),
            filters=req.filters,
        )


def _evaluate_in_child(conn, request: EvalRequest, cancel) -> None:
    """The evaluation process: run ``request`` as a thread job would, sending its reports on
    ``conn`` (``progress``, ``row``, ``note`` — a skipped model or variant —, then ``end`` with
    ``(result, error)``); ``cancel`` is the parent's event."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the window's to handle
    job = EvaluationJob(request)
    job._cancel = cancel
    job.on_progress = lambda done, total, phase: conn.send(("progress", (done, total, phase)))
    job.on_row = lambda row: conn.send(("row", row))
    job.on_error = lambda message: conn.send(("note", message)) if job.error is None else None  # the final one: in "end"
    job._work()
    conn.send(("end", (job.result, job.error)))
    conn.close()
