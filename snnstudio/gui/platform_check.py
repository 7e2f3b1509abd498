"""Will Qt be able to open a window here? Checked before the first ``QApplication``, because Qt
answers a missing display or a missing X11 library by aborting the process with its own message
("could not load the Qt platform plugin 'xcb'") and nothing from the project.

Qt- and torch-free (``ctypes`` only). On Linux with the ``xcb`` platform (the default under X11),
Qt 6's plugin needs a few XCB libraries that minimal systems lack; each is tried with
``ctypes.CDLL``. Other platforms, and Qt's ``offscreen`` / ``minimal`` / ``wayland`` ones, are not
checked.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Mapping

#: shared library → Debian/Ubuntu package, for Qt 6's xcb platform plugin
XCB_LIBRARIES: dict[str, str] = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-image.so.0": "libxcb-image0",
    "libEGL.so.1": "libegl1",
}

#: the same libraries on other distributions (the README's table)
OTHER_DISTRIBUTIONS = {
    "Fedora": "sudo dnf install xcb-util-cursor xcb-util-wm xcb-util-keysyms xcb-util-renderutil xcb-util-image "
              "libxkbcommon-x11 mesa-libEGL",
    "Arch": "sudo pacman -S xcb-util-cursor xcb-util-wm xcb-util-keysyms xcb-util-renderutil xcb-util-image "
            "libxkbcommon-x11 libglvnd",
}

_UNCHECKED = ("offscreen", "minimal", "wayland", "wayland-egl", "eglfs", "linuxfb", "vnc", "vkkhrdisplay")


def _loads(name: str, loader: Callable[[str], object]) -> bool:
    try:
        loader(name)
    except OSError:
        return False
    return True


def platform_problem(env: Mapping[str, str] | None = None, *, system: str | None = None,
                     loader: Callable[[str], object] = ctypes.CDLL) -> str | None:
    """A one-line explanation (with the fix) of why Qt cannot open a window here, or ``None``."""
    env = os.environ if env is None else env
    system = system or sys.platform
    if not system.startswith("linux"):
        return None
    platform = env.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if platform in _UNCHECKED:
        return None
    if not platform and env.get("WAYLAND_DISPLAY") and not env.get("DISPLAY"):
        return None  # Qt picks its Wayland plugin
    if not env.get("DISPLAY"):
        return ("no display to open the window on (DISPLAY is not set): start it from a desktop session, "
                "under xvfb-run, or with QT_QPA_PLATFORM=offscreen for --screenshot")
    missing = [pkg for lib, pkg in XCB_LIBRARIES.items() if not _loads(lib, loader)]
    if not missing:
        return None
    return ("Qt's X11 platform plugin needs libraries this machine lacks: on Debian/Ubuntu "
            f"`sudo apt-get install {' '.join(missing)}` (other distributions: see the README)")
