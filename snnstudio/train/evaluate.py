"""Evaluation and ablation tables (Qt-free; the CLI, the engine and the GUI call the same API).

:func:`ablation_table` runs one or more models, each as itself and as *variants* — modules
switched off or on (``attention=off``, ``conv3.attention.ta=off``, ``shortcut=off``) or another
neuron type (``neuron=psn``) — over one dataset, and returns one row per (model, variant):
accuracy, per-class accuracy, confusion matrix, per-layer firing rate, spike count, SOPs,
energy and latency. ``progress(done, total)`` is called after every batch; ``cancel()`` returning
True stops early (the rows done so far are returned, ``"cancelled": True``).

Figures per row (all per sample, i.e. one inference over its ``T`` steps):

* ``accuracy`` — top-1 on the evaluated samples; ``per_class_accuracy``; ``confusion``
  ``[true][predicted]`` counts; where a class is named ``other`` (the gesture sets),
  ``motion_accuracy`` (the other classes' samples) and ``other_accuracy`` apart;
* ``spike_count`` — spikes of every neuron layer; ``firing_rate`` — spikes / neuron-steps over
  all neuron layers pooled (:func:`snnstudio.probe.meters.total_activity`); ``layers`` — the same
  per neuron layer;
* ``sops`` (= ACs), ``macs``, ``energy_uj`` — :class:`snnstudio.probe.OpCounter` (``E = 4.6 pJ ·
  MACs + 0.9 pJ · ACs``, first layer and attention MLPs as MACs);
* ``latency_ms_per_step`` — wall time of one sample's forward (batch 1, no probes, median of 3)
  divided by ``T``, on the evaluation device.

A variant swapping the neuron keeps every weight whose name and shape still fit; the new neuron's
own parameters start untrained (listed in the row's ``untrained``, and a warning says so).

Model names: :func:`resolve_model` accepts a bundled name (``snnstudio models``), the alias
``default`` (= ``gesture-lif-tcsa``) or a checkpoint path (``.json``, ``.safetensors`` or stem).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from snnstudio.errors import CheckpointError, ModelError, SnnStudioError, SnnStudioWarning

#: the RNG seed of every evaluation (stochastic neurons), shared with the trainer's test measurement
EVAL_SEED = 0
EVAL_BATCH = 32

#: bundled-model aliases
from snnstudio.snn.checkpoints import ALIASES  # noqa: E402  (re-exported)


class EvaluationError(SnnStudioError):
    """A bad variant, model name or data choice for an evaluation."""


def resolve_model(name: str | os.PathLike) -> Path:
    """The checkpoint JSON path of a bundled name, an alias, a taught model's name (in the user's
    models folder), or a path."""
    from snnstudio.snn.checkpoints import bundled_models_dir, checkpoint_paths, user_models_dir

    text = str(name)
    folder = bundled_models_dir()
    bundled = ALIASES.get(text, text)
    if "/" not in bundled and (folder / f"{bundled}.json").is_file():
        return folder / f"{bundled}.json"
    if "/" not in text and (user_models_dir() / f"{text}.json").is_file():
        return user_models_dir() / f"{text}.json"
    json_path, _ = checkpoint_paths(text)
    if json_path.is_file():
        return json_path
    known = sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []
    raise CheckpointError(f"no model {text!r}: not a bundled name ({', '.join(list(ALIASES) + known) or 'none bundled'}) "
                          f"and no checkpoint at {json_path}")


# ---------------------------------------------------------------------------------------------
# variants


@dataclass
class Variant:
    """A change to a model: module switches (key → enabled) and/or another neuron."""

    label: str = "as trained"
    switches: dict[str, bool] = field(default_factory=dict)
    neuron: str | None = None
    neuron_params: dict = field(default_factory=dict)


_ON = {"on": True, "1": True, "true": True, "yes": True, "off": False, "0": False, "false": False, "no": False}


def parse_variant(text: str) -> Variant:
    """``attention=off``, ``conv3.attention.ta=off,fc1.attention=off``, ``neuron=psn`` (a comma
    joins changes into one variant)."""
    v = Variant(label=text)
    for part in (p.strip() for p in text.split(",")):
        key, sep, value = part.partition("=")
        if not sep or not key or not value:
            raise EvaluationError(f"a variant is KEY=on|off or neuron=NAME, got {part!r}")
        if key == "neuron":
            v.neuron = value
            continue
        if value.lower() not in _ON:
            raise EvaluationError(f"{key}: expected on or off, got {value!r}")
        v.switches[key] = _ON[value.lower()]
    return v


def apply_switches(model, switches: dict[str, bool]) -> list[str]:
    """Switch modules on/off; a key is a module name (``conv1.attention.ta``), a last name part
    matched everywhere (``attention``, ``ta``, ``sa``) or a kind (``shortcut``). Returns the names."""
    from snnstudio.snn.zoo import set_enabled, switchable_modules

    mods = switchable_modules(model)
    changed = []
    for key, on in switches.items():
        hits = [s.name for s in mods if s.name == key or s.name.endswith("." + key) or s.kind == key]
        if not hits:
            names = ", ".join(s.name for s in mods) or "none"
            raise EvaluationError(f"no switchable module matches {key!r}; switchable: {names}")
        for name in hits:
            set_enabled(model, name, on)
        changed += hits
    return changed


def variant_model(model, cfg, variant: Variant, device="cpu"):
    """``(model, cfg, untrained)`` for ``variant``: a fresh copy with the neuron swapped (weights that
    fit carried over) and switches applied. The input model is left unchanged."""
    import copy

    from snnstudio.snn.zoo import build_model, with_neuron

    untrained: list[str] = []
    if variant.neuron and variant.neuron != cfg.neuron:
        try:
            cfg = with_neuron(cfg, variant.neuron, **variant.neuron_params)
            new = build_model(cfg)
        except ModelError as exc:
            raise EvaluationError(f"variant {variant.label!r}: {exc}") from None
        old = model.state_dict()
        target = new.state_dict()
        keep = {k: v for k, v in old.items() if k in target and target[k].shape == v.shape}
        untrained = sorted(set(target) - set(keep))
        new.load_state_dict(keep, strict=False)
        if untrained:
            warnings.warn(f"variant {variant.label!r}: {len(untrained)} tensors of the new neuron are untrained "
                          f"(e.g. {untrained[0]}); retrain for a fair comparison", SnnStudioWarning, stacklevel=2)
        model = new
    else:
        model = copy.deepcopy(model)
    apply_switches(model, variant.switches)
    return model.to(device).eval(), cfg, untrained


# ---------------------------------------------------------------------------------------------
# one evaluation


def _latency_ms_per_step(model, x1, T: int, repeats: int = 3) -> float:
    import torch

    from snnstudio.snn.layers import reset_states

    times = []
    with torch.no_grad():
        for _ in range(repeats):
            reset_states(model)
            if x1.is_cuda:
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            model(x1)
            if x1.is_cuda:
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
    return 1000.0 * statistics.median(times) / T


def evaluate_model(model, cfg, dataset, *, batch_size: int = EVAL_BATCH, device="cpu",
                   progress: Callable[[], None] | None = None, cancel: Callable[[], bool] | None = None) -> dict | None:
    """One row of figures for ``model`` on a :class:`~snnstudio.train.data.FrameDataset`
    (``None`` when cancelled)."""
    import numpy as np
    import torch

    from snnstudio.probe import OpCounter, ProbeConfig, Recorder
    from snnstudio.probe.meters import layer_activity, total_activity
    from snnstudio.snn.layers import reset_states
    from snnstudio.train.device import to_input

    n_cls = dataset.num_classes
    if cfg.num_classes != n_cls:
        raise EvaluationError(f"the model has {cfg.num_classes} outputs but {dataset.name} has {n_cls} classes")
    model = model.to(device).eval()
    probe = ProbeConfig(capacity=1, raster_size=0, channel_rates=False, feature_map=False, membrane_map=False,
                        attention=False, peer_membrane=False)
    confusion = np.zeros((n_cls, n_cls), dtype=np.int64)
    frames = torch.from_numpy(dataset.frames)
    labels = dataset.labels
    t_infer = 0.0
    # stochastic neurons (ParaLIF SB/GS) draw from torch's RNG: a fixed seed, in a forked RNG state,
    # makes every evaluation of the same model on the same data give the same figures
    with torch.random.fork_rng(devices=[]), Recorder(model, probe) as rec, OpCounter(model) as ops, torch.no_grad():
        torch.manual_seed(EVAL_SEED)
        for i in range(0, len(dataset), batch_size):
            if cancel is not None and cancel():
                return None
            x = to_input(frames[i:i + batch_size].to(torch.int32), device)
            reset_states(model)
            t0 = time.perf_counter()
            pred = model(x).argmax(1).cpu().numpy()
            t_infer += time.perf_counter() - t0
            np.add.at(confusion, (labels[i:i + batch_size], pred), 1)
            if progress is not None:
                progress()
        act = layer_activity(rec)
        total = total_activity(rec)
        report = ops.report()
    x1 = to_input(frames[:1].to(torch.int32), device)
    latency = _latency_ms_per_step(model, x1, cfg.T)
    n = int(confusion.sum())
    support = confusion.sum(1)
    per_class = {name: (float(confusion[c, c] / support[c]) if support[c] else None)
                 for c, name in enumerate(dataset.class_names)}
    return {
        "accuracy": float(np.trace(confusion) / n) if n else 0.0,
        **motion_other_accuracy(confusion, dataset.class_names),
        "samples": n,
        "spike_count": float(total.spikes_per_sample),
        "firing_rate": float(total.firing_rate),
        "sops": float(report["sops"]),
        "macs": float(report["macs"]),
        "energy_uj": float(report["energy_pj"]) * 1e-6,
        "latency_ms_per_step": latency,
        "throughput_samples_per_s": n / t_infer if t_infer else 0.0,
        "T": cfg.T,
        "per_class_accuracy": per_class,
        "confusion": confusion.tolist(),
        "class_names": list(dataset.class_names),
        "layers": [
            {"name": a.name, "neurons": a.neurons, "firing_rate": a.firing_rate, "spikes_per_sample": a.spikes_per_sample}
            for a in act.values()
        ],
        "ops_layers": report["layers"],
    }


def motion_other_accuracy(confusion, class_names: Sequence[str]) -> dict:
    """``{"motion_accuracy", "other_accuracy"}`` when the classes include ``other`` (else ``{}``):
    top-1 accuracy over the samples of the motion classes (every class but ``other``) and over
    those of ``other`` (``None`` where there are no such samples). ``confusion`` is
    ``[true][predicted]`` counts."""
    import numpy as np

    names = list(class_names)
    if "other" not in names:
        return {}
    c = np.asarray(confusion)
    o = names.index("other")
    motion = [i for i in range(len(names)) if i != o]
    n_motion = int(c[motion].sum())
    n_other = int(c[o].sum())
    return {
        "motion_accuracy": float(sum(c[i, i] for i in motion) / n_motion) if n_motion else None,
        "other_accuracy": float(c[o, o] / n_other) if n_other else None,
    }


# ---------------------------------------------------------------------------------------------
# tables


def data_for(spec: str, cfg, meta: dict, limit: int | None, cache_dir, workers: int = 1,
             progress: Callable[[int, int], None] | None = None, filters: str = ""):
    """The dataset ``spec`` framed for ``cfg``; synthetic / digits use the generator options the
    model was trained with (its ``meta["data_options"]``), so ``synthetic:test`` is its held-out split;
    every sample's events through the event filters ``filters`` first (see ``load_dataset``).

    With a ``limit`` on a synthetic split that is not cached whole, only the samples the limit keeps
    are generated: sample ``i`` of a split is gesture ``i % 10`` with seed ``SPLIT_SEED[split] + i``
    whatever the split's size, and the class-balanced limit of ``n`` keeps exactly samples
    ``0 … n-1``, so a split of ``ceil(n / 10)`` per class, limited, is the same frames and labels
    (checked in tests/engine/test_evaluation.py) — an evaluation of 50 samples need not first
    generate all 200.
    """
    from snnstudio.events.synthetic import GESTURES
    from snnstudio.train import data as D

    ds = D.parse_spec(spec)
    options = meta.get("data_options") if ds.kind == meta.get("data", "").split(":")[0] else None
    if (ds.kind == "synthetic" and limit is not None
            and not D.synthetic_split_cached(ds.split, int(cfg.input_size[1]), options, cache_dir, filters)):
        per_split = D.SyntheticSpec.from_options(options).per_class
        per_class = max(1, math.ceil(limit / len(GESTURES)))
        if per_class < per_split[ds.split]:
            options = {**dict(options or {}), "per_class": {**per_split, ds.split: per_class}}
    return D.load_dataset(ds, cfg, options=options, cache_dir=cache_dir, workers=workers, progress=progress,
                          check_classes=False, filters=filters).limit(limit)


def dataset_key(cfg, meta: dict) -> tuple:
    """Models with equal keys are evaluated on the same framed samples (loaded once)."""
    return (cfg.T, cfg.dt_us, tuple(cfg.input_size), json.dumps(meta.get("data_options"), sort_keys=True))


class _Cancelled(Exception):
    pass


def ablation_table(models: Sequence[str | os.PathLike], data: str, variants: Sequence[str | Variant] = (), *,
                   include_base: bool = True, limit: int | None = None, batch_size: int = EVAL_BATCH,
                   device: str = "auto",
                   cache_dir: str | os.PathLike | None = "cache", workers: int = 1,
                   progress: Callable[[int, int], None] | None = None,
                   cancel: Callable[[], bool] | None = None,
                   data_progress: Callable[[int, int], None] | None = None,
                   on_row: Callable[[dict], None] | None = None,
                   on_skip: Callable[[str], None] | None = None,
                   filters: str = "") -> dict:
    """Rows = every model × (its trained form when ``include_base``, then every variant); with several
    models, a variant that does not apply to one (no such module) is skipped for it (``on_skip(message)``,
    by default a warning).

    ``filters``: every sample's events go through these event filters before framing (a spec of
    :func:`snnstudio.events.filters.parse_filters`, as ``snnstudio eval --filter``).

    Returns ``{"data", "limit", "device", "filters", "rows": [...], "cancelled"}``; each row has ``model``,
    ``variant``, ``accuracy``, ``spike_count``, ``firing_rate``, ``sops``, ``energy_uj``,
    ``latency_ms_per_step``, ``layers`` … (see :func:`evaluate_model`). ``progress(done, total)``
    counts evaluated batches, ``data_progress(done, total)`` samples framed or generated;
    ``on_row(row)`` gets each row as it finishes; ``cancel()`` is polled between batches and
    samples (then ``cancelled`` is True and ``rows`` holds those done).
    """
    from snnstudio.snn.checkpoints import load_checkpoint
    from snnstudio.train.device import resolve_device

    if not models:
        raise EvaluationError("no model to evaluate")
    if limit is not None and limit < 1:
        raise EvaluationError(f"the limit must be at least 1 sample, got {limit}")
    from snnstudio.events.filters import FilterError, format_filters, parse_filters

    try:
        filters = format_filters(parse_filters(filters))
    except FilterError as exc:
        raise EvaluationError(str(exc)) from None
    dev = resolve_device(device)
    vs = [parse_variant(v) if isinstance(v, str) else v for v in variants]
    if include_base:
        vs = [Variant()] + vs
    if not vs:
        raise EvaluationError("nothing to evaluate: no variant and include_base=False")
    result = {"data": data, "limit": limit, "device": str(dev), "filters": filters, "rows": [], "cancelled": False}

    def framing(done, total):
        if cancel is not None and cancel():
            raise _Cancelled
        if data_progress is not None:
            data_progress(done, total)

    loaded, datasets = [], {}
    try:
        for m in models:
            path = resolve_model(m)
            model, cfg, meta = load_checkpoint(path, device=dev)
            label = path.stem if Path(str(m)).suffix == "" and "/" not in str(m) else str(m)
            key = dataset_key(cfg, meta)
            if key not in datasets:
                datasets[key] = data_for(data, cfg, meta, limit, cache_dir, workers, framing, filters)
            loaded.append((label, model, cfg, meta, path, datasets[key]))
    except _Cancelled:
        result["cancelled"] = True
        return result
    total = sum(-(-len(ds) // batch_size) * len(vs) for *_, ds in loaded)
    done = [0]

    def tick():
        done[0] += 1
        if progress is not None:
            progress(done[0], total)

    for label, model, cfg, meta, path, ds in loaded:
        for v in vs:
            if cancel is not None and cancel():
                result["cancelled"] = True
                return result
            try:
                vm, vcfg, untrained = variant_model(model, cfg, v, dev)
            except EvaluationError as exc:
                if len(loaded) == 1:
                    raise
                message = f"{label}: variant {v.label!r} skipped: {exc}"
                if on_skip is None:
                    warnings.warn(message, SnnStudioWarning, stacklevel=2)
                else:
                    on_skip(message)
                continue
            row = evaluate_model(vm, vcfg, ds, batch_size=batch_size, device=dev, progress=tick, cancel=cancel)
            if row is None:
                result["cancelled"] = True
                return result
            row = {"model": label, "variant": v.label, "checkpoint": str(path), "neuron": vcfg.neuron,
                   "attention": vcfg.attention, "arch": vcfg.arch, "untrained": untrained,
                   "reported_accuracy": meta.get("accuracy"), **row}
            result["rows"].append(row)
            if on_row is not None:
                on_row(row)
    return result


COLUMNS = ("model", "variant", "accuracy", "spike_count", "firing_rate", "sops", "energy_uj", "latency_ms_per_step")


def table_rows(result: dict) -> list[list[str]]:
    """The headline columns as formatted strings (for a terminal, markdown or the GUI)."""
    out = []
    for r in result["rows"]:
        out.append([r["model"], r["variant"], f"{100 * r['accuracy']:.2f} %", f"{r['spike_count']:.0f}",
                    f"{r['firing_rate']:.4f}", f"{r['sops']:.3g}", f"{r['energy_uj']:.3f}",
                    f"{r['latency_ms_per_step']:.2f}"])
    return out


def to_markdown(result: dict) -> str:
    head = ["model", "variant", "accuracy", "spikes / sample", "firing rate", "SOPs / sample", "energy (µJ)",
            "latency (ms / step)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in table_rows(result)]
    return "\n".join(lines) + "\n"


def to_csv(result: dict) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(COLUMNS)
    for r in result["rows"]:
        w.writerow([r[c] for c in COLUMNS])
    return buf.getvalue()


def _evaluation_error(path: Path, problem: str) -> EvaluationError:
    return EvaluationError(f"{path}: {problem}")


def check_table_output(path: str | os.PathLike) -> Path:
    """Raise :class:`EvaluationError` unless :func:`write_table` can write ``path`` (a known
    extension, an existing writable folder, not a special file) — checked before evaluating."""
    from snnstudio.safe_files import check_output

    p = Path(path)
    if p.suffix not in (".json", ".csv", ".md"):
        raise EvaluationError(f"{p}: write a table as .json, .csv or .md")
    return check_output(p, error=_evaluation_error)


def write_table(result: dict, path: str | os.PathLike) -> None:
    """``.json`` (everything), ``.csv`` (headline columns) or ``.md`` (markdown table); written to a
    temp file and renamed (see :mod:`snnstudio.safe_files`)."""
    from snnstudio.safe_files import atomic_write

    p = Path(path)
    if p.suffix == ".json":
        text = json.dumps(result, indent=2)
    elif p.suffix == ".csv":
        text = to_csv(result)
    elif p.suffix == ".md":
        text = to_markdown(result)
    else:
        raise EvaluationError(f"{p}: write a table as .json, .csv or .md")
    with atomic_write(p, "w", error=_evaluation_error, encoding="utf-8") as (_, f):
        f.write(text)
