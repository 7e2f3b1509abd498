"""``snnstudio models``: the neurons, building blocks, zoo architectures and bundled checkpoints."""

from __future__ import annotations

import argparse
import json

from snnstudio.engine.spec import add_model_options

HELP = "list the neurons, modules, model presets and bundled checkpoints"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--models-dir", default=None, help="where to look for checkpoints (default: resources/models)")
    p.add_argument("--inspect", default=None, metavar="SPEC",
                   help="load one model (a name, a checkpoint .json, a .nir graph or file.py:factory — which runs that "
                        "code) and list the layers the studio probes: name, kind, shape, framework")
    add_model_options(p)


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


def _inspect(args: argparse.Namespace) -> int:
    from snnstudio.engine.models import inspect_model

    data = inspect_model(args.inspect, args.weights, args.dt_us)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"{data['name']} ({data['kind']}): input {'x'.join(map(str, data['input_hw']))} as "
                  f"{data['step_input']} per step, {data['n_classes']} outputs, {data['n_parameters']} parameters, {data['mode']}")
    if data["runs_code"]:
        console.print(f"code run: {data['runs_code']}")
    t = Table(title="probed layers")
    for col in ("name", "kind", "shape", "framework"):
        t.add_column(col)
    for row in data["layers"]:
        t.add_row(row["name"], row["kind"], "×".join(map(str, row["shape"])), row["framework"])
    console.print(t)
    if data["unprobed"]:
        console.print(f"not probed (unknown neuron layers): {', '.join(data['unprobed'])}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.inspect is not None:
        return _inspect(args)
    if args.weights is not None or args.dt_us is not None:
        from snnstudio.errors import SnnStudioError

        raise SnnStudioError("--weights and --dt-us go with --inspect SPEC")
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
