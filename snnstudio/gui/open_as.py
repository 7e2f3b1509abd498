"""The "Open as…" dialog: say what a headerless or ambiguous event file is — its format and its
sensor size — when content detection cannot (an EVT2/EVT3 ``.raw`` without its ``%`` header, an
N-MNIST-looking ``.bin`` that is something else). The answer is a file spec,
``file[format=evt2,sensor=320x320]:PATH`` (:func:`snnstudio.events.sources.file_spec`), which the
engine opens, and a restart opens again, as it is."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout

from snnstudio.errors import SnnStudioError
from snnstudio.events.io import FORMATS, HEADERLESS_FORMATS
from snnstudio.events.io.detect import detect_format


def detection_problem(path: str | Path) -> str | None:
    """Why content detection cannot say what ``path`` is (the detector's one-line error), or ``None``
    when it can (videos and anything detected open straight away)."""
    try:
        detect_format(path)
    except SnnStudioError as exc:
        return str(exc)
    return None


class OpenAsDialog(QDialog):
    """Format (or "detect") and sensor size (``WxH``, empty: the file's) for one file; on OK
    :attr:`spec` is the file spec to open. A bad entry is said in the dialog, which stays open."""

    def __init__(self, parent=None, path: str | Path = "", reason: str = "", format: str | None = None):
        super().__init__(parent)
        self.setWindowTitle("Open as…")
        self.path = str(path)
        self.spec: str | None = None
        lay = QVBoxLayout(self)
        head = QLabel(f"<b>{Path(self.path).name}</b>")
        head.setToolTip(self.path)
        lay.addWidget(head)
        # the detector's words name the command line's options too: the full text in the tooltip
        self.reason = QLabel("Its content does not say what it is: choose its format and sensor size." if reason else "")
        self.reason.setToolTip(reason)
        self.reason.setWordWrap(True)
        self.reason.setVisible(bool(reason))
        lay.addWidget(self.reason)
        form = QFormLayout()
        self.format = QComboBox()
        self.format.addItem("detect from the content", None)
        for f in FORMATS.values():  # the headerless ones first: they are why this dialog exists
            if f.name in HEADERLESS_FORMATS:
                self.format.addItem(f"{f.name} — {f.description}", f.name)
        for f in FORMATS.values():
            if f.name not in HEADERLESS_FORMATS:
                self.format.addItem(f"{f.name} — {f.description}", f.name)
        if format is not None:
            self.format.setCurrentIndex(max(0, self.format.findData(format)))
        form.addRow("Format", self.format)
        self.sensor = QLineEdit()
        self.sensor.setPlaceholderText("from the file, e.g. 320x320")
        self.sensor.setToolTip("sensor width x height in pixels (a GenX320 is 320x320, N-MNIST 34x34); "
                               "empty: the file's header, else the events' extent")
        form.addRow("Sensor (W×H)", self.sensor)
        lay.addLayout(form)
        self.error = QLabel()
        self.error.setObjectName("openAsError")
        self.error.setWordWrap(True)
        self.error.hide()
        lay.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.button(QDialogButtonBox.Ok).setText("Open")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)

    def accept(self) -> None:
        from snnstudio.events.sources import file_spec

        try:
            self.spec = file_spec(self.path, self.format.currentData(), self.sensor.text())
        except SnnStudioError as exc:
            self.error.setText(str(exc))
            self.error.show()
            return
        super().accept()
