"""Where the bundled resources (``models/``, ``demo/``) are — torch-free and Qt-free.

Three layouts hold them, looked for in this order:

1. ``$SNNSTUDIO_RESOURCES`` when set (tests, a user's own copy);
2. ``resources/`` beside the package: a source checkout, an editable install, and the
   PyInstaller bundle (``packaging/snnstudio.spec`` puts ``resources`` beside ``snnstudio``);
3. ``snnstudio/_resources`` inside an installed wheel (``setup.py`` maps the repository's
   ``resources/`` to that package, so ``pip install snnstudio-*.whl`` brings the models and the
   demo recording along).
"""

from __future__ import annotations

import os
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def resources_dir() -> Path:
    """The folder holding ``models/`` and ``demo/`` (see the module docstring for the order);
    the checkout's ``resources/`` path when none exists, so messages name where it was expected."""
    env = os.environ.get("SNNSTUDIO_RESOURCES")
    if env:
        return Path(env)
    beside = _HERE.parent / "resources"
    if beside.is_dir():
        return beside
    inside = _HERE / "_resources"
    if inside.is_dir():
        return inside
    return beside


def bundled_models_dir() -> Path:
    """The bundled checkpoints' folder: ``<resources>/models``."""
    return resources_dir() / "models"


def bundled_demo_dir() -> Path:
    """The bundled demo recordings' folder: ``<resources>/demo``."""
    return resources_dir() / "demo"
