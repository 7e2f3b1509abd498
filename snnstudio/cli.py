"""The ``snnstudio`` command.

Sub-commands are discovered: every module ``snnstudio/commands/NAME.py`` that defines
``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int`` is the sub-command
``NAME``. Command modules import heavy dependencies (torch, Qt) inside ``run`` only, so
``snnstudio info`` starts fast.

Errors a user can cause are :class:`~snnstudio.errors.SnnStudioError`: printed as one line
``error: ...`` on stderr, exit status 1, no traceback. Warnings from snnstudio are printed as
``warning: ...`` lines.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import warnings
from collections.abc import Sequence

from snnstudio import __version__
from snnstudio.errors import SnnStudioError


def _command_modules() -> dict[str, object]:
    import snnstudio.commands as pkg

    found = {}
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"snnstudio.commands.{info.name}")
        if all(hasattr(mod, a) for a in ("HELP", "add_arguments", "run")):
            found[info.name.replace("_", "-")] = mod
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="snnstudio",
        description="Spiking neural networks on event-camera data: explore, demo, compare.",
    )
    parser.add_argument("--version", action="version", version=f"snnstudio {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, mod in _command_modules().items():
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {message}", file=sys.stderr if file is None else file)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    previous = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        return int(args._run(args) or 0)
    except SnnStudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        warnings.showwarning = previous


def gui_main() -> int:
    """Entry point of the ``snnstudio-gui`` launcher (no console)."""
    return main(["gui", *sys.argv[1:]])
