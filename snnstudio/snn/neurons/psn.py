"""The PSN family (Fang et al., "Parallel Spiking Neurons", SpikingJelly 2.0 ``neuron.psn``).

* ``psn``: ``H = W·X + b`` over time (``W`` ``[T, T]`` kaiming-uniform a=√5, ``b`` ``[T, 1]`` = −1,
  the bias acts as a negative threshold), ``S = Θ(H)`` (fires at 0), ATan surrogate.
* ``masked_psn``: ``W`` blended with the band mask of order k, ``(λ·M_k + (1 − λ)·J)⊙W``; the
  trainer ramps ``lambda_`` from 0 to 1 (set ``neuron.lambda_ = value``).
* ``sliding_psn``: k shared weights (``exp_init``: ``[…, 1/4, 1/2, 1]``), scalar bias −1; a
  banded Toeplitz matrix for any T. Streams: single-step keeps the last k inputs.

``psn`` and ``masked_psn`` are defined for one fixed T: they look across time and do not run
single-step. A streaming engine runs them on a sliding window of the last T input steps (a
``[T, ...]`` ring buffer) and keeps the last output step each tick. (SpikingJelly lets masked PSN
run T single steps once λ = 1; the window is the general answer.)

``last_v`` is ``H`` (compared with 0, so ``v_threshold = 0``).

Multi-step runs :func:`~snnstudio.snn.functional.parallel.parallel_spike`: with ``backend="auto"``
(default) the fused C kernel (built on the first forward that needs gradients, as for the LIF),
with ``backend="plain"`` the eager ``addmm`` + surrogate, the oracle.
"""

from __future__ import annotations

import math
from collections import deque

import torch
from torch import nn

from snnstudio.errors import ModelError
from snnstudio.snn.functional import native
from snnstudio.snn.functional.parallel import band_mask, parallel_spike, sliding_matrix
from snnstudio.snn.neurons.base import SpikingNeuron, register_neuron
from snnstudio.snn.surrogate import Surrogate, get_surrogate


def _check_T(T, name: str) -> int:
    if not isinstance(T, int) or isinstance(T, bool) or T < 1:
        raise ModelError(f"{name}: T must be a positive int, got {T!r}")
    return T


BACKENDS = ("auto", "plain")


def _check_backend(backend: str, name: str) -> str:
    if backend not in BACKENDS:
        raise ModelError(f"{name}: backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    return backend


def _use_native(module: nn.Module, x: torch.Tensor) -> bool:
    """Run the C kernel? Built on demand only when the call needs gradients (a training step)."""
    if module.backend == "plain" or not native.supports(x, module.surrogate):
        return False
    if native.load() is not None:
        return True
    training = torch.is_grad_enabled() and (x.requires_grad or any(p.requires_grad for p in module.parameters()))
    return training and native.build() is not None


class _FixedTNeuron(SpikingNeuron):
    supports_single_step = False
    looks_across_time = True

    def __init__(self, T: int, step_mode: str = "m", record: bool = True):
        super().__init__(step_mode, record)
        self.T = _check_T(T, type(self).__name__)
        if step_mode != "m":
            raise ModelError(f"{type(self).__name__} runs multi-step only (it looks across T={T} steps); "
                             "stream it on a sliding window of the last T steps")

    def _check(self, x: torch.Tensor) -> None:
        if self.step_mode != "m":
            raise ModelError(f"{type(self).__name__} runs multi-step only")
        if x.dim() < 1 or x.shape[0] != self.T:
            raise ModelError(f"{type(self).__name__}: input must be [T={self.T}, ...], got {tuple(x.shape)}")


@register_neuron("psn")
class PSN(_FixedTNeuron):
    """Parallel spiking neuron: ``S = Θ(W·X + b)``."""

    def __init__(self, T: int, surrogate: str | Surrogate | None = "atan", step_mode: str = "m", record: bool = True,
                 backend: str = "auto"):
        super().__init__(T, step_mode, record)
        self.backend = _check_backend(backend, type(self).__name__)
        self.surrogate = get_surrogate(surrogate, "atan")
        self.weight = nn.Parameter(torch.empty(T, T))
        self.bias = nn.Parameter(torch.full((T, 1), -1.0))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        self.v_threshold = 0.0

    def effective_weight(self) -> torch.Tensor:
        """The ``[T, T]`` matrix ``W`` of ``H = W·X + b``."""
        return self.weight

    def weight_grad_mask(self) -> torch.Tensor | None:
        """Entries of ``dL/d effective_weight`` that reach the parameters (``None``: all)."""
        return None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Spikes ``[T, ...]`` of input ``[T, ...]`` (T as built): ``S = Θ(W·X + b)`` over the time axis."""
        self._check(x)
        s, h = parallel_spike(x, self.effective_weight(), self.bias, self.surrogate,
                              gw_need=self.weight_grad_mask(), use_native=_use_native(self, x))
        self._keep(h, s)
        return s

    def extra_repr(self):
        return f"T={self.T}, " + super().extra_repr()


@register_neuron("masked_psn")
class MaskedPSN(PSN):
    """Masked PSN of order k: ``W_eff = (λ·M_k + (1 − λ)·J)⊙W``; at λ ≥ 1 only the last k inputs count."""

    def __init__(self, k: int, T: int, lambda_init: float = 0.0, surrogate: str | Surrogate | None = "atan",
                 step_mode: str = "m", record: bool = True, backend: str = "auto"):
        super().__init__(T, surrogate, step_mode, record, backend)
        if not isinstance(k, int) or k < 1:
            raise ModelError(f"masked_psn: k must be a positive int, got {k!r}")
        self.k = k
        self.register_buffer("mask0", band_mask(T, k))
        self.register_buffer("_lambda", torch.tensor(float(lambda_init)))

    @property
    def lambda_(self) -> float:
        """The mask's weight λ (0: a full PSN, ≥ 1: only the last k inputs count)."""
        return float(self._lambda)

    @lambda_.setter
    def lambda_(self, value: float) -> None:
        self._lambda.fill_(float(value))

    def effective_weight(self) -> torch.Tensor:
        """``(λ·M_k + (1 − λ)·J)⊙W`` (``M_k⊙W`` once λ ≥ 1)."""
        lam = self._lambda
        if float(lam) >= 1.0:
            return self.weight * self.mask0
        return (lam * self.mask0 + (1.0 - lam)) * self.weight

    def weight_grad_mask(self) -> torch.Tensor | None:
        """The band ``M_k`` once λ ≥ 1 (only those weights still count), else ``None``."""
        return self.mask0.bool() if float(self._lambda) >= 1.0 else None

    def extra_repr(self):
        return f"k={self.k}, lambda_={self.lambda_:.3g}, " + super().extra_repr()


@register_neuron("sliding_psn")
class SlidingPSN(SpikingNeuron):
    """Sliding PSN of order k: ``H[t] = Σ_i w_i·X[t − k + 1 + i] + b``, ``S = Θ(H)``; any T, streams."""

    looks_across_time = True  # over its last k inputs only; single-step keeps them

    def __init__(self, k: int, exp_init: bool = True, surrogate: str | Surrogate | None = "atan",
                 step_mode: str = "m", record: bool = True, backend: str = "auto"):
        super().__init__(step_mode, record)
        self.backend = _check_backend(backend, "sliding_psn")
        if not isinstance(k, int) or k < 1:
            raise ModelError(f"sliding_psn: k must be a positive int, got {k!r}")
        self.k = k
        self.surrogate = get_surrogate(surrogate, "atan")
        if exp_init:
            w = torch.pow(torch.tensor(0.5), torch.arange(k - 1, -1, -1, dtype=torch.float32))
        else:
            w = torch.empty(1, k)
            nn.init.kaiming_uniform_(w, a=math.sqrt(5))
            w = w[0]
        self.weight = nn.Parameter(w)
        self.bias = nn.Parameter(torch.tensor(-1.0))
        self.v_threshold = 0.0
        self._queue: deque[torch.Tensor] = deque(maxlen=k)

    def reset(self) -> None:
        """Forget the last k inputs kept for single-step use."""
        super().reset()
        self._queue.clear()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Spikes of ``x``: multi-step ``[T, ...]`` (any T) at once, or one step ``[...]`` from the last k inputs
        kept."""
        if self.step_mode == "s":
            self._queue.append(x)
            n = len(self._queue)
            w = self.weight[self.k - n:]
            h = self.bias + sum(w[i] * q for i, q in enumerate(self._queue))
        else:
            if x.dim() < 1 or x.shape[0] == 0:
                raise ModelError(f"sliding_psn: multi-step input must be [T, ...], got {tuple(x.shape)}")
            T = x.shape[0]
            s, h = parallel_spike(x, sliding_matrix(self.weight, T), self.bias, self.surrogate,
                                  gw_need=band_mask(T, self.k, dtype=torch.bool), use_native=_use_native(self, x))
            self._keep(h, s)
            return s
        s = self.surrogate(h)
        self._keep(h, s)
        return s

    def extra_repr(self):
        return f"k={self.k}, " + super().extra_repr()
