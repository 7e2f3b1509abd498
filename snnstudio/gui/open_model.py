"""File → Open model…: pick your own network — a snnstudio checkpoint (``.json``), a NIR graph
(``.nir``, with its time step when the graph does not give one) or a Python factory
(``file.py:factory`` / ``package.module:factory`` with an optional ``.safetensors`` / ``.pt``
weights file) — and see plainly which code opening it will run before it does.

Torch-free: the dialog only builds a :class:`~snnstudio.engine.spec.ModelSpec` and checks that
its files are there; the engine process loads it (errors come back as one-line messages).
Recent models are kept in ``QSettings`` (``models/recent``, JSON, newest first).
"""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton,
    QSpinBox, QVBoxLayout, QWidget,
)

from snnstudio.engine.spec import ModelSpec, spec_from_dict, spec_to_dict
from snnstudio.errors import SnnStudioError

KINDS = (
    ("checkpoint", "snnstudio checkpoint (.json + .safetensors)"),
    ("nir", "NIR graph (.nir)"),
    ("python", "Python factory (file.py or package.module, and a function)"),
)
RECENT_KEY = "models/recent"
RECENT_MAX = 8


def _absolute(path: str) -> str:
    """An existing file's absolute path (recent models stay valid from any folder); else as typed
    (a module name, or a missing file the check then names)."""
    return str(Path(path).resolve()) if path and Path(path).is_file() else path


def _row(*widgets) -> QWidget:
    w = QWidget()
    lay = QHBoxLayout(w)
    lay.setContentsMargins(0, 0, 0, 0)
    for x in widgets:
        lay.addWidget(x, 1 if isinstance(x, QLineEdit) else 0)
    return w


class OpenModelDialog(QDialog):
    """Build a :class:`ModelSpec`; :attr:`code_note` says what code it runs (updated as you type)."""

    def __init__(self, parent=None, start: ModelSpec | None = None):
        super().__init__(parent)
        self.setWindowTitle("Open model")
        self.setMinimumWidth(560)
        lay = QVBoxLayout(self)
        form = QFormLayout()
        self.kind = QComboBox()
        for key, text in KINDS:
            self.kind.addItem(text, key)
        self.path = QLineEdit()
        self.path.setPlaceholderText("path/to/model.json")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.factory = QLineEdit("factory")
        self.factory.setToolTip("the function (or class) in the file / module that returns the torch nn.Module")
        self.weights = QLineEdit()
        self.weights.setPlaceholderText("optional: .safetensors or a .pt state dict (never runs code)")
        browse_w = QPushButton("Browse…")
        browse_w.clicked.connect(self._browse_weights)
        self.dt = QSpinBox()
        self.dt.setRange(0, 10_000_000)
        self.dt.setSuffix(" µs")
        self.dt.setSpecialValueText("from the graph")
        self.dt.setToolTip("the graph's Euler time step, when its metadata has none (snnTorch / SpikingJelly export "
                           "with 100 µs; Norse 1.1 with 1000 µs when written with to_nir(..., dt=1.0), see the README)")
        form.addRow("kind", self.kind)
        form.addRow("model", _row(self.path, browse))
        self.factory_row = QLabel("function")
        form.addRow(self.factory_row, self.factory)
        self.weights_row = QLabel("weights")
        self.weights_box = _row(self.weights, browse_w)
        form.addRow(self.weights_row, self.weights_box)
        self.dt_row = QLabel("time step")
        form.addRow(self.dt_row, self.dt)
        lay.addLayout(form)
        #: what opening the spec runs, in words (the point of this dialog)
        self.code_note = QLabel()
        self.code_note.setWordWrap(True)
        self.code_note.setObjectName("code_note")
        lay.addWidget(self.code_note)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #e0605e")
        lay.addWidget(self.error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        for w in (self.path, self.factory, self.weights):
            w.textChanged.connect(self._update)
        self.kind.currentIndexChanged.connect(self._update)
        self.dt.valueChanged.connect(self._update)
        if start is not None:
            self.set_spec(start)
        self._update()

    # ------------------------------------------------------------------ the spec
    def set_spec(self, spec: ModelSpec) -> None:
        kind = spec.kind if spec.kind != "builtin" else "checkpoint"
        self.kind.setCurrentIndex([k for k, _ in KINDS].index(kind))
        target = spec.target or ""
        if kind == "python":
            where, factory = target.rsplit(":", 1)
            self.path.setText(where)
            self.factory.setText(factory)
        else:
            self.path.setText(target)
        self.weights.setText(spec.weights or "")
        self.dt.setValue(int(spec.dt_us or 0))

    def spec(self) -> ModelSpec:
        """The spec the fields say (not checked)."""
        kind = self.kind.currentData()
        path = _absolute(self.path.text().strip())
        if kind == "python":
            return ModelSpec(f"{path}:{self.factory.text().strip()}", _absolute(self.weights.text().strip()) or None)
        if kind == "nir":
            return ModelSpec(path, dt_us=self.dt.value() or None)
        return ModelSpec(path)

    def _update(self) -> None:
        kind = self.kind.currentData()
        for w in (self.factory_row, self.factory, self.weights_row, self.weights_box):
            w.setVisible(kind == "python")
        self.dt_row.setVisible(kind == "nir")
        self.dt.setVisible(kind == "nir")
        self.path.setPlaceholderText({"checkpoint": "path/to/model.json", "nir": "path/to/graph.nir",
                                      "python": "path/to/file.py or package.module"}[kind])
        self.error.clear()
        spec = self.spec()
        runs = spec.runs_code() if kind == "python" and self.path.text().strip() else None
        ok = self.buttons.button(QDialogButtonBox.Ok)
        if kind == "python":
            self.code_note.setText(
                f"<b>Opening this runs Python code with your permissions:</b> {runs or 'the file or module you name'}. "
                "Open only code you trust.")
            ok.setText("Run this code and open")
        else:
            self.code_note.setText("No code runs: the file is only read (snnstudio builds the network from it).")
            ok.setText("Open")

    def _accept(self) -> None:
        try:
            spec = self.spec()
            if not (spec.target or "").strip(":"):
                raise SnnStudioError("name a model file (or a Python file / module and its function)")
            if spec.kind != self.kind.currentData():
                raise SnnStudioError(f"{spec.target!r} is not a {self.kind.currentText()}")
            spec.check()
        except SnnStudioError as exc:
            self.error.setText(str(exc))
            return
        self.accept()

    # ------------------------------------------------------------------ files
    def _browse(self) -> None:
        kind = self.kind.currentData()
        filters = {"checkpoint": "snnstudio checkpoints (*.json)", "nir": "NIR graphs (*.nir)",
                   "python": "Python files (*.py)"}[kind]
        start = self.path.text().strip() or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Open model", start, f"{filters};;all files (*)")
        if path:
            self.path.setText(path)

    def _browse_weights(self) -> None:
        start = self.weights.text().strip() or str(Path(self.path.text().strip() or Path.home()).parent)
        path, _ = QFileDialog.getOpenFileName(self, "Weights", start, "weights (*.safetensors *.pt *.pth);;all files (*)")
        if path:
            self.weights.setText(path)


# ---------------------------------------------------------------------- recent models
def recent_models(settings) -> list[ModelSpec]:
    """The recent model specs, newest first (none without settings or when unreadable)."""
    if settings is None:
        return []
    raw = settings.value(RECENT_KEY, "[]")
    try:
        return [spec_from_dict(d) for d in json.loads(raw) if isinstance(d, dict)][:RECENT_MAX]
    except (TypeError, ValueError):
        return []


def remember_model(settings, spec: ModelSpec) -> list[ModelSpec]:
    """Put ``spec`` first in the recent list (once); returns the list."""
    specs = [spec] + [s for s in recent_models(settings) if s != spec]
    specs = specs[:RECENT_MAX]
    if settings is not None:
        settings.setValue(RECENT_KEY, json.dumps([spec_to_dict(s) for s in specs]))
    return specs


def describe(spec: ModelSpec) -> str:
    """A menu entry: the label, the file and, for Python, that code runs."""
    extra = f" + {Path(spec.weights).name}" if spec.weights else ""
    run = "  (runs Python)" if spec.kind == "python" else ""
    return f"{spec.label}{extra} — {spec.target}{run}"
