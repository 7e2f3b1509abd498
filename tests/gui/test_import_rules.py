"""House rules on imports, checked in fresh interpreters with the forbidden packages blocked:
the window's process never loads torch (the engine runs in its own process), and nothing below
``events/``, ``snn/``, ``probe/``, ``train/`` loads Qt."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

#: installs a finder that refuses ``BLOCKED`` packages and notes who asked (the stack), so an
#: import hidden behind ``try: … except ImportError`` is caught too
BLOCKER = """
import sys, traceback
TRIED = []
class _Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            TRIED.append(name + " from\\n" + "".join(traceback.format_stack(limit=14)[:-1]))
            raise ImportError(f"{name} is blocked in this process")
        return None
sys.meta_path.insert(0, _Blocked())
"""

WINDOW = """
import json, os, time
from PySide6.QtWidgets import QApplication
app = QApplication([])
from snnstudio.gui.app import GuiOptions, build_window
win = build_window(GuiOptions(model="tiny", engine="process", remember_layout=False), app)
win.show()
model = win.model
deadline = time.monotonic() + 150
while time.monotonic() < deadline and not (model.last is not None and model.last.index >= 3
                                           and win.model_panel.neuron.count() > 0):
    app.processEvents()
    time.sleep(0.01)
out = {"steps": -1 if model.last is None else model.last.index + 1, "engine_pid": model.session.pid,
       "neurons": [win.model_panel.neuron.itemText(i) for i in range(win.model_panel.neuron.count())],
       "model": model.state.model.name if model.state.model else None}
win.close()
model.close()
# the Evaluate panel's job, as the studio runs it (in a process), and its saved table
import tempfile
from snnstudio.engine.evaluation import EvalRequest, EvaluationJob, write_result
rows = []
job = EvaluationJob(EvalRequest(["default"], limit=4), on_row=rows.append, process=True).start()
job.wait(240)
csv_path = os.path.join(tempfile.mkdtemp(), "t.csv")
if job.result is not None:
    write_result(job.result, csv_path)
out.update(eval_rows=len(rows), eval_error=job.error, csv=len(open(csv_path).read().splitlines()) if job.result else 0)
out.update(pid=os.getpid(), torch="torch" in sys.modules, tried=TRIED)
print("RESULT " + json.dumps(out))
"""


def _run(code: str, blocked: tuple[str, ...], timeout: float = 240) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen", "OMP_NUM_THREADS": "1"}
    script = f"BLOCKED = {blocked!r}\n" + BLOCKER + code
    r = subprocess.run([sys.executable, "-c", script], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")]
    assert r.returncode == 0 and lines, r.stdout[-3000:] + r.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT "):])


def test_the_blocker_catches_a_hidden_import():
    """The check itself: an import of a blocked package behind ``except ImportError`` is noted."""
    got = _run("try:\n    import numpy.linalg\nexcept ImportError:\n    pass\nimport json\n"
               "print('RESULT ' + json.dumps({'tried': TRIED}))", ("numpy",))
    assert len(got["tried"]) == 1 and got["tried"][0].startswith("numpy from")


@pytest.mark.slow
def test_the_window_process_never_loads_torch():
    """The studio as ``snnstudio gui`` starts it (engine process, tiny model, demo recording), with
    torch blocked in the window's process: it imports, opens, shows the engine's steps and the
    engine's neuron list, evaluates (in a process of its own) and saves the table, and never asked
    for torch."""
    got = _run(WINDOW, ("torch",))
    assert got["tried"] == [], got["tried"][0]
    assert not got["torch"]
    assert got["steps"] >= 4 and got["model"] == "tiny"
    assert got["engine_pid"] not in (None, got["pid"])
    assert {"lif", "psn"} <= set(got["neurons"])  # the engine's registry, sent in its state
    assert (got["eval_rows"], got["eval_error"], got["csv"]) == (1, None, 2)  # evaluated aside, saved here


PACKAGES = ("events", "snn", "probe", "train")

EVERY_MODULE = """
import importlib, json, pkgutil
import snnstudio
failed = {}
names = []
for pkg in PACKAGES:
    mod = importlib.import_module("snnstudio." + pkg)
    names.append(mod.__name__)
    for info in pkgutil.walk_packages(mod.__path__, mod.__name__ + "."):
        if info.name.rsplit(".", 1)[-1] == "__main__":
            continue
        names.append(info.name)
        try:
            importlib.import_module(info.name)
        except Exception as exc:  # an optional dependency missing here: listed, not a rule broken
            failed[info.name] = f"{type(exc).__name__}: {exc}"
print("RESULT " + json.dumps({"names": names, "failed": failed, "tried": TRIED,
                              "qt": sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)}))
"""


@pytest.mark.slow
def test_nothing_below_events_snn_probe_train_loads_qt():
    got = _run(EVERY_MODULE.replace("PACKAGES", repr(PACKAGES)), ("PySide6", "shiboken6", "pyqtgraph"))
    assert got["tried"] == [], got["tried"][0]
    assert got["qt"] == []
    on_disk = {
        f"snnstudio.{pkg}." + ".".join(p.relative_to(REPO / "snnstudio" / pkg).with_suffix("").parts)
        for pkg in PACKAGES for p in (REPO / "snnstudio" / pkg).rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py")
    }
    assert on_disk <= set(got["names"])  # every module was tried
    assert not [n for n, why in got["failed"].items() if "blocked" in why], got["failed"]


def test_the_engine_types_the_window_imports_are_torch_free():
    """The modules the window takes from the engine import neither torch nor Qt."""
    mods = ("snnstudio.engine.types", "snnstudio.engine.controls", "snnstudio.engine.slot",
            "snnstudio.engine.catalog", "snnstudio.engine.process_session", "snnstudio.engine.snapshot",
            "snnstudio.train.plots")
    code = "import importlib, json\n" + "".join(f"importlib.import_module({m!r})\n" for m in mods) + \
        "print('RESULT ' + json.dumps({'tried': TRIED, 'torch': 'torch' in sys.modules}))"
    got = _run(code, ("torch", "PySide6"))
    assert got == {"tried": [], "torch": False}

