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
def _build_wheel(folder):
    """The project's wheel, built into ``folder`` (skips when pip is missing)."""
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                          "-w", str(folder), str(REPO)], capture_output=True, text=True, timeout=600)
    if out.returncode != 0 and "No module named pip" in out.stderr:
        pytest.skip("pip is not available")
    assert out.returncode == 0, out.stderr[-2000:]
    (wheel,) = folder.glob("snnstudio-*.whl")
    return wheel


def test_the_wheel_carries_every_model_and_the_demo(tmp_path):
    wheel = _build_wheel(tmp_path)
    expected = [p for sub in ("models", "demo") for p in sorted((REPO / "resources" / sub).iterdir()) if p.is_file()]
    assert any(p.suffix == ".safetensors" for p in expected) and any(p.suffix == ".aedat4" for p in expected)
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        for p in expected:
            member = "snnstudio/_resources/" + p.relative_to(REPO / "resources").as_posix()
            assert member in names, member
            assert _sha(z.read(member)) == _sha(p.read_bytes()), member
        assert "snnstudio/resources.py" in names


def test_a_wheel_installed_in_a_fresh_venv_opens_the_default_model_and_the_demo(tmp_path):
    """The wheel in a new virtual environment (over this machine's packages, for torch): outside the
    checkout, the installed package finds its own bundled models and demo and runs them."""
    import os

    wheel = _build_wheel(tmp_path)
    venv = tmp_path / "venv"
    made = subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
                          capture_output=True, text=True, timeout=300)
    if made.returncode != 0:
        pytest.skip(f"no venv here: {made.stderr[-300:]}")
    py = venv / "bin" / "python"
    inst = subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "-q", str(wheel)],
                          capture_output=True, text=True, timeout=600)
    assert inst.returncode == 0, inst.stderr[-2000:]
    code = ("import snnstudio, snnstudio.resources as r\n"
            "from snnstudio.engine.models import load_model\n"
            "from snnstudio.engine.demo import bundled_demo_files\n"
            "from snnstudio.events.io import read_events\n"
            "print(snnstudio.__file__)\n"
            "print(r.bundled_models_dir())\n"
            "print(load_model('default').name)\n"
            "print(len(read_events(bundled_demo_files()[0]).events))\n")
    env = {k: v for k, v in os.environ.items() if k not in ("SNNSTUDIO_RESOURCES", "PYTHONPATH")}
    run = subprocess.run([str(py), "-c", code], capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    where, models, name, n_events = run.stdout.split()
    assert str(venv) in where and str(REPO) not in where  # the wheel's copy, not this checkout
    assert str(venv) in models and models.endswith("_resources/models")
    assert name == "gesture-lif-tcsa" and int(n_events) > 1000
