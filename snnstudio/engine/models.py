"""Turn a model spec from the command line / GUI into a ready ``nn.Module``.

Specs:

* ``None`` / ``"default"`` — the first bundled checkpoint (``resources/models``, trained
  weights) when there is one, else ``"tiny"``: a freshly initialised zoo net is silent on
  event input (its weights are random), which would make a dead demo;
* ``"tiny"`` — :class:`~snnstudio.engine.tiny_model.TinySpikingNet` (random weights scaled to fire);
* a zoo preset name (``snnstudio.snn.zoo.PRESETS``: ``ma_snn_gesture``, ``ma_snn_gesture_small``, ...);
* the name of a bundled checkpoint, or a checkpoint path (``NAME.json`` + ``NAME.safetensors``,
  loaded by ``snnstudio.snn.checkpoints.load_checkpoint`` without executing code).
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


def _optional(name: str):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def bundled() -> list[dict]:
    """Bundled checkpoints (``[{"name", "json", ...}]``), empty when there are none."""
    ckpt = _optional("snnstudio.snn.checkpoints")
    if ckpt is None:
        return []
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ckpt.bundled_checkpoints()


def model_choices() -> list[str]:
    """What the GUI's model selector offers: default, tiny, bundled checkpoints, zoo presets."""
    zoo = _optional("snnstudio.snn.zoo")
    names = ["default", "tiny"] + [b["name"] for b in bundled()]
    if zoo is not None:
        names += [p for p in zoo.PRESETS if p not in names]
    return names


def _from_checkpoint(path: Path) -> LoadedModel:
    ckpt = _optional("snnstudio.snn.checkpoints")
    if ckpt is None:
        raise ModelError(f"{path}: loading checkpoints needs snnstudio.snn.checkpoints (not installed)")
    model, cfg, meta = ckpt.load_checkpoint(path)
    model.trained_sensor = trained_sensor(meta)
    return LoadedModel(model, Path(path).stem, getattr(cfg, "class_names", None))


def trained_sensor(meta: dict | None) -> tuple[int, int] | None:
    """The event sensor ``(width, height)`` a checkpoint was trained on: its ``sensor_size``
    metadata, else the synthetic gestures' 128×128 for models trained on them, else ``None``
    (unknown: sources are then shown to it as they are)."""
    meta = meta or {}
    size = meta.get("sensor_size")
    if isinstance(size, (list, tuple)) and len(size) == 2:
        return int(size[0]), int(size[1])
    if str(meta.get("data", "")).split(":", 1)[0] == "synthetic":
        from snnstudio.events.synthetic.generator import DEFAULT_SENSOR

        return tuple(DEFAULT_SENSOR)
    return None


def load_model(spec: str | nn.Module | None = None, n_classes: int = 11) -> LoadedModel:
    """Build the model named by ``spec`` (see module docstring); a bad spec is a :class:`ModelError`."""
    if isinstance(spec, LoadedModel):
        return spec
    if isinstance(spec, nn.Module):
        cfg = getattr(spec, "config", None)
        return LoadedModel(spec, type(spec).__name__, getattr(cfg, "class_names", None) or getattr(spec, "class_names", None))
    from snnstudio.engine.tiny_model import TinySpikingNet

    found = {b["name"]: b for b in bundled()}
    if spec in (None, "default"):
        ckpt = _optional("snnstudio.snn.checkpoints")
        alias = ckpt.ALIASES.get("default") if ckpt is not None else None
        if alias in found:
            return _from_checkpoint(Path(found[alias]["json"]))
        if found:
            return _from_checkpoint(Path(next(iter(found.values()))["json"]))
        spec = "tiny"
    if spec == "tiny":
        return LoadedModel(TinySpikingNet(n_classes), "tiny")
    if spec in found:
        return _from_checkpoint(Path(found[spec]["json"]))
    path = Path(spec)
    if path.suffix in (".safetensors", ".json") or path.exists():
        return _from_checkpoint(path)
    zoo = _optional("snnstudio.snn.zoo")
    if zoo is None or spec not in zoo.PRESETS:
        known = ", ".join(model_choices())
        raise ModelError(f"unknown model {spec!r}; known: {known} (or a checkpoint path)")
    cfg = zoo.default_config(spec)
    return LoadedModel(zoo.build_model(cfg), spec, cfg.class_names)


def neuron_choices() -> list[str]:
    """Every registered neuron name (what the GUI's neuron selector offers)."""
    from snnstudio.snn.neurons import NEURONS, build_neuron  # noqa: F401 - fills the registry

    return sorted(NEURONS)


def with_neuron(current: nn.Module, name: str, label: str = "") -> LoadedModel:
    """The zoo model ``current`` rebuilt with neuron ``name`` (default parameters). Weights of
    the layers the swap leaves unchanged (convs, BN, attention) are kept; the neurons' own
    parameters start fresh. Needs a zoo model (one with a ``config``)."""
    zoo = _optional("snnstudio.snn.zoo")
    cfg = getattr(current, "config", None)
    if zoo is None or cfg is None:
        raise ModelError("swapping the neuron needs a zoo model (pick one in the model list)")
    new_cfg = zoo.with_neuron(cfg, name)
    model = zoo.build_model(new_cfg)
    old = current.state_dict()
    own = model.state_dict()
    keep = {k: v for k, v in old.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(keep, strict=False)
    model.trained_sensor = getattr(current, "trained_sensor", None)
    return LoadedModel(model.eval(), f"{label or 'model'} [{name}]", new_cfg.class_names)
