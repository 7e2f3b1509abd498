"""Compare panel: the compared models side by side, one row each — current prediction and
confidence, and running means (firing rate, spikes, SOPs, energy, latency), accuracy over labelled
steps and agreement with the main model."""

from __future__ import annotations

import time

from PySide6.QtWidgets import QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from snnstudio.engine.compare import CompareTable

#: table redraws per second at most
RATE_HZ = 4.0
COLUMNS = ("model", "predicted", "conf %", "rate %", "spikes", "SOPs", "energy µJ", "step ms", "accuracy %", "agrees %")


class ComparePanel(QWidget):
    def __init__(self, model, parent=None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        self.hint = QLabel("Compare models on the same stream: snnstudio gui --compare MODEL [MODEL ...]")
        self.hint.setObjectName("muted")
        self.hint.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        lay.addWidget(self.hint)
        lay.addWidget(self.table, 1)
        self.stats = CompareTable()
        self._last_draw = -1e9
        model.snapshots.connect(self.push)

    def push(self, snaps) -> None:
        for s in snaps:
            if s.index == 0:
                self.stats.reset()
            self.stats.add(s)
        if not snaps or not self.isVisible():
            return
        now = time.perf_counter()
        if now - self._last_draw < 1.0 / RATE_HZ:  # running means: a few redraws a second suffice
            return
        self._last_draw = now
        last = snaps[-1]
        self.hint.setVisible(not last.compare)
        rows = self.stats.rows
        if self.table.rowCount() != len(rows):
            self.table.setRowCount(len(rows))
        group = (last, *last.compare)
        for r, (row, s) in enumerate(zip(rows, group)):
            names = s.class_names
            pred = "—" if row.last_predicted is None else (names[row.last_predicted] if row.last_predicted < len(names) else str(row.last_predicted))
            acc = row.accuracy
            cells = (
                row.name, pred, f"{100 * row.last_confidence:.0f}", f"{100 * row.mean_rate:.2f}", f"{row.mean_spikes:,.0f}",
                "—" if row.mean_sops is None else f"{row.mean_sops:,.0f}",
                "—" if row.mean_energy_pj is None else f"{row.mean_energy_pj / 1e6:.3f}",
                f"{row.mean_latency_ms:.1f}", "—" if acc is None else f"{100 * acc:.1f}", f"{100 * row.agreement:.0f}",
            )
            for c, text in enumerate(cells):
                item = self.table.item(r, c)
                if item is None:
                    item = QTableWidgetItem()
                    self.table.setItem(r, c, item)
                if item.text() != text:  # an unchanged cell is not re-laid out (ResizeToContents)
                    item.setText(text)
