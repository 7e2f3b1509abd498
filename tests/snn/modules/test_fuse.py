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
