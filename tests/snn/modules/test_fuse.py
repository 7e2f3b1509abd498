"""Streaming fusion: conv → BN → avg-pool 2 as one strided conv, against the layers run as built."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from snnstudio.snn.fuse import conv_then_avgpool2, fused_for_streaming
from snnstudio.snn.zoo import build_model, default_config


@pytest.mark.parametrize("k,pad,hw", [(3, 1, (32, 32)), (3, 1, (17, 12)), (5, 2, (16, 21)), (3, 0, (10, 10))])
def test_conv_then_avgpool_is_one_strided_conv(k, pad, hw):
    torch.manual_seed(k + pad)
    conv = nn.Conv2d(4, 6, k, padding=pad, bias=True)
    x = torch.randn(3, 4, *hw, dtype=torch.float64)
    conv = conv.double()
    want = F.avg_pool2d(conv(x), 2)
    got = conv_then_avgpool2(conv)(x)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def _trained_like(model):
    """Non-trivial BN statistics and affine parameters, as after training."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.3)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) * 4 + 1)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.2)
    return model.eval()


@pytest.mark.parametrize("attention", ["tcsa", "none"])
def test_fused_net_gives_the_same_spikes_and_read_out(attention):
    torch.manual_seed(0)
    cfg = default_config("ma_snn_gesture_small", T=6, attention=attention, options={"vote": 2})
    model = _trained_like(build_model(cfg))
    fast = fused_for_streaming(model)
    assert fast is not None and fast is not model
    assert all(layer.pool is None and isinstance(layer.bn, nn.Identity) for layer in (fast.conv2, fast.conv3))
    assert fast.conv2.conv.layer.kernel_size == (4, 4) and fast.conv2.conv.layer.stride == (2, 2)
    assert model.conv2.pool is not None  # the original is untouched
    x = (torch.rand(6, 3, 2, 32, 32) < 0.2).float() * 2
    with torch.inference_mode():
        want = model(x)
        spikes = {n: getattr(model, n).neuron.last_spikes.clone() for n in ("conv1", "conv2", "conv3", "fc1", "fc2")}
        got = fast(x)
    total = flipped = 0
    for n, s in spikes.items():
        other = getattr(fast, n).neuron.last_spikes
        total += s.numel()
        flipped += int((s != other).sum())
        assert s.sum() > 0, f"{n} silent: the comparison would mean nothing"
    assert flipped <= 1e-4 * total  # float rounding may flip a spike sitting on the threshold
    torch.testing.assert_close(got, want, atol=0.02, rtol=0)


def test_nothing_to_fuse_gives_none_and_training_mode_bn_is_left_alone():
    net = nn.Sequential(nn.Linear(4, 3))
    assert fused_for_streaming(net) is None
    cfg = default_config("spikformer_small", T=2, input_size=(2, 16, 16), widths=(32,), options={"heads": 2})
    assert fused_for_streaming(build_model(cfg).eval()) is None


def _attention_pair(kinds, T, C, seed, sample_ndim=3):
    import copy

    from snnstudio.snn.attention import MultiDimAttention
    from snnstudio.snn.fuse import PooledOnceAttention

    torch.manual_seed(seed)
    ref = MultiDimAttention(kinds, T=T, channels=C, t_ratio=2, c_ratio=2, sample_ndim=sample_ndim)
    for p in ref.parameters():  # weights of both signs, so that the MLPs' ReLUs matter
        p.data.normal_(0, 0.8)
    fast = copy.deepcopy(ref)
    fast.__class__ = PooledOnceAttention
    return ref, fast


@pytest.mark.parametrize("kinds", ["tcs", "tc", "ts", "cs", "t", "c", "s"])
@pytest.mark.parametrize("off", [None, "ta", "ca", "sa", "all"])
def test_pooled_once_attention_equals_the_parts_run_in_turn(kinds, off):
    """TA and CA pooled from one pass over the current (the pools of w_t·x from per-step maxima and
    means), SA on their product, ReLU in place: the output and every part's weights equal
    MultiDimAttention's, with any part (or the block) switched off, for B > 1."""
    T, B, C = 5, 3, 6
    ref, fast = _attention_pair(kinds, T, C, seed=len(kinds))
    for m in (ref, fast):
        if off == "all":
            m.enabled = False
        elif off and hasattr(m, off):
            getattr(m, off).enabled = False
    x = torch.randn(T, B, C, 7, 9) * 2 - 0.3
    with torch.inference_mode():
        for m in (ref, fast):  # weights from a run with every part on, which a part switched off must clear
            on = [(p, p.enabled) for p in m.parts()] + [(m, m.enabled)]
            for p, _ in on:
                p.enabled = True
            m(x.clone())
            for p, was in on:
                p.enabled = was
        want, got = ref(x), fast(x.clone())
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    for k in ("ta", "ca", "sa"):
        if hasattr(ref, k):
            a, b = getattr(ref, k).last_weights, getattr(fast, k).last_weights
            assert (a is None) == (b is None), k
            if a is not None:
                torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)
    if off == "all" or (off and kinds == off[0]):
        assert torch.equal(got, x)  # nothing on: the input unchanged, no ReLU


def test_pooled_once_attention_on_fc_layers_and_under_autograd():
    T, B, F_ = 6, 4, 10
    ref, fast = _attention_pair("t", T, F_, seed=3, sample_ndim=1)
    x = torch.randn(T, B, F_)
    with torch.inference_mode():
        torch.testing.assert_close(fast(x), ref(x), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(fast.ta.last_weights, ref.ta.last_weights, rtol=1e-5, atol=1e-6)
    xg = x.clone().requires_grad_()
    fast(xg).sum().backward()  # with autograd it runs the parts as built (no in-place on a graph)
    assert xg.grad is not None and xg.grad.abs().sum() > 0


def test_the_fused_copy_uses_pooled_once_attention():
    from snnstudio.snn.fuse import PooledOnceAttention

    cfg = default_config("ma_snn_gesture_small", T=4, attention="tcsa")
    fast = fused_for_streaming(_trained_like(build_model(cfg)))
    assert isinstance(fast.conv1.attention, PooledOnceAttention) and isinstance(fast.fc1.attention, PooledOnceAttention)
    assert fast.conv1.attention.ta is not None and hasattr(fast.conv1.attention.sa, "last_weights")
