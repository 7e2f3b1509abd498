"""Start the studio: a QApplication, the theme, a session on the given source and model, the
window — playing at once, no dialog first. ``screenshot`` + ``quit_after`` grab the playing
window into a PNG and quit (for docs and CI), printing how many steps were shown."""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from snnstudio.engine.types import SessionConfig
from snnstudio.gui import theme
from snnstudio.gui.demo_view import demo_target
from snnstudio.gui.main_window import MainWindow
from snnstudio.gui.session_model import SessionModel


@dataclass
class GuiOptions:
    path: str | None = None
    model: str | None = None
    compare: tuple[str, ...] = ()
    demo: str | None = None
    screenshot: str | None = None
    quit_after: float | None = None
    theme: str | None = None
    dt_ms: float = 10.0
    T: int = 16
    remember_layout: bool = True
    #: "process" (the engine in its own process) or "thread"
    engine: str = "process"


def build_window(opts: GuiOptions, app: QApplication | None = None) -> MainWindow:
    """The window over a started, playing session (the caller runs the event loop)."""
    app = app or QApplication.instance()
    settings = QSettings("snnstudio", "snnstudio") if opts.remember_layout and not opts.screenshot else None
    name = opts.theme or (settings.value("theme", "dark") if settings is not None else "dark")
    theme.apply(app, name if name in theme.THEMES else "dark")
    model = SessionModel(SessionConfig(dt_us=int(opts.dt_ms * 1000), window_T=opts.T, adaptive_step=True),
                         engine=opts.engine)
    win = MainWindow(model, settings)
    model.start()
    gone = None
    if settings is not None and opts.path is None and opts.model is None and not opts.demo and not opts.compare:
        # a plain `snnstudio gui`: the last session's source and model, when they are still there
        from snnstudio.gui.recent import available, last_session

        last = last_session(settings)
        if last.source and available(last.source):
            opts = replace(opts, path=last.source, model=last.model)
            if last.dt_ms:
                model.set_dt(int(last.dt_ms * 1000))
        elif last.source:
            gone = last.source
    from snnstudio.engine.spec import ModelSpec, parse_spec

    spec = opts.model
    if parse_spec(spec).kind != "builtin":  # your own model from --model: into Recent models once it runs
        spec = spec if isinstance(spec, ModelSpec) else parse_spec(spec)
        win.open_model(spec)
    else:
        model.set_model(spec)
    if opts.compare:
        model.set_compare(list(opts.compare))
        win.docks["Compare"].raise_()
    if opts.demo and not opts.path:
        win.enter_demo(opts.demo, model_spec=spec)  # live source, the gesture model, big prediction
        return win
    model.open(opts.path or demo_target(None))
    model.play()
    if gone:
        win.show_message(f"the last source, {gone}, is gone: playing the demo")
    return win


def _route_exceptions_to(win) -> None:
    """An exception escaping a Qt slot is printed and shown in the message bar; the app goes on."""
    import traceback

    def hook(kind, value, tb):
        traceback.print_exception(kind, value, tb)
        try:
            win.show_message(f"internal error: {kind.__name__}: {value}")
        except Exception:
            pass

    sys.excepthook = hook


def run_gui(opts: GuiOptions) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("snnstudio")
    app.setOrganizationName("snnstudio")
    icon = Path(__file__).resolve().parents[2] / "packaging" / "snnstudio.svg"
    if icon.exists():
        from PySide6.QtGui import QIcon

        app.setWindowIcon(QIcon(str(icon)))
    win = build_window(opts, app)
    _route_exceptions_to(win)
    win.show()
    if opts.quit_after is not None:
        def finish():
            if opts.screenshot:
                win.model.tick()
                app.processEvents()
                win.grab().save(opts.screenshot)
            last = win.model.last
            print(f"snnstudio: {0 if last is None else last.index + 1} steps shown, engine in a {opts.engine}"
                  + (f", model {last.model_name}" if last is not None else ""), flush=True)
            if win.message_bar.text:  # what the window was saying (a capture's log)
                print(f"snnstudio: message: {win.message_bar.text}", flush=True)
            win.close()
            app.quit()

        QTimer.singleShot(int(opts.quit_after * 1000), finish)
    return app.exec()
