"""Metrics panel: per layer its firing rate (spikes / neuron-steps over every step the model ran
for this snapshot — a window model's whole window, as ``snnstudio eval`` counts it; the newest
step alone in the tooltip), spike count at the newest step, SOPs and energy per time step of its
block; and the totals (rate, spikes, synaptic operations, energy, step latency).

A table is slow to repaint and numbers that change 30 times a second cannot be read anyway: the
panel redraws at most ``RATE_HZ`` times a second (the newest snapshot then), and only the cells
whose text changed are set.
"""

from __future__ import annotations

import time

from PySide6.QtWidgets import QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout

from snnstudio.engine.snapshot import Snapshot
from snnstudio.gui.panels.base import SnapshotPanel

COLUMNS = ("layer", "neuron", "neurons", "rate %", "spikes", "SOPs", "µJ")
TIPS = ("spiking layer", "neuron type", "neurons per sample",
        "firing rate: spikes / neuron-steps over every step the model ran for this step (a window model's "
        "T steps; as snnstudio eval)", "spikes at the newest time step",
        "synaptic operations per time step of the layer's block (its input weights and attention)",
        "energy per time step of the layer's block (µJ; 4.6 pJ per MAC + 0.9 pJ per accumulate)")
#: redraws per second at most
RATE_HZ = 4.0


class MetricsPanel(SnapshotPanel):
    def __init__(self, model, parent=None):
        super().__init__(model, parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        for c, tip in enumerate(TIPS):
            self.table.horizontalHeaderItem(c).setToolTip(tip)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.table.setSelectionMode(QTableWidget.NoSelection)
        self.totals = QLabel("")
        self.totals.setObjectName("muted")
        self.totals.setWordWrap(True)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.totals)
        self._last_draw = -1e9
        self.draws = 0
        model.snapshot.connect(self.draw)

    def _set(self, r: int, c: int, text: str, tip: str | None = None) -> None:
        item = self.table.item(r, c)
        if item is None:
            item = QTableWidgetItem()
            self.table.setItem(r, c, item)
        if item.text() != text:
            item.setText(text)
        if tip is not None and item.toolTip() != tip:
            item.setToolTip(tip)

    def draw(self, s: Snapshot, force: bool = False) -> None:
        if not self.showing():
            return
        now = time.perf_counter()
        if not force and now - self._last_draw < 1.0 / RATE_HZ:
            return
        self._last_draw = now
        self.draws += 1
        if self.table.rowCount() != len(s.layers):
            self.table.setRowCount(len(s.layers))
        for r, layer in enumerate(s.layers):
            self._set(r, 0, layer.name)
            self._set(r, 1, layer.kind)
            self._set(r, 2, f"{layer.n_neurons:,}")
            self._set(r, 3, f"{100 * layer.mean_rate:.2f}",
                      f"{100 * layer.mean_rate:.2f} % over {layer.window_steps} step(s); "
                      f"{100 * layer.rate:.2f} % at the newest step")
            self._set(r, 4, f"{layer.spike_count:,}")
            self._set(r, 5, "–" if layer.sops is None else f"{layer.sops:,.0f}")
            self._set(r, 6, "–" if layer.energy_pj is None else f"{layer.energy_pj / 1e6:.4f}")
        m = s.metrics
        parts = [f"total rate {100 * m.firing_rate:.2f} %", f"{m.spike_count:,} spikes", f"step {m.latency_ms:.1f} ms"]
        if m.sops is not None:
            parts.append(f"{m.sops:,.0f} SOPs")
        if m.energy_pj is not None:
            parts.append(f"{m.energy_pj / 1e6:.3f} µJ")
        text = "   ·   ".join(parts)
        if self.totals.text() != text:
            self.totals.setText(text)
