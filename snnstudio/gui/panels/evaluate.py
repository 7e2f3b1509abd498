"""Evaluate panel: run the current variants over a labelled set in the background and collect the
rows in an ablation table (the columns of ``snnstudio eval``), saved as CSV or JSON.

Variants: the loaded model as trained; its attention switched off (all blocks) or one part at a
time (TA / CA / SA), its residual shortcuts off; the modules as currently switched in the Model
panel; another neuron type; and any bundled models ticked in the list. Data: the bundled
synthetic held-out split (``synthetic:test``), a DVS128 Gesture folder or a folder of recordings
(one sub-folder per class), each with a sample limit.

Results: the table (short cells, one row per model × variant; the model column shows only when
several models are evaluated, so every column fits a narrow dock) above the live plots of
:class:`~snnstudio.gui.panels.eval_plots.EvalPlots` (accuracy vs energy, vs spikes with the Pareto
front, per-layer firing rates; hovering a point selects its row). Running collapses the settings
column (the Settings button brings it back). Saved as CSV / JSON (the table) or PNG / SVG (the
plots with the table, :func:`snnstudio.train.plots.write_plot`: needs matplotlib). The work runs on
:class:`snnstudio.engine.evaluation.EvaluationJob`'s thread — in a process of its own when the
studio's engine runs in one, so the window never loads torch; its callbacks only put items in a queue, which a timer on the GUI thread drains — no Qt object is
touched from the worker — so the table fills and the progress bar moves on the GUI thread.
"""

from __future__ import annotations


from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from snnstudio.engine.evaluation import EvalRequest, EvaluationJob, write_result
from snnstudio.engine.catalog import bundled_names
from snnstudio.engine.types import ModelInfo, SessionState
from snnstudio.gui.panels.model_panel import refill
from snnstudio.gui.job_inbox import JobInbox
from snnstudio.gui.panels.eval_plots import EvalPlots
from snnstudio.train.plots import TABLE_COLUMNS, format_cells

HEADERS = tuple(title for title, _ in TABLE_COLUMNS)
DATA_KINDS = (("synthetic test split", "synthetic"), ("DVS128 Gesture folder", "dvsgesture"), ("folder of recordings", "folder"))
PARTS = (("ta", "TA off"), ("ca", "CA off"), ("sa", "SA off"))


#: the table cells of one result row (the figures of ``snnstudio eval``, short: ``27.4 k`` spikes)
format_row = format_cells


class EvaluatePanel(QWidget):
    finished = Signal(object)

    def __init__(self, model, parent=None):
        super().__init__(parent)
        self.model = model
        outer = QHBoxLayout(self)
        outer.setContentsMargins(8, 6, 8, 6)
        outer.setSpacing(10)
        side = QWidget()
        side.setMaximumWidth(300)
        lay = QVBoxLayout(side)
        lay.setContentsMargins(0, 0, 0, 0)

        grid = QGridLayout()
        grid.setHorizontalSpacing(6)
        self.kind = QComboBox()
        for text, key in DATA_KINDS:
            self.kind.addItem(text, key)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.path = QLineEdit()
        self.path.setPlaceholderText("folder")
        self.browse = QPushButton("…")
        self.browse.setToolTip("choose the folder")
        self.browse.clicked.connect(self._browse)
        self.limit = QSpinBox()
        self.limit.setRange(0, 100_000)
        self.limit.setValue(50)
        self.limit.setSpecialValueText("all")
        self.limit.setToolTip("evaluate at most this many samples (class-balanced); 0 = all")
        grid.addWidget(QLabel("data"), 0, 0)
        grid.addWidget(self.kind, 0, 1)
        grid.addWidget(QLabel("limit"), 0, 2)
        grid.addWidget(self.limit, 0, 3)
        grid.addWidget(self.path, 1, 1, 1, 2)
        grid.addWidget(self.browse, 1, 3)
        grid.setColumnStretch(1, 1)
        lay.addLayout(grid)

        vgrid = QGridLayout()
        vgrid.setHorizontalSpacing(6)
        vgrid.setVerticalSpacing(2)
        self.base = QCheckBox("as trained")
        self.base.setChecked(True)
        self.att_off = QCheckBox("attention off")
        self.att_off.setChecked(True)
        self.parts = {key: QCheckBox(text) for key, text in PARTS}
        self.shortcut_off = QCheckBox("shortcuts off")
        self.as_shown = QCheckBox("as switched now")
        self.as_shown.setToolTip("the modules switched off in the Model panel")
        self.use_neuron = QCheckBox("neuron")
        self.neuron = QComboBox()  # the engine's neurons, once its state says them (show_lists)
        cells = (self.base, self.att_off, self.shortcut_off, *self.parts.values(), self.as_shown, self.use_neuron, self.neuron)
        for i, w in enumerate(cells):
            vgrid.addWidget(w, i // 2, i % 2)
        lay.addLayout(vgrid)

        self.use_filters = QCheckBox("events filtered as in Source")
        self.use_filters.setToolTip("evaluate on the data with the Source panel's event filters (as eval --filter)")
        self.use_filters.setEnabled(False)
        lay.addWidget(self.use_filters)
        self.current = QLabel("")
        self.current.setObjectName("muted")
        self.current.setWordWrap(True)
        lay.addWidget(self.current)
        self.models = QListWidget()
        self.models.setToolTip("bundled models evaluated beside the loaded one (tick to add)")
        lay.addWidget(self.models, 1)

        brow = QHBoxLayout()
        self.run_button = QPushButton("Evaluate")
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel")  # beside the progress bar (on the right)
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        brow.addWidget(self.run_button)
        lay.addLayout(brow)
        scroll = QScrollArea()  # the settings scroll rather than force the dock (and the window) to grow
        scroll.setWidget(side)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(100)
        scroll.setMaximumWidth(320)
        outer.addWidget(scroll)
        self._side_layout = lay

        right = QVBoxLayout()
        right.setSpacing(4)
        bar = QHBoxLayout()
        self.settings_button = QPushButton("Settings")
        self.settings_button.setCheckable(True)
        self.settings_button.setChecked(True)
        self.settings_button.setToolTip("show or hide the data and variant settings (hidden while results show)")
        self.settings_button.toggled.connect(lambda on: self._settings.setVisible(on))
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        self.progress.setTextVisible(True)
        self.progress.setMinimumWidth(60)
        self.save_csv = QPushButton("CSV")
        self.save_csv.setToolTip("save the table as CSV (the columns of snnstudio eval)")
        self.save_json = QPushButton("JSON")
        self.save_json.setToolTip("save everything (per-class accuracy, confusion, layers) as JSON")
        self.save_png = QPushButton("PNG")
        self.save_png.setToolTip("save the plots with the table as PNG (as snnstudio eval --plot; needs matplotlib)")
        self.save_svg = QPushButton("SVG")
        self.save_svg.setToolTip("save the plots with the table as SVG (as snnstudio eval --plot; needs matplotlib)")
        self._save_buttons = {"csv": self.save_csv, "json": self.save_json, "png": self.save_png, "svg": self.save_svg}
        for ext, b in self._save_buttons.items():
            b.clicked.connect(lambda _=False, e=ext: self._save_dialog(e))
            b.setEnabled(False)
        bar.addWidget(self.settings_button)
        bar.addWidget(self.progress, 1)
        bar.addWidget(self.cancel_button)
        bar.addWidget(QLabel("save"))
        for b in self._save_buttons.values():
            b.setMaximumWidth(48)
            bar.addWidget(b)
        right.addLayout(bar)

        self.table = QTableWidget(0, len(HEADERS))
        self.table.setHorizontalHeaderLabels(HEADERS)
        for c, (_, tip) in enumerate(TABLE_COLUMNS):
            self.table.horizontalHeaderItem(c).setToolTip(tip)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(False)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 6)
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectRows)
        self.table.setMinimumWidth(40)
        self.table.setColumnHidden(0, True)  # the model: shown when several models are evaluated
        self.plots = EvalPlots()
        self.plots.hovered.connect(self.table.selectRow)
        self.results = QSplitter(Qt.Vertical)
        self.results.addWidget(self.table)
        self.results.addWidget(self.plots)
        self.results.setStretchFactor(0, 1)
        self.results.setStretchFactor(1, 2)
        self.results.setChildrenCollapsible(False)
        right.addWidget(self.results, 1)
        self.status = QLabel("")
        self.status.setObjectName("muted")
        self.status.setWordWrap(True)
        right.addWidget(self.status)
        outer.addLayout(right, 1)
        self._settings = scroll

        self.job: EvaluationJob | None = None
        self.result: dict | None = None
        self._rows: list[dict] = []  # the rows so far of the running evaluation
        self._filters = ""  # the session's event filters (offered by use_filters)
        self.cache_dir = None  # None: the engine's default cache
        self._info: ModelInfo | None = None
        # the job's callbacks, run here on the GUI thread
        self._inbox = JobInbox(self, lambda: self.job is not None and self.job.running)
        self._fill_models()
        self._kind_changed()
        model.model_changed.connect(self.show_model)
        model.state_changed.connect(self.show_lists)

    # ------------------------------------------------------------------ set-up
    def show_lists(self, state: SessionState) -> None:
        """Offer the neurons the engine says it can build, and the Source panel's event filters."""
        filters = getattr(state, "filters", "") or ""
        self.use_filters.setEnabled(bool(filters))
        self.use_filters.setText(f"events filtered: {filters}" if filters else "events filtered as in Source")
        self._filters = filters
        if state.neurons and [self.neuron.itemText(i) for i in range(self.neuron.count())] != list(state.neurons):
            refill(self.neuron, state.neurons)
            if self._info is not None:
                self.show_model(self._info)

    def _fill_models(self) -> None:
        names = bundled_names()
        self.models.clear()
        for n in names:
            item = QListWidgetItem(n)
            item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
            item.setCheckState(Qt.Unchecked)
            self.models.addItem(item)

    def _kind_changed(self, *_):
        synthetic = self.kind.currentData() == "synthetic"
        self.path.setEnabled(not synthetic)
        self.browse.setEnabled(not synthetic)
        self.path.setPlaceholderText("(bundled generator)" if synthetic else "folder …")

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of labelled recordings")
        if folder:
            self.path.setText(folder)

    def show_model(self, info: ModelInfo | None) -> None:
        self._info = info
        names = [m.name for m in info.modules if m.switchable] if info is not None else []
        has_att = any(n.endswith(".attention") for n in names)
        self.att_off.setEnabled(has_att)
        for key, box in self.parts.items():
            box.setEnabled(any(n.endswith("." + key) for n in names))
        self.shortcut_off.setEnabled(any(n.endswith(".shortcut") for n in names))
        off = self._switched_off()
        self.as_shown.setEnabled(bool(off))
        self.as_shown.setToolTip("modules switched off now: " + (", ".join(off) or "none"))
        spec = self.loaded_spec()
        self.current.setText(f"loaded: <b>{spec or (info.name if info else 'none')}</b>" +
                             ("" if spec else " (not a trained checkpoint: tick bundled models to evaluate)"))
        if info is not None and len({k for _, k, _ in info.layers}) == 1:
            i = self.neuron.findText(info.layers[0][1])
            if i >= 0 and not self.use_neuron.isChecked():
                self.neuron.setCurrentIndex(i)

    def _switched_off(self) -> list[str]:
        info = self._info
        return [m.name for m in info.modules if m.switchable and not m.enabled] if info is not None else []

    def loaded_spec(self) -> str | None:
        """The loaded model as a checkpoint spec (bundled name or path), or ``None`` when it is not one."""
        spec = getattr(self.model, "model_spec", None)
        if spec is None:
            return "default"
        if not isinstance(spec, str):
            return None
        names = set(bundled_names())
        if spec in names or spec == "default":
            return spec
        from pathlib import Path

        p = Path(spec)
        if p.suffix in (".json", ".safetensors") or p.with_suffix(".json").is_file():
            return spec
        return None

    # ------------------------------------------------------------------ the request
    def data_spec(self) -> str:
        kind = self.kind.currentData()
        if kind == "synthetic":
            return "synthetic:test"
        path = self.path.text().strip()
        if not path:
            raise ValueError("choose a folder first")
        return f"dvsgesture:{path}:test" if kind == "dvsgesture" else f"{path}:test"

    def variants(self) -> list[str]:
        out = []
        if self.att_off.isEnabled() and self.att_off.isChecked():
            out.append("attention=off")
        for key, box in self.parts.items():
            if box.isEnabled() and box.isChecked():
                out.append(f"{key}=off")
        if self.shortcut_off.isEnabled() and self.shortcut_off.isChecked():
            out.append("shortcut=off")
        if self.as_shown.isEnabled() and self.as_shown.isChecked():
            out.append(",".join(f"{n}=off" for n in self._switched_off()))
        if self.use_neuron.isChecked() and self.neuron.currentText():
            out.append(f"neuron={self.neuron.currentText()}")
        return out

    def chosen_models(self) -> list[str]:
        spec = self.loaded_spec()
        out = [spec] if spec else []
        for i in range(self.models.count()):
            item = self.models.item(i)
            if item.checkState() == Qt.Checked and item.text() not in out:
                out.append(item.text())
        return out

    def request(self) -> EvalRequest:
        kw = {} if self.cache_dir is None else {"cache_dir": self.cache_dir}
        filters = self._filters if self.use_filters.isEnabled() and self.use_filters.isChecked() else ""
        return EvalRequest(models=self.chosen_models(), data=self.data_spec(), variants=self.variants(),
                           include_base=self.base.isChecked(), limit=self.limit.value() or None, filters=filters, **kw)

    # ------------------------------------------------------------------ running
    def run(self) -> None:
        if self.job is not None and self.job.running:
            return
        try:
            req = self.request()
        except ValueError as exc:
            self._say(str(exc))
            return
        if not req.models:
            self._say("nothing to evaluate: the loaded model is not a trained checkpoint; tick a bundled model")
            return
        self.table.setRowCount(0)
        self.table.setColumnHidden(0, len(req.models) < 2)
        self.result = None
        self._rows = []
        self.plots.show_result(None)
        for b in self._save_buttons.values():
            b.setEnabled(False)
        self.settings_button.setChecked(False)  # the results take the dock's width
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, 0)  # busy until the first report
        self.progress.setFormat("starting…")
        n_var = len(req.variants) + int(req.include_base)
        self.status.setText(f"evaluating {len(req.models)} model(s) × {n_var} variant(s) on {req.data}"
                            + (f", first {req.limit} samples" if req.limit else "")
                            + (f", events filtered: {req.filters}" if req.filters else ""))
        later = self._inbox.later

        # with the engine in its own process the window has no torch: evaluate in a process too
        aside = getattr(self.model, "engine", "thread") == "process"
        self.job = EvaluationJob(req, on_progress=later(self._on_progress), on_row=later(self._on_row),
                                 on_done=later(self._on_done), on_error=later(self._on_error), process=aside).start()
        self._inbox.start()


    def cancel(self) -> None:
        if self.job is not None and self.job.running:
            self.job.cancel()
            self.cancel_button.setEnabled(False)
            self.progress.setFormat("cancelling…")

    @property
    def running(self) -> bool:
        return self.job is not None and self.job.running

    def _on_progress(self, done: int, total: int, phase: str) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(("framing data %v / %m" if phase == "data" else "batch %v / %m") + "  (%p %)")

    def _on_row(self, row: dict) -> None:
        self._rows.append(row)
        req = self.job.request if self.job is not None else None
        self.plots.show_result({"rows": list(self._rows), "data": req.data if req else "",
                                "limit": req.limit if req else None, "filters": req.filters if req else ""})
        r = self.table.rowCount()
        self.table.insertRow(r)
        for c, text in enumerate(format_row(row)):
            item = QTableWidgetItem(text)
            if c >= 2:
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
            if row.get("untrained"):
                item.setToolTip(f"{len(row['untrained'])} tensors of the new neuron are untrained")
            self.table.setItem(r, c, item)
        if len({x["model"] for x in self._rows}) > 1:
            self.table.setColumnHidden(0, False)
        self._fit_table()

    def _fit_table(self) -> None:
        """Give the table the height of its rows (up to half the results), the plots the rest."""
        t = self.table
        need = t.horizontalHeader().height() + 2 * t.frameWidth() + 2
        need += sum(t.rowHeight(r) for r in range(t.rowCount()))
        if t.horizontalScrollBar().isVisible():
            need += t.horizontalScrollBar().height()
        total = sum(self.results.sizes())
        if total > 0:
            top = min(need, total // 2)
            self.results.setSizes([top, total - top])

    def _finish(self) -> None:
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1)

    def _on_done(self, result: dict) -> None:
        self.result = result
        self._finish()
        n = len(result["rows"])
        if result["cancelled"]:
            self.progress.setFormat(f"cancelled — {n} row(s) done")
        else:
            self.progress.setValue(self.progress.maximum())
            self.progress.setFormat(f"done — {n} row(s)")
        for b in self._save_buttons.values():
            b.setEnabled(n > 0)
        self.plots.show_result(result)
        self.finished.emit(result)

    def _on_error(self, text: str) -> None:
        if self.job is None or self.job.error is None:  # a variant that does not apply to one model: a note
            self.status.setText(text)
            return
        self._say(text)
        self._finish()
        self.settings_button.setChecked(True)  # what to change is in the settings
        self.progress.setFormat("failed")
        self.finished.emit(None)

    def _say(self, text: str) -> None:
        self.status.setText(text)
        self.model.message.emit(f"evaluate: {text}")

    # ------------------------------------------------------------------ saving
    def save(self, path) -> None:
        """Write the last table: ``.csv`` (the ``snnstudio eval`` columns), ``.json`` (everything),
        or the plots with the table: ``.png`` / ``.svg`` (as ``snnstudio eval --plot``)."""
        from pathlib import Path

        if self.result is None:
            raise ValueError("no evaluation to save yet")
        if Path(path).suffix.lower() in (".png", ".svg"):
            from snnstudio.train.plots import write_plot

            write_plot(self.result, path)
        else:
            write_result(self.result, path)
        self.status.setText(f"saved {path}")

    def _save_dialog(self, ext: str) -> None:
        what = "plots" if ext in ("png", "svg") else "table"
        path, _ = QFileDialog.getSaveFileName(self, f"Save the evaluation {what}", f"evaluation.{ext}", f"{ext.upper()} (*.{ext})")
        if path:
            try:
                self.save(path)
            except Exception as exc:  # a read-only folder, a full disk: say it, keep running
                self._say(f"could not save {path}: {exc}")
