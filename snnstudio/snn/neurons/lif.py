"""Reset neurons: IF, LIF, PLIF (SpikingJelly 2.0 semantics), MA-SNN's and MS-ResNet's LIF cells.

Dynamics in :mod:`snnstudio.snn.functional.lif` (``h = a·v + b·x + c``, fire, reset). Multi-step
runs the hand-written autograd over time: with ``backend="auto"`` (default) in the C kernel of
:mod:`snnstudio.snn.functional.native` when it is built (it is built, once, on the first forward
that needs gradients — a training step, never a GUI start) and in eager tensor loops otherwise
(``"fast"``); ``backend="plain"`` is the per-step autograd loop, the oracle. All give the same
spikes. Single-step (``step_mode="s"``) keeps
``v`` between calls (not detached: BPTT over single steps works) until :meth:`reset`.

Multi-step calls start from the initial state unless ``keep_state=True``, which continues from the
state left by the previous call (chunked streaming; the carried state is detached).

``last_v`` is ``h`` — the membrane compared with the threshold, before reset.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from snnstudio.errors import ModelError
from snnstudio.snn.functional import native
from snnstudio.snn.functional.lif import ResetConfig, reset_neuron_fast, reset_neuron_plain, reset_neuron_step
from snnstudio.snn.neurons.base import SpikingNeuron, register_neuron
from snnstudio.snn.surrogate import Rectangular, Surrogate, get_surrogate


#: multi-step kernels: "auto" = the C kernel when built (built on the first training forward),
#: else "fast"; "native" = build it now; "fast" = eager hand-written autograd; "plain" = oracle loop
BACKENDS = ("auto", "native", "fast", "plain")


class ResetNeuron(SpikingNeuron):
    """Shared machinery of the reset neurons; subclasses give :meth:`coefficients` ``(a, b, c)``."""

    def __init__(
        self,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        detach_reset: bool = False,
        surrogate: str | Surrogate | None = "sigmoid",
        strict: bool = False,
        v_init: float | None = None,
        backend: str = "auto",
        keep_state: bool = False,
        step_mode: str = "m",
        record: bool = True,
    ):
        super().__init__(step_mode, record)
        if backend not in BACKENDS:
            raise ModelError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        self.v_threshold = float(v_threshold)
        self.v_reset = None if v_reset is None else float(v_reset)
        self.detach_reset = bool(detach_reset)
        self.strict = bool(strict)
        if v_init is None:  # SpikingJelly: v starts at v_reset (0 for soft reset)
            v_init = 0.0 if v_reset is None else float(v_reset)
        self.v_init = float(v_init)
        self.surrogate = get_surrogate(surrogate, "sigmoid")
        self.backend = backend
        self.keep_state = keep_state
        self.v: torch.Tensor | None = None

    def coefficients(self) -> tuple:  # pragma: no cover - abstract
        """``(a, b, c)`` of the charge ``h = a·v + b·x + c``."""
        raise NotImplementedError

    @property
    def config(self) -> ResetConfig:
        """Threshold, reset, initial value, strictness and detach flag, as the functional step takes them."""
        return ResetConfig(self.v_threshold, self.v_reset, self.v_init, self.strict, self.detach_reset)

    def reset(self) -> None:
        """Clear the kept state and the probe records (the next input starts from rest)."""
        super().reset()
        self.v = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Spikes of the input current ``x``: multi-step ``[T, ...]`` → ``[T, ...]`` (from rest, or from the kept
        state with ``keep_state``), single-step ``[...]`` → ``[...]`` (state carried). Float input only."""
        if not torch.is_floating_point(x):
            raise ModelError(f"{type(self).__name__}: input must be a float tensor, got {x.dtype}")
        a, b, c = self.coefficients()
        cfg = self.config
        if self.step_mode == "s":
            v = self.v if self.v is not None else torch.full_like(x, self.v_init)
            s, h, self.v = reset_neuron_step(x, v, a, b, c, cfg, self.surrogate)
            self._keep(h, s)
            return s
        if x.dim() < 1 or x.shape[0] == 0:
            raise ModelError(f"{type(self).__name__}: multi-step input must be [T, ...] with T ≥ 1, got {tuple(x.shape)}")
        v0 = self.v if (self.keep_state and self.v is not None) else None
        if not torch.is_grad_enabled() and self.backend in ("auto", "native") and native.supports(x, self.surrogate):
            lib = native.load()
            if lib is not None:  # inference: the C kernel straight, no autograd node (~7× less call overhead)
                v_start = v0 if v0 is not None else self.v_init
                # the membrane is written only for a probe that records it
                s, h, v_last = native.forward(lib, x.contiguous(), *(float(k) for k in (a, b, c)), v_start, cfg,
                                              want_h=self.wants_membrane, want_v=self.keep_state)
                if self.keep_state:
                    self.v = v_last
                self._keep(h, s)
                return s
        if self.backend != "plain" and not self.surrogate.learnable:
            use_native = False
            if self.backend in ("auto", "native") and native.supports(x, self.surrogate):
                lib = native.load()
                training = torch.is_grad_enabled() and (x.requires_grad or any(p.requires_grad for p in self.parameters()))
                if lib is None and (self.backend == "native" or training):
                    lib = native.build()  # ~1 s once per machine; only when training (never at GUI start)
                use_native = lib is not None
            s, h, v_last = reset_neuron_fast(x, a, b, c, cfg, self.surrogate, v0, use_native, want_h=self.wants_membrane)
        else:
            s, h, v_last = reset_neuron_plain(x, a, b, c, cfg, self.surrogate, v0)
        if self.keep_state:
            self.v = v_last.detach() if isinstance(v_last, torch.Tensor) else torch.full_like(x[0], v_last)
        self._keep(h, s)
        return s

    def extra_repr(self) -> str:
        return (
            f"v_threshold={self.v_threshold}, v_reset={self.v_reset}, detach_reset={self.detach_reset}, "
            f"strict={self.strict}, backend={self.backend!r}, {super().extra_repr()}"
        )


def _check_tau(tau: float, name: str = "tau") -> float:
    tau = float(tau)
    if not tau > 1.0 and not math.isclose(tau, 1.0):
        raise ModelError(f"{name} must be ≥ 1 (the leak 1/{name} is a fraction), got {tau}")
    return tau


@register_neuron("if")
class IFNode(ResetNeuron):
    """Integrate-and-fire: ``h = v + x`` (SpikingJelly ``IFNode``)."""

    def coefficients(self):
        """``(1, 1, 0)``: ``h = v + x``."""
        return 1.0, 1.0, 0.0


@register_neuron("lif")
class LIFNode(ResetNeuron):
    """Leaky integrate-and-fire (SpikingJelly ``LIFNode``).

    ``decay_input``: ``h = v + (x − (v − v_reset))/tau``; else ``h = v − (v − v_reset)/tau + x``
    (``v_reset`` taken as 0 in the leak for the soft reset).
    """

    def __init__(self, tau: float = 2.0, decay_input: bool = True, v_threshold: float = 1.0,
                 v_reset: float | None = 0.0, detach_reset: bool = False,
                 surrogate: str | Surrogate | None = "sigmoid", **kw):
        super().__init__(v_threshold, v_reset, detach_reset, surrogate, **kw)
        self.tau = _check_tau(tau)
        self.decay_input = bool(decay_input)

    def coefficients(self):
        """``h = v + (x − (v − v_reset))/τ`` (``decay_input``) or ``v − (v − v_reset)/τ + x``."""
        k = 1.0 / self.tau
        vr = self.v_reset or 0.0
        return 1.0 - k, (k if self.decay_input else 1.0), k * vr

    def extra_repr(self):
        return f"tau={self.tau}, decay_input={self.decay_input}, " + super().extra_repr()


@register_neuron("plif")
class PLIFNode(ResetNeuron):
    """Parametric LIF (SpikingJelly ``ParametricLIFNode``): one learnable ``w``, ``1/tau = sigmoid(w)``,
    ``w0 = −log(init_tau − 1)``."""

    def __init__(self, init_tau: float = 2.0, decay_input: bool = True, v_threshold: float = 1.0,
                 v_reset: float | None = 0.0, detach_reset: bool = False,
                 surrogate: str | Surrogate | None = "sigmoid", **kw):
        super().__init__(v_threshold, v_reset, detach_reset, surrogate, **kw)
        init_tau = float(init_tau)
        if not init_tau > 1.0:
            raise ModelError(f"init_tau must be > 1, got {init_tau}")
        self.decay_input = bool(decay_input)
        self.w = nn.Parameter(torch.tensor(-math.log(init_tau - 1.0)))

    @property
    def tau(self) -> float:
        """The learnt membrane time constant τ = 1/σ(w), in steps."""
        return float(1.0 / torch.sigmoid(self.w.detach()))

    def coefficients(self):
        """As :meth:`LIFNode.coefficients` with the learnt ``1/τ = σ(w)``."""
        k = torch.sigmoid(self.w)
        vr = self.v_reset or 0.0
        return 1.0 - k, (k if self.decay_input else 1.0), k * vr

    def extra_repr(self):
        return f"tau={self.tau:.4g}, decay_input={self.decay_input}, " + super().extra_repr()


class DecayLIF(ResetNeuron):
    """LIF written with a multiplicative decay of the reset state: ``h = decay·v + x``."""

    def __init__(self, decay: float, v_threshold: float, v_reset: float, detach_reset: bool,
                 surrogate, strict: bool, v_init: float = 0.0, **kw):
        super().__init__(v_threshold, v_reset, detach_reset, surrogate, strict=strict, v_init=v_init, **kw)
        if not 0.0 <= float(decay) <= 1.0:
            raise ModelError(f"decay must be in [0, 1], got {decay}")
        self.decay = float(decay)

    def coefficients(self):
        """``(decay, 1, 0)``: ``h = decay·v + x``."""
        return self.decay, 1.0, 0.0

    def extra_repr(self):
        return f"decay={self.decay}, " + super().extra_repr()


@register_neuron("ma_lif")
class MALIFNode(DecayLIF):
    """MA-SNN's LIF cell (BICLab/MA-SNN ``module/LIF.py``): ``u = h + I; s = Θ(u − θ);
    h = (s·θ + (1 − s)·u)·decay`` — fired neurons go to θ (= ``v_reset``), then everything decays.

    Defaults 0.3 / 0.3 / 0.3, reset not detached, rectangular surrogate of height 2 on
    ``|u − θ| < 0.25``. Fires on ``u > θ`` (``strict``; the spike function of their code is a
    ``gt``). ``last_v`` is ``u``. The state starts at 0.
    """

    def __init__(self, decay: float = 0.3, v_threshold: float = 0.3, v_reset: float = 0.3,
                 detach_reset: bool = False, surrogate: str | Surrogate | None = None,
                 strict: bool = True, **kw):
        super().__init__(decay, v_threshold, v_reset, detach_reset,
                         Rectangular(0.25) if surrogate is None else surrogate, strict, **kw)


@register_neuron("ms_lif")
class MSLIFNode(DecayLIF):
    """MS-ResNet's LIF: ``u_t = decay·u_{t−1}·(1 − s_{t−1}) + x_t``, ``s = Θ(u − θ)`` with ``>``;
    θ 0.5, decay 0.25, hard reset to 0, detached; rectangular surrogate of half-width 0.5
    (height 1). Equals ``lif`` with ``tau=4/3, decay_input=False, detach_reset=True``, θ 0.5,
    ``strict``."""

    def __init__(self, decay: float = 0.25, v_threshold: float = 0.5, v_reset: float = 0.0,
                 detach_reset: bool = True, surrogate: str | Surrogate | None = None,
                 strict: bool = True, **kw):
        super().__init__(decay, v_threshold, v_reset, detach_reset,
                         Rectangular(0.5) if surrogate is None else surrogate, strict, **kw)
