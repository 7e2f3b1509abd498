"""The recording the studio opens when it is given nothing to open.

The bundled recording in ``resources/demo`` when there is one; else
``snnstudio.events.synthetic.make_demo_recording`` where it is installed; else a short
in-memory recording of a bar sweeping round the sensor centre (ON events on its leading edge,
OFF on its trailing edge, plus background noise), generated vectorised in a few milliseconds.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np

from snnstudio.events.types import EventRecording, Label, make_events


def rotating_bar_recording(
    duration_us: int = 4_000_000,
    sensor_size: tuple[int, int] = (128, 128),
    rate_hz: float = 300_000.0,
    turns_per_s: float = 0.75,
    seed: int = 0,
) -> EventRecording:
    """A bar rotating about the centre at ``turns_per_s``, ``rate_hz`` events per second."""
    rng = np.random.default_rng(seed)
    w, h = sensor_size
    n = int(duration_us * rate_hz / 1e6)
    t = np.sort(rng.integers(0, duration_us, n)).astype(np.int64)
    angle = 2 * np.pi * turns_per_s * t / 1e6
    r = rng.uniform(-0.42, 0.42, n) * min(w, h)
    lead = rng.random(n) < 0.5
    side = np.where(lead, 1.5, -1.5) + rng.normal(0, 0.6, n)
    x = w / 2 + r * np.cos(angle) - side * np.sin(angle)
    y = h / 2 + r * np.sin(angle) + side * np.cos(angle)
    p = lead.astype(np.int8)
    noise = rng.random(n) < 0.08
    x[noise] = rng.uniform(0, w, noise.sum())
    y[noise] = rng.uniform(0, h, noise.sum())
    x = np.clip(np.round(x), 0, w - 1).astype(np.int16)
    y = np.clip(np.round(y), 0, h - 1).astype(np.int16)
    names = {0: "rotate"}
    return EventRecording(
        make_events(t, x, y, p),
        sensor_size,
        labels=[Label(0, 0, duration_us, "rotate")],
        sensor="synthetic",
        format="memory",
        meta={"class_names": names},
    )


def bundled_demo_files() -> list[Path]:
    """Recordings in the bundled ``resources/demo`` (:func:`snnstudio.resources.bundled_demo_dir`)."""
    from snnstudio.resources import bundled_demo_dir

    folder = bundled_demo_dir()
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() not in (".md", ".txt", ".json", ".csv"))


def synthetic_available() -> bool:
    """Is the live synthetic gesture source (``open_source("synthetic")``) installed?"""
    import importlib.util

    return importlib.util.find_spec("snnstudio.events.sources.synthetic") is not None


def demo_recording() -> EventRecording:
    """The bundled demo recording (``resources/demo``) where there is one, else the synthetic
    gesture demo where available, else :func:`rotating_bar_recording`."""
    files = bundled_demo_files()
    if files:
        from snnstudio.events.io import read_events

        return read_events(files[0])
    try:
        synth = importlib.import_module("snnstudio.events.synthetic")
        return synth.make_demo_recording()
    except (ImportError, AttributeError):
        return rotating_bar_recording()
