"""Spikformer: SSA against a hand-written einsum oracle, tokenizers' shapes, the whole model
step by step; Spikeformer's STA against a loop oracle for each attention mode."""

import pytest
import torch

from snnstudio.errors import ModelError
from snnstudio.snn.layers import NeuronSpec, set_step_mode
from snnstudio.snn.spikeformer import STA, ConvTokenizer, Spikeformer
from snnstudio.snn.spikformer import SCS, SPS, SSA, Spikformer


def lif_oracle(x, theta=1.0, tau=2.0):
    """SpikingJelly LIF (decay_input, hard reset to 0) written out per step; x is [T, ...]."""
    v = torch.zeros_like(x[0])
    out = []
    for t in range(x.shape[0]):
        h = v + (x[t] - v) / tau
        s = (h >= theta).to(x.dtype)
        v = h * (1 - s)
        out.append(s)
    return torch.stack(out)


def bn_eval(z, bn):
    """BatchNorm1d in eval mode on [T, B, C, N], channel dim 2."""
    shape = (1, 1, -1, 1)
    return (z - bn.running_mean.view(shape)) / torch.sqrt(bn.running_var.view(shape) + bn.eps) * bn.weight.view(
        shape
    ) + bn.bias.view(shape)


def _randomise_bn(module, gen):
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen, dtype=m.running_mean.dtype) * 0.2)
                m.running_var.copy_(torch.rand(m.num_features, generator=gen, dtype=m.running_var.dtype) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=gen, dtype=m.weight.dtype) * 3 + 1)
                m.bias.copy_(torch.randn(m.num_features, generator=gen, dtype=m.bias.dtype) * 0.5)


def test_ssa_matches_einsum_oracle():
    g = torch.Generator().manual_seed(0)
    T, B, D, N, H = 4, 2, 16, 9, 4
    # scale 0.3, not a power of two: integer attention counts then never land exactly on θ = 0.5,
    # where spikes of 1 ± 1 ulp (the surrogate trick) would decide the tie
    ssa = SSA(D, heads=H, scale=0.3).double().eval()
    _randomise_bn(ssa, g)
    x = (torch.rand(T, B, D, N, generator=g) < 0.6).double()
    with torch.no_grad():
        for p in (ssa.q, ssa.k, ssa.v):
            p["bn"].layer.bias.add_(1.0)  # denser Q, K, V so that the attention LIF fires
    out = ssa(x)

    def branch(p):  # Conv1d 1×1 (no bias) → BN
        return bn_eval(torch.einsum("od,tbdn->tbon", p["conv"].layer.weight[..., 0], x), p["bn"].layer)

    q, k, v = (lif_oracle(branch(ssa.q)), lif_oracle(branch(ssa.k)), lif_oracle(branch(ssa.v)))
    dh = D // H
    qh, kh, vh = (z.reshape(T, B, H, dh, N) for z in (q, k, v))  # channel = head·dh + j
    attn = torch.einsum("tbhjn,tbhjm->tbhnm", qh, kh)  # Q Kᵀ, no softmax
    y = torch.einsum("tbhnm,tbhjm->tbhjn", attn, vh) * 0.3
    y = lif_oracle(y.reshape(T, B, D, N), theta=0.5)
    pw, pb = ssa.proj["conv"].layer.weight[..., 0], ssa.proj["conv"].layer.bias
    z = torch.einsum("od,tbdn->tbon", pw, y) + pb.view(1, 1, -1, 1)
    expect = lif_oracle(bn_eval(z, ssa.proj["bn"].layer))
    assert 0 < q.mean() < 1 and 0 < y.mean() < 1  # spikes flow, so the check means something
    assert torch.allclose(ssa.last_weights, attn)
    assert torch.allclose(out, expect)
    assert ssa.attn_lif.v_threshold == 0.5 and ssa.q_lif.detach_reset is True


def test_ssa_disabled_contributes_nothing_and_bad_heads():
    ssa = SSA(8, heads=2)
    ssa.enabled = False
    x = torch.rand(2, 1, 8, 4)
    assert torch.equal(ssa(x), torch.zeros_like(x))
    with pytest.raises(ModelError, match="divisible"):
        SSA(10, heads=4)


@pytest.mark.parametrize("size,pools", [(128, 4), (64, 3), (32, 2)])
def test_sps_reaches_8x8_tokens(size, pools):
    sps = SPS(2, 32, (size, size))
    assert sps.num_pools == pools and sps.grid == (8, 8)
    n_maxpools = sum(isinstance(getattr(p, "layer", None), torch.nn.MaxPool2d) for p in sps.pools)
    assert n_maxpools == pools
    out = sps(torch.rand(2, 1, 2, size, size))
    assert out.shape == (2, 1, 32, 64)


def test_sps_adds_the_relative_position_branch():
    torch.manual_seed(0)
    sps = SPS(2, 16, (32, 32)).eval()
    x = (torch.rand(3, 1, 2, 32, 32) < 0.3).float()
    out = sps(x)
    stage_out = sps.stages[3]["lif"].last_spikes
    pooled = sps.pools[3](stage_out)
    rpe = sps.rpe["lif"].last_spikes
    assert torch.allclose(out, (pooled + rpe).flatten(-2))


def test_scs_uses_strided_convs_and_expand_restore():
    scs = SCS(2, 32, (64, 64), expand=4)
    strides = [stage[0]["conv"].layer.stride[0] for stage in scs.stages]
    assert strides == [1, 2, 2, 2]
    assert scs.stages[1][1]["conv"].layer.out_channels == 8 * 4 and scs.stages[1][2]["conv"].layer.out_channels == 8
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in scs.modules())
    assert scs(torch.rand(2, 1, 2, 64, 64)).shape == (2, 1, 32, 64)


def test_spikformer_single_step_equals_multi_step():
    torch.manual_seed(0)
    m = Spikformer(num_classes=5, input_shape=(2, 32, 32), T=4, dim=32, depth=1, heads=4).eval()
    assert not m.looks_across_time
    g = torch.Generator().manual_seed(1)
    _randomise_bn(m, g)
    x = (torch.rand(4, 2, 2, 32, 32, generator=g) < 0.3).float()
    with torch.no_grad():
        multi = m(x)
        tokens = m.blocks[0].attn.proj_lif.last_spikes
        set_step_mode(m, "s")
        steps = []
        for t in range(4):
            steps.append(m(x[t]))
            assert torch.allclose(m.blocks[0].attn.proj_lif.last_spikes, tokens[t], atol=1e-5)
    assert 0 < tokens.mean() < 1
    assert torch.allclose(torch.stack(steps).mean(0), multi, atol=1e-5)


def _sta_loop_oracle(q, k, v, heads, mode, scale):
    T, B, D, N = q.shape
    dh = D // heads
    out = torch.zeros_like(q)
    for b in range(B):
        for h in range(heads):
            ch = slice(h * dh, (h + 1) * dh)
            if mode == "st":
                groups = [[(t, n) for t in range(T) for n in range(N)]]
            elif mode == "s":
                groups = [[(t, n) for n in range(N)] for t in range(T)]
            else:
                groups = [[(t, n) for t in range(T)] for n in range(N)]
            for grp in groups:
                Q = torch.stack([q[t, b, ch, n] for t, n in grp])
                K = torch.stack([k[t, b, ch, n] for t, n in grp])
                V = torch.stack([v[t, b, ch, n] for t, n in grp])
                Y = torch.softmax(Q @ K.T * scale, dim=-1) @ V
                for i, (t, n) in enumerate(grp):
                    out[t, b, ch, n] = Y[i]
    return out


@pytest.mark.parametrize("mode", ["st", "s", "t"])
def test_sta_attention_matches_loop_oracle(mode):
    g = torch.Generator().manual_seed(2)
    sta = STA(8, heads=2, mode=mode).double()
    q, k, v = ((torch.rand(3, 2, 8, 5, generator=g) < 0.5).double() for _ in range(3))
    y = sta.attend(q, k, v)
    assert torch.allclose(y, _sta_loop_oracle(q, k, v, 2, mode, 0.5))  # scale 1/sqrt(dh = 4)
    assert sta.looks_across_time == (mode != "s")
    assert len(sta.weights_layout.split(",")) == sta.last_weights.ndim


def test_sta_joint_attention_mixes_time_steps():
    g = torch.Generator().manual_seed(4)
    q, k, v = ((torch.rand(4, 1, 8, 6, generator=g) < 0.5).float() for _ in range(3))
    v2 = v.clone()
    v2[3] = 1 - v2[3]  # change only the last step's values
    for mode, mixes in (("st", True), ("t", True), ("s", False)):
        sta = STA(8, heads=2, mode=mode)
        early, early2 = sta.attend(q, k, v)[:3], sta.attend(q, k, v2)[:3]
        assert (not torch.allclose(early, early2)) == mixes, mode


def test_conv_tokenizer_and_spikeformer_model():
    ct = ConvTokenizer(2, 32, (64, 64), layers=3)
    assert ct.grid == (8, 8) and ct.pos.shape == (32, 64)
    assert [c.layer.out_channels for c in ct.convs] == [8, 16, 32]
    toks = ct(torch.rand(2, 1, 2, 64, 64))
    assert toks.shape == (2, 1, 32, 64)
    m = Spikeformer(num_classes=4, input_shape=(2, 32, 32), T=3, dim=16, depth=1, heads=2, ct_layers=2)
    assert m.looks_across_time
    out = m(torch.rand(3, 2, 2, 32, 32))
    assert out.shape == (2, 4)
    out.sum().backward()
    assert m.tokenizer.convs[0].layer.weight.grad is not None
    with pytest.raises(ModelError, match="STA mode"):
        STA(8, 2, mode="x")


def test_attention_neuron_role_threshold_only_where_accepted(monkeypatch):
    from snnstudio.snn.neurons import NEURONS
    from snnstudio.snn.neurons.lif import LIFNode

    class NoThreshold(LIFNode):  # a neuron that takes no v_threshold / detach_reset
        def __init__(self, tau: float = 2.0, step_mode: str = "m"):
            super().__init__(tau=tau, step_mode=step_mode)

    monkeypatch.setitem(NEURONS, "no_threshold_test", NoThreshold)
    ssa = SSA(8, 2, neuron=NeuronSpec("no_threshold_test"))
    assert ssa.attn_lif.v_threshold == 1.0 and isinstance(ssa.attn_lif, NoThreshold)
    ssa_lif = SSA(8, 2, neuron=NeuronSpec("lif", {"tau": 3.0}))
    assert ssa_lif.attn_lif.v_threshold == 0.5 and ssa_lif.attn_lif.tau == 3.0
