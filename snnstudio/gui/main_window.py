"""The studio's main window: dockable panels over one :class:`SessionModel`.

Layout: Events in the centre (with the message bar above it); Source, Model and Metrics on the
left; Output and Attention on the right; Layers, Membrane, Compare and Evaluate along the bottom.
The dock layout and geometry are saved in ``QSettings`` on close and restored on the next start
(View → Reset layout brings the default back). Shortcuts: space play/pause, → / ← step, + / −
speed, Ctrl+O open, Ctrl+Shift+S screenshot, F11 live demo. Files dropped on the window are opened.

File → Export (and the toolbar's Export button): a PNG or a clip of the window or of one panel,
the per-step metrics as CSV / JSON, the played stream as AEDAT4 (:mod:`snnstudio.gui.export`).
Live demo mode (:meth:`MainWindow.enter_demo`): a live source, the default gesture model and the
prediction in large type above the event view, every dock but Output put away until it ends.
"""

from __future__ import annotations

import time

import numpy as np
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFileDialog, QMainWindow, QMenu, QStyle, QToolButton, QVBoxLayout, QWidget

from snnstudio.engine.spec import ModelSpec
from snnstudio.engine.types import SessionState
from snnstudio.gui import theme
from snnstudio.gui.demo_view import DEMO_SOURCES, DemoView, demo_target
from snnstudio.gui.export import Exporter
from snnstudio.gui.gc_guard import GuiThreadCollector
from snnstudio.gui.help import attach_plot_tips
from snnstudio.gui.message_bar import MessageBar
from snnstudio.gui.panels.attention import AttentionPanel
from snnstudio.gui.panels.compare import ComparePanel
from snnstudio.gui.panels.evaluate import EvaluatePanel
from snnstudio.gui.panels.teach import TeachPanel
from snnstudio.gui.panels.events import EventsPanel
from snnstudio.gui.panels.layers import LayersPanel
from snnstudio.gui.panels.membrane import MembranePanel
from snnstudio.gui.panels.metrics import MetricsPanel
from snnstudio.gui.panels.model_panel import ModelPanel
from snnstudio.gui.panels.output import OutputPanel
from snnstudio.gui.panels.source import SourcePanel
from snnstudio.gui.session_model import SessionModel
from snnstudio.gui.steady_label import SteadyLabel

STATUS_INTERVAL_S = 0.25
LAYOUT_VERSION = 4
CLIP_LENGTHS = ((None, "until stopped"), (5.0, "5 s"), (10.0, "10 s"), (30.0, "30 s"))


class MainWindow(QMainWindow):
    def __init__(self, model: SessionModel, settings: QSettings | None = None, parent=None):
        super().__init__(parent)
        GuiThreadCollector.acquire()  # garbage collection on this thread only (see gc_guard)
        self._gc_held = True
        self.model = model
        self.settings = settings
        self.setWindowTitle("snnstudio")
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.AnimatedDocks | QMainWindow.AllowTabbedDocks | QMainWindow.AllowNestedDocks)
        # the right column (output, attention) runs the full height; the bottom row stops at it
        self.setCorner(Qt.BottomRightCorner, Qt.RightDockWidgetArea)
        self.setCorner(Qt.TopRightCorner, Qt.RightDockWidgetArea)

        central = QWidget()
        lay = QVBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        self.message_bar = MessageBar()
        self.demo = DemoView(model)
        self.demo.hide()
        self.events = EventsPanel(model)
        lay.addWidget(self.message_bar)
        lay.addWidget(self.demo)
        lay.addWidget(self.events, 1)
        self.setCentralWidget(central)

        self.source = SourcePanel(model)
        self.model_panel = ModelPanel(model)
        self.metrics = MetricsPanel(model)
        self.output = OutputPanel(model)
        self.attention = AttentionPanel(model)
        self.layers = LayersPanel(model)
        self.membrane = MembranePanel(model)
        self.compare = ComparePanel(model)
        self.evaluate = EvaluatePanel(model)
        self.teach = TeachPanel(model)
        self.exporter = Exporter(model, self)
        self.demo_mode = False
        self._pre_demo_state = None
        self.clip_seconds: float | None = 10.0
        self.docks: dict[str, QDockWidget] = {}
        left, right, bottom = Qt.LeftDockWidgetArea, Qt.RightDockWidgetArea, Qt.BottomDockWidgetArea
        for title, widget, area in (
            ("Source", self.source, left),
            ("Model", self.model_panel, left),
            ("Metrics", self.metrics, left),
            ("Output", self.output, right),
            ("Attention", self.attention, right),
            ("Layers", self.layers, bottom),
            ("Membrane", self.membrane, bottom),
            ("Compare", self.compare, bottom),
            ("Evaluate", self.evaluate, bottom),
            ("Teach", self.teach, bottom),
        ):
            dock = QDockWidget(title, self)
            dock.setObjectName(f"dock_{title.lower()}")
            dock.setWidget(widget)
            self.addDockWidget(area, dock)
            self.docks[title] = dock
        self.splitDockWidget(self.docks["Layers"], self.docks["Membrane"], Qt.Horizontal)
        self.tabifyDockWidget(self.docks["Model"], self.docks["Metrics"])
        self.tabifyDockWidget(self.docks["Membrane"], self.docks["Compare"])
        self.tabifyDockWidget(self.docks["Layers"], self.docks["Evaluate"])  # the wide bottom-left area: a table
        self.tabifyDockWidget(self.docks["Evaluate"], self.docks["Teach"])
        self.docks["Model"].raise_()
        self.docks["Membrane"].raise_()
        self.docks["Layers"].raise_()
        self._default_state = None

        self._build_actions()
        self._build_status()
        attach_plot_tips(self)
        model.message.connect(self.show_message)
        model.state_changed.connect(self._remember_loaded)
        model.state_changed.connect(self._remember_source)
        self._source_seen = ""
        model.state_changed.connect(self._show_state)
        model.snapshot.connect(self._show_counters)
        model.snapshots.connect(self._auto_follow)
        model.compare_changed.connect(self._show_compare)
        self._counters_shown = 0.0
        self.exporter.done.connect(self._exported)
        self._followed_any = False
        self.resize(1600, 1000)
        self.resizeDocks([self.docks["Source"], self.docks["Output"]], [320, 400], Qt.Horizontal)
        self.resizeDocks([self.docks["Layers"]], [420], Qt.Vertical)
        self.resizeDocks([self.docks["Layers"], self.docks["Membrane"]], [720, 480], Qt.Horizontal)
        self.resizeDocks([self.docks["Output"], self.docks["Attention"]], [520, 420], Qt.Vertical)
        self.resizeDocks([self.docks["Source"], self.docks["Model"]], [260, 340], Qt.Vertical)
        self._default_state = self.saveState(LAYOUT_VERSION)
        self.restore_layout()

    # ------------------------------------------------------------------ chrome
    def _build_actions(self) -> None:
        tb = self.addToolBar("Playback")
        tb.setObjectName("toolbar_playback")
        tb.setMovable(False)

        def act(text, slot, keys=(), tip=""):
            a = QAction(text, self)
            a.triggered.connect(slot)
            if keys:
                a.setShortcuts([QKeySequence(k) for k in keys])
                a.setShortcutContext(Qt.WindowShortcut)
            a.setToolTip(tip or text)
            self.addAction(a)
            return a

        self.act_open = act("Open…", self.source.choose_file, ("Ctrl+O",), "open an event recording (Ctrl+O)")
        self.act_open_as = act("Open as…", lambda: self.source.choose_file(ask=True), ("Ctrl+Shift+O",),
                               "open an event file saying its format and sensor size (headerless files)")
        self.act_restart_engine = act("Restart engine", self.restart_engine, (),
                                      "start the engine process again after it stopped (with what worked before)")
        self.act_restart_engine.setEnabled(False)
        self.act_open_model = act("Open model…", self.choose_model, ("Ctrl+M",),
                                  "open your own network: a checkpoint, a .nir graph or a Python factory (Ctrl+M)")
        self.act_play = act("Play / Pause", self.model.toggle_play, ("Space",), "play / pause (space)")
        self.act_back = act("Back", self.model.step_back, ("Left",), "previous step (←)")
        self.act_step = act("Step", lambda: self.model.step(1), ("Right",), "next step (→)")
        self.act_slower = act("Slower", lambda: self.model.faster(-1), ("-",), "slower (−)")
        self.act_faster = act("Faster", lambda: self.model.faster(1), ("+", "="), "faster (+)")
        self.act_export_nir = act("Export model as NIR…", self.choose_nir_export, (),
                                  "write the network that runs as a NIR graph (.nir) for other neuromorphic tools")
        self.act_theme = act("Light / dark", self.toggle_theme, (), "switch light / dark theme")
        self.act_reset = act("Reset layout", self.reset_layout)
        self.act_quit = act("Quit", self.close, ("Ctrl+Q",))
        self.act_demo = act("Live demo", lambda on: self.enter_demo("synthetic") if on else self.leave_demo(), ("F11",),
                            "live demo: the synthetic gesture source, the gesture model, the prediction in large type (F11)")
        self.act_demo.setCheckable(True)
        self.act_shot = act("Screenshot…", lambda: self.export_png(None), ("Ctrl+Shift+S",), "save a PNG of the window (Ctrl+Shift+S)")
        self.act_clip = act("Clip of the window…", lambda on: self.export_clip(None) if on else self.exporter.stop_clip(),
                            ("Ctrl+Shift+R",), "record a video clip of the window (Ctrl+Shift+R; again to stop)")
        self.act_clip.setCheckable(True)
        self.act_metrics_csv = act("Metrics as CSV…", lambda: self.export_metrics("csv"))
        self.act_metrics_json = act("Metrics as JSON…", lambda: self.export_metrics("json"))
        self.act_record = act("Record the stream to AEDAT4…", lambda on: self.export_recording() if on else self.exporter.stop_recording(),
                              (), "record the events being played to an AEDAT4 file (again to stop)")
        self.act_record.setCheckable(True)
        self.exporter.clip_changed.connect(self._sync_toggle(self.act_clip))
        self.exporter.recording_changed.connect(self._sync_toggle(self.act_record))
        st = self.style()
        for a, icon in (
            (self.act_open, QStyle.SP_DialogOpenButton), (self.act_back, QStyle.SP_MediaSeekBackward),
            (self.act_play, QStyle.SP_MediaPlay), (self.act_step, QStyle.SP_MediaSeekForward),
            (self.act_slower, QStyle.SP_ArrowDown), (self.act_faster, QStyle.SP_ArrowUp),
            (self.act_shot, QStyle.SP_DialogSaveButton), (self.act_demo, QStyle.SP_ComputerIcon),
        ):
            a.setIcon(st.standardIcon(icon))

        export = QMenu("&Export", self)
        export.addAction(self.act_shot)
        shot_panel = export.addMenu("Screenshot of a panel")
        export.addSeparator()
        export.addAction(self.act_clip)
        clip_panel = export.addMenu("Clip of a panel")
        lengths = export.addMenu("Clip length")
        group = QActionGroup(self)
        for secs, text in CLIP_LENGTHS:
            a = lengths.addAction(text)
            a.setCheckable(True)
            a.setChecked(secs == self.clip_seconds)
            a.triggered.connect(lambda _=False, v=secs: setattr(self, "clip_seconds", v))
            group.addAction(a)
        for name in self.docks:
            shot_panel.addAction(name, lambda n=name: self.export_png(n))
            clip_panel.addAction(name, lambda n=name: self.export_clip(n))
        export.addSeparator()
        export.addAction(self.act_metrics_csv)
        export.addAction(self.act_metrics_json)
        export.addSeparator()
        export.addAction(self.act_record)
        self.export_menu = export
        self.export_button = QToolButton()
        self.export_button.setText("Export")
        self.export_button.setToolTip("screenshot, clip, metrics, AEDAT4 recording")
        self.export_button.setIcon(st.standardIcon(QStyle.SP_DialogSaveButton))
        self.export_button.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        self.export_button.setPopupMode(QToolButton.InstantPopup)
        self.export_button.setMenu(export)

        tb.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        for a in (self.act_open, None, self.act_back, self.act_play, self.act_step, None, self.act_slower, self.act_faster, None,
                  self.act_demo, self.act_theme):
            tb.addSeparator() if a is None else tb.addAction(a)
        tb.addSeparator()
        tb.addWidget(self.export_button)
        menu = self.menuBar()
        f = menu.addMenu("&File")
        f.addAction(self.act_open)
        f.addAction(self.act_open_as)
        f.addAction(self.act_restart_engine)
        f.addAction(self.act_open_model)
        f.addAction(self.act_export_nir)
        self.recent_menu = f.addMenu("Recent models")
        self._fill_recent()
        self.recent_sources_menu = f.addMenu("Recent sources")
        self._fill_recent_sources()
        f.addMenu(export)
        f.addSeparator()
        f.addAction(self.act_quit)
        p = menu.addMenu("&Playback")
        for a in (self.act_play, self.act_back, self.act_step, self.act_slower, self.act_faster):
            p.addAction(a)
        v = menu.addMenu("&View")
        for d in self.docks.values():
            v.addAction(d.toggleViewAction())
        v.addSeparator()
        demo = v.addMenu("Live demo")
        for src in DEMO_SOURCES:
            demo.addAction(f"{src}", lambda s=src: self.enter_demo(s))
        demo.addAction("End the demo", self.leave_demo)
        v.addAction(self.act_theme)
        v.addAction(self.act_reset)
        h = menu.addMenu("&Help")
        self.act_guide = h.addAction("Guide to the panels and shortcuts", self.show_guide)
        self.act_guide.setShortcut(QKeySequence("F1"))

    def show_guide(self) -> None:
        """Help → Guide: what each panel shows and the keyboard shortcuts."""
        from snnstudio.gui.help import HelpDialog

        self._guide = HelpDialog(self)
        self._guide.show()

    @staticmethod
    def _sync_toggle(action):
        def sync(on: bool) -> None:
            action.blockSignals(True)
            action.setChecked(on)
            action.blockSignals(False)

        return sync

    def _build_status(self) -> None:
        sb = self.statusBar()
        # fixed-width figures: a text of another width would re-lay the bar out (see steady_label)
        self.state_label = SteadyLabel("paused", "▶ playing 0.25×")
        self.events_label = SteadyLabel("0 ev/s", "99,999 k ev/s")
        self.steps_label = SteadyLabel("0 steps/s", "9999 steps/s")
        self.fps_label = SteadyLabel("display 0 FPS", "display 999 FPS")
        self.latency_label = SteadyLabel("latency – ms", "latency 9999.9 ms")
        self.rt_label = SteadyLabel("real-time ×0", "real-time ×0.00  ·  dropped 9,999,999  ·  skipped 99,999 late steps")
        for w in (self.state_label, self.events_label, self.steps_label, self.fps_label, self.latency_label, self.rt_label):
            sb.addPermanentWidget(w)

    # ------------------------------------------------------------------ reactions
    # ------------------------------------------------------------------ your own model
    def choose_model(self) -> None:
        """File → Open model…: the dialog (which says what code will run), then :meth:`open_model`."""
        from snnstudio.gui.open_model import OpenModelDialog

        spec = self.model.model_spec
        dlg = OpenModelDialog(self, start=spec if isinstance(spec, ModelSpec) else None)
        if dlg.exec():
            self.open_model(dlg.spec())

    def choose_nir_export(self) -> None:
        """File → Export model as NIR…: a file name, then the engine writes the graph and says
        what it wrote (or what NIR cannot express)."""
        from PySide6.QtWidgets import QFileDialog

        info = self.model.state.model
        stem = (info.name.split(" [")[0] if info is not None else "model") or "model"
        path, _ = QFileDialog.getSaveFileName(self, "Export model as NIR", f"{stem}.nir", "NIR graphs (*.nir)")
        if path:
            self.model.export_nir(path if path.endswith(".nir") else path + ".nir")

    def open_model(self, spec: ModelSpec) -> None:
        """Load ``spec`` in the engine (errors come back as a message; the model playing stays);
        once it runs it goes first in File → Recent models."""
        self._pending_model = spec
        self.model.set_model(spec)

    def _remember_loaded(self, state: SessionState) -> None:
        """Once the engine runs the model asked for in :meth:`open_model`, put it first in File →
        Recent models (a model that failed to load is not remembered)."""
        spec = getattr(self, "_pending_model", None)
        if spec is None or state.model is None or state.model.name != spec.label:
            return
        from snnstudio.gui.open_model import remember_model

        self._pending_model = None
        self._recent_models = remember_model(self.settings, spec) if self.settings is not None else (
            [spec] + [s for s in self._recent_models if s != spec])[:8]
        self._fill_recent()

    def _remember_source(self, state: SessionState) -> None:
        """A source that opened (its name changed after an open with a text spec) goes first in
        File → Recent sources."""
        target = getattr(self.model, "source_target", None)
        if not state.source_name or state.source_name == self._source_seen:
            return
        self._source_seen = state.source_name
        if target is None:
            return
        from snnstudio.gui.recent import remember_source

        self._recent_sources = remember_source(self.settings, target) if self.settings is not None else (
            [target] + [t for t in getattr(self, "_recent_sources", []) if t != target])[:8]
        self._fill_recent_sources()

    def _fill_recent_sources(self) -> None:
        from snnstudio.gui.recent import available, recent_sources

        if not hasattr(self, "_recent_sources"):
            self._recent_sources = recent_sources(self.settings)
        self.recent_sources_menu.clear()
        for spec in self._recent_sources:
            a = self.recent_sources_menu.addAction(spec, lambda s=spec: self.open_recent_source(s))
            a.setEnabled(available(spec))
        self.recent_sources_menu.setEnabled(bool(self._recent_sources))

    def remember_session(self) -> None:
        """Keep what plays for the next plain ``snnstudio gui``: the last text source that opened,
        the model (a text spec) and the step."""
        from snnstudio.gui.recent import LastSession, remember_session

        st = self.model.state
        spec = self.model.model_spec
        remember_session(self.settings, LastSession(
            source=self._recent_sources[0] if getattr(self, "_recent_sources", None) else None,
            model=spec if isinstance(spec, str) else None,
            dt_ms=st.dt_us / 1000 if st.dt_us else None))

    def open_recent_source(self, spec: str) -> None:
        """File → Recent sources: open ``spec`` again and play."""
        self.model.open(spec)
        self.model.play()

    def _fill_recent(self) -> None:
        from snnstudio.gui.open_model import describe, recent_models

        if not hasattr(self, "_recent_models"):
            self._recent_models = recent_models(self.settings)
        self.recent_menu.clear()
        for spec in self._recent_models:
            self.recent_menu.addAction(describe(spec), lambda s=spec: self.open_model(s))
        self.recent_menu.setEnabled(bool(self._recent_models))

    def show_message(self, text: str) -> None:
        self.message_bar.show_message(text)

    def restart_engine(self) -> None:
        """The message bar's / File menu's Restart engine: a new engine process with what worked."""
        if not self.model.restart_engine():
            self.show_message("the engine is running: nothing to restart")

    def _show_engine_down(self, s: SessionState) -> None:
        """An engine given up after repeated crashes: said in the bar, with a Restart button, until
        it runs again (Open and Play then say that the engine is not running)."""
        down = bool(s.engine_down)
        self.act_restart_engine.setEnabled(down)
        if down and self.message_bar.action is None:
            self.message_bar.set_action("Restart engine", self.restart_engine)
            self.show_message(s.engine_down)
        elif not down and self.message_bar.action is not None:
            self.message_bar.clear_action()

    def _show_state(self, s: SessionState) -> None:
        self._show_engine_down(s)
        self.act_play.setIcon(self.style().standardIcon(QStyle.SP_MediaPause if s.playing else QStyle.SP_MediaPlay))
        if s.sensor_size is None:  # nothing open (or the source failed to open): nothing plays
            self.state_label.setText("no source")
            return
        speed = f"{s.speed:g}×"
        self.state_label.setText(("▶ playing " if s.playing else "❚❚ paused " if not s.ended else "■ ended ") + speed)

    def _show_counters(self, snap) -> None:
        """The status bar's figures, 4 times a second: a label's new text re-lays the bar out, and
        figures that change every frame cannot be read anyway."""
        now = time.perf_counter()
        if now - self._counters_shown < STATUS_INTERVAL_S:
            return
        self._counters_shown = now
        c, m = snap.counters, snap.metrics
        self.fps_label.setText(f"display {self.model.display_fps:.0f} FPS")
        self.events_label.setText(f"{c.events_per_s / 1e3:,.0f} k ev/s")
        self.steps_label.setText(f"{c.steps_per_s:.0f} steps/s")
        self.latency_label.setText(f"latency {m.latency_ms:.1f} ms")
        self.rt_label.setText(f"real-time ×{c.realtime_factor:.2f}" + (f"  ·  dropped {c.dropped:,}" if c.dropped else "")
                              + (f"  ·  skipped {c.shed_steps:,} late steps" if c.shed_steps else ""))

    def _show_compare(self, specs) -> None:
        """The first companion brings the Compare view forward, in the wide bottom-left area (its
        columns need the room; the Membrane view's narrower one left three of them cramped)."""
        compare, layers, membrane = self.docks["Compare"], self.docks["Layers"], self.docks["Membrane"]
        if specs and not getattr(self, "_compare_shown", False):
            if not compare.isFloating() and compare not in self.tabifiedDockWidgets(layers):
                self.tabifyDockWidget(layers, compare)
            compare.raise_()
        # three or four columns: the Membrane view joins the tabs, so the Compare area spans the
        # whole bottom (each column gets ~250 px instead of ~165); it stays there after
        if len(specs) >= 2 and not getattr(self, "_compare_wide", False) and not compare.isFloating() \
                and not membrane.isFloating() and compare in self.tabifiedDockWidgets(layers):
            self.tabifyDockWidget(layers, membrane)
            compare.raise_()
            self._compare_wide = True
        self._compare_shown = bool(specs)

    def _auto_follow(self, snaps) -> None:
        """Follow the busiest sampled neuron of the first layer that fires, once there is history,
        so the Membrane panel is never empty on a first look."""
        if self._followed_any or not self.layers.rows:
            return
        for row in self.layers.rows.values():  # the first layer whose sampled neurons fire
            if row.count < 30 or row.spikes is None or row.index is None:
                return
            counts = row.spikes.sum(axis=1)
            if counts.max() > 0:
                self._followed_any = True
                self.layers.follow(row.name, int(row.index[int(np.argmax(counts))]))
                return

    # ------------------------------------------------------------------ export
    def _exported(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    def _target(self, panel: str | None) -> QWidget:
        return self if panel is None else self.docks[panel]

    def ask_path(self, title: str, name: str, filters: str) -> str | None:
        """The file-save dialog of the export actions (tests replace it)."""
        path, _ = QFileDialog.getSaveFileName(self, title, str(Path.home() / name), filters)
        return path or None

    def export_png(self, panel: str | None = None, path: str | None = None):
        """A PNG of the window (``panel=None``) or of the dock ``panel``."""
        path = path or self.ask_path("Save a screenshot", f"snnstudio-{(panel or 'window').lower()}.png", "PNG (*.png)")
        return self.exporter.screenshot(self._target(panel), path) if path else None

    def export_clip(self, panel: str | None = None, path: str | None = None, seconds: float | None = ...) -> bool:
        """Start a clip of the window or of one dock, ``seconds`` long (default: the Clip length
        setting; ``None`` until stopped)."""
        path = path or self.ask_path("Record a clip", f"snnstudio-{(panel or 'window').lower()}.mp4", "Video (*.mp4 *.avi)")
        ok = bool(path) and self.exporter.start_clip(self._target(panel), path, self.clip_seconds if seconds is ... else seconds)
        self._sync_toggle(self.act_clip)(ok)
        return ok

    def export_metrics(self, ext: str = "csv", path: str | None = None):
        path = path or self.ask_path("Export the metrics", f"snnstudio-metrics.{ext}", f"{ext.upper()} (*.{ext})")
        return self.exporter.save_metrics(path) if path else None

    def export_recording(self, path: str | None = None, seconds: float | None = None) -> bool:
        """Record the played stream to AEDAT4 until stopped (or for ``seconds`` of stream time)."""
        path = path or self.ask_path("Record the stream", "snnstudio-recording.aedat4", "AEDAT4 (*.aedat4)")
        ok = bool(path) and self.exporter.start_recording(path, seconds)
        self._sync_toggle(self.act_record)(ok)
        return ok

    # ------------------------------------------------------------------ live demo
    def enter_demo(self, source: str = "synthetic", model_spec=None) -> None:
        """Live demo mode: open ``source`` (synthetic, webcam, camera or any live spec) with the
        default gesture model (or ``model_spec``), show the big prediction, put the docks away
        (all but Output). A missing camera is a message in the window; the demo view stays."""
        if not self.demo_mode:
            self._pre_demo_state = self.saveState(LAYOUT_VERSION)
        self.demo_mode = True
        for name, dock in self.docks.items():
            dock.setVisible(name == "Output")
        self.demo.show()
        self.demo.status.setText(f"live demo · {source}")
        self._sync_toggle(self.act_demo)(True)
        if model_spec != self.model.model_spec:
            self.model.set_model(model_spec)
        self.model.open(demo_target(source))
        self.model.play()

    def leave_demo(self) -> None:
        """Back to the full studio layout (the source keeps playing)."""
        if not self.demo_mode:
            return
        self.demo_mode = False
        self.demo.hide()
        if self._pre_demo_state is not None:
            self.restoreState(self._pre_demo_state, LAYOUT_VERSION)
        self._sync_toggle(self.act_demo)(False)

    def toggle_theme(self) -> None:
        from PySide6.QtWidgets import QApplication

        import pyqtgraph as pg

        t = theme.apply(QApplication.instance(), "light" if theme.current().name == "dark" else "dark")
        for view in self.findChildren(pg.GraphicsView):
            view.setBackground(t.base)
        self.demo.restyle()
        if self.settings is not None:
            self.settings.setValue("theme", t.name)

    # ------------------------------------------------------------------ files and layout
    def dragEnterEvent(self, ev) -> None:
        if ev.mimeData().hasUrls():
            ev.acceptProposedAction()

    def dropEvent(self, ev) -> None:
        urls = [u.toLocalFile() for u in ev.mimeData().urls() if u.isLocalFile()]
        if urls:
            self.open_dropped(urls[0])
            ev.acceptProposedAction()

    def open_dropped(self, path: str) -> None:
        """A dropped file: a model (``.json`` checkpoint, ``.nir`` graph) is loaded; a ``.py`` file
        opens the Open model dialog on it (which says what code would run — nothing runs before
        you confirm); anything else is opened as a recording and played."""
        suffix = Path(path).suffix.lower()
        if suffix in (".json", ".nir"):
            self.open_model(ModelSpec(path))
        elif suffix == ".py":
            from snnstudio.gui.open_model import OpenModelDialog

            dlg = OpenModelDialog(self, start=ModelSpec(f"{path}:factory"))
            self._drop_dialog = dlg  # (tests reach it while it is open)
            if dlg.exec():
                self.open_model(dlg.spec())
        elif self.source.open_file(path):  # a headerless file: Open as… asks what it is first
            self.model.play()

    def restore_layout(self) -> None:
        if self.settings is None:
            return
        geo = self.settings.value("window/geometry")
        state = self.settings.value("window/state")
        if isinstance(geo, QByteArray):
            self.restoreGeometry(geo)
        if isinstance(state, QByteArray):
            self.restoreState(state, LAYOUT_VERSION)

    def reset_layout(self) -> None:
        if self._default_state is not None:
            self.restoreState(self._default_state, LAYOUT_VERSION)
            for d in self.docks.values():
                d.show()

    def closeEvent(self, ev) -> None:
        self.exporter.stop_clip()
        self.exporter.stop_recording()
        if self.evaluate.running:
            self.evaluate.cancel()
        self.teach.stop_recording()
        if self.teach.running:
            self.teach.cancel()
        if self.demo_mode:
            self.leave_demo()
        if self.settings is not None:
            self.settings.setValue("window/geometry", self.saveGeometry())
            self.settings.setValue("window/state", self.saveState(LAYOUT_VERSION))
            self.remember_session()
            self.settings.sync()
        self.model.close()
        if self._gc_held:  # after the worker has stopped
            self._gc_held = False
            GuiThreadCollector.release()
        super().closeEvent(ev)
