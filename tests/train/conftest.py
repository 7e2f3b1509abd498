"""Tiny synthetic data and a tiny trained model shared by the training tests (built once per session)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

#: a 32×32 sensor at 100 fps, 0.4 s gestures framed in 8 bins, pooled to 8×8: ~0.1 s per sample
TINY_DATA = {"sensor": 32, "fps": 100, "duration_us": 400_000, "base_bins": 8, "out_size": 8,
             "per_class": {"train": 2, "val": 1, "test": 1}}
TINY_MODEL = ["--preset", "ma_snn_gesture_small", "--model", "T=4", "--model", "dt_us=100000",
              "--model", "widths=[4,8,8,16]", "--model", "input_size=[2,8,8]"]


def data_args() -> list[str]:
    out = []
    for k, v in TINY_DATA.items():
        out += ["--data-option", f"{k}={json.dumps(v)}"]
    return out


def run_cli(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    e = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "snnstudio", *args], capture_output=True, text=True, env=e,
                          timeout=timeout, cwd=REPO)


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory) -> Path:
    """The tiny synthetic splits generated once into a cache folder."""
    from snnstudio.train.data import SyntheticSpec, synthetic_base

    cache = tmp_path_factory.mktemp("cache")
    spec = SyntheticSpec.from_options(TINY_DATA)
    for split in ("train", "val", "test"):
        synthetic_base(spec, split, cache)
    return cache


@pytest.fixture(scope="session")
def tiny_run(tiny_cache, tmp_path_factory) -> Path:
    """``snnstudio train`` with a tiny config for 2 epochs (the CLI, end to end); returns the out folder."""
    out = tmp_path_factory.mktemp("run")
    r = run_cli("train", "--name", "tiny", "--out", str(out), "--cache-dir", str(tiny_cache), *TINY_MODEL,
                *data_args(), "--epochs", "2", "--batch-size", "8", "--no-progress", "--lr", "0.01")
    assert r.returncode == 0, r.stderr + r.stdout
    return out
