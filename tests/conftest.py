"""Shared fixtures. Tests that read ../shared/samples skip cleanly when it is absent."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Compiled kernels (the native LIF) are cached per session, never in the user's ~/.cache.
os.environ.setdefault("SNNSTUDIO_CACHE", tempfile.mkdtemp(prefix="snnstudio-test-cache-"))
# Taught models go to (and are listed from) a folder of the test run, never the user's own
# (and each test gets an empty one: see user_models below).
os.environ["SNNSTUDIO_USER_MODELS"] = tempfile.mkdtemp(prefix="snnstudio-test-models-")
SAMPLES = Path(os.environ.get("SNNSTUDIO_SAMPLES", REPO.parent / "shared" / "samples"))


@pytest.fixture(autouse=True)
def user_models(tmp_path_factory, monkeypatch) -> Path:
    """An empty user models folder per test: a model one test teaches is not listed in the next."""
    folder = tmp_path_factory.mktemp("user-models")
    monkeypatch.setenv("SNNSTUDIO_USER_MODELS", str(folder))
    return folder


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """The real recordings beside the project (../shared/samples); skip when absent."""
    if not SAMPLES.is_dir():
        pytest.skip(f"real samples not found at {SAMPLES}")
    return SAMPLES


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(autouse=True, scope="session")
def _single_thread_torch():
    """2-core machines: keep torch from oversubscribing when pytest runs beside other work."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        yield
        return
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    yield
