"""Fixtures for the live-source tests (helpers live in ``sources_helpers``)."""

from __future__ import annotations

import pytest
from sources_helpers import make_recording

from snnstudio.events.types import EventRecording


@pytest.fixture
def recording() -> EventRecording:
    return make_recording()
