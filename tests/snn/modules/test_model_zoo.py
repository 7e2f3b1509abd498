"""The zoo: config ↔ JSON, bad configs, every preset with every registered neuron, the neuron
factory, module switches, and the module registry."""

import json

import pytest
import torch

from snnstudio.errors import ModelError
from snnstudio.snn.layers import NeuronSpec
from snnstudio.snn.modules import MODULES, build_module
from snnstudio.snn.neurons import NEURONS
from snnstudio.snn.zoo import (
    PRESETS,
    ModelConfig,
    build_model,
    default_config,
    set_enabled,
    set_step_mode,
    switchable_modules,
    with_neuron,
)

REQUIRED_MODULES = [
    "ta", "ca", "sa", "tca", "tsa", "csa", "tcsa", "sps", "scs", "ssa",
    "spikeformer_ct", "spikeformer_sta", "spiking_resnet", "sew", "ms_resnet", "or_syna",
]  # fmt: skip


def test_config_json_round_trip():
    cfg = default_config("spikformer_small", neuron_params={"tau": 3.0}, class_names=[f"c{i}" for i in range(11)])
    text = cfg.to_json()
    back = ModelConfig.from_json(text)
    assert back == cfg
    assert json.loads(text)["input_size"] == [2, 128, 128]
    assert isinstance(back.input_size, tuple) and isinstance(back.widths, tuple)


@pytest.mark.parametrize(
    "change,match",
    [
        ({"arch": "vgg"}, "unknown architecture"),
        ({"attention": "xa"}, "unknown attention"),
        ({"residual": "dense"}, "unknown residual"),
        ({"neuron": "no_such_neuron"}, "unknown neuron"),
        ({"T": 0}, "T, num_classes"),
        ({"class_names": ["a", "b"]}, "2 class names for 11 classes"),
        ({"input_size": (2, 32)}, "input_size"),
        ({"options": {"no_such": 1}}, "unknown option"),
        ({"widths": (8, 8)}, "widths"),
    ],
)
def test_bad_configs_are_model_errors(change, match):
    cfg = default_config("ma_snn_gesture_small", **change)
    with pytest.raises(ModelError, match=match):
        build_model(cfg)


def test_bad_json_and_fields():
    with pytest.raises(ModelError, match="not valid JSON"):
        ModelConfig.from_json("{arch: ")
    with pytest.raises(ModelError, match="unknown model config field"):
        ModelConfig.from_dict({"arch": "resnet", "colour": "red"})
    with pytest.raises(ModelError, match="JSON object"):
        ModelConfig.from_dict([1, 2])
    with pytest.raises(ModelError, match="residual kind"):
        build_model(ModelConfig(arch="resnet", residual="none"))
    with pytest.raises(ModelError, match="unknown model preset"):
        default_config("alexnet")


def _shrunk(name):
    """The preset at a size a CPU test can afford (full configs only for the small presets)."""
    cfg = default_config(name, T=4)
    if cfg.arch == "ma_snn_gesture":
        cfg.widths = (4, 8, 8, 16)
    elif cfg.arch in ("spikformer", "spikeformer"):
        cfg.widths = (16,)
        cfg.input_size = (2, 32, 32)
        cfg.options.update(heads=2, depth=1)
    else:
        cfg.widths = (4, 8)
        cfg.input_size = (2, 16, 16)
    return cfg


# fast: every neuron in the MA-SNN net and every preset with LIF; the full matrix is marked slow
PRESET_NEURON = [
    pytest.param(p, n, marks=() if (p == "ma_snn_gesture_small" or n == "lif") else pytest.mark.slow)
    for p in sorted(PRESETS)
    for n in sorted(NEURONS)
]


@pytest.mark.parametrize("preset,neuron", PRESET_NEURON)
def test_every_preset_builds_with_every_neuron(preset, neuron):
    cfg = with_neuron(_shrunk(preset), neuron)
    model = build_model(cfg)
    assert model.config is cfg
    n_neurons = [m for m in model.modules() if type(m).__name__ and hasattr(m, "step_mode")]
    assert n_neurons and all(getattr(m, "registry_name", neuron) == neuron for m in n_neurons)
    out = model(torch.rand(cfg.T, 2, *cfg.input_size))
    assert out.shape == (2, cfg.num_classes) and torch.isfinite(out).all()


def test_full_size_presets_have_the_papers_shapes():
    sp = build_model(default_config("spikformer", T=1))
    assert sp.tokenizer.grid == (8, 8) and len(sp.blocks) == 2 and sp.blocks[0].attn.heads == 16
    assert sp.blocks[0].attn.scale == 0.25
    ms = build_model(default_config("ms_resnet", T=1))
    lif = ms.layers[0].sn1  # MS-ResNet's LIF: θ 0.5, decay 0.25, detached hard reset
    assert lif.registry_name == "ms_lif" and lif.v_threshold == 0.5 and lif.decay == 0.25 and lif.detach_reset
    assert default_config("ma_snn_gesture").neuron_params["v_threshold"] == 0.3


def test_looks_across_time_per_preset():
    expect = {
        "ma_snn_gesture_small": True,
        "spikformer_small": False,
        "spikformer_v2_small": False,
        "spikeformer": True,
        "sew_resnet": False,
        "ms_resnet": False,
        "att_ms_resnet": True,
        "syna_resnet": True,
    }
    for name, across in expect.items():
        assert build_model(_shrunk(name)).looks_across_time == across, name
    plain = _shrunk("ma_snn_gesture_small")
    plain.attention = "none"
    assert not build_model(plain).looks_across_time


def test_neuron_spec_passes_T_and_drops_roles(monkeypatch):
    from snnstudio.snn.neurons.lif import LIFNode

    seen = {}

    class WindowNeuron(LIFNode):
        looks_across_time = True

        def __init__(self, T: int, step_mode: str = "m"):
            super().__init__(step_mode=step_mode)
            seen["T"] = T

    monkeypatch.setitem(NEURONS, "window_test", WindowNeuron)
    n = NeuronSpec("window_test", T=7).build(v_threshold=0.5)
    assert seen["T"] == 7 and isinstance(n, WindowNeuron)
    model = build_model(with_neuron(_shrunk("sew_resnet"), "window_test"))
    assert seen["T"] == 4 and model.looks_across_time
    with pytest.raises(ModelError, match="unknown neuron"):
        NeuronSpec("nope").build()
    with pytest.raises(ModelError, match="lif"):
        NeuronSpec("lif", {"colour": 1}).build()


def test_module_tree_for_every_kind():
    sp = build_model(_shrunk("spikformer_small"))
    assert [s.name for s in switchable_modules(sp)] == ["blocks.0.attn"]
    set_enabled(sp, "blocks.0.attn", False)
    assert sp.blocks[0].attn.enabled is False
    sew = build_model(_shrunk("sew_resnet"))
    kinds = {s.name: s.kind for s in switchable_modules(sew)}
    assert kinds == {"layers.0.shortcut": "shortcut", "layers.1.shortcut": "shortcut"}
    ms = build_model(_shrunk("ms_resnet")).eval()  # membrane shortcuts: switching one off must show
    x = (torch.rand(4, 1, 2, 16, 16) < 0.5).float()
    before = ms(x)
    set_enabled(ms, "layers.1.shortcut", False)
    assert not torch.allclose(before, ms(x))
    set_enabled(ms, "layers.1.shortcut", True)
    assert torch.allclose(before, ms(x))


def test_module_registry_has_every_required_name_and_builds():
    assert list(MODULES) == REQUIRED_MODULES
    assert all(MODULES[n].description for n in MODULES)
    x5 = torch.rand(4, 2, 8, 8, 8)
    assert build_module("tcsa", T=4, channels=8)(x5).shape == x5.shape
    assert build_module("sew", 8, 8, connect="iand", neuron="lif")(x5).shape == x5.shape
    assert build_module("ms_resnet", 8, 16, 2)(x5).shape == (4, 2, 16, 4, 4)
    assert build_module("spiking_resnet", 8, 8)(x5).shape == x5.shape
    assert build_module("or_syna", 8, 16, 2, T=4)(x5).shape == (4, 2, 16, 4, 4)
    assert build_module("sps", 8, 16, (8, 8), num_pools=0)(x5).shape == (4, 2, 16, 64)
    assert build_module("scs", 8, 16, (8, 8), num_pools=1)(x5).shape == (4, 2, 16, 16)
    assert build_module("spikeformer_ct", 8, 16, (8, 8), layers=1)(x5).shape == (4, 2, 16, 16)
    tokens = torch.rand(4, 2, 16, 10)
    assert build_module("ssa", 16, 4)(tokens).shape == tokens.shape
    assert build_module("spikeformer_sta", 16, 4)(tokens).shape == tokens.shape
    with pytest.raises(ModelError, match="unknown module"):
        build_module("resnet50")
    with pytest.raises(ModelError, match="sew"):
        build_module("sew", 8, 8, colour="red")


STEP_EXACT = [
    ("ma_snn_gesture_small", {"attention": "none"}),
    ("spikformer_small", {}),
    ("spikformer_v2_small", {}),
    ("spikeformer", {"options": {"depth": 1, "heads": 2, "ct_layers": 2, "sta_mode": "s", "mlp_ratio": 4, "pos_embedding": True}}),
    ("spiking_resnet", {}),
    ("sew_resnet", {}),
    ("ms_resnet", {}),
]


@pytest.mark.parametrize("preset,changes", STEP_EXACT, ids=[p for p, _ in STEP_EXACT])
def test_models_that_do_not_look_across_time_stream_step_by_step(preset, changes):
    """The streaming contract: neurons in 's' mode, one [B, C, H, W] per call; the mean of the
    per-step read-outs equals the multi-step output."""
    from snnstudio.snn.layers import spiking_neurons

    cfg = _shrunk(preset)
    for k, v in changes.items():
        setattr(cfg, k, v)
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    assert not model.looks_across_time
    with torch.no_grad():  # eval-mode BN starts as identity; a larger gain makes every layer fire
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.weight.fill_(10.0)
    x = (torch.rand(cfg.T, 2, *cfg.input_size) < 0.3).float()
    with torch.no_grad():
        silent = model(torch.zeros_like(x))
        multi = model(x)
        rates = [n.last_spikes.mean().item() for _, n in spiking_neurons(model)]
        set_step_mode(model, "s")
        steps = [model(x[t]) for t in range(cfg.T)]
        set_step_mode(model, "m")
    # the input reaches the read-out, so the comparison is not between two constant outputs
    assert not torch.allclose(multi, silent) and max(rates) > 0
    assert torch.allclose(torch.stack(steps).mean(0), multi, atol=1e-5)


def test_with_neuron_drops_the_old_neurons_parameters():
    cfg = default_config("ma_snn_gesture_small")
    assert cfg.neuron_params  # the preset's MA-SNN LIF parameters
    psn = with_neuron(cfg, "psn")
    assert psn.neuron == "psn" and psn.neuron_params == {} and cfg.neuron == "lif"
    model = build_model(replace_T(psn, 4))
    assert model.looks_across_time  # PSN mixes time steps
    with pytest.raises(ModelError, match="unknown neuron"):
        with_neuron(cfg, "nope")


def replace_T(cfg, T):
    from dataclasses import replace

    return replace(cfg, T=T)
