"""ParaLIF: hand-worked values, FFT (parallel) == sequential recurrences, single == multi, the stochastic modes."""

import math

import pytest
import torch

from snnstudio.errors import ModelError
from snnstudio.snn.neurons import build_neuron

DETERMINISTIC = ["t", "st", "tt", "d", "sd", "td"]


def _sequential_v(x, alpha, beta):
    i = torch.zeros_like(x[0])
    v = torch.zeros_like(x[0])
    out = []
    for t in range(x.shape[0]):
        i = alpha * i + x[t]
        v = beta * v + (1 - beta) * i
        out.append(v)
    return torch.stack(out)


def _quantity(mode, v):
    q = {"t": v, "d": v, "st": torch.sigmoid(v), "sd": torch.sigmoid(v), "tt": torch.tanh(v), "td": torch.tanh(v)}[mode]
    if mode in ("d", "sd", "td"):
        q = q - torch.cat([torch.zeros_like(q[:1]), q[:-1]])
    return q


def test_hand_worked_membrane():
    n = build_neuron("paralif_t")
    n(torch.tensor([[1.0], [0.0], [0.0]]))
    e = math.exp(-1)
    v0 = 1 - e
    v1 = e * v0 + (1 - e) * e
    v2 = e * v1 + (1 - e) * e * e
    assert torch.allclose(n.last_membrane[:, 0], torch.tensor([v0, v1, v2]), atol=1e-6)


@pytest.mark.parametrize("method", ["fft", "matmul"])
@pytest.mark.parametrize("mode", DETERMINISTIC)
def test_parallel_equals_sequential_oracle(mode, method):
    theta = 0.05 if mode in ("d", "sd", "td") else 0.6
    n = build_neuron(f"paralif_{mode}", tau_mem=2e-3, tau_syn=3e-3, v_threshold=theta).double()
    n.fft_min_T = 1 if method == "fft" else 10**9
    x = torch.randn(20, 3, 7, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2
    s = n(x)
    v = _sequential_v(x, math.exp(-1 / 3), math.exp(-1 / 2))
    q = _quantity(mode, v)
    assert torch.allclose(n.last_membrane, v, atol=1e-10)
    assert torch.allclose(n.last_v, q, atol=1e-10)
    assert 0 < s.mean() < 1
    assert torch.equal(s, (q > theta).double())


@pytest.mark.parametrize("mode", DETERMINISTIC)
def test_single_step_equals_multi_step(mode):
    theta = 0.05 if mode in ("d", "sd", "td") else 0.6
    multi = build_neuron(f"paralif_{mode}", v_threshold=theta).double()
    single = build_neuron(f"paralif_{mode}", v_threshold=theta, step_mode="s").double()
    x = torch.randn(15, 4, 5, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * 2
    xm = x.clone().requires_grad_()
    sm = multi(xm)
    w = torch.randn(sm.shape, dtype=torch.float64)
    (sm * w).sum().backward()
    xs = x.clone().requires_grad_()
    outs, qs = [], []
    for t in range(x.shape[0]):
        outs.append(single(xs[t]))
        qs.append(single.last_v)
    ss = torch.stack(outs)
    (ss * w).sum().backward()
    assert torch.allclose(torch.stack(qs), multi.last_v, atol=1e-10)
    assert torch.equal(ss.detach(), sm.detach())
    assert torch.allclose(xs.grad, xm.grad, atol=1e-9)
    assert xm.grad.abs().sum() > 0
    single.reset()
    assert torch.equal(single(x[0]), sm[0].detach())


def test_fastsig_gradient_through_threshold_mode():
    n = build_neuron("paralif_t", v_threshold=0.3).double()
    x = torch.tensor([[0.5, -1.0, 2.0]], dtype=torch.float64, requires_grad=True)  # T = 1: V = (1 − β)·x
    n(x).sum().backward()
    k = 1 - math.exp(-1)
    want = k / (100 * (k * x.detach() - 0.3).abs() + 1) ** 2
    assert torch.allclose(x.grad, want)


def test_sigmoid_bernoulli_statistics_and_straight_through_grad():
    torch.manual_seed(0)
    n = build_neuron("paralif_sb").double()
    x = torch.tensor([[-2.0, 0.0, 1.0, 3.0]], dtype=torch.float64).expand(1, 4).repeat(1, 20000).requires_grad_()
    s = n(x)
    assert set(s.unique().tolist()) <= {0.0, 1.0}
    k = 1 - math.exp(-1)
    p = torch.sigmoid(k * torch.tensor([-2.0, 0.0, 1.0, 3.0], dtype=torch.float64))
    rate = s.view(20000, 4).mean(0) if False else s[0].view(20000, 4).mean(0)
    assert torch.allclose(rate, p, atol=0.015)
    s.sum().backward()
    want = (p * p * (1 - p) * k).repeat(20000)  # d/dx of straight-through: grad·p, through σ and (1 − β)
    assert torch.allclose(x.grad[0], want)


def test_gumbel_softmax_fires_with_probability_sigmoid_2v():
    torch.manual_seed(1)
    n = build_neuron("paralif_gs").double()
    vals = torch.tensor([-1.0, 0.0, 0.8], dtype=torch.float64)
    x = vals.repeat(20000).unsqueeze(0).requires_grad_()
    s = n(x)
    k = 1 - math.exp(-1)
    rate = s[0].view(20000, 3).mean(0)
    assert torch.allclose(rate, torch.sigmoid(2 * k * vals), atol=0.015)
    s.sum().backward()
    assert x.grad.abs().sum() > 0
    assert n.v_threshold is None


def test_gumbel_spikes_are_the_logistic_form_with_its_straight_through_gradient():
    """The two-logit Gumbel softmax by hand: spike where 2v + logit(u) > 0, gradient of
    σ(2v + logit(u)) — the same draw ``u`` (same seed), and no soft part without autograd."""
    from snnstudio.snn.neurons.paralif import gumbel_spikes

    v = torch.linspace(-2, 2, 101, dtype=torch.float64).requires_grad_()
    torch.manual_seed(7)
    s = gumbel_spikes(v)
    torch.manual_seed(7)
    z = 2 * v.detach() + torch.logit(torch.rand_like(v), eps=1e-7)
    assert torch.equal(s.detach(), (z > 0).double())
    s.sum().backward()
    sig = torch.sigmoid(z)
    assert torch.allclose(v.grad, 2 * sig * (1 - sig))
    with torch.no_grad():
        torch.manual_seed(7)
        assert torch.equal(gumbel_spikes(v), (z > 0).double())


def test_learn_tau_gets_gradients_and_errors():
    n = build_neuron("paralif_d", learn_tau=True, v_threshold=0.01)
    x = torch.randn(10, 6, 4)
    s = n(x)
    (s * torch.randn_like(s)).sum().backward()
    assert n.taus.grad is not None and n.taus.grad.abs().sum() > 0
    with pytest.raises(ModelError, match="> 0"):
        build_neuron("paralif_t", tau_mem=0.0)
    with pytest.raises(ModelError, match="float"):
        build_neuron("paralif_t")(torch.ones(3, 2, dtype=torch.int32))
