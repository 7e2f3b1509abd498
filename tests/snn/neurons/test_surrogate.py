import math

import pytest
import torch

from snnstudio.errors import ModelError
from snnstudio.snn import surrogate as sg

X = torch.tensor([-2.0, -0.3, -0.1, 0.0, 0.1, 0.2, 0.3, 1.5])


def _grad_of(sur, x, strict=False):
    x = x.clone().requires_grad_()
    s = sur(x, strict)
    s.backward(torch.ones_like(s))
    return s.detach(), x.grad


@pytest.mark.parametrize("name", ["sigmoid", "atan", "triangle", "piecewise_linear", "rectangular", "fastsig", "learnable_atan"])
def test_forward_is_exact_heaviside(name):
    sur = sg.get_surrogate(name)
    s, _ = _grad_of(sur, X)
    assert s.tolist() == [0, 0, 0, 1, 1, 1, 1, 1]  # fires at exactly 0
    s, _ = _grad_of(sur, X, strict=True)
    assert s.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]  # strict: > 0


def test_backward_formulas():
    x = X.double()
    cases = {
        "sigmoid": 4 * torch.sigmoid(4 * x) * (1 - torch.sigmoid(4 * x)),
        "atan": 1.0 / (1 + (math.pi / 2 * 2 * x) ** 2),
        "triangle": torch.clamp(1 - x.abs(), min=0),
        "rectangular": torch.where(x.abs() < 0.25, 2.0, 0.0).double(),
        "fastsig": 1 / (100 * x.abs() + 1) ** 2,
        "learnable_atan": 1.0 / (1 + (math.pi * x) ** 2),
    }
    for name, want in cases.items():
        sur = sg.get_surrogate(name).double()
        _, got = _grad_of(sur, x)
        assert torch.allclose(got, want, atol=1e-12), name
        assert torch.allclose(sur.grad(x), want, atol=1e-12), name


def test_backward_is_derivative_of_smooth_primitive():
    """Independent check: autograd of the smooth function each surrogate stands for."""
    x = torch.linspace(-2, 2, 101, dtype=torch.double)
    prims = {
        sg.Sigmoid(3.0): lambda z: torch.sigmoid(3.0 * z),
        sg.ATan(1.5): lambda z: torch.atan(math.pi / 2 * 1.5 * z) / math.pi,
        sg.FastSigmoid(10.0): lambda z: z / (1 + 10.0 * z.abs()),
    }
    for sur, prim in prims.items():
        z = x.clone().requires_grad_()
        prim(z).sum().backward()
        _, got = _grad_of(sur, x)
        assert torch.allclose(got, z.grad, atol=1e-10), sur


def test_learnable_atan_alpha_gradient():
    sur = sg.LearnableATan(2.0).double()
    x = torch.linspace(-1, 1, 21, dtype=torch.double)
    w = torch.linspace(0.5, 1.5, 21, dtype=torch.double)
    (sur(x) * w).sum().backward()
    a = torch.tensor(2.0, dtype=torch.double, requires_grad=True)
    (w * (torch.atan(math.pi / 2 * a * x) / math.pi)).sum().backward()
    assert torch.allclose(sur.alpha.grad, a.grad)
    assert sur.learnable and not sg.ATan().learnable


def test_matches_spikingjelly_surrogates():
    from spikingjelly.activation_based import surrogate as sjs

    x = torch.randn(200, dtype=torch.float32)
    for ours, theirs in [(sg.Sigmoid(4.0), sjs.Sigmoid(alpha=4.0)), (sg.ATan(2.0), sjs.ATan(alpha=2.0))]:
        a = x.clone().requires_grad_()
        b = x.clone().requires_grad_()
        sa, sb = ours(a), theirs(b)
        assert torch.equal(sa, sb)
        sa.sum().backward()
        sb.sum().backward()
        assert torch.allclose(a.grad, b.grad, atol=1e-7)


def test_bad_surrogate_specs():
    with pytest.raises(ModelError, match="unknown surrogate"):
        sg.get_surrogate("nope")
    with pytest.raises(ModelError, match="name or a Surrogate"):
        sg.get_surrogate(3)
    with pytest.raises(ModelError):
        sg.Rectangular(0.0)
    assert isinstance(sg.get_surrogate(None, "atan"), sg.ATan)
    obj = sg.Triangle(0.5)
    assert sg.get_surrogate(obj) is obj
