"""train/ has no import cycles, counting the imports inside functions (which hid the last ones:
bundled → evaluate → trainer → bundled, data ↔ videos)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "snnstudio"


def _graph(package: str) -> dict[str, set[str]]:
    folder = ROOT / package.split(".", 1)[1].replace(".", "/")
    graph = {}
    for f in sorted(folder.glob("*.py")):
        name = f"{package}.{f.stem}"
        deps = set()
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(package):
                if node.module == package:
                    deps |= {f"{package}.{a.name}" for a in node.names}
                else:
                    deps.add(node.module)
        graph[name] = deps - {name, package + ".__init__"}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(n, path):
        state[n] = 1
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return path + [n, m]
            if m not in state:
                found = visit(m, path + [n])
                if found:
                    return found
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            found = visit(n, [])
            if found:
                return found
    return None


def test_train_has_no_import_cycle():
    cycle = _cycle(_graph("snnstudio.train"))
    assert cycle is None, " → ".join(c.rsplit(".", 1)[1] for c in cycle)


def test_the_cycle_finder_finds_one():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) is not None
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
