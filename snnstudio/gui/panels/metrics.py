"""Metrics panel: per-layer firing rate and spike count this step, and the totals (rate, spikes,
synaptic operations, energy, step latency).

A table is slow to repaint and numbers that change 30 times a second cannot be read anyway: the
panel redraws at most ``RATE_HZ`` times a second (the newest snapshot then), and only the cells
whose text changed are set.
"""

from __future__ import annotations

import time

from PySide6.QtWidgets import QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from snnstudio.engine.snapshot import Snapshot

COLUMNS = ("layer", "neuron", "neurons", "rate %", "spikes")
#: redraws per second at most
RATE_HZ = 4.0


class MetricsPanel(QWidget):
    def __init__(self, model, parent=None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
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

    def _set(self, r: int, c: int, text: str) -> None:
        item = self.table.item(r, c)
        if item is None:
            item = QTableWidgetItem()
            self.table.setItem(r, c, item)
        if item.text() != text:
            item.setText(text)

    def draw(self, s: Snapshot, force: bool = False) -> None:
        if not self.isVisible():
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
            self._set(r, 3, f"{100 * layer.rate:.2f}")
            self._set(r, 4, f"{layer.spike_count:,}")
        m = s.metrics
        parts = [f"total rate {100 * m.firing_rate:.2f} %", f"{m.spike_count:,} spikes", f"step {m.latency_ms:.1f} ms"]
        if m.sops is not None:
            parts.append(f"{m.sops:,.0f} SOPs")
        if m.energy_pj is not None:
            parts.append(f"{m.energy_pj / 1e6:.3f} µJ")
        text = "   ·   ".join(parts)
        if self.totals.text() != text:
            self.totals.setText(text)
