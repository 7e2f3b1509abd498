"""Fixtures of the event I/O tests: deterministic random recordings."""

from __future__ import annotations

import numpy as np
import pytest

from snnstudio.events.types import EventRecording, Label, make_events


def random_recording(n: int = 5000, size=(346, 260), seed: int = 0, t0: int = 1_700_000_000_000_000,
                     span_us: int = 2_000_000, sensor: str | None = "TEST_CAM", labels=()) -> EventRecording:
    """Sorted events with repeated timestamps, both polarities, corners of the sensor included."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, span_us, n)) + t0
    t[1] = t[0]  # equal timestamps must survive
    x = rng.integers(0, size[0], n)
    y = rng.integers(0, size[1], n)
    x[:2], y[:2] = (0, size[0] - 1), (0, size[1] - 1)
    p = rng.integers(0, 2, n)
    return EventRecording(make_events(t, x, y, p), size, sensor=sensor, labels=list(labels))


@pytest.fixture
def rec() -> EventRecording:
    return random_recording()


@pytest.fixture
def labelled() -> EventRecording:
    t0 = 1_700_000_000_000_000
    labs = [Label(1, t0 + 100_000, t0 + 600_000), Label(7, t0 + 700_000, t0 + 1_500_000)]
    return random_recording(size=(128, 128), labels=labs)


@pytest.fixture
def make_recording():
    return random_recording
