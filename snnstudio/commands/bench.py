"""``snnstudio bench``: throughput of every hot path, side by side with installed peer libraries.

Each module ``snnstudio/bench/NAME.py`` defines ``run(quick: bool) -> dict``; this command
runs the selected ones and prints one JSON object ``{NAME: result, ...}``. Benchmarks run with
glibc's allocator tuned (``MALLOC_MMAP_THRESHOLD_``/``MALLOC_TRIM_THRESHOLD_``), which makes
eager torch 2.5× faster on CPU; the command re-executes itself with it set when needed — except
for benchmarks marked ``DEFAULT_ALLOCATOR`` (the soak: memory as the studio runs, whose allocator
returns freed memory) when only they are named.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import sys

HELP = "measure the hot paths (framing, decoding, neurons, emulator, stream) against peer libraries"

_MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "4294967296", "MALLOC_TRIM_THRESHOLD_": "4294967296"}


def available() -> list[str]:
    import snnstudio.bench as pkg

    return sorted(i.name for i in pkgutil.iter_modules(pkg.__path__) if not i.name.startswith("_"))


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object (default: a table)")
    p.add_argument("--only", default="", help="comma-separated benchmarks, e.g. framing,decode")
    p.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    p.add_argument("--load", type=int, default=None, metavar="N",
                   help="with N busy processes beside it (benchmarks that take it: stream compares load shedding "
                        "on/off, headless and in the window)")
    p.add_argument("--minutes", type=float, default=None, metavar="M",
                   help="how long a timed benchmark runs (soak: the window playing the demo, memory sampled; "
                        "default 60)")


def _module_flag(name: str, flag: str) -> bool:
    """``snnstudio.bench.NAME.FLAG`` (False for an unknown benchmark: the run says so later)."""
    try:
        return bool(getattr(importlib.import_module(f"snnstudio.bench.{name}"), flag, False))
    except ImportError:
        return False


def run(args: argparse.Namespace) -> int:
    from snnstudio.errors import SnnStudioError

    named = [s for s in args.only.split(",") if s]
    # a benchmark of the studio as users run it (the soak's memory) keeps the default allocator
    untuned = bool(named) and all(_module_flag(n, "DEFAULT_ALLOCATOR") for n in named)
    if not untuned and any(os.environ.get(k) != v for k, v in _MALLOC_ENV.items()) \
            and not os.environ.get("SNNSTUDIO_BENCH_NOEXEC"):
        env = {**os.environ, **_MALLOC_ENV, "SNNSTUDIO_BENCH_NOEXEC": "1"}
        argv = [sys.executable, "-m", "snnstudio", "bench", *sys.argv[sys.argv.index("bench") + 1 :]] if "bench" in sys.argv else None
        if argv is not None:
            sys.stdout.flush()
            os.execve(sys.executable, argv, env)
    names = available()
    unknown = sorted(set(named) - set(names))
    if unknown:
        raise SnnStudioError(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(names)}")
    # a benchmark marked ON_REQUEST (the soak: minutes long) runs only when named
    selected = named or [n for n in names if not _module_flag(n, "ON_REQUEST")]
    options = {k: getattr(args, k) for k in ("load", "minutes") if getattr(args, k, None) is not None}
    results = {}
    for name in selected:
        import inspect

        mod = importlib.import_module(f"snnstudio.bench.{name}")
        takes = inspect.signature(mod.run).parameters
        missing = [k for k in options if k not in takes]
        if missing:
            if len(selected) == 1:
                users = {"load": "stream", "minutes": "soak"}
                raise SnnStudioError(f"benchmark {name} does not take --{missing[0]} ({users[missing[0]]} does)")
            continue
        results[name] = mod.run(quick=args.quick, **options)
    if args.json:
        print(json.dumps(results, indent=2, default=float))
    else:
        from rich.console import Console
        from rich.pretty import Pretty

        Console().print(Pretty(results))
    return 0
