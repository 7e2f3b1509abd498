"""Surrogate gradients: the exact Heaviside step forward, a smooth derivative backward.

Every surrogate is a small ``nn.Module`` with

* ``grad(x)`` — the pure derivative used backward (also used by the hand-written LIF kernel in
  :mod:`snnstudio.snn.functional.lif`, which needs the formula, not an autograd graph);
* ``forward(x, strict=False)`` — spikes ``Θ(x)`` as floats: ``x ≥ 0`` fires (SpikingJelly: a neuron
  fires at exactly the threshold) or, with ``strict=True``, ``x > 0`` (MA-SNN, MS-ResNet, PSU,
  ParaLIF fire on ``>``).

Formulas (``x`` is the distance to the threshold):

========================  ==============================================  ===========
name                      backward ``dΘ/dx``                              default
========================  ==============================================  ===========
``sigmoid``               ``α·σ(αx)·(1 − σ(αx))``                          α = 4
``atan``                  ``(α/2) / (1 + (π/2·α·x)²)``                     α = 2
``triangle``              ``max(0, 1 − |x|/γ) / γ`` (piecewise linear)     γ = 1
``rectangular``           ``1/(2a)`` on ``|x| < a``, else 0 (MA-SNN)       a = 0.25
``fastsig``               ``1 / (s·|x| + 1)²`` (SuperSpike; ParaLIF)       s = 100
``learnable_atan``        as ``atan``; α is an ``nn.Parameter`` (PSU)      α = 2
========================  ==============================================  ===========

``learnable_atan`` also returns ``dL/dα``: the smooth function is ``atan(π/2·α·x)/π + 1/2``, so
``∂/∂α = x / (2·(1 + (π/2·α·x)²))``. Neurons take ``surrogate=`` as a name or an instance;
:func:`get_surrogate` resolves it.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from snnstudio.errors import ModelError


def heaviside(x: torch.Tensor, strict: bool = False) -> torch.Tensor:
    """``Θ(x)`` as ``x.dtype``: 1 where ``x ≥ 0`` (``x > 0`` if ``strict``), else 0."""
    return (x > 0 if strict else x >= 0).to(x.dtype)


class _SpikeFn(torch.autograd.Function):
    """Heaviside forward, ``grad_output · surrogate.grad(x)`` backward."""

    @staticmethod
    def forward(ctx, x, surrogate, strict):  # noqa: D401
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        return heaviside(x, strict)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return ctx.surrogate.grad(x).mul_(grad_out), None, None


class Surrogate(nn.Module):
    """Base class. Subclasses define :meth:`grad`."""

    name = "base"

    def grad(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """The surrogate derivative ``dΘ/dx`` at ``x`` (the membrane minus the threshold), same shape."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor, strict: bool = False) -> torch.Tensor:
        """Spikes ``Θ(x)`` (0/1 as ``x.dtype``; fires at ``x ≥ 0``, ``x > 0`` when ``strict``) with :meth:`grad`
        as the backward."""
        return _SpikeFn.apply(x, self, strict)

    @property
    def learnable(self) -> bool:
        """Whether the surrogate has trained parameters (the native kernels then do not apply)."""
        return any(p.requires_grad for p in self.parameters())


class Sigmoid(Surrogate):
    name = "sigmoid"

    def __init__(self, alpha: float = 4.0):
        super().__init__()
        self.alpha = float(alpha)

    def grad(self, x):
        """``α·σ(αx)·(1 − σ(αx))``."""
        sg = torch.sigmoid(self.alpha * x)
        # α·σ·(1 − σ) in one fused kernel
        return torch.ops.aten.sigmoid_backward(sg.new_full((), self.alpha).expand_as(sg), sg)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class ATan(Surrogate):
    name = "atan"

    def __init__(self, alpha: float = 2.0):
        super().__init__()
        self.alpha = float(alpha)

    def grad(self, x):
        """``(α/2) / (1 + (π/2·α·x)²)``."""
        t = x * (math.pi / 2.0 * self.alpha)
        return t.square_().add_(1.0).reciprocal_().mul_(self.alpha / 2.0)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class Triangle(Surrogate):
    """Piecewise-linear ("triangle") surrogate of half-width γ and unit area."""

    name = "triangle"

    def __init__(self, gamma: float = 1.0):
        super().__init__()
        if gamma <= 0:
            raise ModelError(f"triangle surrogate: gamma must be > 0, got {gamma}")
        self.gamma = float(gamma)

    def grad(self, x):
        """``max(0, 1 − |x|/γ) / γ``."""
        return (1.0 - x.abs() / self.gamma).clamp_min(0.0) / self.gamma

    def extra_repr(self):
        return f"gamma={self.gamma}"


class Rectangular(Surrogate):
    """MA-SNN / MS-ResNet box: height ``1/(2a)`` on ``|x| < a`` (a = 0.25 → height 2)."""

    name = "rectangular"

    def __init__(self, width: float = 0.25):
        super().__init__()
        if width <= 0:
            raise ModelError(f"rectangular surrogate: width must be > 0, got {width}")
        self.width = float(width)

    def grad(self, x):
        """``1/(2w)`` where ``|x| < w``, else 0."""
        return (x.abs() < self.width).to(x.dtype) / (2.0 * self.width)

    def extra_repr(self):
        return f"width={self.width}"


class FastSigmoid(Surrogate):
    """SuperSpike's fast sigmoid derivative ``1/(s|x|+1)²`` (ParaLIF's ``fastsig``, s = 100)."""

    name = "fastsig"

    def __init__(self, scale: float = 100.0):
        super().__init__()
        self.scale = float(scale)

    def grad(self, x):
        """``1 / (s·|x| + 1)²`` (SuperSpike)."""
        return 1.0 / (self.scale * x.abs() + 1.0).square()

    def extra_repr(self):
        return f"scale={self.scale}"


class _LearnableATanFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, alpha, strict):
        ctx.save_for_backward(x, alpha)
        return heaviside(x, strict)

    @staticmethod
    def backward(ctx, grad_out):
        x, alpha = ctx.saved_tensors
        denom = 1.0 + (math.pi / 2.0 * alpha * x).square()
        gx = grad_out * (alpha / 2.0) / denom if ctx.needs_input_grad[0] else None
        ga = (grad_out * x / (2.0 * denom)).sum().reshape(alpha.shape) if ctx.needs_input_grad[1] else None
        return gx, ga, None


class LearnableATan(Surrogate):
    """ATan surrogate whose α is learned (BrainCog's PSU family)."""

    name = "learnable_atan"

    def __init__(self, alpha: float = 2.0):
        super().__init__()
        self.alpha = nn.Parameter(torch.tensor(float(alpha)))

    def grad(self, x):
        """``(α/2) / (1 + (π/2·α·x)²)`` with the current (trained) α."""
        a = self.alpha.detach()
        return (a / 2.0) / (1.0 + (math.pi / 2.0 * a * x).square())

    def forward(self, x, strict: bool = False):
        """Spikes ``Θ(x)``; the backward also trains α."""
        return _LearnableATanFn.apply(x, self.alpha, strict)


SURROGATES: dict[str, type[Surrogate]] = {
    "sigmoid": Sigmoid,
    "atan": ATan,
    "triangle": Triangle,
    "piecewise_linear": Triangle,
    "rectangular": Rectangular,
    "fastsig": FastSigmoid,
    "learnable_atan": LearnableATan,
}


def get_surrogate(spec: str | Surrogate | None, default: str = "sigmoid") -> Surrogate:
    """Resolve ``surrogate=``: a registered name (with its default parameter), an instance, or None → ``default``."""
    if spec is None:
        spec = default
    if isinstance(spec, Surrogate):
        return spec
    if isinstance(spec, str):
        try:
            return SURROGATES[spec]()
        except KeyError:
            raise ModelError(f"unknown surrogate {spec!r}; known: {', '.join(sorted(SURROGATES))}") from None
    raise ModelError(f"surrogate must be a name or a Surrogate, got {type(spec).__name__}")
