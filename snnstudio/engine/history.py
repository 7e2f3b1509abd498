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
from collections import deque
from collections.abc import Iterable
from pathlib import Path

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


class MetricsHistory:
    """The last ``capacity`` steps' rows (see module docstring)."""

    def __init__(self, capacity: int = 100_000):
        self.rows: deque[dict] = deque(maxlen=capacity)

    def __len__(self) -> int:
        return len(self.rows)

    def clear(self) -> None:
        self.rows.clear()

    def add(self, snaps: Iterable[Snapshot]) -> None:
        for s in snaps:
            if s.index == 0:
                self.rows.clear()
            self.rows.append(history_row(s))

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.DictWriter(buf, HISTORY_COLUMNS, lineterminator="\n")
        w.writeheader()
        for r in self.rows:
            w.writerow({k: ("" if v is None else v) for k, v in r.items()})
        return buf.getvalue()

    def to_json(self) -> str:
        return json.dumps({"columns": list(HISTORY_COLUMNS), "rows": list(self.rows)}, indent=1)

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
