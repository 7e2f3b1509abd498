"""A teaching session's examples on disk, torch-free: ``STEM.aedat4`` (events) with the studio's
labels sidecar ``STEM_labels.csv`` and a teaching sidecar ``STEM.json``.

An example is ``T`` count frames ``[T, 2, h, w]`` (uint16, channel 0 OFF, 1 ON) of ``dt_us`` each,
as the model saw them (:class:`snnstudio.engine.teach.ExampleRecorder`). It is written as events
on an ``h × w`` sensor: a count ``c`` in frame ``k`` is ``c`` events at that pixel and polarity,
spread evenly over ``[t_k, t_k + dt_us)``, so binning the file with ``dt_us`` from the example's
start gives its frames back exactly. The examples lie one after another in the file's time (example
``i`` covers ``[i·T·dt, (i+1)·T·dt)`` µs); the labels sidecar names each range (the file plays in
the studio as a labelled recording), and ``STEM.json`` holds what reopening needs::

    {"format": "snnstudio-teach-examples", "version": 1, "model": SPEC, "T": 10, "dt_us": 150000,
     "input_hw": [32, 32], "classes": [...], "events": "STEM.aedat4",
     "examples": [{"class": "wave", "t_start_us": 0, "t_end_us": 1500000,
                   "source_t_start_us": 4200000, "rate_factor": 0.25}, ...]}

``rate_factor`` is the event-rate gain the live model applied to the example's counts (the
counts stored are the ungained ones); ``source_t_start_us`` where in the source it was taken.
The taught checkpoint's metadata names the events file (``meta["examples"]``, relative to the
checkpoint's folder: ``examples/NAME-examples.aedat4``). Examples live in a subfolder
(:data:`SUBFOLDER`) of the models folder, never beside the checkpoints' own ``*.json``, which the
model list reads as checkpoints.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from snnstudio.errors import SnnStudioError

FORMAT = "snnstudio-teach-examples"
VERSION = 1
#: the folder, beside the checkpoints, that saved examples go to
SUBFOLDER = "examples"


class ExamplesFileError(SnnStudioError):
    """Saved examples that cannot be written or read back (one line naming the file)."""


@dataclass
class TaughtExample:
    """One example: its class, frames ``[T, 2, h, w]`` uint16 and where it came from."""

    name: str
    frames: np.ndarray
    source_t_start_us: int | None = None
    rate_factor: float = 1.0


@dataclass
class ExampleSet:
    """A teaching session: the framing the examples were cut for and the examples, in order."""

    T: int
    dt_us: int
    input_hw: tuple[int, int]
    examples: list[TaughtExample] = field(default_factory=list)
    model: str = ""
    classes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for ex in self.examples:
            out[ex.name] = out.get(ex.name, 0) + 1
        return out


def paths(stem: str | Path) -> tuple[Path, Path, Path]:
    """``(STEM.aedat4, STEM_labels.csv, STEM.json)``."""
    from snnstudio.events.io import sidecar_path

    stem = Path(stem)
    if stem.suffix in (".aedat4", ".json"):
        stem = stem.with_suffix("")
    ev = stem.with_name(stem.name + ".aedat4")
    return ev, sidecar_path(ev), stem.with_name(stem.name + ".json")


def frames_to_events(frames: np.ndarray, t0_us: int, dt_us: int) -> np.ndarray:
    """Events (time-ordered) whose counts per ``dt_us`` frame from ``t0_us`` are ``frames``
    ``[T, 2, h, w]``: frame ``k``'s ``n`` events at ``t0 + k·dt + ⌊j·dt/n⌋``, ``j = 0…n−1``, in
    pixel order (polarity, row, column)."""
    from snnstudio.events.types import make_events

    f = np.asarray(frames)
    if f.ndim != 4 or f.shape[1] != 2:
        raise ExamplesFileError(f"an example must be frames [T, 2, h, w], got shape {f.shape}")
    parts = []
    for k in range(f.shape[0]):
        counts = f[k].astype(np.int64).reshape(-1)
        n = int(counts.sum())
        if n == 0:
            continue
        cell = np.repeat(np.arange(counts.size), counts)
        p, rest = np.divmod(cell, f.shape[2] * f.shape[3])
        y, x = np.divmod(rest, f.shape[3])
        t = t0_us + k * dt_us + (np.arange(n, dtype=np.int64) * dt_us) // n
        parts.append(make_events(t, x, y, p.astype(np.int8)))
    if not parts:
        return make_events(np.zeros(0, np.int64), [], [], np.zeros(0, np.int8))
    return np.concatenate(parts)


def events_to_frames(events: np.ndarray, hw: tuple[int, int], t0_us: int, T: int, dt_us: int) -> np.ndarray:
    """The ``[T, 2, h, w]`` uint16 counts of ``events`` in ``T`` frames of ``dt_us`` from ``t0_us``
    (the studio's own framing, :func:`snnstudio.events.frames.bin_events`)."""
    from snnstudio.events.frames import bin_events

    h, w = hw
    sel = events[(events["t"] >= t0_us) & (events["t"] < t0_us + T * dt_us)]
    x = bin_events(sel, (w, h), dt_us=int(dt_us), t_start_us=int(t0_us), n_frames=int(T))
    return np.rint(x).astype(np.uint16)


def save_examples(stem: str | Path, data: ExampleSet) -> Path:
    """Write ``data`` as ``STEM.aedat4`` + ``STEM_labels.csv`` + ``STEM.json``; returns the
    ``.aedat4`` path. Class ids in the labels are indices into ``data.classes`` (the examples'
    classes appended when missing)."""
    from snnstudio.events.io import write_events
    from snnstudio.events.types import EventRecording, Label

    ev_path, _, side = paths(stem)
    if not data.examples:
        raise ExamplesFileError(f"{ev_path}: no examples to save")
    T, dt = int(data.T), int(data.dt_us)
    h, w = (int(v) for v in data.input_hw)
    classes = list(data.classes) + [n for n in dict.fromkeys(e.name for e in data.examples) if n not in data.classes]
    span = T * dt
    parts, labels, rows = [], [], []
    for i, ex in enumerate(data.examples):
        if tuple(np.shape(ex.frames)) != (T, 2, h, w):
            raise ExamplesFileError(f"{ev_path}: example {i + 1} ({ex.name}) has shape {np.shape(ex.frames)}, "
                                    f"not the session's {(T, 2, h, w)}")
        t0 = i * span
        parts.append(frames_to_events(ex.frames, t0, dt))
        labels.append(Label(classes.index(ex.name), t0, t0 + span, ex.name))
        rows.append({"class": ex.name, "t_start_us": t0, "t_end_us": t0 + span,
                     "source_t_start_us": None if ex.source_t_start_us is None else int(ex.source_t_start_us),
                     "rate_factor": float(ex.rate_factor)})
    events = np.concatenate(parts)
    if len(events) == 0:
        raise ExamplesFileError(f"{ev_path}: the examples hold no events")
    try:
        ev_path.parent.mkdir(parents=True, exist_ok=True)
        write_events(ev_path, EventRecording(events, (w, h), labels=labels, sensor="snnstudio teach"))
        doc = {"format": FORMAT, "version": VERSION, "model": str(data.model), "T": T, "dt_us": dt,
               "input_hw": [h, w], "classes": classes, "events": ev_path.name, "examples": rows}
        from snnstudio.events.io._common import atomic_write

        with atomic_write(side, "w") as (_, f):
            json.dump(doc, f, indent=1)
    except OSError as exc:
        raise ExamplesFileError(f"{ev_path}: cannot save the examples ({exc.strerror or exc})") from None
    return ev_path


def _sidecar_of(path: Path) -> Path:
    """The teaching sidecar for ``path``: the ``.aedat4`` or ``.json`` of a saved session, or a
    checkpoint ``.json`` whose ``meta["examples"]`` names the events file."""
    if path.suffix == ".aedat4":
        return paths(path)[2]
    if path.suffix != ".json":
        raise ExamplesFileError(f"{path}: choose the examples' .aedat4 (or its .json, or a taught checkpoint)")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExamplesFileError(f"{path}: no such file") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ExamplesFileError(f"{path}: not readable as JSON ({exc})") from None
    if isinstance(doc, dict) and doc.get("format") == FORMAT:
        return path
    meta = doc.get("meta") if isinstance(doc, dict) else None
    ref = meta.get("examples") if isinstance(meta, dict) else None
    if not isinstance(ref, str) or not ref:
        raise ExamplesFileError(f"{path}: a checkpoint without saved examples (its metadata names none)")
    folder = path.parent.resolve()
    target = (folder / ref).resolve()
    if not target.is_relative_to(folder):
        raise ExamplesFileError(f"{path}: its metadata names examples outside its folder ({ref!r})")
    return paths(target)[2]


def load_examples(path: str | Path) -> ExampleSet:
    """Read a saved session (see the module docstring) from its ``.aedat4``, its ``.json`` sidecar
    or the taught checkpoint's ``.json``; every problem is one :class:`ExamplesFileError` line."""
    from snnstudio.events.io import read_events

    path = Path(path)
    side = _sidecar_of(path)
    if not side.is_file():
        raise ExamplesFileError(f"{side}: the examples' sidecar is missing (it says each example's class and "
                                "framing); without it the events cannot be cut into examples")
    try:
        doc = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ExamplesFileError(f"{side}: the examples' sidecar is not valid JSON ({exc})") from None
    try:
        if doc.get("format") != FORMAT:
            raise ValueError(f"format is {doc.get('format')!r}, not {FORMAT!r}")
        if doc.get("version") != VERSION:
            raise ValueError(f"unsupported version {doc.get('version')!r}")
        T, dt = int(doc["T"]), int(doc["dt_us"])
        h, w = (int(v) for v in doc["input_hw"])
        if T < 1 or dt < 1 or h < 1 or w < 1:
            raise ValueError("T, dt_us and input_hw must be positive")
        rows = doc["examples"]
        if not isinstance(rows, list) or not rows:
            raise ValueError("no examples listed")
        items = []
        for i, r in enumerate(rows):
            name, t0, t1 = str(r["class"]), int(r["t_start_us"]), int(r["t_end_us"])
            if t1 - t0 != T * dt:
                raise ValueError(f"example {i + 1} spans {t1 - t0} µs, not T × dt_us = {T * dt}")
            rate = float(r.get("rate_factor", 1.0))
            if not math.isfinite(rate) or rate <= 0:
                raise ValueError(f"example {i + 1}: rate_factor {rate!r} is not a positive number")
            src = r.get("source_t_start_us")
            items.append((name, t0, None if src is None else int(src), rate))
        events_name = Path(str(doc.get("events") or paths(side)[0].name)).name
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        what = f"no {exc.args[0]!r} field" if isinstance(exc, KeyError) else str(exc)
        raise ExamplesFileError(f"{side}: not a teaching sidecar snnstudio can read ({what})") from None
    ev_path = side.with_name(events_name)
    if not ev_path.is_file():
        raise ExamplesFileError(f"{ev_path}: the examples' events file is missing")
    rec = read_events(ev_path)
    if tuple(rec.sensor_size) != (w, h):
        raise ExamplesFileError(f"{ev_path}: the events are {rec.sensor_size[0]}×{rec.sensor_size[1]}, "
                                f"the sidecar says {w}×{h}")
    examples = [TaughtExample(name, events_to_frames(rec.events, (h, w), t0, T, dt), src, rate)
                for name, t0, src, rate in items]
    classes = [str(c) for c in doc.get("classes") or []]
    return ExampleSet(T, dt, (h, w), examples, str(doc.get("model") or ""), classes)
