"""The studio says what Qt needs before Qt aborts (no display, missing X11 libraries)."""

from __future__ import annotations

import os
import subprocess
import sys

from snnstudio.gui.platform_check import XCB_LIBRARIES, platform_problem


def _loader(missing: set[str]):
    def load(name: str):
        if name in missing:
            raise OSError(f"{name}: cannot open shared object file")
        return object()

    return load


def test_missing_xcb_libraries_are_named_with_their_packages():
    env = {"DISPLAY": ":0"}
    msg = platform_problem(env, system="linux", loader=_loader({"libxcb-cursor.so.0", "libEGL.so.1"}))
    assert msg is not None and "apt-get install libxcb-cursor0 libegl1`" in msg
    assert "libxcb-icccm4" not in msg  # only what is missing
    assert platform_problem(env, system="linux", loader=_loader(set())) is None


def test_no_display_and_the_platforms_that_need_none():
    everything_missing = _loader(set(XCB_LIBRARIES))
    assert "DISPLAY" in platform_problem({}, system="linux", loader=everything_missing)
    for env in ({"QT_QPA_PLATFORM": "offscreen"}, {"QT_QPA_PLATFORM": "minimal"},
                {"WAYLAND_DISPLAY": "wayland-0"}, {"QT_QPA_PLATFORM": "wayland", "DISPLAY": ":0"}):
        assert platform_problem(env, system="linux", loader=everything_missing) is None, env
    assert platform_problem({}, system="darwin", loader=everything_missing) is None
    assert platform_problem({}, system="win32", loader=everything_missing) is None


def test_gui_without_a_display_is_one_line_not_a_qt_abort():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    r = subprocess.run([sys.executable, "-m", "snnstudio", "gui", "--model", "tiny"], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert "no display" in r.stderr and "xvfb-run" in r.stderr
    assert "Traceback" not in r.stderr and "qt.qpa" not in r.stderr
