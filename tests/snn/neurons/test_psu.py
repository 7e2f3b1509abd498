"""PSU / IPSU / RPSU: hand-worked values and sequential (per-step loop) oracles of the equations."""

import math

import pytest
import torch

from snnstudio.errors import ModelError
from snnstudio.snn.neurons import build_neuron


def _x(shape, seed=0):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) + 0.6


def _leak(x, tau):
    """u_t = (u_{t−1} + x_t)/τ  (= m1·X)."""
    out, u = [], torch.zeros_like(x[0])
    for t in range(x.shape[0]):
        u = (u + x[t]) / tau
        out.append(u)
    return torch.stack(out)


def _minus_leak_past(y, tau):
    """r_t = (r_{t−1} − y_{t−1})/τ, r_0 = 0  (= m2·Y)."""
    out, r = [torch.zeros_like(y[0])], torch.zeros_like(y[0])
    for t in range(1, y.shape[0]):
        r = (r - y[t - 1]) / tau
        out.append(r)
    return torch.stack(out)


def _causal_linear(W, b, x):
    return torch.stack([sum(W[t, j] * x[j] for j in range(t + 1)) + b[t] for t in range(x.shape[0])])


def test_psu_hand_worked():
    n = build_neuron("psu", T=2).double()
    s = n(torch.tensor([[2.0], [2.0]], dtype=torch.float64))
    # u = m1·x = [1, 1.5]; M = u + θ·m2·σ(u) = [1, 1.5 − σ(1)/2]
    want = torch.tensor([1.0, 1.5 - 0.5 / (1 + math.exp(-1))], dtype=torch.float64)
    assert torch.allclose(n.last_v[:, 0], want)
    assert s[:, 0].tolist() == [0.0, 1.0]  # strict: M = θ exactly does not fire


@pytest.mark.parametrize("tau,theta", [(2.0, 1.0), (3.0, 0.5)])
def test_psu_against_sequential(tau, theta):
    T = 7
    n = build_neuron("psu", T=T, tau=tau, v_threshold=theta).double()
    x = _x((T, 3, 4), seed=1)
    s = n(x)
    u = _leak(x, tau)
    m = u + theta * _minus_leak_past(torch.sigmoid(u), tau)
    assert torch.allclose(n.last_v, m, atol=1e-12)
    assert torch.equal(s, (m > theta).double())


def test_ipsu_against_sequential():
    T = 6
    n = build_neuron("ipsu", T=T).double()
    with torch.no_grad():
        n.bias.copy_(torch.linspace(-0.2, 0.3, T).unsqueeze(1))
    x = _x((T, 5), seed=2)
    s = n(x)
    m = _causal_linear(n.weight.detach(), n.bias.detach()[:, 0], x) + _minus_leak_past(x, 2.0)
    assert torch.allclose(n.last_v, m, atol=1e-12)
    assert torch.equal(s, (m > 1.0).double())


def test_rpsu_against_sequential():
    T = 6
    n = build_neuron("rpsu", T=T, tau=2.0, v_threshold=0.5).double()
    x = _x((T, 2, 3), seed=3)
    s = n(x)
    r = _causal_linear(n.weight.detach(), n.bias.detach()[:, 0], x)
    m = _leak(x, 2.0) + _minus_leak_past(torch.sigmoid(r), 2.0)
    assert torch.allclose(n.last_v, m, atol=1e-12)
    assert torch.equal(s, (m > 0.5).double())


@pytest.mark.parametrize("name", ["psu", "ipsu", "rpsu"])
def test_gradients_flow_to_input_weights_and_alpha(name):
    T = 5
    n = build_neuron(name, T=T, v_threshold=0.5)
    x = (torch.randn(T, 8, 6) + 0.5).requires_grad_()
    s = n(x)
    (s * torch.randn_like(s)).sum().backward()
    assert x.grad.abs().sum() > 0
    assert n.surrogate.alpha.grad is not None and n.surrogate.alpha.grad != 0
    if name != "psu":
        assert n.weight.grad.abs().sum() > 0
        assert torch.all(n.weight.grad.triu(1) == 0)  # the future never leaks into the past
    assert n.looks_across_time and not n.supports_single_step


def test_psu_errors():
    with pytest.raises(ModelError, match=r"\[T=4"):
        build_neuron("rpsu", T=4)(torch.zeros(3, 2))
    with pytest.raises(ModelError, match="multi-step only"):
        build_neuron("ipsu", T=4, step_mode="s")


def test_ipsu_and_rpsu_hand_worked():
    ipsu = build_neuron("ipsu", T=2).double()
    with torch.no_grad():
        ipsu.weight.copy_(torch.tensor([[1.0, 9.0], [0.5, 1.0]]))  # 9 sits above the diagonal: masked out
        ipsu.bias.copy_(torch.tensor([[0.0], [0.1]]))
    s = ipsu(torch.tensor([[1.0], [2.0]], dtype=torch.float64))
    # (W⊙tril)·x + b = [1, 0.5 + 2 + 0.1]; m2·x = [0, −0.5·1]  →  M = [1, 2.1]
    assert torch.allclose(ipsu.last_v[:, 0], torch.tensor([1.0, 2.1], dtype=torch.float64))
    assert s[:, 0].tolist() == [0.0, 1.0]
    rpsu = build_neuron("rpsu", T=2).double()
    with torch.no_grad():
        rpsu.weight.copy_(torch.eye(2))
        rpsu.bias.zero_()
    s = rpsu(torch.tensor([[2.0], [2.0]], dtype=torch.float64))
    # m1·x = [1, 1.5]; r = x = [2, 2]; m2·σ(r) = [0, −σ(2)/2]
    want = torch.tensor([1.0, 1.5 - 0.5 / (1 + math.exp(-2))], dtype=torch.float64)
    assert torch.allclose(rpsu.last_v[:, 0], want)
    assert s[:, 0].tolist() == [0.0, 1.0]
