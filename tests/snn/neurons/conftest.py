"""Keep the native kernel's build cache inside the test run's temporary folder."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _native_cache(tmp_path_factory):
    old = os.environ.get("SNNSTUDIO_CACHE")
    if old is None:
        os.environ["SNNSTUDIO_CACHE"] = str(tmp_path_factory.mktemp("snnstudio-cache"))
    yield
    if old is None:
        os.environ.pop("SNNSTUDIO_CACHE", None)
