"""ParaLIF (Yarga & Wood, NECOTIS ``ParaLIF/paralif.py``): a LIF without reset, so it parallelises.

``I_t = α·I_{t−1} + X_t``, ``V_t = β·V_{t−1} + (1 − β)·I_t`` (``I_{−1} = V_{−1} = 0``),
``α = exp(−dt/τ_syn)``, ``β = exp(−dt/τ_mem)`` (defaults 1 ms / 1 ms / 1 ms give e⁻¹). Multi-step
computes V as one causal FFT convolution over T; single-step runs the two IIR recurrences with
kept state (real streaming). (For T < ``fft_min_T`` = 64 the same convolution runs as one ``[T, T]``
lower-triangular Toeplitz matmul, which is faster than FFTs at DVS time scales.) Spike functions, one registered name each:

=========  =======================================================================
``sb``     Bernoulli(σ(V)); backward straight-through times p (``grad·p``)
``gs``     hard Gumbel-softmax over (V, −V), temperature 1 (straight-through)
``t``      Θ(V − θ);  ``st``: Θ(σ(V) − θ);  ``tt``: Θ(tanh(V) − θ)
``d``      Θ((V_t − V_{t−1}) − θ) with V_{−1} = 0;  ``sd`` / ``td`` on σ(V) / tanh(V)
=========  =======================================================================

Thresholding is strict (``>``), surrogate ``fastsig`` ``1/(100|x|+1)²``; θ = 1 (their examples use
0.01 for the D modes). ``learn_tau=True`` makes τ_mem, τ_syn learnable. ``last_v`` is the quantity
compared with θ (V, σ(V), tanh(V) or its rise; σ(V) for ``sb``; V for ``gs``); ``last_membrane``
is V itself.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from snnstudio.errors import ModelError
from snnstudio.snn.functional.parallel import causal_conv_fft, causal_toeplitz, paralif_kernel, time_matmul
from snnstudio.snn.neurons.base import SpikingNeuron, register_neuron
from snnstudio.snn.surrogate import Surrogate, get_surrogate

SPIKE_MODES = ("SB", "GS", "D", "SD", "TD", "T", "ST", "TT")


class _BernoulliST(torch.autograd.Function):
    """Spikes ~ Bernoulli(p); backward ``grad·p`` (ParaLIF's StochasticStraightThrough)."""

    @staticmethod
    def forward(ctx, p):
        ctx.save_for_backward(p)
        # u < p with u ~ U(0, 1) is Bernoulli(p); torch's bernoulli_ draws element by element (2× slower)
        return (torch.rand_like(p) < p).to(p.dtype)

    @staticmethod
    def backward(ctx, g):
        (p,) = ctx.saved_tensors
        return g * p


def gumbel_spikes(v: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    """Hard Gumbel-softmax over the two logits (v, −v): spike where the first wins; straight-through.

    With two logits the softmax is ``σ((2v + g₀ − g₁)/τ)``, and the difference of two independent
    standard Gumbel draws is a standard logistic draw, ``logit(u)`` for ``u ~ U(0, 1)``: one random
    number and one log per element instead of two of each, a stack and a softmax (4× faster on
    CPU, the same distribution and the same straight-through gradient). Without autograd only the
    hard spikes are made, as ``u > σ(−2v)``: the same spikes from the same draw, without the log."""
    u = torch.rand_like(v)
    if not (torch.is_grad_enabled() and v.requires_grad):
        # 2v + logit(u) > 0  ⇔  u > σ(−2v): the same spikes from the same draw, without the log
        return (u > torch.sigmoid(-2.0 * v)).to(v.dtype)
    z = 2.0 * v + torch.logit(u, eps=1e-7)
    y_soft = torch.sigmoid(z / tau)
    y_hard = (z > 0).to(v.dtype)
    return y_hard - y_soft.detach() + y_soft


def _normalise(mode: str):
    if mode in ("SB", "SD", "ST"):
        return torch.sigmoid
    if mode in ("TD", "TT"):
        return torch.tanh
    return lambda v: v


class ParaLIF(SpikingNeuron):
    """ParaLIF neuron (no weights of its own: put it after a Linear/Conv). Layout ``[T, ...]``."""

    spike_mode = "T"
    #: from this T on, the causal convolution runs as FFTs; below, as a Toeplitz matmul
    fft_min_T = 64

    def __init__(self, tau_mem: float = 1e-3, tau_syn: float = 1e-3, dt: float = 1e-3, v_threshold: float = 1.0,
                 learn_tau: bool = False, surrogate: str | Surrogate | None = "fastsig",
                 step_mode: str = "m", record: bool = True):
        super().__init__(step_mode, record)
        if min(tau_mem, tau_syn, dt) <= 0:
            raise ModelError(f"{type(self).__name__}: tau_mem, tau_syn and dt must be > 0")
        self.dt = float(dt)
        self._tau_const = (float(tau_mem), float(tau_syn))
        taus = torch.tensor(self._tau_const)
        if learn_tau:
            self.taus = nn.Parameter(taus)
        else:
            self.register_buffer("taus", taus, persistent=False)
        self.learn_tau = learn_tau
        stochastic = self.spike_mode in ("SB", "GS")
        self.v_threshold = None if stochastic else float(v_threshold)
        self._theta = float(v_threshold)
        self.surrogate = get_surrogate(surrogate, "fastsig")
        self._norm = _normalise(self.spike_mode)
        self.last_membrane: torch.Tensor | None = None
        self._state: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None  # I, V, previous normalised V

    def _decay(self, i: int) -> torch.Tensor:
        if self.learn_tau:
            return torch.exp(-self.dt / self.taus[i])
        return torch.tensor(math.exp(-self.dt / self._tau_const[i]), dtype=torch.float64, device=self.taus.device)

    @property
    def alpha(self) -> torch.Tensor:
        """Synaptic decay ``exp(−dt/τ_syn)``."""
        return self._decay(1)

    @property
    def beta(self) -> torch.Tensor:
        """Membrane decay ``exp(−dt/τ_mem)``."""
        return self._decay(0)

    def reset(self) -> None:
        """Clear the kept state and the probe records (the next input starts from rest)."""
        super().reset()
        self.last_membrane = None
        self._state = None

    def _fire(self, q: torch.Tensor, q_prev: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Spikes from the normalised membrane ``q`` (``q_prev``: the step before, for the D modes)."""
        mode = self.spike_mode
        if mode == "SB":
            return _BernoulliST.apply(q), q
        if mode == "GS":
            return gumbel_spikes(q), q
        if mode in ("D", "SD", "TD"):
            q = q - q_prev
        return self.surrogate(q - self._theta, strict=True), q

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Spikes of input current ``x``: multi-step ``[T, ...]`` (V as one causal convolution over T) or one
        step ``[...]`` (the recurrences, state carried). Float input only."""
        if not torch.is_floating_point(x):
            raise ModelError(f"{self.registry_name}: input must be a float tensor, got {x.dtype}")
        if self.step_mode == "s":
            a, b = self.alpha.to(x.dtype), self.beta.to(x.dtype)
            if self._state is None:
                z = torch.zeros_like(x)
                self._state = (z, z, z)
            i_prev, v_prev, q_prev = self._state
            i = a * i_prev + x
            v = b * v_prev + (1.0 - b) * i
            q = self._norm(v)
            s, shown = self._fire(q, q_prev)
            self._state = (i, v, q)
        else:
            if x.dim() < 1 or x.shape[0] == 0:
                raise ModelError(f"{self.registry_name}: multi-step input must be [T, ...], got {tuple(x.shape)}")
            T = x.shape[0]
            kernel = paralif_kernel(self.alpha.to(x.dtype), self.beta.to(x.dtype), T)
            if T >= self.fft_min_T:
                v = causal_conv_fft(x, kernel)
            else:  # short sequences: one [T, T] matmul beats two FFTs over 2T
                v = time_matmul(causal_toeplitz(kernel), x)
            q = self._norm(v)
            q_prev = F.pad(q, [0, 0] * (q.dim() - 1) + [1, 0])[:-1] if self.spike_mode in ("D", "SD", "TD") else None
            s, shown = self._fire(q, q_prev)
        if self.record:
            self.last_membrane = v.detach()
        self._keep(shown, s)
        return s

    def extra_repr(self):
        t = self.taus.detach()
        return f"tau_mem={float(t[0]):.3g}, tau_syn={float(t[1]):.3g}, dt={self.dt}, v_threshold={self._theta}, " + super().extra_repr()


def _make(mode: str):
    cls = type(f"ParaLIF_{mode}", (ParaLIF,), {"spike_mode": mode, "__doc__": f"ParaLIF, spike mode {mode}."})
    register_neuron(f"paralif_{mode.lower()}")(cls)
    return cls


PARALIF_CLASSES = {m: _make(m) for m in SPIKE_MODES}
