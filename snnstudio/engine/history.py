"""The per-step metrics history the studio shows, kept for export (CSV / JSON). Qt-free.

One row per snapshot (model step): ``index``, ``t_start_us`` / ``t_end_us`` (µs, stream clock),
``n_events``, ``firing_rate`` (fraction of all spiking neurons that fired), ``spike_count``,
``sops`` and ``energy_pj`` (empty until the meter has measured them), ``latency_ms`` (step
latency), ``predicted`` (class id) / ``predicted_name`` / ``confidence`` (0–1), and the ground
truth ``label`` / ``label_name`` where known. A snapshot with ``index == 0`` (a new source)
starts a new history. Files are written to a temp file beside the target and renamed.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from snnstudio.engine.snapshot import Snapshot
from snnstudio.errors import SnnStudioError

HISTORY_COLUMNS = ("index", "t_start_us", "t_end_us", "n_events", "firing_rate", "spike_count", "sops", "energy_pj",
                   "latency_ms", "predicted", "predicted_name", "confidence", "label", "label_name", "model")


def history_row(s: Snapshot) -> dict:
    m = s.metrics
    name = s.class_names[s.predicted] if s.predicted is not None and s.predicted < len(s.class_names) else None
    return {
        "index": s.index, "t_start_us": s.t_start_us, "t_end_us": s.t_end_us, "n_events": s.n_events,
        "firing_rate": m.firing_rate, "spike_count": m.spike_count, "sops": m.sops, "energy_pj": m.energy_pj,
        "latency_ms": m.latency_ms, "predicted": s.predicted, "predicted_name": name, "confidence": s.confidence,
        "label": s.label, "label_name": s.label_name, "model": s.model_name,
    }


#: the columns kept as numbers (``None``: NaN) and those of them that are whole numbers
_NUMERIC = tuple(c for c in HISTORY_COLUMNS if c not in ("predicted_name", "label_name", "model"))
_WHOLE = frozenset(("index", "t_start_us", "t_end_us", "n_events", "spike_count", "predicted", "label"))
#: the text columns, kept as codes into the history's list of distinct texts (``-1``: ``None``)
_TEXT = ("predicted_name", "label_name", "model")


class MetricsHistory:
    """The last ``capacity`` steps' rows (see module docstring), in a ring of preallocated columns
    (float64 numbers, NaN for none; int32 codes of the few distinct texts): ~110 bytes a step,
    not the ~1 KB of a dict of Python objects (100 000 steps: ~11 MB, taken when the history is
    made, so the window's memory stays flat while it fills)."""

    def __init__(self, capacity: int = 100_000):
        self.capacity = int(capacity)
        # written through now (not left to the first writes): the memory is taken once, up front,
        # and a long session's resident size does not creep up while the history fills
        self._num = np.full((self.capacity, len(_NUMERIC)), np.nan, dtype=np.float64)
        self._text = np.full((self.capacity, len(_TEXT)), -1, dtype=np.int32)
        self._start = 0  # ring position of the oldest row
        self._n = 0
        self._codes: dict[str, int] = {}
        self._texts: list[str] = []

    def __len__(self) -> int:
        return self._n

    def clear(self) -> None:
        self._start = self._n = 0
        self._codes.clear()
        self._texts.clear()

    def _code(self, text: str | None) -> int:
        if text is None:
            return -1
        code = self._codes.get(text)
        if code is None:
            code = self._codes[text] = len(self._texts)
            self._texts.append(str(text))
        return code

    def add(self, snaps: Iterable[Snapshot]) -> None:
        for s in snaps:
            if s.index == 0:
                self.clear()
            row = history_row(s)
            k = (self._start + self._n) % self.capacity
            if self._n < self.capacity:
                self._n += 1
            else:
                self._start = (self._start + 1) % self.capacity
            self._num[k] = [np.nan if row[c] is None else float(row[c]) for c in _NUMERIC]
            self._text[k] = [self._code(row[c]) for c in _TEXT]

    @property
    def rows(self) -> list[dict]:
        """The rows, oldest first, as dictionaries of :data:`HISTORY_COLUMNS` (built on demand)."""
        order = (self._start + np.arange(self._n)) % self.capacity
        num, text = self._num[order].tolist(), self._text[order].tolist()
        out = []
        for nums, codes in zip(num, text):
            row = {c: (None if v != v else int(v) if c in _WHOLE else v) for c, v in zip(_NUMERIC, nums)}
            row.update((c, None if code < 0 else self._texts[code]) for c, code in zip(_TEXT, codes))
            out.append({c: row[c] for c in HISTORY_COLUMNS})
        return out

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.DictWriter(buf, HISTORY_COLUMNS, lineterminator="\n")
        w.writeheader()
        for r in self.rows:
            w.writerow({k: ("" if v is None else v) for k, v in r.items()})
        return buf.getvalue()

    def to_json(self) -> str:
        return json.dumps({"columns": list(HISTORY_COLUMNS), "rows": self.rows}, indent=1)

    def write(self, path: str | os.PathLike) -> Path:
        """``.csv`` or ``.json``, atomically."""
        from snnstudio.events.io._common import atomic_write

        p = Path(path)
        ext = p.suffix.lower()
        if ext not in (".csv", ".json"):
            raise SnnStudioError(f"{p.name}: export metrics as .csv or .json")
        text = self.to_csv() if ext == ".csv" else self.to_json()
        with atomic_write(p, "w") as (_tmp, f):
            f.write(text)
        return p
