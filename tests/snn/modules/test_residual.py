"""Residual blocks: hand-worked truth tables, identity at init, membrane shortcut, OR computed once."""

import itertools

import pytest
import torch

from snnstudio.errors import ModelError
from snnstudio.snn.layers import NeuronSpec, SNNModel
from snnstudio.snn.residual import (
    MSBlock,
    ORSynABlock,
    ResidualNet,
    SEWBlock,
    SpikingBlock,
    SynAGate,
    or_residual,
    sew_connect,
)

PAIRS = list(itertools.product([0.0, 1.0], repeat=2))  # (out, identity)


@pytest.mark.parametrize(
    "kind,table",
    [
        # (out, id) = (0,0), (0,1), (1,0), (1,1)
        ("add", [0, 1, 1, 2]),
        ("and", [0, 0, 0, 1]),
        ("iand", [0, 1, 0, 0]),  # id AND NOT out
    ],
)
def test_sew_connect_truth_tables(kind, table):
    out = torch.tensor([p[0] for p in PAIRS])
    ident = torch.tensor([p[1] for p in PAIRS])
    assert sew_connect(out, ident, kind).tolist() == table


def test_or_residual_truth_table_and_gradient():
    a = torch.tensor([p[0] for p in PAIRS], requires_grad=True)
    b = torch.tensor([p[1] for p in PAIRS], requires_grad=True)
    out = or_residual(a, b)
    assert out.tolist() == [0, 1, 1, 1]
    out.sum().backward()
    assert a.grad.tolist() == [1, 0, 1, 0]  # d(a + b − ab)/da = 1 − b
    with pytest.raises(ModelError, match="SEW connect"):
        sew_connect(a, b, "xor")


@pytest.mark.parametrize("connect", ["add", "and", "iand"])
def test_sew_block_starts_as_identity(connect):
    # zero-init last BN (AND: bias 1). With an IF-like LIF (input not decayed) a constant 1 fires
    # every step, so AND passes id; ADD and IAND see out = 0 and pass id too.
    spec = NeuronSpec("lif", {"decay_input": False})
    block = SEWBlock(4, 4, 1, spec, connect).eval()
    x = (torch.rand(5, 2, 4, 6, 6) < 0.4).float()
    y = block(x)
    out = block.sn2.last_spikes
    assert torch.allclose(out, torch.full_like(out, 1.0 if connect == "and" else 0.0), atol=1e-6)
    assert torch.allclose(y, x, atol=1e-6)


def test_sew_block_downsample_shortcut_has_its_own_neuron():
    block = SEWBlock(4, 8, 2, NeuronSpec("lif"), "add")
    assert block.shortcut.sn is not None and block.shortcut.down.conv.layer.stride == (2, 2)
    y = block(torch.rand(3, 1, 4, 8, 8))
    assert y.shape == (3, 1, 8, 4, 4)
    assert torch.allclose(y, block.sn2.last_spikes + block.shortcut.sn.last_spikes)


def test_spiking_block_spikes_after_the_add():
    torch.manual_seed(0)
    block = SpikingBlock(4, 4, 1, NeuronSpec("lif")).eval()
    x = (torch.rand(4, 2, 4, 5, 5) < 0.5).float() * 3
    y = block(x)
    assert torch.allclose(y, y.round(), atol=1e-6)  # binary: the neuron comes after the add
    # the pre-spike current is residual + x: check against the recorded membrane at step 0
    res0 = block.cb2(block.sn1.last_spikes)[0]
    assert torch.allclose(block.sn2.last_v[0], (res0 + x[0]) / 2.0, atol=1e-5)  # LIF from rest: h = x / τ
    block.shortcut.enabled = False
    block(x)
    assert torch.allclose(block.sn2.last_v[0], res0 / 2.0, atol=1e-5)


def test_ms_block_adds_on_membrane_values():
    torch.manual_seed(0)
    block = MSBlock(4, 4, 1, NeuronSpec("lif", {"tau": 4 / 3, "decay_input": False, "v_threshold": 0.5})).eval()
    x = torch.randn(3, 2, 4, 5, 5)
    with_sc = block(x)
    block.shortcut.enabled = False
    without = block(x)
    assert torch.allclose(with_sc - without, x, atol=1e-6)  # identity shortcut on real values
    assert not torch.allclose(with_sc, with_sc.round())  # real-valued, not spikes
    down = MSBlock(4, 8, 2)
    assert down.shortcut.sn is None and down(x).shape == (3, 2, 8, 3, 3)


def test_or_syna_computes_each_branch_once_and_ors_them():
    torch.manual_seed(0)
    block = ORSynABlock(4, 8, 2, T=5).eval()
    calls = {"main": 0, "down": 0}
    block.cb1.conv.layer.register_forward_hook(lambda *a: calls.__setitem__("main", calls["main"] + 1))
    block.shortcut.down.conv.layer.register_forward_hook(lambda *a: calls.__setitem__("down", calls["down"] + 1))
    x = (torch.rand(5, 2, 4, 8, 8) < 0.5).float() * 4
    y = block(x)
    assert calls == {"main": 1, "down": 1}
    a, b = block.sn2.last_spikes, block.down_sn.last_spikes
    assert torch.allclose(y, a + b - a * b)
    yr = y.round()
    assert torch.allclose(y, yr, atol=1e-6) and torch.all(yr >= a.round()) and torch.all(yr >= b.round())
    mask = block.down_gate.last_weights
    assert mask.shape == (5, 2) and torch.allclose(mask, mask.round(), atol=1e-6)  # a binary time mask
    block.shortcut.enabled = False
    assert torch.allclose(block(x), block.sn2.last_spikes)


def test_syna_main_gate_is_sigmoid_then_relu():
    gate = SynAGate(T=4)
    x = torch.randn(4, 2, 3, 2, 2)
    y = gate(x)
    w = gate.last_weights
    assert torch.allclose(y, torch.relu(x * w[..., None, None, None]))
    assert ((w > 0) & (w < 1)).all()
    gate.enabled = False
    assert torch.equal(gate(x), x)


@pytest.mark.parametrize("kind", ["spiking", "sew_add", "sew_and", "sew_iand", "ms", "or_syna"])
def test_residual_net_every_kind(kind):
    net = ResidualNet(kind, num_classes=3, input_shape=(2, 16, 16), T=4, widths=(4, 8), blocks=2)
    assert isinstance(net, SNNModel)
    out = net(torch.rand(4, 2, 2, 16, 16))
    assert out.shape == (2, 3)
    out.sum().backward()
    assert net.stem.conv.layer.weight.grad is not None
    assert net.looks_across_time == (kind == "or_syna")


def test_att_res_snn_puts_attention_in_the_residual_branch():
    net = ResidualNet("ms", num_classes=3, input_shape=(2, 16, 16), T=4, widths=(4, 8), attention="csa")
    assert net.layers[0].attention.kinds == "cs" and net.looks_across_time
    with pytest.raises(ModelError, match="SynA"):
        ResidualNet("or_syna", attention="tcsa")
    with pytest.raises(ModelError, match="residual kind"):
        ResidualNet("dense")
