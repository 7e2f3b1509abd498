"""``snnstudio models``: the neurons, building blocks, zoo architectures and bundled checkpoints."""

from __future__ import annotations

import argparse
import json

HELP = "list the neurons, modules, model presets and bundled checkpoints"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--models-dir", default=None, help="where to look for checkpoints (default: resources/models)")


def _defaults(cls) -> dict:
    import inspect

    out = {}
    for name, par in inspect.signature(cls.__init__).parameters.items():
        if name in ("self", "step_mode", "record") or par.kind in (par.VAR_POSITIONAL, par.VAR_KEYWORD):
            continue
        value = None if par.default is inspect.Parameter.empty else par.default
        out[name] = value if isinstance(value, (int, float, str, bool, type(None))) else repr(value)
    return out


def collect(models_dir: str | None = None) -> dict:
    """The listing as a JSON-able dict (also used by the GUI through the engine)."""
    from snnstudio.snn.checkpoints import bundled_checkpoints
    from snnstudio.snn.modules import MODULES
    from snnstudio.snn.neurons import NEURONS
    from snnstudio.snn.zoo import ARCHS, PRESETS

    neurons = []
    for name in sorted(NEURONS):
        cls = NEURONS[name]
        doc = (cls.__doc__ or "").strip().splitlines()
        neurons.append(
            {
                "name": name,
                "description": doc[0] if doc else "",
                "defaults": _defaults(cls),
                "looks_across_time": bool(getattr(cls, "looks_across_time", False)),
                "supports_single_step": bool(getattr(cls, "supports_single_step", True)),
            }
        )
    modules = [{"name": e.name, "description": e.description, "paper": e.paper} for e in MODULES.values()]
    models = [{"name": name, "arch": cfg.arch, "config": cfg.to_dict()} for name, cfg in PRESETS.items()]
    return {
        "neurons": neurons,
        "modules": modules,
        "architectures": list(ARCHS),
        "models": models,
        "checkpoints": bundled_checkpoints(models_dir),
    }


def run(args: argparse.Namespace) -> int:
    data = collect(args.models_dir)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    console = Console()
    t = Table(title="neurons")
    t.add_column("name")
    t.add_column("defaults")
    for n in data["neurons"]:
        t.add_row(n["name"], ", ".join(f"{k}={v}" for k, v in n["defaults"].items()))
    console.print(t)
    t = Table(title="modules")
    t.add_column("name")
    t.add_column("description")
    t.add_column("paper")
    for m in data["modules"]:
        t.add_row(m["name"], m["description"], m["paper"])
    console.print(t)
    t = Table(title="models (presets)")
    for col in ("name", "arch", "neuron", "attention", "residual", "input", "T", "widths"):
        t.add_column(col)
    for m in data["models"]:
        c = m["config"]
        t.add_row(
            m["name"], c["arch"], c["neuron"], c["attention"], c["residual"],
            "×".join(map(str, c["input_size"])), str(c["T"]), ",".join(map(str, c["widths"])),
        )
    console.print(t)
    if data["checkpoints"]:
        t = Table(title="checkpoints")
        for col in ("name", "arch", "accuracy", "path"):
            t.add_column(col)
        for ck in data["checkpoints"]:
            t.add_row(ck["name"], ck["config"]["arch"], str(ck["meta"].get("accuracy", "")), ck["json"])
        console.print(t)
    else:
        console.print("checkpoints: none bundled")
    return 0
