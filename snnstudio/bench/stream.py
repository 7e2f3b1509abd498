"""The live path end to end: a 128×128 stream at ~1 M events/s, 10 ms steps, through the session.

Per model (``tiny`` — stateful; the zoo's ``ma_snn_gesture_small`` — a window of T=16 re-run
each step; ``ma_snn_gesture`` — T=60, full run only):

* ``realtime_factor`` — stream time processed per wall second, flat out (≥ 1: keeps up live);
* ``latency_ms_p50`` / ``latency_ms_p95`` — one step, window complete → snapshot ready
  (binning + model + read-out + snapshot);
* ``probe_overhead`` — runner step (read-out of every layer, SOPs every 8th step) over the bare
  model step on the same frames, minus 1.

And for the window: ``display_fps`` — draws per second of the offscreen studio window playing the
stream in real time with the ``tiny`` model, with its ``steps_per_s``. Goals (the issue): real-time
factor ≥ 1, display ≥ 30 FPS, latency ≤ 50 ms. Timings are wall clock on whatever else the
machine is doing; compare models within one run.
"""

from __future__ import annotations

import os
import time

import numpy as np

DT_US = 10_000
RATE_HZ = 1_000_000.0


def _stream(duration_s: float):
    from snnstudio.engine.demo import rotating_bar_recording

    return rotating_bar_recording(duration_us=int(duration_s * 1e6), rate_hz=RATE_HZ, sensor_size=(128, 128))


def _session_run(rec, spec, steps: int) -> dict:
    from snnstudio.engine.session import Session, SessionConfig

    stamps: list[float] = []
    lat: list[float] = []

    def got(snap):
        stamps.append(time.perf_counter())
        lat.append(snap.metrics.latency_ms)

    s = Session(SessionConfig(dt_us=DT_US, realtime=False, loop=True), on_snapshot=got)
    s.start()
    try:
        s.set_model(spec)
        s.open(rec)
        s.sync(600)
        if s.messages:
            return {"error": s.messages[-1]}
        s.step(steps)
        s.wait_for(lambda x: x is not None and x.index >= steps - 1, timeout=600)
        info = s.state.model
    finally:
        s.close()
    if len(stamps) < 3:
        return {"error": "no snapshots"}
    warm = min(3, len(stamps) - 2)
    wall = stamps[-1] - stamps[warm]
    n = len(stamps) - 1 - warm
    lat_a = np.array(lat[warm:])
    return {
        "mode": info.mode if info else None,
        "window_T": info.window_T if info else None,
        "steps": len(stamps),
        "realtime_factor": n * DT_US / 1e6 / wall if wall > 0 else float("inf"),
        "steps_per_s": n / wall if wall > 0 else float("inf"),
        "latency_ms_p50": float(np.percentile(lat_a, 50)),
        "latency_ms_p95": float(np.percentile(lat_a, 95)),
    }


def _probe_overhead(rec, spec, steps: int, repeat: int) -> dict:
    import torch

    from snnstudio.bench import best_time
    from snnstudio.engine.models import load_model
    from snnstudio.engine.runner import ModelRunner
    from snnstudio.engine.windows import count_frame

    runner = ModelRunner(load_model(spec).module, sensor_hw=(128, 128))
    t0 = rec.t_start_us
    frames = [count_frame(rec.time_slice(t0 + i * DT_US, t0 + (i + 1) * DT_US), rec.sensor_size) for i in range(steps)]
    model = runner.model

    def bare():  # the same pooling and forward, without read-out, snapshot or op counting
        runner.reset()
        with torch.inference_mode():
            win = None
            for f in frames:
                x = runner._prepare(f)
                if runner.mode == "stateful":
                    model(x[None] if runner.step_input_ndim == 4 else x[None, None])
                else:
                    win = [torch.zeros_like(x)] * runner.window_T if win is None else win
                    win = win[1:] + [x]
                    model(torch.stack(win)[:, None])

    def full():
        runner.reset()
        for f in frames:
            runner.step(f)

    t_bare = best_time(bare, repeat=repeat)
    t_full = best_time(full, repeat=repeat)
    return {"bare_step_ms": 1e3 * t_bare / steps, "runner_step_ms": 1e3 * t_full / steps, "probe_overhead": t_full / t_bare - 1.0}


def _display(rec, seconds: float) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen" if not os.environ.get("DISPLAY") else os.environ.get("QT_QPA_PLATFORM", "xcb"))
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from snnstudio.engine.session import SessionConfig
    from snnstudio.gui import theme
    from snnstudio.gui.main_window import MainWindow
    from snnstudio.gui.session_model import SessionModel

    app = QApplication.instance() or QApplication([])
    theme.apply(app, "dark")
    model = SessionModel(SessionConfig(dt_us=DT_US, realtime=True))
    win = MainWindow(model, settings=None)
    win.show()
    model.start()
    model.set_model("tiny")
    model.open(rec)
    model.play()
    draws: list[float] = []
    model.snapshot.connect(lambda _s: draws.append(time.perf_counter()))
    QTimer.singleShot(int(seconds * 1000), app.quit)
    app.exec()
    last = model.last
    win.close()
    d = np.array(draws)
    d = d[d > d[0] + 1.0] if d.size else d  # skip the first second (start-up)
    fps = (d.size - 1) / (d[-1] - d[0]) if d.size > 1 else 0.0
    return {
        "display_fps": float(fps),
        "steps_per_s": float(last.counters.steps_per_s) if last else 0.0,
        "realtime_factor_live": float(last.counters.realtime_factor) if last else 0.0,
        "platform": app.platformName(),
    }


def run(quick: bool = False) -> dict:
    steps = 40 if quick else 300
    rec = _stream(2.0 if quick else 6.0)
    out: dict = {
        "stream": {"sensor": [128, 128], "events_per_s": RATE_HZ, "dt_ms": DT_US / 1000},
        "goals": {"realtime_factor": ">= 1", "display_fps": ">= 30", "latency_ms_p95": "<= 50"},
        "models": {},
    }
    specs = ["tiny", "ma_snn_gesture_small"] + ([] if quick else ["ma_snn_gesture"])
    for spec in specs:
        n = steps if spec != "ma_snn_gesture" else 8
        try:
            row = _session_run(rec, spec, n)
            row.update(_probe_overhead(rec, spec, min(n, 20), 2 if quick or spec == "ma_snn_gesture" else 3))
        except Exception as exc:  # a model that is missing from this checkout: say so, go on
            row = {"error": f"{type(exc).__name__}: {exc}"}
        out["models"][spec] = row
    try:
        out["gui"] = _display(rec, 4.0 if quick else 8.0)
    except Exception as exc:
        out["gui"] = {"error": f"{type(exc).__name__}: {exc}"}
    tiny = out["models"].get("tiny", {})
    out["realtime_factor"] = tiny.get("realtime_factor")
    out["latency_ms_p95"] = tiny.get("latency_ms_p95")
    out["probe_overhead"] = tiny.get("probe_overhead")
    out["display_fps"] = out["gui"].get("display_fps")
    return out
