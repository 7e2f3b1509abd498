"""Metrics panel: per-layer firing rate and spike count this step, and the totals (rate, spikes,
synaptic operations, energy, step latency)."""

from __future__ import annotations

from PySide6.QtWidgets import QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from snnstudio.engine.snapshot import Snapshot

COLUMNS = ("layer", "neuron", "neurons", "rate %", "spikes")


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
        model.snapshot.connect(self.draw)

    def _set(self, r: int, c: int, text: str) -> None:
        item = self.table.item(r, c)
        if item is None:
            item = QTableWidgetItem()
            self.table.setItem(r, c, item)
        item.setText(text)

    def draw(self, s: Snapshot) -> None:
        if not self.isVisible():
            return
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
        self.totals.setText("   ·   ".join(parts))
