"""Turn a model spec from the command line / GUI into a ready ``nn.Module``.

Specs: ``None`` or ``"default"`` — the zoo's default gesture model when the zoo is installed,
else the engine's :class:`~snnstudio.engine.tiny_model.TinySpikingNet`; ``"tiny"`` — that small
net; a zoo model name; a checkpoint path (``.safetensors`` + JSON config, loaded without
executing code by ``snnstudio.snn.checkpoints.load_checkpoint``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from snnstudio.errors import ModelError


@dataclass
class LoadedModel:
    module: nn.Module
    name: str
    class_names: dict[int, str] | list[str] | None = None


def _zoo():
    try:
        return importlib.import_module("snnstudio.snn.zoo")
    except ImportError:
        return None


def load_model(spec: str | nn.Module | None = None, n_classes: int = 11) -> LoadedModel:
    """Build the model named by ``spec`` (see module docstring); a bad spec is a :class:`ModelError`."""
    if isinstance(spec, nn.Module):
        return LoadedModel(spec, type(spec).__name__, getattr(spec, "class_names", None))
    if isinstance(spec, LoadedModel):
        return spec
    from snnstudio.engine.tiny_model import TinySpikingNet

    if spec == "tiny":
        return LoadedModel(TinySpikingNet(n_classes), "tiny")
    zoo = _zoo()
    path = Path(spec) if spec not in (None, "default") else None
    if path is not None and (path.suffix in (".safetensors", ".json") or path.exists()):
        try:
            ckpt = importlib.import_module("snnstudio.snn.checkpoints")
        except ImportError:
            raise ModelError(f"{spec}: loading checkpoints needs snnstudio.snn.checkpoints (not installed)") from None
        loaded = ckpt.load_checkpoint(path)
        module = loaded[0] if isinstance(loaded, tuple) else loaded
        return LoadedModel(module, path.stem, getattr(module, "class_names", None))
    if zoo is None:
        if spec in (None, "default"):
            return LoadedModel(TinySpikingNet(n_classes), "tiny")
        raise ModelError(f"unknown model {spec!r}: the model zoo is not installed; known: tiny")
    if spec in (None, "default"):
        cfg = zoo.ModelConfig()
    else:
        try:
            cfg = zoo.ModelConfig(name=spec)
        except Exception as exc:
            raise ModelError(f"unknown model {spec!r}: {exc}") from None
    module = zoo.build_model(cfg)
    return LoadedModel(module, getattr(cfg, "name", None) or str(spec or "default"), getattr(module, "class_names", None))
