"""Bundled resources are found in every layout: the checkout, ``$SNNSTUDIO_RESOURCES``, and an
installed wheel (which must carry them: the wheel is built here and its files compared)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from snnstudio import resources

REPO = Path(__file__).resolve().parents[1]


def test_the_checkout_layout_comes_first(monkeypatch):
    monkeypatch.delenv("SNNSTUDIO_RESOURCES", raising=False)
    assert resources.resources_dir() == REPO / "resources"
    assert (resources.bundled_models_dir() / "gesture-lif-tcsa.json").is_file()


def test_the_variable_then_beside_then_inside_the_package(tmp_path, monkeypatch):
    pkg = tmp_path / "site" / "snnstudio"
    (pkg / "_resources" / "models").mkdir(parents=True)
    monkeypatch.setattr(resources, "_HERE", pkg)
    monkeypatch.delenv("SNNSTUDIO_RESOURCES", raising=False)
    assert resources.bundled_models_dir() == pkg / "_resources" / "models"  # an installed wheel
    (tmp_path / "site" / "resources").mkdir()
    assert resources.resources_dir() == tmp_path / "site" / "resources"  # a checkout / frozen bundle
    monkeypatch.setenv("SNNSTUDIO_RESOURCES", str(tmp_path / "mine"))
    assert resources.bundled_demo_dir() == tmp_path / "mine" / "demo"


def test_no_layout_names_the_checkout_path(tmp_path, monkeypatch):
    monkeypatch.setattr(resources, "_HERE", tmp_path / "snnstudio")
    monkeypatch.delenv("SNNSTUDIO_RESOURCES", raising=False)
    assert resources.resources_dir() == tmp_path / "resources"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.slow
def test_the_wheel_carries_every_model_and_the_demo(tmp_path):
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                          "-w", str(tmp_path), str(REPO)], capture_output=True, text=True, timeout=600)
    if out.returncode != 0 and "No module named pip" in out.stderr:
        pytest.skip("pip is not available")
    assert out.returncode == 0, out.stderr[-2000:]
    (wheel,) = tmp_path.glob("snnstudio-*.whl")
    expected = [p for sub in ("models", "demo") for p in sorted((REPO / "resources" / sub).iterdir()) if p.is_file()]
    assert any(p.suffix == ".safetensors" for p in expected) and any(p.suffix == ".aedat4" for p in expected)
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        for p in expected:
            member = "snnstudio/_resources/" + p.relative_to(REPO / "resources").as_posix()
            assert member in names, member
            assert _sha(z.read(member)) == _sha(p.read_bytes()), member
        assert "snnstudio/resources.py" in names
