"""Turn a model spec from the command line / GUI into a ready ``nn.Module``.

Specs:

* ``None`` / ``"default"`` — the first bundled checkpoint (``resources/models``, trained
  weights) when there is one, else ``"tiny"``: a freshly initialised zoo net is silent on
  event input (its weights are random), which would make a dead demo;
* ``"tiny"`` — :class:`~snnstudio.engine.tiny_model.TinySpikingNet` (random weights scaled to fire);
* a zoo preset name (``snnstudio.snn.zoo.PRESETS``: ``ma_snn_gesture``, ``ma_snn_gesture_small``, ...);
* the name of a bundled checkpoint, or a checkpoint path (``NAME.json`` + ``NAME.safetensors``,
  loaded by ``snnstudio.snn.checkpoints.load_checkpoint`` without executing code);
* a NIR graph ``NAME.nir`` (:mod:`snnstudio.snn.nir_io`, our neurons; no code runs);
* a Python factory ``file.py:factory`` / ``package.module:factory`` with optional weights
  (``.safetensors`` or a ``.pt`` state dict read with ``weights_only=True``): the user's own code
  runs (``factory()``), the weights file never does. Its network may hold SpikingJelly, snnTorch
  or Norse neurons (:mod:`snnstudio.engine.peers` streams and probes them).

Every spec goes through :class:`snnstudio.engine.spec.ModelSpec` (parsing, the one place);
anything that cannot be loaded is a one-line :class:`ModelError`, never the default model.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn

from snnstudio.engine.spec import ModelSpec, parse_spec
from snnstudio.errors import CheckpointError, ModelError, SnnStudioError


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


def load_model(spec: "str | ModelSpec | nn.Module | None" = None, n_classes: int = 11, weights: str | None = None,
               dt_us: int | None = None) -> LoadedModel:
    """Build the model named by ``spec`` (see module docstring; ``weights`` / ``dt_us`` as the
    command line's ``--weights`` / ``--dt-us``); a bad spec is a :class:`ModelError`."""
    if isinstance(spec, LoadedModel):
        return spec
    if isinstance(spec, nn.Module):
        cfg = getattr(spec, "config", None)
        return LoadedModel(spec, type(spec).__name__, getattr(cfg, "class_names", None) or getattr(spec, "class_names", None))
    ms = parse_spec(spec, weights, dt_us).check()
    if ms.kind == "python":
        return _from_python(ms)
    if ms.kind == "nir":
        return _from_nir(ms)
    spec = ms.target
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


def _from_nir(spec: ModelSpec) -> LoadedModel:
    """A ``.nir`` graph through :func:`snnstudio.snn.nir_io.import_nir`; its Euler step is the
    graph's ``metadata["dt"]`` (seconds) or ``spec.dt_us``, else refused (a wrong step silently
    changes every time constant)."""
    from snnstudio.snn import nir_io

    graph = nir_io.load_graph(spec.target)
    meta = getattr(graph, "metadata", None) or {}
    dt_s = None
    if spec.dt_us is not None:
        dt_s = spec.dt_us * 1e-6
    elif meta.get("dt") is not None:
        try:
            dt_s = float(np.asarray(meta["dt"]).reshape(-1)[0])
        except (TypeError, ValueError, IndexError):
            raise ModelError(f"{spec.target}: metadata dt={meta['dt']!r} is not a number of seconds") from None
    if dt_s is None:
        raise ModelError(f"{spec.target}: the graph does not say its time step (no metadata 'dt'); give it with "
                         f"--dt-us (snnTorch and SpikingJelly export with 100 µs; Norse 1.1 with 1000 µs when written "
                         f"with to_nir(..., dt=1.0), see the README)")
    model = nir_io.import_nir(graph, dt=dt_s)
    model.nir_dt_us = dt_s * 1e6
    if nir_io.metadata_text(meta.get("exporter", "")) == "snnstudio":
        # snnstudio's graphs step once per frame of dt (the checkpoint's frame) over a window of T
        # frames: the studio then feeds them exactly that, as it does the checkpoint
        model.frame_us = int(round(dt_s * 1e6))
        if meta.get("T") is not None:
            model.window_T = int(np.asarray(meta["T"]).reshape(-1)[0])
    for node in graph.nodes.values():  # the input's [C, H, W]: the studio pools events to that size
        if type(node).__name__ == "Input" and getattr(model, "input_hw", None) is None:
            shape = getattr(node, "input_type", None)
            shape = next(iter(shape.values()), None) if isinstance(shape, dict) else shape
            shape = tuple(int(v) for v in np.asarray(shape).reshape(-1)) if shape is not None else ()
            if len(shape) == 4 and shape[0] == 1:  # nirtorch writes the batch of its sample too
                shape = shape[1:]
            if len(shape) == 3:
                model.input_hw = shape[1:]
    sensor = meta.get("sensor_size")
    model.trained_sensor = trained_sensor({"sensor_size": list(np.asarray(sensor).reshape(-1))} if sensor is not None else None)
    names = meta.get("class_names")
    names = [nir_io.metadata_text(n) for n in np.asarray(names).reshape(-1)] if names is not None else None
    return LoadedModel(model, spec.label, names)


def _import_factory(spec: ModelSpec):
    """The factory function of ``file.py:factory`` / ``package.module:factory`` (its file is run)."""
    import importlib.util
    import sys

    where, name = spec.target.rsplit(":", 1)
    try:
        if where.endswith(".py"):
            path = Path(where).resolve()
            mod_name = f"snnstudio_user_{abs(hash(str(path))):x}_{path.stem}"
            loader_spec = importlib.util.spec_from_file_location(mod_name, path)
            if loader_spec is None or loader_spec.loader is None:
                raise ModelError(f"{where}: cannot be imported as a Python file")
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules[mod_name] = module
            sys.path.insert(0, str(path.parent))  # its own sibling modules import as they would for the user
            try:
                loader_spec.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(mod_name, None)
                raise
            finally:
                try:
                    sys.path.remove(str(path.parent))
                except ValueError:
                    pass
        else:  # an installed module, or one under the current folder (as `python -m` would find it)
            cwd = str(Path.cwd())
            added = cwd not in sys.path and "" not in sys.path
            if added:
                sys.path.append(cwd)
            try:
                module = importlib.import_module(where)
            finally:
                if added:
                    sys.path.remove(cwd)
    except SnnStudioError:
        raise
    except ModuleNotFoundError as exc:
        raise ModelError(f"{spec.target}: cannot import {where}: {exc}") from None
    except (Exception, SystemExit) as exc:
        raise ModelError(f"{spec.target}: importing {where} failed{_where_in(exc, where)}: {_what(exc)}") from None
    factory = getattr(module, name, None)
    if factory is None:
        raise ModelError(f"{spec.target}: {where} has no {name!r}")
    if not callable(factory):
        raise ModelError(f"{spec.target}: {name!r} in {where} is not a function or class")
    return factory


def _what(exc: BaseException) -> str:
    """``Type: first line of the message`` (one line for the message bar)."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _where_in(exc: BaseException, where: str) -> str:
    """`` (at file.py:LINE)``: the innermost frame of the user's traceback in their own file
    (``where``: the file, or the module's name), so a one-line message still points at the line."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if (where.endswith(".py") and Path(f.filename).resolve() == Path(where).resolve())
            or (not where.endswith(".py") and where.replace(".", "/") in f.filename.replace("\\", "/"))]
    pick = (mine or frames[-1:] or [None])[-1]
    return f" (at {Path(pick.filename).name}:{pick.lineno})" if pick is not None else ""


def load_weights(path: str | Path) -> dict:
    """A state dict from ``.safetensors`` or a ``.pt``/``.pth`` file, never running code
    (``torch.load(weights_only=True)``; a ``{"state_dict": ...}`` wrapper is unwrapped)."""
    import torch

    path = Path(path)
    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{path}: cannot read weights: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: not a state dict (a mapping of names to tensors)")
    return state


def _from_python(spec: ModelSpec) -> LoadedModel:
    """Call the user's factory (their code, their choice), load the weights (no code), and make
    the network's peer neurons streamable and probeable (:func:`snnstudio.engine.peers.prepare`)."""
    from snnstudio.engine import peers

    factory = _import_factory(spec)
    try:
        model = factory()
    except (Exception, SystemExit) as exc:
        where = spec.target.rsplit(":", 1)[0]
        raise ModelError(f"{spec.target}: {getattr(factory, '__name__', 'the factory')}() raised "
                         f"{_what(exc)}{_where_in(exc, where)}") from None
    if not isinstance(model, nn.Module):
        raise ModelError(f"{spec.target}: {getattr(factory, '__name__', 'the factory')}() returned "
                         f"{type(model).__name__}, not a torch nn.Module")
    if spec.weights:
        state = load_weights(spec.weights)
        own = model.state_dict()
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        wrong = [k for k in own if k in state and tuple(own[k].shape) != tuple(state[k].shape)]
        if missing or unexpected or wrong:
            parts = []
            for what, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)):
                if keys:
                    parts.append(f"{what}: {', '.join(keys[:5])}{' …' if len(keys) > 5 else ''}")
            raise CheckpointError(f"{spec.weights} does not fit {spec.label}: " + "; ".join(parts))
        model.load_state_dict(state, strict=True)
    model.eval()
    peers.prepare(model, spec.label)
    if not hasattr(model, "trained_sensor"):
        model.trained_sensor = None
    return LoadedModel(model, spec.label, getattr(model, "class_names", None))


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


def inspect_model(spec: "str | ModelSpec | None", weights: str | None = None, dt_us: int | None = None) -> dict:
    """What the studio finds in a model (``snnstudio models --inspect SPEC --json``): the spec's
    kind, the code it runs, its input size, classes and every probed layer as ``{name, kind,
    shape, framework}`` (``shape``: per sample, after one step on an empty frame), plus neuron-like
    modules the probes cannot read (``unprobed``). Loads the model (a Python spec runs its code)."""
    from snnstudio.engine.runner import ModelRunner

    ms = parse_spec(spec, weights, dt_us).check()
    loaded = load_model(ms)
    model = loaded.module
    hw = getattr(model, "input_hw", None)
    runner = ModelRunner(model, name=loaded.name, class_names=loaded.class_names,
                         sensor_hw=tuple(hw) if hw else (128, 128), cost_every=10**9)
    runner.step(np.zeros((2, *runner.sensor_hw), np.float32))  # shapes and the class count
    layers = []
    for name, m in runner.neurons:
        framework = getattr(m, "kind", None) if hasattr(m, "module") else "snnstudio"
        layers.append({"name": name, "kind": getattr(m, "registry_name", type(m).__name__),
                       "shape": list(runner._shapes.get(name, ())), "framework": framework})
    for name, _, parts in runner.attention:
        layers.append({"name": name, "kind": "attention:" + ",".join(parts), "shape": [], "framework": "snnstudio"})
    from snnstudio.engine.peers import unprobed_layers

    return {
        "spec": str(ms), "kind": ms.kind, "name": loaded.name, "runs_code": ms.runs_code(), "weights": ms.weights,
        "mode": runner.mode, "step_input": "[1, B, C, H, W]" if runner.step_input_ndim == 5 else "[B, C, H, W]",
        "input_hw": list(runner.input_hw), "n_classes": runner.n_classes, "class_names": list(runner.class_names),
        "n_parameters": int(sum(p.numel() for p in model.parameters())),
        "layers": layers, "unprobed": list(getattr(model, "unprobed", None) or unprobed_layers(model)),
    }
