"""The module registry: building blocks by name, for ``snnstudio models`` and the GUI.

``MODULES[name]`` is a :class:`ModuleEntry` (builder + one-line description); build one with
:func:`build_module(name, **kwargs) <build_module>`. Blocks that contain neurons take
``neuron=`` (a registry name or :class:`~snnstudio.snn.layers.NeuronSpec`); unknown names and
bad arguments are a :class:`~snnstudio.errors.ModelError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from snnstudio.errors import ModelError


@dataclass(frozen=True)
class ModuleEntry:
    name: str
    builder: Callable[..., nn.Module]
    description: str
    paper: str


def _attention(kind: str) -> Callable[..., nn.Module]:
    def build(T: int | None = None, channels: int | None = None, **kw) -> nn.Module:
        from snnstudio.snn.attention import build_attention

        return build_attention(kind, T=T, channels=channels, **kw)

    return build


def _lazy(module: str, attr: str, **fixed) -> Callable[..., nn.Module]:
    def build(*args, **kw) -> nn.Module:
        import importlib

        cls = getattr(importlib.import_module(f"snnstudio.snn.{module}"), attr)
        return cls(*args, **{**fixed, **kw})

    return build


_MA = "MA-SNN (Yao et al., TPAMI 2023)"
_SPK = "Spikformer (Zhou et al., ICLR 2023)"

MODULES: dict[str, ModuleEntry] = {
    e.name: e
    for e in [
        ModuleEntry("ta", _attention("ta"), "temporal attention: a weight per time step, then ReLU", _MA),
        ModuleEntry("ca", _attention("ca"), "channel attention: a weight per channel, then ReLU", _MA),
        ModuleEntry("sa", _attention("sa"), "spatial attention: a weight per pixel, then ReLU", _MA),
        ModuleEntry("tca", _attention("tca"), "temporal then channel attention, then ReLU", _MA),
        ModuleEntry("tsa", _attention("tsa"), "temporal then spatial attention, then ReLU", _MA),
        ModuleEntry("csa", _attention("csa"), "channel then spatial attention, then ReLU", _MA),
        ModuleEntry("tcsa", _attention("tcsa"), "temporal, channel then spatial attention, then ReLU", _MA),
        ModuleEntry("sps", _lazy("spikformer", "SPS"), "spiking patch splitting: conv-BN-LIF-maxpool stages to tokens", _SPK),
        ModuleEntry(
            "scs",
            _lazy("spikformer", "SCS"),
            "spiking convolutional stem: strided convs with expand/restore convs (a reading)",
            "Spikformer V2 (Zhou et al., 2024)",
        ),
        ModuleEntry("ssa", _lazy("spikformer", "SSA"), "spiking self-attention: Q·Kᵀ·V of spikes, no softmax", _SPK),
        ModuleEntry(
            "spikeformer_ct",
            _lazy("spikeformer", "ConvTokenizer"),
            "convolutional tokenizer: conv-BN-LIF-maxpool stages to tokens",
            "Spikeformer (Li et al., 2022)",
        ),
        ModuleEntry(
            "spikeformer_sta",
            _lazy("spikeformer", "STA"),
            "spatio-temporal attention: softmax attention over all T·N tokens",
            "Spikeformer (Li et al., 2022)",
        ),
        ModuleEntry(
            "spiking_resnet",
            _lazy("residual", "SpikingBlock"),
            "spiking ResNet block: spike after the add",
            "Spiking ResNet (Hu et al. / Zheng et al.)",
        ),
        ModuleEntry(
            "sew",
            _lazy("residual", "SEWBlock"),
            "SEW ResNet block: spike-element-wise ADD / AND / IAND shortcut",
            "SEW ResNet (Fang et al., NeurIPS 2021)",
        ),
        ModuleEntry(
            "ms_resnet",
            _lazy("residual", "MSBlock"),
            "MS-ResNet block: membrane shortcut, real-valued add",
            "MS-ResNet (Hu et al., TNNLS 2024)",
        ),
        ModuleEntry(
            "or_syna",
            _lazy("residual", "ORSynABlock"),
            "OR residual (a + b − a·b) with SynA temporal gates",
            "OR residual + SynA (Shan et al.)",
        ),
    ]
}


def build_module(name: str, *args, **kwargs) -> nn.Module:
    """Build a registered block; unknown names and bad arguments are a :class:`ModelError`."""
    try:
        entry = MODULES[name]
    except KeyError:
        raise ModelError(f"unknown module {name!r}; known: {', '.join(MODULES)}") from None
    if "neuron" in kwargs and not hasattr(kwargs["neuron"], "build"):
        from snnstudio.snn.layers import neuron_spec

        kwargs["neuron"] = neuron_spec(kwargs["neuron"])
    try:
        return entry.builder(*args, **kwargs)
    except TypeError as exc:
        raise ModelError(f"module {name!r}: {exc}") from None
