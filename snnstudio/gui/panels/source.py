"""Source panel: what is playing (open a file — also by drag-and-drop on the window — or connect a
live source by its spec: ``camera``, ``webcam``, ``video:PATH``, ``network:HOST:PORT``,
``synthetic``), the playback bar (play/pause, step, seek, speed, loop), the stream settings (step
``dt`` in ms, window T), the input mapping (:class:`~snnstudio.events.preprocess.Preprocess`:
region of interest, mirror, flicker suppression and the emulator's pixel settings) and the event
filters (hot pixels, polarity, refractory period, background-activity denoising, crop, downsample:
one spec of :func:`snnstudio.events.filters.parse_filters`, sent with the session's
``set_filters`` control, so a restarted engine keeps them)."""

from __future__ import annotations

import html
import time
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFrame,
    QGroupBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from snnstudio.engine.types import SessionState
from snnstudio.engine.snapshot import Snapshot
from snnstudio.events.emulator import EmulatorConfig
from snnstudio.events.filters import FilterError, FilterSpec, format_filters, parse_filters
from snnstudio.events.io import READ_EXTENSIONS
from snnstudio.events.preprocess import Preprocess
from snnstudio.events.sources import VIDEO_EXTENSIONS
from snnstudio.events.sources.kinds import SOURCE_KIND_TABLE, source_syntax
from snnstudio.gui.session_model import SPEEDS
from snnstudio.gui.steady_label import SteadyLabel

_EVENTS = " ".join(f"*{e}" for e in READ_EXTENSIONS)
_VIDEOS = " ".join(f"*{e}" for e in VIDEO_EXTENSIONS)
#: the open dialog's filter, from the readers' registry and the video extensions
FILE_FILTER = (f"Event recordings and videos ({_EVENTS} {_VIDEOS});;Event recordings ({_EVENTS});;"
               f"Videos, turned into events ({_VIDEOS});;All files (*)")


#: the shortest interval between two updates of the position while playing (s)
CLOCK_INTERVAL_S = 0.1


def fmt_time(us: int | None) -> str:
    if us is None:
        return "–:–"
    s = us / 1e6
    return f"{int(s // 60)}:{s % 60:06.3f}"


class SourcePanel(QWidget):
    open_requested = Signal(str)

    def __init__(self, model, parent=None):
        super().__init__(parent)
        self.model = model
        st = self.style()
        # the panel scrolls rather than squeeze its rows when its dock is short
        inner = QWidget()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.NoFrame)
        scroll.setWidget(inner)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        lay = QVBoxLayout(inner)
        lay.setContentsMargins(8, 6, 8, 6)
        top = QHBoxLayout()
        self.name = QLabel("nothing open")
        self.name.setWordWrap(True)
        # a long path must not widen the panel: it is shortened to its file name (full in the tooltip)
        self.name.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.open_button = QPushButton("Open…")
        self.open_button.clicked.connect(self.choose_file)
        self.open_as_button = QPushButton("Open as…")
        self.open_as_button.setToolTip("open a file saying what it is: its format and sensor size (for a headerless "
                                       "Prophesee .raw, an N-MNIST-like .bin …)")
        self.open_as_button.clicked.connect(lambda: self.choose_file(ask=True))
        #: the Open as… dialog while it is open (tests reach it there)
        self.open_as_dialog = None
        self.demo_button = QPushButton("Demo")
        self.demo_button.setToolTip("play the synthetic demo recording")
        self.demo_button.clicked.connect(lambda: model.open("demo"))
        top.addWidget(self.name, 1)
        top.addWidget(self.open_button)
        top.addWidget(self.open_as_button)
        top.addWidget(self.demo_button)
        lay.addLayout(top)
        live = QHBoxLayout()
        self.live = QLineEdit()
        self.live.setPlaceholderText("live: " + " · ".join(k.syntax for k in SOURCE_KIND_TABLE if not k.reads_file))
        self.live.setToolTip("a source spec: " + source_syntax(" · "))
        self.live.returnPressed.connect(self._open_live)
        go = QPushButton("Connect")
        go.clicked.connect(self._open_live)
        live.addWidget(self.live, 1)
        live.addWidget(go)
        lay.addLayout(live)

        bar = QHBoxLayout()
        self.back = QToolButton()
        self.back.setIcon(st.standardIcon(QStyle.SP_MediaSeekBackward))
        self.back.setToolTip("previous step (←)")
        self.back.clicked.connect(model.step_back)
        self.play = QToolButton()
        self.play.setIcon(st.standardIcon(QStyle.SP_MediaPlay))
        self.play.setToolTip("play / pause (space)")
        self.play.clicked.connect(model.toggle_play)
        self.fwd = QToolButton()
        self.fwd.setIcon(st.standardIcon(QStyle.SP_MediaSeekForward))
        self.fwd.setToolTip("next step (→)")
        self.fwd.clicked.connect(lambda: model.step(1))
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setRange(0, 1000)
        self.slider.sliderReleased.connect(self._seek_from_slider)
        self.slider.actionTriggered.connect(self._slider_action)
        for w in (self.back, self.play, self.fwd):
            bar.addWidget(w)
        bar.addWidget(self.slider, 1)
        lay.addLayout(bar)
        self.time = SteadyLabel("–:– / –:–", "00:00.000 / 00:00.000   ·   step 99999")
        self.time.setObjectName("muted")
        lay.addWidget(self.time)

        form = QFormLayout()
        self.speed = QComboBox()
        for s in SPEEDS:
            self.speed.addItem(f"{s:g}×", s)
        self.speed.setCurrentIndex(SPEEDS.index(1.0))
        self.speed.activated.connect(lambda i: model.set_speed(self.speed.itemData(i)))
        self.loop = QCheckBox("loop")
        self.loop.setChecked(True)
        self.loop.toggled.connect(model.set_loop)
        row = QHBoxLayout()
        row.addWidget(self.speed)
        row.addWidget(self.loop)
        form.addRow("speed", row)
        self.dt = QSpinBox()
        self.dt.setRange(1, 1000)
        self.dt.setSuffix(" ms")
        self.dt.setValue(10)
        self.dt.editingFinished.connect(lambda: model.set_dt(self.dt.value() * 1000))
        self.T = QSpinBox()
        self.T.setRange(1, 200)
        self.T.setValue(16)
        self.T.editingFinished.connect(lambda: model.set_window(self.T.value()))
        form.addRow("step dt", self.dt)
        form.addRow("window T", self.T)
        lay.addLayout(form)
        lay.addWidget(self._input_group())
        lay.addWidget(self._filter_group())
        lay.addStretch(1)
        self._state: SessionState | None = None
        self._clock_shown = 0.0
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setMinimumWidth(inner.sizeHint().width() + scroll.verticalScrollBar().sizeHint().width())
        self.setMinimumHeight(min(inner.sizeHint().height(), 260))
        model.state_changed.connect(self.show_state)
        model.snapshot.connect(self.show_snapshot)

    def _input_group(self) -> QGroupBox:
        """Region of interest, mirror, flicker and the emulator's pixel settings."""
        box = QGroupBox("Input to the model")
        form = QFormLayout(box)
        self.input_note = QLabel("")
        self.input_note.setObjectName("muted")
        self.input_note.setWordWrap(True)
        form.addRow(self.input_note)
        self.mirror = QCheckBox("mirror (selfie view)")
        self.mirror.setToolTip("flip left-right before the model sees it: on by default for webcams, so your own "
                               "swipe to the left is swipe_left on screen and in the prediction")
        self.flicker = QCheckBox("suppress light flicker")
        self.flicker.setToolTip("take 50/60 Hz lamp flicker out of camera and video frames before the emulator")
        self.flicker.setChecked(True)
        flags = QHBoxLayout()
        flags.addWidget(self.mirror)
        flags.addWidget(self.flicker)
        form.addRow(flags)

        def spin(lo, hi, value, step, suffix="", decimals=2, tip=""):
            w = QDoubleSpinBox()
            w.setRange(lo, hi)
            w.setDecimals(decimals)
            w.setSingleStep(step)
            w.setValue(value)
            w.setSuffix(suffix)
            w.setToolTip(tip)
            w.setKeyboardTracking(False)
            w.valueChanged.connect(self._send_input)
            return w

        self.roi_x = spin(0, 100, 50, 5, " %", 0, "centre of the region of interest, % of the picture's width")
        self.roi_y = spin(0, 100, 50, 5, " %", 0, "centre of the region of interest, % of the picture's height")
        self.roi_size = spin(10, 100, 100, 5, " %", 0, "size of the square region, % of the largest that fits")
        roi = QHBoxLayout()
        for w in (self.roi_x, self.roi_y, self.roi_size):
            roi.addWidget(w)
        form.addRow("ROI x · y · size", roi)
        d = EmulatorConfig()
        self.threshold = spin(0.05, 1.5, d.on_threshold, 0.05, "", 2, "emulated pixels' contrast threshold (log units)")
        self.noise = spin(0, 50, d.shot_noise_rate_hz, 0.1, " Hz", 1, "emulated shot noise per pixel")
        self.cutoff = spin(0, 2000, d.cutoff_hz, 10, " Hz", 0, "emulated photoreceptor bandwidth (0: off)")
        pix = QHBoxLayout()
        for w in (self.threshold, self.noise, self.cutoff):
            pix.addWidget(w)
        form.addRow("threshold · noise · cut-off", pix)
        self._mirror_chosen = False  # until the user flips it, each source takes its own default
        self.mirror.toggled.connect(self._mirror_toggled)
        self.flicker.toggled.connect(self._send_input)
        return box

    def _filter_group(self) -> QGroupBox:
        """One row per event filter: a switch and its setting; any change sends the whole spec."""
        box = QGroupBox("Event filters")
        grid = QFormLayout(box)
        self.filter_boxes: dict[str, QCheckBox] = {}
        self.filter_values: dict[str, QWidget] = {}

        def number(lo, hi, value, suffix, tip):
            w = QSpinBox()
            w.setRange(lo, hi)
            w.setValue(value)
            w.setSuffix(suffix)
            w.setToolTip(tip)
            w.setKeyboardTracking(False)
            w.valueChanged.connect(self._send_filters)
            return w

        def text(placeholder, tip):
            w = QLineEdit()
            w.setPlaceholderText(placeholder)
            w.setToolTip(tip)
            w.editingFinished.connect(self._send_filters)
            return w

        pol = QComboBox()
        pol.addItem("ON only", 1)
        pol.addItem("OFF only", 0)
        pol.setToolTip("keep the events of one polarity")
        pol.currentIndexChanged.connect(self._send_filters)
        hot = number(0, 1_000_000, 0, " Hz", "drop pixels firing above this rate (auto: above the median + 10 MAD "
                                               "of the pixels' rates; a live source learns them in its first second)")
        hot.setSpecialValueText("auto")
        rows = (
            ("hot", "hot pixels", hot),
            ("polarity", "polarity", pol),
            ("refractory", "refractory", number(1, 10_000_000, 1000, " µs", "drop an event within this time of "
                                                                            "its pixel's previous one")),
            ("denoise", "denoise", number(1, 10_000_000, 2000, " µs", "background activity: keep an event when a "
                                                                      "neighbour fired within this time")),
            ("crop", "crop", text("x0,y0,w,h", "keep the events inside this box (sensor pixels); the model then "
                                               "sees the box as its sensor")),
            ("downsample", "downsample", text("WxH", "rescale the sensor to W×H pixels (events summed)")),
        )
        for key, label, value in rows:
            check = QCheckBox(label)
            check.toggled.connect(self._send_filters)
            row = QHBoxLayout()
            row.addWidget(value, 1)
            grid.addRow(check, row)
            self.filter_boxes[key], self.filter_values[key] = check, value
        self.filter_note = QLabel("")
        self.filter_note.setObjectName("muted")
        self.filter_note.setWordWrap(True)
        grid.addRow(self.filter_note)
        return box

    def filter_spec(self) -> str:
        """The spec of the ticked filters (``snnstudio … --filter`` text); raises
        :class:`~snnstudio.events.filters.FilterError` on a bad crop box or size."""
        items = []
        for key, check in self.filter_boxes.items():
            if not check.isChecked():
                continue
            w = self.filter_values[key]
            if key == "hot":
                items.append("hot" if w.value() == 0 else f"hot={w.value()}")
            elif key == "polarity":
                items.append(f"polarity={'on' if w.currentData() == 1 else 'off'}")
            elif key in ("refractory", "denoise"):
                items.append(f"{key}={w.value()}")
            else:
                if not w.text().strip():
                    raise FilterError(f"{key}: enter {w.placeholderText()}")
                items.append(f"{key}={w.text().strip()}")
        return format_filters(parse_filters("; ".join(items)))

    def _send_filters(self, *_) -> None:
        if getattr(self, "_showing", False):
            return
        try:
            spec = self.filter_spec()
        except FilterError as exc:
            self.filter_note.setText(str(exc))
            return
        self.filter_note.setText("applying…" if spec else "")
        self.model.set_filters(spec)

    def _show_filters(self, s: SessionState) -> None:
        """Tick and fill the rows from the filters in force (the engine's canonical spec)."""
        try:
            specs: dict[str, FilterSpec] = {f.name: f for f in parse_filters(s.filters)}
        except FilterError:
            return
        self._showing = True
        try:
            for key, check in self.filter_boxes.items():
                check.setChecked(key in specs)
                f, w = specs.get(key), self.filter_values[key]
                if f is None or w.hasFocus():
                    continue
                if key == "hot":
                    w.setValue(int(f.value or 0))
                elif key == "polarity":
                    w.setCurrentIndex(w.findData(int(f.value)))
                elif key in ("refractory", "denoise"):
                    w.setValue(int(f.value))
                else:
                    w.setText(str(f).partition("=")[2])
        finally:
            self._showing = False
        size, src = s.sensor_size, s.source_sensor_size
        note = f"in force: {s.filters}" if s.filters else "no filter"
        if size and src and tuple(size) != tuple(src):
            note += f" · sensor {src[0]}×{src[1]} → {size[0]}×{size[1]}"
        self.filter_note.setText(note)

    def _mirror_toggled(self, _on: bool) -> None:
        if not getattr(self, "_showing", False):
            self._mirror_chosen = True
        self._send_input()

    def input_changes(self) -> dict:
        """The :class:`Preprocess` fields the input controls set (mirror only once the user chose)."""
        size = self.roi_size.value() / 100.0
        roi = None if (self.roi_x.value(), self.roi_y.value(), size) == (50, 50, 1.0) else \
            (self.roi_x.value() / 100.0, self.roi_y.value() / 100.0, size)
        t = self.threshold.value()
        d = EmulatorConfig()
        emulator = None
        if (t, self.noise.value(), self.cutoff.value()) != (d.on_threshold, d.shot_noise_rate_hz, d.cutoff_hz):
            emulator = EmulatorConfig(on_threshold=t, off_threshold=t, shot_noise_rate_hz=self.noise.value(),
                                      cutoff_hz=self.cutoff.value())
        changes = dict(roi=roi, flicker=self.flicker.isChecked(), emulator=emulator)
        if self._mirror_chosen:
            changes["mirror"] = self.mirror.isChecked()
        return changes

    def _send_input(self, *_):
        if getattr(self, "_showing", False):
            return
        self.model.update_preprocess(**self.input_changes())

    def _show_input(self, pre: Preprocess | None, note: str) -> None:
        self.input_note.setText(f"model sees: {note}" if note else "")
        if pre is None:
            return
        self._showing = True
        try:
            self.mirror.setChecked(bool(pre.mirror))
            self.flicker.setChecked(pre.flicker)
            cx, cy, size = pre.roi if pre.roi is not None else (0.5, 0.5, 1.0)
            for w, v in ((self.roi_x, cx * 100), (self.roi_y, cy * 100), (self.roi_size, size * 100)):
                if not w.hasFocus():
                    w.setValue(v)
            e = pre.emulator or EmulatorConfig()
            for w, v in ((self.threshold, e.on_threshold), (self.noise, e.shot_noise_rate_hz), (self.cutoff, e.cutoff_hz)):
                if not w.hasFocus():
                    w.setValue(v)
        finally:
            self._showing = False

    def choose_file(self, ask: bool = False) -> None:
        """The file dialog, then :meth:`open_file` (``ask``: always say what the file is)."""
        path, _ = QFileDialog.getOpenFileName(self, "Open an event recording", "", FILE_FILTER)
        if path:
            self.open_file(path, ask=ask)

    def open_file(self, path: str, ask: bool = False) -> bool:
        """Open ``path``; when content detection cannot tell what it is (or ``ask``), the Open as…
        dialog asks for its format and sensor size first. False when nothing was opened."""
        from snnstudio.gui.open_as import OpenAsDialog, detection_problem

        video = Path(path).suffix.lower() in VIDEO_EXTENSIONS
        reason = None if video else detection_problem(path)
        if not ask and reason is None:
            self.model.open(path)
            return True
        dlg = self.open_as_dialog = OpenAsDialog(self, path, reason or "")
        try:
            if not dlg.exec() or dlg.spec is None:
                return False
            spec = dlg.spec
        finally:
            self.open_as_dialog = None
            dlg.deleteLater()
        self.model.open(spec)
        return True

    def _open_live(self) -> None:
        spec = self.live.text().strip()
        if spec:
            self.model.open(spec)
            self.model.play()

    def _slider_to_us(self, v: int) -> int | None:
        s = self._state
        if s is None or s.start_us is None or s.end_us is None:
            return None
        return int(s.start_us + (s.end_us - s.start_us) * v / 1000)

    def _seek_from_slider(self) -> None:
        t = self._slider_to_us(self.slider.value())
        if t is not None:
            self.model.seek(t)

    def _slider_action(self, action: int) -> None:
        if action in (QSlider.SliderPageStepAdd, QSlider.SliderPageStepSub):
            t = self._slider_to_us(self.slider.sliderPosition())
            if t is not None:
                self.model.seek(t)

    def show_state(self, s: SessionState) -> None:
        self._state = s
        st = self.style()
        self.play.setIcon(st.standardIcon(QStyle.SP_MediaPause if s.playing else QStyle.SP_MediaPlay))
        shown = s.source_name or "nothing open"
        kind, sep, rest = shown.partition(":")
        if "/" in shown or "\\" in shown:
            shown = (f"{kind}:" if sep and len(kind) > 1 else "") + Path(rest if sep and len(kind) > 1 else shown).name
        self.name.setToolTip(s.source_name or "")
        self.name.setText(f"<b>{html.escape(shown)}</b>" + (f"  <span>{s.sensor_size[0]}×{s.sensor_size[1]}</span>" if s.sensor_size else ""))
        self.slider.setEnabled(s.seekable)
        self.back.setEnabled(s.seekable)
        if not self.dt.hasFocus():
            self.dt.setValue(max(1, s.dt_us // 1000))
        if not self.T.hasFocus():
            self.T.setValue(s.window_T)
        i = self.speed.findData(s.speed)
        if i >= 0:
            self.speed.setCurrentIndex(i)
        self.loop.blockSignals(True)
        self.loop.setChecked(s.loop)
        self.loop.blockSignals(False)
        self._show_input(s.preprocess, s.preprocess_note)
        self._show_filters(s)
        if not s.playing and self.model.last is not None:
            self.show_snapshot(self.model.last)  # where it stopped, to the step

    def show_snapshot(self, snap: Snapshot) -> None:
        """Position slider and clock: every step when paused or stepping, at most
        1 / :data:`CLOCK_INTERVAL_S` times a second while playing (a repaint of the panel each)."""
        now = time.perf_counter()
        if self._state is not None and self._state.playing and now - self._clock_shown < CLOCK_INTERVAL_S:
            return
        self._clock_shown = now
        s0, s1 = snap.recording_start_us, snap.recording_end_us
        if s0 is not None and s1 is not None and s1 > s0 and not self.slider.isSliderDown():
            self.slider.blockSignals(True)
            self.slider.setValue(int(1000 * (snap.t_end_us - s0) / (s1 - s0)))
            self.slider.blockSignals(False)
            self.time.setText(f"{fmt_time(snap.t_end_us - s0)} / {fmt_time(s1 - s0)}   ·   step {snap.index}")
        else:
            self.time.setText(f"{fmt_time(snap.t_end_us)}   ·   step {snap.index}")
