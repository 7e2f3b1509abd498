"""PSN, masked PSN, sliding PSN: SpikingJelly oracle, sequential oracle, single == multi."""

import pytest
import torch

from snnstudio.errors import ModelError
from snnstudio.snn.neurons import build_neuron

sjn = pytest.importorskip("spikingjelly.activation_based.neuron")


def backward_with(out, seed=7):
    w = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed), dtype=out.dtype)
    (out * w).sum().backward()


def _x(shape, seed=0):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed)) * 1.5 + 0.5


def _run(n, x):
    x = x.clone().requires_grad_()
    s = n(x)
    backward_with(s)
    return s.detach(), x.grad


def test_psn_matches_spikingjelly():
    T = 8
    ours = build_neuron("psn", T=T)
    theirs = sjn.PSN(T=T)
    theirs.load_state_dict(ours.state_dict())
    x = _x((T, 4, 5, 3))
    s1, g1 = _run(ours, x)
    s2, g2 = _run(theirs, x)
    assert 0 < s1.mean() < 1 and torch.equal(s1, s2)
    assert torch.allclose(g1, g2, atol=1e-5)
    assert torch.allclose(ours.weight.grad, theirs.weight.grad, atol=1e-5)
    assert torch.allclose(ours.bias.grad, theirs.bias.grad, atol=1e-5)
    assert torch.all(ours.bias.detach() == -1.0)


def test_psn_against_sequential_form():
    T = 6
    n = build_neuron("psn", T=T)
    x = _x((T, 3, 2), seed=2)
    s = n(x)
    W, b = n.weight.detach(), n.bias.detach()[:, 0]
    for t in range(T):
        h = sum(W[t, j] * x[j] for j in range(T)) + b[t]
        assert torch.allclose(n.last_v[t], h, atol=1e-5)
        assert torch.equal(s[t], (h >= 0).float()) or (h.abs() < 1e-5).any()


@pytest.mark.parametrize("lam", [0.0, 0.4, 1.0])
def test_masked_psn_matches_spikingjelly(lam):
    T, k = 8, 3
    ours = build_neuron("masked_psn", k=k, T=T)
    theirs = sjn.MaskedPSN(k=k, T=T, step_mode="m")
    with torch.no_grad():
        theirs.weight.copy_(ours.weight)
    ours.lambda_ = lam
    theirs.lambda_ = lam
    x = _x((T, 4, 6), seed=3)
    s1, g1 = _run(ours, x)
    s2, g2 = _run(theirs, x)
    assert torch.equal(s1, s2)
    assert torch.allclose(g1, g2, atol=1e-5)
    assert torch.allclose(ours.weight.grad, theirs.weight.grad, atol=1e-5)
    if lam >= 1.0:  # only the last k inputs count: changing an older input changes nothing at t
        x2 = x.clone()
        x2[0] += 100.0
        ours(x2)
        h2 = ours.last_v
        ours(x)
        assert torch.equal(h2[k:], ours.last_v[k:]) and not torch.equal(h2[:k], ours.last_v[:k])


@pytest.mark.parametrize("exp_init", [True, False])
def test_sliding_psn_matches_spikingjelly(exp_init):
    k = 3
    ours = build_neuron("sliding_psn", k=k, exp_init=exp_init)
    theirs = sjn.SlidingPSN(k=k, exp_init=exp_init, step_mode="m")
    theirs.load_state_dict(ours.state_dict())
    if exp_init:
        assert ours.weight.tolist() == [0.25, 0.5, 1.0]
    x = _x((7, 5, 4), seed=4)
    s1, g1 = _run(ours, x)
    s2, g2 = _run(theirs, x)
    assert torch.equal(s1, s2)
    assert torch.allclose(g1, g2, atol=1e-5)
    assert torch.allclose(ours.weight.grad, theirs.weight.grad, atol=1e-5)
    assert torch.allclose(ours.bias.grad, theirs.bias.grad, atol=1e-5)


def test_sliding_psn_single_step_equals_multi_and_spikingjelly():
    k, T = 3, 9
    multi = build_neuron("sliding_psn", k=k)
    single = build_neuron("sliding_psn", k=k, step_mode="s")
    with torch.no_grad():
        multi.weight.copy_(torch.tensor([0.3, -0.7, 1.1]))
        single.load_state_dict(multi.state_dict())
    theirs = sjn.SlidingPSN(k=k, step_mode="s")
    theirs.load_state_dict(multi.state_dict())
    x = _x((T, 6), seed=5)
    xm = x.clone().requires_grad_()
    sm = multi(xm)
    backward_with(sm)
    xs = x.clone().requires_grad_()
    outs, hs = [], []
    for t in range(T):
        outs.append(single(xs[t]))
        hs.append(single.last_v)
        assert torch.equal(outs[-1], theirs(x[t]))
    ss = torch.stack(outs)
    backward_with(ss)
    assert torch.allclose(torch.stack(hs), multi.last_v, atol=1e-5)
    assert torch.equal(ss.detach(), sm.detach())
    assert torch.allclose(xs.grad, xm.grad, atol=1e-5)
    single.reset()
    assert torch.equal(single(x[0]), sm[0].detach())


def test_psn_contract_and_errors():
    n = build_neuron("psn", T=4)
    assert n.looks_across_time and not n.supports_single_step
    assert build_neuron("sliding_psn", k=2).supports_single_step
    with pytest.raises(ModelError, match=r"T=4"):
        n(torch.zeros(5, 2))
    with pytest.raises(ModelError, match="multi-step only"):
        build_neuron("psn", T=4, step_mode="s")
    with pytest.raises(ModelError, match="T must be"):
        build_neuron("psn", T=0)
    with pytest.raises(ModelError, match="k must be"):
        build_neuron("sliding_psn", k=0)
    with pytest.raises(ModelError, match="psn"):
        build_neuron("psn")  # T is required
