"""``snnstudio gui``: the studio window, playing at once (``python main.py`` is the same)."""

from __future__ import annotations

import argparse

from snnstudio.commands._options import add_input_options
from snnstudio.engine.spec import add_model_options, model_option
from snnstudio.events.sources.kinds import source_syntax

HELP = "open the studio window on a recording, a live source or the synthetic demo"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", nargs="?", help=f"a recording or a source to open ({source_syntax()}); default: the demo")
    add_input_options(p)
    p.add_argument("--model", default=None, help="model: default, tiny, a zoo name, a checkpoint .json, a .nir graph or "
                   "file.py:factory / package.module:factory (runs that code)")
    add_model_options(p)
    p.add_argument("--compare", action="append", default=[], metavar="M", help="another model run in lock-step beside --model, or a variant of it (attention=off, ta=off, neuron=psn, comma-joined; repeat, up to 3)")
    p.add_argument("--demo", choices=("synthetic", "webcam", "camera"), default=None, help="live demo mode (when no PATH): that live source, the default gesture model (or --model) "
                   "and the prediction in large type; F11 / the Live demo button toggles it in the window")
    p.add_argument("--dt", type=float, default=10.0, help="model step in ms (default 10)")
    p.add_argument("--T", type=int, default=16, help="time window in steps (default 16)")
    p.add_argument("--theme", choices=("dark", "light"), default=None, help="colour theme (default: the last used, else dark)")
    p.add_argument("--engine", choices=("process", "thread"), default="process",
                   help="run the engine in its own process (default: the drawing and the model then use a core "
                   "each) or in a thread of the window's process")
    p.add_argument("--screenshot", metavar="PNG", help="save a PNG of the window before quitting")
    p.add_argument("--quit-after", type=float, metavar="S", help="quit after S seconds")


def run(args: argparse.Namespace) -> int:
    from snnstudio.errors import SnnStudioError

    if args.screenshot and args.quit_after is None:
        raise SnnStudioError("--screenshot needs --quit-after S (when to take it)")
    if len(args.compare) > 3:
        raise SnnStudioError(f"--compare takes up to 3 models (4 side by side), got {len(args.compare)}")
    if args.dt <= 0:
        raise SnnStudioError(f"--dt must be positive, got {args.dt}")
    path = args.path
    if args.in_format or args.sensor:
        if not path:
            raise SnnStudioError("--format and --sensor describe the recording PATH; give one")
        from snnstudio.events.sources import file_spec

        path = file_spec(path, args.in_format, args.sensor)  # file[format=…,sensor=…]:PATH, checked now
    model = model_option(args.model, args.weights, args.dt_us)
    from snnstudio.engine.types import Variant

    # "attention=off", "ta=off,neuron=psn": the loaded model changed; anything else a model spec
    compare = tuple(Variant.parse(c) or model_option(c) for c in args.compare)
    from snnstudio.gui.platform_check import platform_problem

    problem = platform_problem()
    if problem:  # before Qt aborts the process with its own message
        raise SnnStudioError(problem)
    from snnstudio.gui.app import GuiOptions, run_gui

    return run_gui(
        GuiOptions(
            path=path, model=model, compare=compare, demo=args.demo, screenshot=args.screenshot,
            quit_after=args.quit_after, theme=args.theme, dt_ms=args.dt, T=args.T,
            engine=args.engine,
        )
    )
