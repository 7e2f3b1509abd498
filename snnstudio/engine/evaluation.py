"""Evaluation in the background: the studio's Evaluate panel runs :mod:`snnstudio.train.evaluate`
on a worker thread (Qt-free), with progress, cancel and one callback per finished row.

:class:`EvaluationJob` evaluates every model × variant of an :class:`EvalRequest` over one
labelled set (``synthetic:test``, ``dvsgesture:DIR:test``, ``DIR:test`` — the spec strings of
``snnstudio eval --data``) with the same building blocks as
:func:`~snnstudio.train.evaluate.ablation_table` (``resolve_model`` → ``load_checkpoint`` →
``variant_model`` → ``evaluate_model``), so its rows carry the same keys and figures as
``snnstudio eval`` (``model``, ``variant``, ``accuracy``, ``spike_count``, ``firing_rate``,
``sops``, ``energy_uj``, ``latency_ms_per_step``, ``layers`` …). It differs from
``ablation_table`` in two ways only: rows are handed out as they finish (``on_row``), and the
synthetic split with a ``limit`` generates only the samples the limit keeps (see
:func:`load_eval_data`) — a GUI evaluation of 50 samples need not first generate all 200.

Callbacks run on the worker thread: ``on_progress(done, total, phase)`` (phase ``"data"`` while
framing or generating samples, ``"eval"`` per batch), ``on_row(row)``, ``on_done(result)`` (also
after a cancel: ``result["cancelled"]`` is then True and holds the rows done so far) and
``on_error(message)`` (a one-line message; nothing propagates out of the thread).
"""

from __future__ import annotations

import json
import math
import os
import threading
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from snnstudio.engine.background import ThreadJob
from snnstudio.errors import SnnStudioError

EVAL_COLUMNS = ("model", "variant", "accuracy", "spike_count", "firing_rate", "sops", "energy_uj", "latency_ms_per_step")


def default_cache_dir() -> Path:
    """Where the studio caches framed datasets: ``$SNNSTUDIO_CACHE/frames`` (else ``~/.cache/snnstudio/frames``)."""
    root = os.environ.get("SNNSTUDIO_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "snnstudio")
    return Path(root) / "frames"


@dataclass
class EvalRequest:
    """``models``: bundled names, ``default`` or checkpoint paths; ``variants``: ``snnstudio eval``
    variant strings (``attention=off``, ``ta=off``, ``neuron=psn`` …); ``limit``: at most this many
    samples (class-balanced, as ``--limit``), ``None`` for all."""

    models: Sequence[str]
    data: str = "synthetic:test"
    variants: Sequence[str] = ()
    include_base: bool = True
    limit: int | None = None
    batch_size: int = 32
    cache_dir: str | os.PathLike | None = field(default_factory=default_cache_dir)


class _Cancelled(Exception):
    pass


def load_eval_data(data: str, cfg, meta: dict, limit: int | None, cache_dir, progress=None):
    """The dataset of :func:`snnstudio.train.evaluate.data_for` (same options, same limit rule).

    Shortcut for the synthetic split with a ``limit`` whose full split is not cached yet: sample
    ``i`` of a split is gesture ``i % 10`` with seed ``SPLIT_SEED[split] + i`` whatever the split's
    size, and the class-balanced limit of ``n`` keeps exactly samples ``0 … n-1``; so generating a
    split of ``ceil(n / 10)`` per class and limiting it gives the same frames and labels as
    generating all of it (checked against ``data_for`` in tests/engine/test_evaluation.py).
    """
    from snnstudio.train import data as D

    ds = D.parse_spec(data)
    options = meta.get("data_options") if ds.kind == meta.get("data", "").split(":")[0] else None
    if ds.kind == "synthetic" and limit is not None and not _full_split_cached(options, ds.split, cfg, cache_dir):
        from snnstudio.events.synthetic import GESTURES

        spec = D.SyntheticSpec.from_options(options)
        per_class = max(1, math.ceil(limit / len(GESTURES)))
        if per_class < spec.per_class[ds.split]:
            options = {**dict(options or {}), "per_class": {**spec.per_class, ds.split: per_class}}
    out = D.load_dataset(ds, cfg, options=options, cache_dir=cache_dir, workers=1, progress=progress,
                         check_classes=False)
    return out.limit(limit)


def _full_split_cached(options, split: str, cfg, cache_dir) -> bool:
    if cache_dir is None:
        return False
    from snnstudio.events.synthetic.generator import GENERATOR_VERSION
    from snnstudio.train import data as D

    spec = D.SyntheticSpec.from_options(options)
    h = int(cfg.input_size[1])
    if h > spec.out_size or spec.out_size % h:  # as load_synthetic: else it pools the stored size down
        spec = D.SyntheticSpec.from_options({**dict(options or {}), "out_size": h})
    key = D._key({"spec": spec.to_dict(), "split": split, "v": 1, "generator": GENERATOR_VERSION})
    return (Path(cache_dir) / "synthetic" / f"{split}-{key}.npz").is_file()


def write_result(result: dict, path: str | os.PathLike) -> Path:
    """Save an evaluation table: ``.csv`` (the ``snnstudio eval`` headline columns) or ``.json``
    (everything); written to a temp file beside ``path`` and renamed (never half-written)."""
    from snnstudio.events.io._common import atomic_write
    from snnstudio.train.evaluate import to_csv

    p = Path(path)
    if p.suffix.lower() == ".csv":
        text = to_csv(result)
    elif p.suffix.lower() == ".json":
        text = json.dumps(result, indent=2)
    else:
        raise SnnStudioError(f"{p.name}: save the table as .csv or .json")
    with atomic_write(p, "w") as (_tmp, f):
        f.write(text)
    return p


class EvaluationJob(ThreadJob):
    """One evaluation on its own daemon thread (see module docstring). ``start()``, then
    ``cancel()`` to stop between batches / samples; ``wait()`` joins."""

    def __init__(self, request: EvalRequest,
                 on_progress: Callable[[int, int, str], None] | None = None,
                 on_row: Callable[[dict], None] | None = None,
                 on_done: Callable[[dict], None] | None = None,
                 on_error: Callable[[str], None] | None = None):
        self.request = request
        self.on_progress, self.on_row, self.on_done, self.on_error = on_progress, on_row, on_done, on_error
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self.result: dict | None = None
        self.error: str | None = None

    def start(self) -> EvaluationJob:
        self._thread = threading.Thread(target=self._work, name="snnstudio-evaluate", daemon=True)
        self._thread.start()
        return self

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    # ------------------------------------------------------------------ worker
    def _emit(self, fn, *args) -> None:
        if fn is not None:
            try:
                fn(*args)
            except Exception:
                traceback.print_exc()

    def _work(self) -> None:
        try:
            self.result = self._evaluate()
            self._emit(self.on_done, self.result)
        except Exception as exc:
            self.error = str(exc) if isinstance(exc, SnnStudioError) else f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, SnnStudioError):
                traceback.print_exc()
            self._emit(self.on_error, self.error)

    def _evaluate(self) -> dict:
        import torch

        from snnstudio.snn.checkpoints import load_checkpoint
        from snnstudio.train.evaluate import EvaluationError, Variant, evaluate_model, parse_variant, resolve_model, variant_model

        req = self.request
        if not req.models:
            raise EvaluationError("no model to evaluate: tick at least one")
        if req.limit is not None and req.limit < 1:
            raise EvaluationError(f"the limit must be at least 1 sample, got {req.limit}")
        vs = ([Variant()] if req.include_base else []) + [parse_variant(v) for v in req.variants]
        if not vs:
            raise EvaluationError("nothing to evaluate: no variant ticked")
        dev = torch.device("cpu")
        result = {"data": req.data, "limit": req.limit, "device": str(dev), "rows": [], "cancelled": False}

        def data_progress(done, total):
            if self._cancel.is_set():
                raise _Cancelled
            self._emit(self.on_progress, done, total, "data")

        loaded, datasets = [], {}
        try:
            for m in req.models:
                path = resolve_model(m)
                model, cfg, meta = load_checkpoint(path, device=dev)
                label = path.stem if Path(str(m)).suffix == "" and "/" not in str(m) else str(m)
                key = (cfg.T, cfg.dt_us, tuple(cfg.input_size), json.dumps(meta.get("data_options"), sort_keys=True))
                if key not in datasets:
                    datasets[key] = load_eval_data(req.data, cfg, meta, req.limit, req.cache_dir, data_progress)
                loaded.append((label, model, cfg, meta, path, datasets[key]))
        except _Cancelled:
            result["cancelled"] = True
            return result
        total = sum(-(-len(ds) // req.batch_size) * len(vs) for *_, ds in loaded)
        done = [0]

        def tick():
            done[0] += 1
            self._emit(self.on_progress, done[0], total, "eval")

        for label, model, cfg, meta, path, ds in loaded:
            for v in vs:
                if self._cancel.is_set():
                    result["cancelled"] = True
                    return result
                try:
                    vm, vcfg, untrained = variant_model(model, cfg, v, dev)
                except EvaluationError as exc:
                    if len(loaded) == 1:
                        raise
                    self._emit(self.on_error, f"{label}: variant {v.label!r} skipped: {exc}")
                    continue
                row = evaluate_model(vm, vcfg, ds, batch_size=req.batch_size, device=dev, progress=tick,
                                     cancel=self._cancel.is_set)
                if row is None:
                    result["cancelled"] = True
                    return result
                row = {"model": label, "variant": v.label, "checkpoint": str(path), "neuron": vcfg.neuron,
                       "attention": vcfg.attention, "arch": vcfg.arch, "untrained": untrained,
                       "reported_accuracy": meta.get("accuracy"), **row}
                result["rows"].append(row)
                self._emit(self.on_row, row)
        return result
