"""File → Recent sources and the last session reopened by a plain ``snnstudio gui``."""

from __future__ import annotations

from PySide6.QtCore import QSettings


def _settings(tmp_path):
    return QSettings(str(tmp_path / "studio.ini"), QSettings.IniFormat)


def test_recent_sources_keep_text_specs_newest_first_and_know_a_gone_file(tmp_path):
    from snnstudio.gui.recent import available, recent_sources, remember_source, source_file

    st = _settings(tmp_path)
    clip = tmp_path / "clip.aedat4"
    clip.write_bytes(b"x")
    for spec in ("synthetic", str(clip), "video:/nowhere/v.mp4", "synthetic"):
        remember_source(st, spec)
    assert recent_sources(st) == ["synthetic", "video:/nowhere/v.mp4", str(clip)]
    assert source_file("file[format=evt2,sensor=320x320]:/a/b.raw").as_posix() == "/a/b.raw"
    assert source_file("network:127.0.0.1:7777") is None and source_file("demo") is None
    assert available(str(clip)) and available("synthetic") and not available("video:/nowhere/v.mp4")
    st.setValue("recent/sources", "{broken")
    assert recent_sources(st) == [] and recent_sources(None) == []


def test_a_source_that_opens_is_remembered_and_the_session_comes_back(qtbot, tmp_path):
    from snnstudio.engine.types import SessionConfig
    from snnstudio.gui.main_window import MainWindow
    from snnstudio.gui.recent import last_session, recent_sources
    from snnstudio.gui.session_model import SessionModel

    from gui_helpers import bar_recording
    from snnstudio.events.io import write_events

    path = tmp_path / "bar.aedat4"
    write_events(path, bar_recording())
    st = _settings(tmp_path)
    model = SessionModel(SessionConfig(dt_us=20_000, realtime=False))
    win = MainWindow(model, settings=st)
    qtbot.addWidget(win)
    model.start()
    try:
        model.set_model("tiny")
        model.open(str(path))
        qtbot.waitUntil(lambda: recent_sources(st) == [str(path)], timeout=20_000)
        assert [a.text() for a in win.recent_sources_menu.actions()] == [str(path)]
        model.open(str(tmp_path / "missing.aedat4"))  # fails: not remembered
        qtbot.wait(500)
        assert recent_sources(st) == [str(path)]
        win.remember_session()
        last = last_session(st)
        assert (last.source, last.model, last.dt_ms) == (str(path), "tiny", 20.0)
    finally:
        model.close()
    # a plain `snnstudio gui` (no path, no model) opens it again with the same model and step
    again = _plain_gui(qtbot, tmp_path)
    try:
        qtbot.waitUntil(lambda: again.model.state.source_name == path.name, timeout=20_000)
        assert again.model.model_spec == "tiny" and again.model.state.dt_us == 20_000
    finally:
        again.model.close()
    path.unlink()  # gone: the demo plays and the window says so
    third = _plain_gui(qtbot, tmp_path)
    try:
        assert "is gone: playing the demo" in third.message_bar.text
    finally:
        third.model.close()


def _plain_gui(qtbot, tmp_path):
    """``snnstudio gui`` with no path and no model, its settings those of ``tmp_path``."""
    import snnstudio.gui.app as app_mod
    from snnstudio.gui.app import GuiOptions, build_window

    real = app_mod.QSettings
    app_mod.QSettings = lambda *a: _settings(tmp_path)
    try:
        win = build_window(GuiOptions(engine="thread"))
    finally:
        app_mod.QSettings = real
    qtbot.addWidget(win)
    return win
