"""The PSU family (Li, Zeng et al., BrainCog): parallel spiking units over a fixed T.

With the T×T lower-triangular leak matrices ``m1[i,j] = (1/τ)^(i−j+1)`` (i ≥ j) and
``m2[i,j] = −(1/τ)^(i−j)`` (i > j) (see :func:`~snnstudio.snn.functional.parallel.leak_matrices`):

* ``psu``:  ``M = m1·X + θ·m2·σ(m1·X)`` — the reset is replaced by a soft, sigmoid estimate
  (σ = logistic sigmoid) of the spikes, leaked like the charge;
* ``ipsu``: ``M = (W⊙tril)·X + b + m2·X``;
* ``rpsu``: ``M = m1·X + m2·σ((W⊙tril)·X + b)``;

``S = Θ(M − θ)`` with strict ``>``, ATan surrogate whose α is learnable (``learnable_atan``).
``W``, ``b`` as ``nn.Linear(T, T)``: kaiming-normal (fan_out) weight, zero bias. Defaults θ = 1,
τ = 2 (their DVS scripts use θ = 0.5, T = 10). The leak 1/τ equals SpikingJelly's 1 − 1/τ only at
τ = 2. Everything is matmuls over T; no single-step (stream on a window of the last T steps).
``last_v`` is ``M``.
"""

from __future__ import annotations

import torch
from torch import nn

from snnstudio.snn.functional.parallel import leak_matrices, time_matmul
from snnstudio.snn.neurons.psn import _FixedTNeuron
from snnstudio.snn.neurons.base import register_neuron
from snnstudio.snn.surrogate import Surrogate, get_surrogate


class _PSUBase(_FixedTNeuron):
    uses_linear = False

    def __init__(self, T: int, tau: float = 2.0, v_threshold: float = 1.0,
                 surrogate: str | Surrogate | None = "learnable_atan", step_mode: str = "m", record: bool = True):
        super().__init__(T, step_mode, record)
        self.tau = float(tau)
        self.v_threshold = float(v_threshold)
        self.surrogate = get_surrogate(surrogate, "learnable_atan")
        m1, m2 = leak_matrices(T, self.tau)
        self.register_buffer("m1", m1)
        self.register_buffer("m2", m2)
        if self.uses_linear:
            self.weight = nn.Parameter(torch.empty(T, T))
            nn.init.kaiming_normal_(self.weight, mode="fan_out")
            self.bias = nn.Parameter(torch.zeros(T, 1))
            self.register_buffer("tril", torch.tril(torch.ones(T, T)))

    def membrane(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        m = self.membrane(x)
        s = self.surrogate(m - self.v_threshold, strict=True)
        self._keep(m, s)
        return s

    def extra_repr(self):
        return f"T={self.T}, tau={self.tau}, v_threshold={self.v_threshold}, " + super().extra_repr()


@register_neuron("psu")
class PSU(_PSUBase):
    def membrane(self, x):
        """``H = M1·X + θ·M2·σ(M1·X)`` over the time axis: ``[T, ...]`` → ``[T, ...]``."""
        u = time_matmul(self.m1, x)
        return u + self.v_threshold * time_matmul(self.m2, torch.sigmoid(u))


@register_neuron("ipsu")
class IPSU(_PSUBase):
    uses_linear = True

    def membrane(self, x):
        """``H = (tril(W) + M2)·X + b`` over the time axis (one matmul): ``[T, ...]`` → ``[T, ...]``."""
        return time_matmul(self.weight * self.tril + self.m2, x, self.bias)  # one matmul


@register_neuron("rpsu")
class RPSU(_PSUBase):
    uses_linear = True

    def membrane(self, x):
        """``H = M1·X + M2·σ(tril(W)·X + b)`` over the time axis: ``[T, ...]`` → ``[T, ...]``."""
        r = time_matmul(self.weight * self.tril, x, self.bias)
        return time_matmul(self.m1, x) + time_matmul(self.m2, torch.sigmoid(r))
