"""Thin launcher: ``python main.py [ARGS]`` is ``snnstudio gui [ARGS]``."""

import sys

from snnstudio.cli import main

if __name__ == "__main__":
    sys.exit(main(["gui", *sys.argv[1:]]))
