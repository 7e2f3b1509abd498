"""Fixtures of the event I/O tests: deterministic random recordings."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from io_recordings import random_recording  # noqa: E402

from snnstudio.events.types import EventRecording, Label  # noqa: E402


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
