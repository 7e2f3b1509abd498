"""What the window offers before the engine has said what it can load — torch-free.

The engine publishes the authoritative lists in its state (``SessionState.models`` /
``SessionState.neurons``, from :func:`snnstudio.engine.models.model_choices` and
``neuron_choices``, which import torch). Until that state arrives the window offers
:func:`model_choices`: the same names read from the bundled checkpoints' files and the zoo's
presets (``snnstudio.snn.zoo`` is torch-free at import), without loading or checking them.
"""

from __future__ import annotations

import os
from pathlib import Path

from snnstudio.resources import bundled_models_dir


def bundled_names(models_dir: str | os.PathLike | None = None) -> list[str]:
    """The names (file stems) of the bundled checkpoints: ``NAME.json`` with its
    ``NAME.safetensors`` beside it, sorted (the files are not read)."""
    folder = Path(models_dir) if models_dir is not None else bundled_models_dir()
    if not folder.is_dir():
        return []
    return [p.stem for p in sorted(folder.glob("*.json")) if p.with_suffix(".safetensors").is_file()]


def model_choices() -> list[str]:
    """default, tiny, the bundled checkpoints and the zoo presets (the engine's own list, as far
    as it can be known without loading torch)."""
    names = ["default", "tiny", *bundled_names()]
    try:
        from snnstudio.snn.zoo import PRESETS
    except ImportError:
        PRESETS = {}
    return names + [p for p in PRESETS if p not in names]
