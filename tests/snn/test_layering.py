"""``snn/`` is a layer below the probes, the engine, the GUI and training: no module in it imports
from those, not even inside a function (the NIR exporter once imported the probes' attention test)."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "snnstudio"
#: packages above snn/ (snn/ may use errors, config, events... and itself)
ABOVE = ("probe", "engine", "gui", "train", "commands", "bench", "cli")


def _imported(tree: ast.AST, module: str) -> set[str]:
    """Absolute names imported anywhere in ``tree`` (relative imports resolved against ``module``)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = module.split(".")[: -node.level]
                base = ".".join(parent + ([base] if base else []))
            names.add(base)
            names |= {f"{base}.{a.name}" for a in node.names}
    return names


def upward_imports(pkg: Path) -> list[str]:
    """``"snn/x.py → snnstudio.probe"`` for each module of ``pkg/snn`` and package above snn/ it
    imports (``pkg`` is the ``snnstudio`` folder)."""
    bad = []
    for f in sorted((pkg / "snn").rglob("*.py")):
        module = ".".join(f.relative_to(pkg.parent).with_suffix("").parts)
        above = set()
        for name in _imported(ast.parse(f.read_text(encoding="utf-8")), module):
            parts = name.split(".")
            if len(parts) > 1 and parts[0] == "snnstudio" and parts[1] in ABOVE:
                above.add(f"snnstudio.{parts[1]}")
        bad += [f"{f.relative_to(pkg).as_posix()} → {a}" for a in sorted(above)]
    return bad


def test_snn_imports_nothing_above_it():
    bad = upward_imports(PKG)
    assert not bad, "snn/ imports upward:\n" + "\n".join(bad)


def test_the_walk_finds_an_upward_import(tmp_path):
    """The check itself: a late import (inside a function), a relative one and ``from snnstudio
    import gui`` are caught; imports within snn/ and of the packages below it are not."""
    pkg = tmp_path / "snnstudio"
    (pkg / "snn" / "neurons").mkdir(parents=True)
    (pkg / "snn" / "a.py").write_text("def f():\n    from snnstudio.probe.readers import kind_of\n")
    (pkg / "snn" / "neurons" / "b.py").write_text("from ...engine import runner\nfrom .. import attention\n")
    (pkg / "snn" / "c.py").write_text("import snnstudio.errors\nfrom snnstudio.snn import zoo\nfrom snnstudio import gui\n")
    (pkg / "snn" / "d.py").write_text("import numpy\nfrom snnstudio.events.types import EVENT_DTYPE\n")
    assert upward_imports(pkg) == ["snn/a.py → snnstudio.probe", "snn/c.py → snnstudio.gui",
                                   "snn/neurons/b.py → snnstudio.engine"]
