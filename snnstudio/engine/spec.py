"""Model specs — what ``--model`` (every command), the window's *Open model…* and the engine take —
parsed in one place. Torch-free and Qt-free: the window uses it to say which code a spec runs
before it hands the spec to the engine process (the only process that loads models).

A spec is one of:

* ``None`` / ``"default"`` / ``"tiny"`` / a zoo preset / a bundled checkpoint name (``builtin``);
* a checkpoint path ``NAME.json`` (+ ``NAME.safetensors`` beside it; ``checkpoint``): loading
  never runs code;
* a NIR graph ``NAME.nir`` (``nir``): imported with snnstudio's own neurons
  (:mod:`snnstudio.snn.nir_io`); the graph's Euler step is its ``metadata["dt"]`` (seconds) or
  ``dt_us`` here (``--dt-us``), else the spec is refused. Loading never runs code;
* a Python factory ``path/to/file.py:factory`` or ``package.module:factory`` (``python``): the
  file / module is imported and ``factory()`` called — the user's own code, run because they
  asked for it — and must return an ``nn.Module``. ``weights`` (``--weights``) is then a
  ``.safetensors`` file or a ``.pt`` state dict (read with ``torch.load(weights_only=True)``):
  a weights file never runs code.

:class:`ModelSpec` carries the spec with its weights file and step; it is a frozen dataclass,
so it pickles to the engine process and compares by value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from snnstudio.errors import ModelError

KINDS = ("builtin", "checkpoint", "nir", "python")
WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth")
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_FACTORY = re.compile(rf"^(?P<where>.+):(?P<factory>{_IDENT})$")
_MODULE = re.compile(rf"^{_IDENT}(\.{_IDENT})*$")


@dataclass(frozen=True)
class ModelSpec:
    """One model to load. ``target``: the spec text (see the module docstring; ``None``: the
    default model); ``weights``: a weights file for a Python factory; ``dt_us``: the Euler step
    (µs) of a NIR graph whose metadata does not say it."""

    target: str | None = None
    weights: str | None = None
    dt_us: int | None = None

    @property
    def kind(self) -> str:
        """``builtin``, ``checkpoint``, ``nir`` or ``python`` (from the text; nothing is read)."""
        t = self.target
        if t is None:
            return "builtin"
        m = _FACTORY.match(t)
        if m and (m.group("where").endswith(".py") or _MODULE.match(m.group("where"))):
            return "python"
        suffix = Path(t).suffix.lower()
        if suffix == ".nir":
            return "nir"
        if suffix in (".json", ".safetensors") or (("/" in t or "\\" in t) and Path(t).exists()):
            return "checkpoint"
        return "builtin"

    @property
    def label(self) -> str:
        """A short name for lists and titles: the factory, file stem or name."""
        t = self.target or "default"
        kind = self.kind
        if kind == "python":
            where, factory = t.rsplit(":", 1)
            stem = Path(where).stem if where.endswith(".py") else where.rsplit(".", 1)[-1]
            return f"{stem}:{factory}"
        if kind in ("checkpoint", "nir"):
            return Path(t).stem
        return t

    def runs_code(self) -> str | None:
        """What code loading this spec runs, in words (``None``: none beyond snnstudio's own)."""
        if self.kind != "python":
            return None
        where, factory = self.target.rsplit(":", 1)
        if where.endswith(".py"):
            text = f"the Python file {where} is run and its function {factory}() called"
        else:
            text = f"the Python module {where} is imported and its function {factory}() called"
        if self.weights:
            text += f"; the weights in {self.weights} are only read (no code)"
        return text

    def check(self) -> "ModelSpec":
        """Refuse what is wrong before anything is loaded (one-line :class:`ModelError`)."""
        kind = self.kind
        if self.weights is not None:
            if kind != "python":
                raise ModelError(f"--weights goes with a Python factory (file.py:factory); {self.target!r} is a "
                                 f"{kind} model that carries its own weights")
            if Path(self.weights).suffix.lower() not in WEIGHT_SUFFIXES:
                raise ModelError(f"{self.weights}: weights must be .safetensors or a .pt/.pth state dict")
            if not Path(self.weights).is_file():
                raise ModelError(f"{self.weights}: no such weights file")
        if self.dt_us is not None:
            if kind != "nir":
                raise ModelError(f"--dt-us sets the time step of a .nir graph; {self.target!r} is a {kind} model")
            if int(self.dt_us) < 1:
                raise ModelError(f"--dt-us must be at least 1 µs, got {self.dt_us}")
        if kind in ("nir", "checkpoint") and not Path(self.target).exists() and not (
                kind == "checkpoint" and Path(self.target).with_suffix(".json").exists()):
            raise ModelError(f"{self.target}: no such model file")
        if kind == "python":
            where = self.target.rsplit(":", 1)[0]
            if where.endswith(".py") and not Path(where).is_file():
                raise ModelError(f"{where}: no such Python file")
        return self

    def __str__(self) -> str:
        return self.target or "default"


def parse_spec(spec: "str | ModelSpec | None", weights: str | None = None, dt_us: int | None = None) -> ModelSpec:
    """``spec`` (text or a :class:`ModelSpec`) with the command line's ``--weights`` / ``--dt-us``."""
    if isinstance(spec, ModelSpec):
        if weights is None and dt_us is None:
            return spec
        spec = spec.target
    if spec is not None and not isinstance(spec, str):
        spec = str(spec)
    return ModelSpec(spec, None if weights is None else str(weights), None if dt_us is None else int(dt_us))


def spec_to_dict(spec: ModelSpec) -> dict:
    """JSON-able (the window's recent models)."""
    return {"target": spec.target, "weights": spec.weights, "dt_us": spec.dt_us}


def spec_from_dict(d: dict) -> ModelSpec:
    return ModelSpec(d.get("target"), d.get("weights"), d.get("dt_us"))


def add_model_options(p) -> None:
    """``--weights FILE`` and ``--dt-us N`` on an ``argparse`` parser (every command with ``--model``)."""
    p.add_argument("--weights", default=None, metavar="FILE",
                   help="weights for a Python model (file.py:factory): .safetensors or a .pt state dict (never runs code)")
    p.add_argument("--dt-us", type=int, default=None, metavar="N",
                   help="time step (µs) of a .nir graph whose metadata does not give one")


def model_option(spec: str | None, weights: str | None = None, dt_us: int | None = None) -> "str | ModelSpec | None":
    """``--model`` with ``--weights`` / ``--dt-us``, checked now (a one-line error before anything
    starts): the text itself when it needs neither, else a :class:`ModelSpec`."""
    ms = parse_spec(spec, weights, dt_us).check()
    return ms if (ms.weights is not None or ms.dt_us is not None) else spec
