"""Compare 2–4 models in lock-step on the same stream.

The session runs the compared models on exactly the same frames as the main one
(:meth:`Session.set_compare`; their snapshots ride in ``Snapshot.compare``). :class:`CompareTable`
folds those snapshots into running per-model figures — mean firing rate, spikes, SOPs and energy
per step, step latency, accuracy over labelled steps and agreement with the first model — that
the GUI shows as a table and a script can print.
"""

from __future__ import annotations

from dataclasses import dataclass

from snnstudio.engine.snapshot import Snapshot


@dataclass
class ModelRow:
    """Running sums for one model; read the ``mean_*`` / ``accuracy`` properties."""

    name: str
    steps: int = 0
    rate_sum: float = 0.0
    spikes_sum: float = 0.0
    sops_sum: float = 0.0
    sops_steps: int = 0
    energy_sum: float = 0.0
    latency_sum: float = 0.0
    labelled: int = 0
    correct: int = 0
    agree: int = 0
    last_predicted: int | None = None
    last_confidence: float = 0.0

    @property
    def mean_rate(self) -> float:
        return self.rate_sum / self.steps if self.steps else 0.0

    @property
    def mean_spikes(self) -> float:
        return self.spikes_sum / self.steps if self.steps else 0.0

    @property
    def mean_sops(self) -> float | None:
        return self.sops_sum / self.sops_steps if self.sops_steps else None

    @property
    def mean_energy_pj(self) -> float | None:
        return self.energy_sum / self.sops_steps if self.sops_steps else None

    @property
    def mean_latency_ms(self) -> float:
        return self.latency_sum / self.steps if self.steps else 0.0

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.labelled if self.labelled else None

    @property
    def agreement(self) -> float:
        """Fraction of steps whose prediction equals the first model's."""
        return self.agree / self.steps if self.steps else 0.0


class CompareTable:
    """Per-model running figures over the snapshots fed to :meth:`add` (main model first)."""

    def __init__(self):
        self.rows: list[ModelRow] = []

    def reset(self) -> None:
        self.rows = []

    def add(self, snap: Snapshot) -> None:
        group = (snap, *snap.compare)
        names = [s.model_name for s in group]
        if [r.name for r in self.rows] != names:
            self.rows = [ModelRow(n) for n in names]
        first = snap.predicted
        for row, s in zip(self.rows, group):
            m = s.metrics
            row.steps += 1
            row.rate_sum += m.firing_rate
            row.spikes_sum += m.spike_count
            if m.sops is not None:
                row.sops_sum += m.sops
                row.energy_sum += m.energy_pj or 0.0
                row.sops_steps += 1
            row.latency_sum += m.latency_ms
            if s.label is not None and s.predicted is not None:
                row.labelled += 1
                row.correct += int(s.predicted == s.label)
            row.agree += int(s.predicted == first)
            row.last_predicted, row.last_confidence = s.predicted, s.confidence
