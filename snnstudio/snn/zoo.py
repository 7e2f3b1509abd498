"""The model zoo: a :class:`ModelConfig` (a dataclass that round-trips through JSON) and
:func:`build_model` that turns it into a plain ``nn.Module``.

Every model takes ``[T, B, C, H, W]`` (time first) and returns ``[B, num_classes]`` (rates or
logits averaged over T); with its neurons set to single-step (:func:`set_step_mode`) it takes
one step ``[B, C, H, W]`` and returns that step's read-out. ``model.looks_across_time`` says
whether streaming must re-run a sliding window of T steps instead (TA/CA/SA pool over T, PSN
neurons mix steps, Spikeformer's STA attends across time).

Architectures (``arch``): ``ma_snn_gesture``, ``spikformer`` (``tokenizer`` ``sps``, or ``scs``
for Spikformer V2's stem with ``expand`` × channels in its MLP-like convs), ``spikeformer``, ``resnet`` (with
``residual`` one of ``spiking``, ``sew_add``, ``sew_and``, ``sew_iand``, ``ms``, ``or_syna``).
Named presets (:data:`PRESETS`, :func:`default_config`) give ready configs; Spikformer's SPS
adapts its pooling to the input, so ``input_size=(2, 64, 64)`` or ``(2, 32, 32)`` still gives
8×8 tokens. ``neuron`` is any
name from the neuron registry; ``neuron_params`` go to it unchanged.

The GUI's module tree: :func:`switchable_modules` lists attention blocks (and their parts),
residual shortcuts and Spikformer/Spikeformer attention; :func:`set_enabled` switches one.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace

from snnstudio.config import config_from_dict
from snnstudio.errors import ModelError

ARCHS = ("ma_snn_gesture", "spikformer", "spikeformer", "resnet")
RESIDUALS = ("none", "spiking", "sew_add", "sew_and", "sew_iand", "ms", "or_syna")
DVS_GESTURE_CLASSES = [
    "hand_clapping",
    "right_hand_wave",
    "left_hand_wave",
    "right_arm_clockwise",
    "right_arm_counter_clockwise",
    "left_arm_clockwise",
    "left_arm_counter_clockwise",
    "arm_roll",
    "air_drums",
    "air_guitar",
    "other_gestures",
]


@dataclass
class ModelConfig:
    """Everything needed to rebuild a model (stored as the JSON beside a checkpoint).

    * ``input_size`` — ``(C, H, W)`` of one frame; ``T`` steps of ``dt_us`` µs each.
    * ``widths`` — channel widths; their meaning depends on ``arch`` (see :func:`build_model`).
    * ``options`` — arch-specific extras (``t_ratio``, ``c_ratio``, ``sa_kernel``, ``depth``,
      ``heads``, ``tokenizer``, ``sta_mode``, ``blocks`` ...), all JSON values.
    """

    arch: str = "ma_snn_gesture"
    neuron: str = "lif"
    neuron_params: dict = field(default_factory=dict)
    attention: str = "tcsa"
    residual: str = "none"
    input_size: tuple[int, int, int] = (2, 32, 32)
    T: int = 60
    dt_us: int = 15000
    num_classes: int = 11
    class_names: list[str] = field(default_factory=lambda: list(DVS_GESTURE_CLASSES))
    widths: tuple[int, ...] = (64, 128, 128, 256)
    options: dict = field(default_factory=dict)

    def __post_init__(self):
        self.input_size = tuple(int(v) for v in self.input_size)
        self.widths = tuple(int(v) for v in self.widths)
        self.class_names = list(self.class_names)
        self.neuron_params = dict(self.neuron_params)
        self.options = dict(self.options)

    def validate(self) -> ModelConfig:
        """Raise :class:`ModelError` naming the first bad field; return self."""
        if self.arch not in ARCHS:
            raise ModelError(f"unknown architecture {self.arch!r}; known: {', '.join(ARCHS)}")
        if self.residual not in RESIDUALS:
            raise ModelError(f"unknown residual kind {self.residual!r}; known: {', '.join(RESIDUALS)}")
        if self.arch == "resnet" and self.residual == "none":
            raise ModelError("arch 'resnet' needs a residual kind: " + ", ".join(RESIDUALS[1:]))
        from snnstudio.snn.attention import ATTENTION_KINDS

        if self.attention not in ATTENTION_KINDS:
            raise ModelError(f"unknown attention {self.attention!r}; known: {', '.join(ATTENTION_KINDS)}")
        if len(self.input_size) != 3 or min(self.input_size) < 1:
            raise ModelError(f"input_size must be (C, H, W) of positive ints, got {self.input_size}")
        if self.T < 1 or self.num_classes < 1 or self.dt_us < 1:
            raise ModelError(f"T, num_classes and dt_us must be ≥ 1 (got {self.T}, {self.num_classes}, {self.dt_us})")
        if self.class_names and len(self.class_names) != self.num_classes:
            raise ModelError(f"{len(self.class_names)} class names for {self.num_classes} classes")
        from snnstudio.snn.neurons import NEURONS, build_neuron

        if self.neuron not in NEURONS:
            build_neuron(self.neuron)  # raises "unknown neuron ..."
        return self

    def to_dict(self) -> dict:
        """The fields as a plain dict (JSON-able; tuples as lists)."""
        d = asdict(self)
        d["input_size"] = list(self.input_size)
        d["widths"] = list(self.widths)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        """A config from :meth:`to_dict`'s output (unknown or bad fields: :class:`ModelError`)."""
        return config_from_dict(cls, d, what="model config", error=ModelError)

    def to_json(self, **kw) -> str:
        """The config as JSON text (``kw`` go to :func:`json.dumps`)."""
        return json.dumps(self.to_dict(), **kw)

    @classmethod
    def from_json(cls, text: str) -> ModelConfig:
        """A config from :meth:`to_json`'s text (bad JSON: :class:`ModelError`)."""
        try:
            d = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelError(f"model config is not valid JSON: {exc}") from None
        return cls.from_dict(d)


# --- presets ------------------------------------------------------------------------------

#: MA-SNN's LIF cell (threshold 0.3, membrane decay 0.3, input not decayed) as SpikingJelly-style
#: LIF parameters; it resets to 0 where theirs resets to 0.3·0.3. With the plain LIF defaults
#: (θ 1, input halved) a TCSA net starts silent, and a silent layer passes no gradient (the
#: attention's ReLU at exactly 0), so the MA-SNN presets use these.
MA_LIF = {"tau": 1.0 / 0.7, "decay_input": False, "v_threshold": 0.3}

PRESETS: dict[str, ModelConfig] = {
    "ma_snn_gesture": ModelConfig(neuron_params=dict(MA_LIF)),
    "ma_snn_gesture_small": ModelConfig(T=16, dt_us=60000, widths=(16, 32, 32, 64), neuron_params=dict(MA_LIF)),
    "spikformer": ModelConfig(
        arch="spikformer",
        attention="none",
        input_size=(2, 128, 128),
        T=16,
        dt_us=60000,
        widths=(256,),
        options={"depth": 2, "heads": 16, "tokenizer": "sps", "mlp_ratio": 4, "scale": 0.25},
    ),
    "spikformer_small": ModelConfig(
        arch="spikformer",
        attention="none",
        input_size=(2, 128, 128),
        T=8,
        dt_us=100000,
        widths=(64,),
        options={"depth": 1, "heads": 4, "tokenizer": "sps", "mlp_ratio": 4, "scale": 0.25},
    ),
    "spikeformer": ModelConfig(
        arch="spikeformer",
        attention="none",
        input_size=(2, 64, 64),
        T=8,
        dt_us=100000,
        widths=(128,),
        options={"depth": 2, "heads": 8, "ct_layers": 3, "sta_mode": "st", "mlp_ratio": 4},
    ),
    "spiking_resnet": ModelConfig(
        arch="resnet", residual="spiking", attention="none", T=16, dt_us=60000, widths=(32, 64, 128)
    ),
    "sew_resnet": ModelConfig(
        arch="resnet", residual="sew_add", attention="none", T=16, dt_us=60000, widths=(32, 64, 128)
    ),
    "ms_resnet": ModelConfig(
        arch="resnet",
        residual="ms",
        attention="none",
        T=16,
        dt_us=60000,
        widths=(32, 64, 128),
        neuron="ms_lif",
    ),
    "att_ms_resnet": ModelConfig(
        arch="resnet",
        residual="ms",
        attention="csa",
        T=16,
        dt_us=60000,
        widths=(32, 64, 128),
        neuron="ms_lif",
    ),
    "syna_resnet": ModelConfig(
        arch="resnet", residual="or_syna", attention="none", T=16, dt_us=60000, widths=(32, 64, 128)
    ),
}


def _with_scs(cfg: ModelConfig, **changes) -> ModelConfig:
    """Spikformer V2 of a Spikformer preset: the SCS stem in place of SPS (a reading of the paper,
    see :mod:`snnstudio.snn.spikformer`), expanding channels 4× in each stage's 1×1 pair."""
    return replace(cfg, options={**cfg.options, "tokenizer": "scs", "expand": 4}, **changes)


PRESETS["spikformer_v2"] = _with_scs(PRESETS["spikformer"])
PRESETS["spikformer_v2_small"] = _with_scs(PRESETS["spikformer_small"], input_size=(2, 32, 32))


def default_config(name: str = "ma_snn_gesture", **changes) -> ModelConfig:
    """A fresh copy of a preset, with ``changes`` applied (e.g. ``neuron="psn"``)."""
    if name not in PRESETS:
        raise ModelError(f"unknown model preset {name!r}; known: {', '.join(PRESETS)}")
    base = ModelConfig.from_dict(PRESETS[name].to_dict())
    try:
        return replace(base, **changes)
    except TypeError as exc:
        raise ModelError(f"bad change to preset {name!r}: {exc}") from None


def with_neuron(cfg: ModelConfig, name: str, **params) -> ModelConfig:
    """A copy of ``cfg`` using neuron ``name`` with exactly ``params`` (the old neuron's
    parameters are dropped: they rarely mean the same thing to another neuron)."""
    return replace(cfg, neuron=name, neuron_params=dict(params)).validate()


# --- building -------------------------------------------------------------------------------


def _take(options: dict, allowed: dict) -> dict:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ModelError(f"unknown option(s) {', '.join(unknown)}; this arch takes: {', '.join(sorted(allowed))}")
    return {**allowed, **options}


def build_model(cfg: ModelConfig):
    """Build the ``nn.Module`` a config describes (weights freshly initialised)."""
    from snnstudio.snn.layers import NeuronSpec

    cfg.validate()
    spec = NeuronSpec(cfg.neuron, dict(cfg.neuron_params), T=cfg.T)
    common = dict(num_classes=cfg.num_classes, input_shape=cfg.input_size, T=cfg.T, neuron=spec)
    if cfg.arch == "ma_snn_gesture":
        from snnstudio.snn.ma_snn import MASNNGesture

        opts = _take(cfg.options, {"t_ratio": 5, "c_ratio": 8, "sa_kernel": 3, "vote": 1, "input_log": False})
        model = MASNNGesture(attention=cfg.attention, widths=cfg.widths, **common, **opts)
    elif cfg.arch == "spikformer":
        from snnstudio.snn.spikformer import Spikformer

        opts = _take(
            cfg.options,
            {"depth": 2, "heads": 8, "tokenizer": "sps", "mlp_ratio": 4, "scale": 0.125, "num_pools": None,
             "expand": 4},
        )
        if cfg.attention != "none":
            raise ModelError("spikformer has its own attention (SSA); set attention to 'none'")
        model = Spikformer(dim=_one_width(cfg), **common, **opts)
    elif cfg.arch == "spikeformer":
        from snnstudio.snn.spikeformer import Spikeformer

        opts = _take(
            cfg.options,
            {"depth": 2, "heads": 8, "ct_layers": 2, "sta_mode": "st", "mlp_ratio": 4, "pos_embedding": True},
        )
        if cfg.attention != "none":
            raise ModelError("spikeformer has its own attention (STA); set attention to 'none'")
        model = Spikeformer(dim=_one_width(cfg), **common, **opts)
    else:
        from snnstudio.snn.residual import ResidualNet

        opts = _take(cfg.options, {"blocks": 1, "t_ratio": 5, "c_ratio": 8, "sa_kernel": 3})
        model = ResidualNet(kind=cfg.residual, widths=cfg.widths, attention=cfg.attention, **common, **opts)
    model.config = cfg
    return model


def _one_width(cfg: ModelConfig) -> int:
    if len(cfg.widths) != 1:
        raise ModelError(f"{cfg.arch} takes one width (the embedding dim), got {cfg.widths}")
    return cfg.widths[0]


# --- the module tree for the GUI ------------------------------------------------------------


@dataclass(frozen=True)
class Switchable:
    """One switchable module: its dotted name, kind ("attention", "shortcut") and state."""

    name: str
    kind: str
    enabled: bool


def switchable_modules(model) -> list[Switchable]:
    """Every module that can be switched off at run time, in model order."""
    return [
        Switchable(name, m.switch_kind, bool(m.enabled))
        for name, m in model.named_modules()
        if name and hasattr(m, "switch_kind") and hasattr(m, "enabled")
    ]


def set_enabled(model, name: str, enabled: bool) -> None:
    """Switch one module (a name from :func:`switchable_modules`) on or off."""
    names = {s.name for s in switchable_modules(model)}
    if name not in names:
        raise ModelError(f"no switchable module {name!r}; switchable: {', '.join(sorted(names)) or 'none'}")
    model.get_submodule(name).enabled = bool(enabled)


def set_step_mode(model, mode: str) -> None:
    """``'m'`` (multi-step, ``[T, B, ...]``) or ``'s'`` (single-step, one ``[B, ...]`` per call)."""
    from snnstudio.snn.layers import set_step_mode as _set

    _set(model, mode)


def reset_states(model) -> None:
    """Clear every neuron's state in ``model`` (see :func:`snnstudio.snn.layers.reset_states`)."""
    from snnstudio.snn.layers import reset_states as _reset

    _reset(model)
