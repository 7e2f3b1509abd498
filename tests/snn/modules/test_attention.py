"""MA-SNN attention: hand-computed small cases (pooling + MLP + sigmoid), switches, shapes, grads."""

import math

import pytest
import torch

from snnstudio.errors import ModelError
from snnstudio.snn.attention import (
    ChannelAttention,
    MultiDimAttention,
    SpatialAttention,
    TemporalAttention,
    build_attention,
)


def sig(v):
    return 1.0 / (1.0 + math.exp(-v))


def test_temporal_attention_hand_computed():
    ta = TemporalAttention(T=2, ratio=2)  # hidden 1
    with torch.no_grad():
        ta.fc1.weight.copy_(torch.tensor([[1.0, 1.0]]))
        ta.fc2.weight.copy_(torch.tensor([[1.0], [-1.0]]))
    # [T=2, B=1, C=1, H=1, W=2]: t0 = (1, 3): avg 2, max 3; t1 = (0, 2): avg 1, max 2
    x = torch.tensor([[1.0, 3.0], [0.0, 2.0]]).reshape(2, 1, 1, 1, 2)
    # avg path: fc1 (2,1) -> 3 -> relu 3 -> fc2 -> (3, -3); max path: (3,2) -> 5 -> (5, -5); sum (8, -8)
    w0, w1 = sig(8.0), sig(-8.0)
    y = ta(x)
    expect = torch.tensor([[1 * w0, 3 * w0], [0 * w1, 2 * w1]]).reshape(2, 1, 1, 1, 2)
    assert torch.allclose(y, expect, atol=1e-6)
    assert ta.weights_layout == "T,B"
    assert torch.allclose(ta.last_weights, torch.tensor([[w0], [w1]]), atol=1e-6)


def test_temporal_attention_on_fc_features():
    ta = TemporalAttention(T=3, ratio=5, sample_ndim=1)
    x = torch.randn(3, 4, 10)
    y = ta(x)
    assert y.shape == x.shape and ta.last_weights.shape == (3, 4)
    assert torch.allclose(y, x * ta.last_weights[..., None])


def test_channel_attention_hand_computed():
    ca = ChannelAttention(channels=2, ratio=2)  # hidden 1
    with torch.no_grad():
        ca.fc1.weight.copy_(torch.tensor([[1.0, -1.0]]))
        ca.fc2.weight.copy_(torch.tensor([[2.0], [1.0]]))
    # [T=2, B=1, C=2, H=1, W=1]: channel 0 over (T,H,W) = (4, 2) avg 3 max 4; channel 1 = (1, 1) avg 1 max 1
    x = torch.tensor([[4.0, 1.0], [2.0, 1.0]]).reshape(2, 1, 2, 1, 1)
    # avg (3, 1) -> fc1 2 -> relu 2 -> fc2 (4, 2); max (4, 1) -> 3 -> (6, 3); sum (10, 5)
    w = torch.tensor([sig(10.0), sig(5.0)])
    y = ca(x)
    assert torch.allclose(y, x * w.reshape(1, 1, 2, 1, 1), atol=1e-6)
    assert ca.weights_layout == "B,C"
    assert torch.allclose(ca.last_weights, w[None], atol=1e-6)


def test_spatial_attention_hand_computed():
    sa = SpatialAttention(kernel_size=1)
    with torch.no_grad():
        sa.conv.weight.copy_(torch.tensor([1.0, -0.5]).reshape(1, 2, 1, 1))
    # [T=2, B=1, C=1, H=1, W=2]; pixel 0 over T·C = (1, 3): mean 2 max 3; pixel 1 = (0, -2): mean -1 max 0
    x = torch.tensor([[1.0, 0.0], [3.0, -2.0]]).reshape(2, 1, 1, 1, 2)
    w = torch.tensor([sig(2 - 1.5), sig(-1 - 0.0)])
    y = sa(x)
    assert torch.allclose(y, x * w.reshape(1, 1, 1, 1, 2), atol=1e-6)
    assert sa.weights_layout == "B,H,W"
    assert sa.last_weights.shape == (1, 1, 2)


def test_spatial_attention_3x3_matches_conv_oracle():
    torch.manual_seed(0)
    sa = SpatialAttention(kernel_size=3)
    x = torch.randn(4, 2, 3, 5, 6)
    z = x.permute(1, 0, 2, 3, 4).reshape(2, 12, 5, 6)
    pooled = torch.cat([z.mean(1, keepdim=True), z.max(1, keepdim=True).values], 1)
    w = torch.sigmoid(torch.nn.functional.conv2d(pooled, sa.conv.weight, padding=1))
    assert torch.allclose(sa(x), x * w[None], atol=1e-6)


def test_combination_is_sequential_then_relu():
    torch.manual_seed(1)
    att = MultiDimAttention("tcs", T=4, channels=8, t_ratio=2, c_ratio=4)
    x = torch.randn(4, 2, 8, 5, 5)
    # oracle: apply each part's own rescaling in order on the running output, then ReLU
    y = att.ta(x)
    y = att.ca(y)
    y = att.sa(y)
    expect = torch.relu(y)
    assert torch.allclose(att(x), expect)
    assert (att(x) >= 0).all() and (x < 0).any()
    # each part really rescales: the running output differs from the input
    assert not torch.allclose(att.ta(x), x)


def test_disabled_is_identity_and_parts_switch_alone():
    torch.manual_seed(2)
    att = build_attention("tcsa", T=4, channels=8)
    x = torch.randn(4, 2, 8, 6, 6)
    att.enabled = False
    assert torch.equal(att(x), x)
    att.enabled = True
    for p in att.parts():
        p.enabled = False
    assert torch.equal(att(x), x)
    # only CA on: the same as a lone CA with the same weights, then ReLU
    att.ca.enabled = True
    assert torch.allclose(att(x), torch.relu(att.ca(x)))
    lone = TemporalAttention(T=4)
    lone.enabled = False
    assert torch.equal(lone(x), x)


@pytest.mark.parametrize("kind,parts", [("ta", "t"), ("ca", "c"), ("sa", "s"), ("tca", "tc"), ("tsa", "ts"), ("csa", "cs"), ("tcsa", "tcs")])
def test_every_kind_builds_its_parts_and_keeps_shapes(kind, parts):
    att = build_attention(kind, T=5, channels=16)
    assert att.kinds == parts
    names = {n for n in ("ta", "ca", "sa") if hasattr(att, n)}
    assert names == {f"{p}a" for p in parts}
    x = torch.randn(5, 3, 16, 4, 4)
    assert att(x).shape == x.shape
    layouts = {"ta": (5, 3), "ca": (3, 16), "sa": (3, 4, 4)}
    for n in names:
        assert getattr(att, n).last_weights.shape == layouts[n]


def test_gradients_flow_to_input_and_every_weight():
    torch.manual_seed(3)
    att = build_attention("tcsa", T=4, channels=8, t_ratio=2, c_ratio=2)
    x = torch.randn(4, 2, 8, 5, 5, requires_grad=True)
    att(x).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for name, p in att.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_single_step_and_bad_input():
    att = build_attention("csa", channels=4)
    step = torch.randn(2, 4, 3, 3)
    assert torch.allclose(att(step), att(step[None])[0])
    ta = TemporalAttention(T=4)
    with pytest.raises(ModelError, match="T = 4"):
        ta(torch.randn(3, 1, 2, 2, 2))
    with pytest.raises(ModelError, match="unknown attention"):
        build_attention("tx")
    with pytest.raises(ModelError, match="FC layers take TA only"):
        MultiDimAttention("tc", T=4, channels=4, sample_ndim=1)
    with pytest.raises(ModelError, match="4 channels"):
        att(torch.randn(2, 1, 5, 3, 3))
    assert build_attention("none") is None
