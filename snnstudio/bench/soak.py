"""Memory over time: the studio playing the demo for ``minutes`` with every dock open.

``snnstudio bench --only soak --minutes M`` (run only when named: it takes minutes, not for CI).
The offscreen window (the engine in its own process, adaptive step, as the studio runs) plays the
looping demo with the default model and every dock split out and visible; every
:data:`SAMPLE_S` seconds it samples the resident memory (``VmRSS``, MB) of the window's process and
of the engine process, and — to find what grows — the window's live Python objects, the items in
its plot scenes and the rows of the metrics history.

Reported: ``rss_mb_at`` (both processes at 1, 10 and 60 minutes, or as far as the run went, and
at its end), ``growth_mb_per_min`` (least-squares slope over the samples after ``warmup_min``),
the same slope for the object and item counts, and the display's FPS meanwhile. Flat after
warm-up is the goal; the figures are wall-clock samples on whatever else the machine runs
(``load_average``).
"""

from __future__ import annotations

import gc
import os
import time

import numpy as np

#: seconds between two memory samples
SAMPLE_S = 5.0
#: the minutes at which memory is reported (those the run reaches)
REPORT_AT_MIN = (1, 10, 60)


def rss_mb(pid: int | None) -> float | None:
    """Resident memory of process ``pid`` in MB (Linux ``/proc``; ``None`` elsewhere or when gone)."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        return None
    return None


def _slope_per_min(t_s: np.ndarray, v: np.ndarray) -> float | None:
    ok = ~np.isnan(v)
    if ok.sum() < 3 or np.ptp(t_s[ok]) <= 0:
        return None
    return float(np.polyfit(t_s[ok] / 60.0, v[ok], 1)[0])


def _scene_items(win) -> int:
    """Graphics items in every plot scene of the window (pyqtgraph views): a count that grows
    when items are re-created per frame instead of updated."""
    from PySide6.QtWidgets import QGraphicsView

    scenes = {id(v.scene()): v.scene() for v in win.findChildren(QGraphicsView) if v.scene() is not None}
    return sum(len(s.items()) for s in scenes.values())


def soak(minutes: float, warmup_min: float | None = None, spec: str = "default") -> dict:
    """Play the demo for ``minutes`` in the offscreen window; see the module docstring."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen" if not os.environ.get("DISPLAY") else "xcb")
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from snnstudio.bench.stream import _show_every_dock
    from snnstudio.engine.types import SessionConfig
    from snnstudio.gui import theme
    from snnstudio.gui.demo_view import demo_target
    from snnstudio.gui.main_window import MainWindow
    from snnstudio.gui.session_model import SessionModel

    if warmup_min is None:
        warmup_min = min(1.0, minutes / 3)
    app = QApplication.instance() or QApplication([])
    theme.apply(app, "dark")
    model = SessionModel(SessionConfig(realtime=True, loop=True, adaptive_step=True), engine="process")
    win = MainWindow(model, settings=None)
    win.resize(1600, 1000)
    win.show()
    app.processEvents()
    visible = _show_every_dock(win)
    model.start()
    model.set_model(spec)
    model.open(demo_target(None))
    model.play()
    me = os.getpid()
    samples: list[tuple[float, float | None, float | None, int, int, int, float]] = []
    t0 = time.perf_counter()
    frames = [0]
    model.snapshot.connect(lambda _snap: frames.__setitem__(0, frames[0] + 1))

    def sample() -> None:
        pid = getattr(model.session, "pid", None)
        samples.append((time.perf_counter() - t0, rss_mb(me), rss_mb(pid), len(gc.get_objects()),
                        _scene_items(win), len(model.history), float(frames[0])))

    timer = QTimer()
    timer.timeout.connect(sample)
    timer.start(int(SAMPLE_S * 1000))
    end: dict = {}

    def finish() -> None:  # the last sample first: Qt 6's quit() closes the window, and with it the engine
        timer.stop()  # no sample while the window closes (the engine goes with it)
        sample()
        end.update(engine_alive=bool(getattr(model.session, "alive", True)), engine_pid=getattr(model.session, "pid", None))
        app.quit()

    QTimer.singleShot(int(minutes * 60_000), finish)
    sample()
    app.exec()
    timer.stop()
    messages = list(win.message_bar.history)
    info = model.state.model
    model.close()
    win.close()

    a = np.array([[np.nan if v is None else v for v in row] for row in samples], dtype=float)
    t = a[:, 0]
    after = t >= warmup_min * 60.0

    def at(minute: float) -> dict:
        k = int(np.argmin(np.abs(t - minute * 60.0)))
        return {"t_min": round(t[k] / 60.0, 2), "window_mb": round(a[k, 1], 1),
                "engine_mb": None if np.isnan(a[k, 2]) else round(a[k, 2], 1)}

    marks = {f"{m}min": at(m) for m in REPORT_AT_MIN if m * 60.0 <= t[-1] + SAMPLE_S}
    marks["end"] = at(t[-1] / 60.0)
    fps = np.diff(a[:, 6]) / np.diff(t)
    return {
        "minutes": minutes,
        "model": info.name if info else spec,
        "docks_visible": visible,
        "samples": len(samples),
        "warmup_min": warmup_min,
        "rss_mb_at": marks,
        "growth_mb_per_min": {"window": _slope_per_min(t[after], a[after, 1]),
                              "engine": _slope_per_min(t[after], a[after, 2])},
        "growth_per_min": {"python_objects": _slope_per_min(t[after], a[after, 3]),
                           "scene_items": _slope_per_min(t[after], a[after, 4]),
                           "metrics_history_rows": _slope_per_min(t[after], a[after, 5])},
        "end_counts": {"python_objects": int(a[-1, 3]), "scene_items": int(a[-1, 4]),
                       "metrics_history_rows": int(a[-1, 5])},
        "display_fps": float(np.median(fps[after[1:]])) if after[1:].any() else None,
        "messages": messages[-5:],
        **end,
        # (minute, window MB, engine MB) about once a minute: the curve behind the slopes
        "series_mb": [[round(t[k] / 60, 2), round(a[k, 1], 1), None if np.isnan(a[k, 2]) else round(a[k, 2], 1)]
                      for k in sorted({int(np.argmin(np.abs(t - 60.0 * m))) for m in range(int(t[-1] // 60) + 1)}
                                      | {len(t) - 1})],
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "cpus": os.cpu_count(),
    }


def run(quick: bool = False, minutes: float | None = None) -> dict:
    """The soak (``minutes``: default 60, ``quick``: 1)."""
    if minutes is None:
        minutes = 1.0 if quick else 60.0
    if minutes <= 0:
        from snnstudio.errors import SnnStudioError

        raise SnnStudioError(f"--minutes must be positive, got {minutes:g}")
    return soak(float(minutes))


#: not part of a plain ``snnstudio bench`` (minutes long): only when named with ``--only``
ON_REQUEST = True
#: measured with glibc's allocator as the studio runs it (the bench's tuning keeps freed memory
#: mapped, ``MALLOC_TRIM_THRESHOLD_`` 4 GB, which would count as growth)
DEFAULT_ALLOCATOR = True
