"""Entry point of the standalone build: ``snnstudio`` alone (or with a recording / gui options)
opens the studio; ``snnstudio --version``, ``--help`` or a sub-command (``info``, ``eval`` …)
runs that command, like the installed ``snnstudio`` script. ``freeze_support`` lets the frozen
program start the studio's engine process (multiprocessing's spawn re-runs this executable)."""

import multiprocessing
import sys

from snnstudio.cli import _command_modules, main


def route(argv: list[str]) -> list[str]:
    """The CLI arguments for the launcher's ``argv`` (without the program name)."""
    if argv and (argv[0] in ("--version", "-h", "--help") or argv[0] in _command_modules()):
        return argv
    return ["gui", *argv]


if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main(route(sys.argv[1:])))
