import pytest
import torch
import torch.nn.functional as F
from torch import nn

from snnstudio.errors import SnnStudioError
from snnstudio.probe import (
    EnergyConfig,
    OpCount,
    OpCounter,
    energy_pj,
    module_flops,
    register_op_counter,
    ssa_sops,
)
from snnstudio.bench.probes import TimeDistributed
from snnstudio.snn.neurons import build_neuron

from probe_models import ToyTemporalAttention


@pytest.mark.parametrize(
    "module, in_shape, hand",
    [
        (nn.Conv2d(3, 8, 3, stride=2, padding=1), (3, 32, 32), 8 * 16 * 16 * 3 * 9),
        (nn.Conv2d(8, 16, 3, groups=4), (8, 10, 10), 16 * 8 * 8 * 2 * 9),
        (nn.Conv2d(4, 4, (3, 5), dilation=2), (4, 20, 20), 4 * 16 * 12 * 4 * 15),
        (nn.Conv1d(4, 6, 5), (4, 20), 6 * 16 * 4 * 5),
        (nn.Linear(100, 10), (100,), 1000),
    ],
)
def test_flops_hand_worked_and_measured(module, in_shape, hand):
    assert module_flops(module, in_shape) == hand
    oc = OpCounter(module, EnergyConfig(step_mode="s"))
    with torch.no_grad():
        module(torch.rand(2, *in_shape))
    assert oc.layers[""].flops == hand
    assert oc.report()["macs"] == pytest.approx(hand)  # first layer, real input: MACs per sample


def test_conv_flops_equal_the_all_ones_convolution_count():
    # oracle: without padding every output sums C_in/groups·kh·kw products of ones
    conv = nn.Conv2d(6, 9, (3, 2), stride=(2, 1), groups=3, bias=False)
    ones = torch.ones(1, 6, 11, 9)
    count = F.conv2d(ones, torch.ones_like(conv.weight), None, conv.stride, 0, 1, 3).sum()
    assert module_flops(conv, (6, 11, 9)) == int(count)


def _two_linear_net():
    return nn.Sequential(TimeDistributed(nn.Linear(12, 7)), build_neuron("lif", v_threshold=0.2), TimeDistributed(nn.Linear(7, 4)))


@pytest.mark.parametrize("mode", ["expected", "exact"])
def test_linear_fed_spikes_costs_nonzero_inputs_times_fanout(mode):
    torch.manual_seed(0)
    net = _two_linear_net()
    x = torch.randn(5, 3, 12)  # real-valued: the first layer is MACs
    oc = OpCounter(net, EnergyConfig(mode=mode))
    with torch.no_grad():
        net(x)
    spikes = net[1].last_spikes
    rep = oc.report()
    l0, l2 = rep["layers"]["0.module"], rep["layers"]["2.module"]
    assert l0["fed"] == "real" and l0["macs"] == pytest.approx(5 * 12 * 7) and l0["acs"] == 0
    assert l2["fed"] == "spikes" and l2["macs"] == 0
    hand = float((spikes != 0).sum()) * 4 / 3  # per sample
    assert spikes.sum() > 0
    assert l2["acs"] == pytest.approx(hand)
    assert l2["input_rate"] == pytest.approx(float(spikes.mean()))
    assert rep["energy_pj"] == pytest.approx(4.6 * l0["macs"] + 0.9 * hand)
    assert rep["sops"] == rep["acs"] == pytest.approx(hand)


def _brute_force_conv_acs(x, conv):
    """Count, for every output unit, the nonzero inputs under its kernel (loops, no conv)."""
    n, c, h, w = x.shape
    kh, kw = conv.kernel_size
    (sh, sw), (ph, pw) = conv.stride, conv.padding
    ho, wo = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    total = 0
    for b in range(n):
        for i in range(ho):
            for j in range(wo):
                for di in range(kh):
                    for dj in range(kw):
                        y, xx = i * sh - ph + di, j * sw - pw + dj
                        if 0 <= y < h and 0 <= xx < w:
                            total += int((x[b, :, y, xx] != 0).sum())
    return total * conv.out_channels


def test_conv_exact_mode_matches_brute_force_and_expected_mode_is_rate_times_flops():
    torch.manual_seed(1)
    conv = nn.Conv2d(3, 5, 3, stride=2, padding=1, bias=False)
    net = nn.Sequential(nn.Identity(), conv)
    x = (torch.rand(4, 3, 7, 7) < 0.3).float()
    for mode in ("exact", "expected"):
        oc = OpCounter(net, EnergyConfig(mode=mode, first_layer_macs=False, step_mode="s"))
        with torch.no_grad():
            net(x)
        oc.detach()
        acs = oc.report()["acs"] * 4  # per sample -> the 4 images
        if mode == "exact":
            assert acs == pytest.approx(_brute_force_conv_acs(x, conv))
        else:
            assert acs == pytest.approx(float(x.mean()) * module_flops(conv, (3, 7, 7)) * 4)


def test_first_layer_density_scaling_and_integer_counts_and_attention_macs():
    torch.manual_seed(2)
    att = ToyTemporalAttention()
    net = nn.Sequential(TimeDistributed(nn.Linear(10, 6)), att, build_neuron("lif", v_threshold=0.1), TimeDistributed(nn.Linear(6, 3)))
    x = torch.zeros(4, 2, 10)
    x[:, :, :3] = torch.randint(0, 3, (4, 2, 3)).float()  # event counts, partly zero
    oc = OpCounter(net, EnergyConfig(scale_first_by_density=True))
    with torch.no_grad():
        net(x)
    rep = oc.report()["layers"]
    density = float((x != 0).float().mean())
    assert rep["0.module"]["macs"] == pytest.approx(4 * 60 * density)
    assert rep["1.fc"]["fed"] == "real" and rep["1.fc"]["macs"] == pytest.approx(4 * 1)  # attention MLP: MACs
    assert rep["3.module"]["fed"] == "spikes"
    # integer spike counts (not first layer): one AC per spike per fan-out
    net2 = nn.Sequential(nn.Identity(), TimeDistributed(nn.Linear(10, 6)))
    oc2 = OpCounter(net2, EnergyConfig(first_layer_macs=False))
    with torch.no_grad():
        net2(x)
    assert oc2.report()["acs"] == pytest.approx(float(x.sum()) * 6 / 2)


def test_energy_arithmetic_and_config():
    assert energy_pj(1e6, 2e6) == pytest.approx(4.6e6 + 1.8e6)
    assert energy_pj(10, 10, e_mac_pj=3.1, e_ac_pj=0.1) == pytest.approx(32.0)
    with pytest.raises(SnnStudioError, match="mode"):
        EnergyConfig(mode="guess")
    net = _two_linear_net()
    oc = OpCounter(net, EnergyConfig(e_mac_pj=1.0, e_ac_pj=0.0))
    with torch.no_grad():
        net(torch.randn(2, 1, 12))
    rep = oc.report()
    assert rep["energy_pj"] == pytest.approx(rep["macs"]) == pytest.approx(2 * 84)


def test_ssa_formula_and_custom_counters():
    # hand-worked: T=4, 2 heads, 16 tokens, d=8: 4·2·16·64·(min(0.1, 0.3) + 0.2) = 8192·0.3 = 2457.6
    assert ssa_sops(4, 2, 16, 8, fr_q=0.2, fr_k=0.1, fr_v=0.3) == pytest.approx(2457.6)

    class ToySSA(nn.Module):
        def __init__(self):
            super().__init__()
            self.q_lif = build_neuron("lif", v_threshold=0.3)
            self.k_lif = build_neuron("lif", v_threshold=0.5)
            self.v_lif = build_neuron("lif", v_threshold=0.8)
            self.heads = 2

        def forward(self, x):  # [T, B, C, N]
            return self.q_lif(x) + self.k_lif(x) + self.v_lif(x)

        def energy_ops(self, stats):
            T, B, C, N = stats.input_shape
            r = stats.child_rates
            return OpCount(acs=ssa_sops(stats.steps, self.heads, N, C // self.heads, r["q_lif"], r["k_lif"], r["v_lif"]))

    torch.manual_seed(3)
    ssa = ToySSA()
    net = nn.Sequential(ssa)
    x = torch.rand(4, 3, 16, 10)
    oc = OpCounter(net)
    with torch.no_grad():
        net(x)
    rates = {k: float(getattr(ssa, k).last_spikes.mean()) for k in ("q_lif", "k_lif", "v_lif")}
    want = ssa_sops(4, 2, 10, 8, rates["q_lif"], rates["k_lif"], rates["v_lif"])
    assert want > 0
    assert oc.report()["layers"]["0:ToySSA"]["acs"] == pytest.approx(want)

    class Registered(nn.Module):
        def forward(self, x):
            return x

    @register_op_counter("Registered")
    def _count(module, stats):
        return OpCount(macs=stats.steps * 10)

    oc2 = OpCounter(nn.Sequential(Registered()))
    oc2.model(torch.rand(7, 2, 3))
    assert oc2.report()["macs"] == pytest.approx(70)


def test_counter_clear_detach_and_per_step_energy():
    torch.manual_seed(4)
    net = _two_linear_net()
    x = torch.randn(6, 2, 12)
    with torch.no_grad():
        plain = net(x)
    oc = OpCounter(net)
    with torch.no_grad():
        assert torch.equal(net(x), plain)
        net(x)
    rep2 = oc.report()
    assert oc.samples == 4 and rep2["steps_per_sample"] == 6
    assert rep2["energy_pj_per_step"] == pytest.approx(rep2["energy_pj"] / 6)
    oc.clear()
    with torch.no_grad():
        net(x)
    rep1 = oc.report()
    assert rep1["macs"] == pytest.approx(rep2["macs"]) and rep1["acs"] == pytest.approx(rep2["acs"])
    oc.detach()
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in net.modules())


def test_registered_spikformer_ssa_counter_and_spike_fed_convs_inside_attention_are_acs():
    class SSA(nn.Module):  # the shape of snnstudio's Spikformer SSA (feat/modules-zoo), by name
        weights_layout = "T,B,heads,N,N"

        def __init__(self, dim=8, heads=2):
            super().__init__()
            self.dim, self.heads, self.enabled, self.last_weights = dim, heads, True, None
            self.q = TimeDistributed(nn.Conv1d(dim, dim, 1, bias=False))
            self.q_lif = build_neuron("lif", v_threshold=0.2)
            self.k_lif = build_neuron("lif", v_threshold=0.4)
            self.v_lif = build_neuron("lif", v_threshold=0.6)

        def forward(self, x):  # [T, B, D, N]
            q = self.q_lif(self.q(x))
            k, v = self.k_lif(x), self.v_lif(x)
            self.last_weights = q.detach()
            return q + k + v

    torch.manual_seed(5)
    ssa = SSA()
    net = nn.Sequential(TimeDistributed(nn.Conv1d(3, 8, 1)), build_neuron("lif", v_threshold=0.1), ssa)
    x = torch.rand(4, 2, 3, 6)
    oc = OpCounter(net)
    with torch.no_grad():
        net(x)
    rep = oc.report()["layers"]
    spikes_in = net[1].last_spikes
    assert 0 < float(spikes_in.mean()) < 1
    conv = rep["2.q.module"]
    assert conv["fed"] == "spikes" and conv["macs"] == 0  # spike-driven attention: ACs
    assert conv["acs"] == pytest.approx(float(spikes_in.sum()) * 8 / 2)
    r = {k: float(getattr(ssa, k).last_spikes.mean()) for k in ("q_lif", "k_lif", "v_lif")}
    assert rep["2:SSA"]["acs"] == pytest.approx(ssa_sops(4, 2, 6, 4, r["q_lif"], r["k_lif"], r["v_lif"]))
    assert rep["2:SSA"]["acs"] > 0
