"""packaging/: the standalone build's entry routes like the installed script, and the PyInstaller
spec builds a folder whose ``snnstudio --version`` runs and whose studio plays, its engine in a
process of its own (slow: minutes, about 1 GB with torch)."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _entry():
    spec = importlib.util.spec_from_file_location("snnstudio_entry", REPO / "packaging" / "entry.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_entry_opens_the_studio_unless_asked_for_a_command():
    route = _entry().route
    assert route([]) == ["gui"]
    assert route(["rec.aedat4", "--model", "tiny"]) == ["gui", "rec.aedat4", "--model", "tiny"]
    assert route(["--demo", "synthetic"]) == ["gui", "--demo", "synthetic"]
    assert route(["--version"]) == ["--version"]
    assert route(["info", "x.aedat4"]) == ["info", "x.aedat4"]
    assert route(["eval", "--limit", "5"]) == ["eval", "--limit", "5"]


def test_spec_builds_from_the_entry_and_bundles_resources():
    text = (REPO / "packaging" / "snnstudio.spec").read_text()
    assert '"packaging" / "entry.py"' in text and '"resources"' in text and "COLLECT(" in text


@pytest.mark.slow
@pytest.mark.timeout(2400)  # bundling torch + Qt: ~5 min on a quiet 2-core machine, 20+ on a busy one
def test_pyinstaller_folder_runs_snnstudio_version(tmp_path):
    if importlib.util.find_spec("PyInstaller") is None:
        pytest.skip("pyinstaller is not installed (pip install pyinstaller) — the standalone build is not tested")
    from snnstudio import __version__

    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    build = subprocess.run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN", "--distpath", str(tmp_path / "dist"),
         "--workpath", str(tmp_path / "build"), str(REPO / "packaging" / "snnstudio.spec")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=3600,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    exe = tmp_path / "dist" / "snnstudio" / ("snnstudio.exe" if sys.platform == "win32" else "snnstudio")
    assert exe.is_file()
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    r = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=300, env=clean, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == f"snnstudio {__version__}"
    # the sub-commands are discovered inside the frozen app too
    r = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=300, env=clean, cwd=tmp_path)
    assert r.returncode == 0 and "gui" in r.stdout and "eval" in r.stdout
    # the studio itself, whose engine runs in a process the frozen program starts (freeze_support)
    r = subprocess.run([str(exe), "--model", "tiny", "--quit-after", "20"], capture_output=True, text=True, timeout=300,
                       env={**clean, "QT_QPA_PLATFORM": "offscreen"}, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    shown = re.search(r"snnstudio: (\d+) steps shown, engine in a process", r.stdout)
    assert shown and int(shown.group(1)) > 0, (r.stdout + r.stderr)[-2000:]
