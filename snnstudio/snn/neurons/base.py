"""The interface every spiking neuron implements, and the neuron registry.

A neuron is an ``nn.Module`` that by default runs **multi-step**: ``forward(x)`` takes the input
current ``x`` of layout ``[T, ...]`` (time first, e.g. ``[T, B, C, H, W]``) and returns spikes of the
same shape. With ``step_mode = "s"`` it runs **single-step** with kept state: ``forward(x)``
takes ``[...]`` (one time step) and returns that step's spikes; :meth:`reset` clears the state.

For the probes, after every forward a neuron keeps (detached) references to
``last_v`` — the membrane potential compared with the threshold (``h``, before reset), same
shape as the output — and ``last_spikes`` (``record``); ``record_v = False`` keeps the spikes only
(a neuron with a native kernel then never writes its membrane: a third less memory traffic). Parallel neurons (PSN, PSU, ParaLIF) set ``last_v``
to the quantity they threshold. ``v_threshold`` is the threshold line to draw (``None`` where a
neuron has no fixed threshold).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from snnstudio.errors import ModelError


class SpikingNeuron(nn.Module):
    """Base class: step-mode handling, state reset and the probe-visible ``last_v``/``last_spikes``."""

    #: can this neuron run single-step with kept state (streaming)?
    supports_single_step: bool = True
    #: does it look across time (needs a window of T steps, e.g. PSN)?
    looks_across_time: bool = False

    def __init__(self, step_mode: str = "m", record: bool = True):
        super().__init__()
        if step_mode not in ("m", "s"):
            raise ModelError(f"step_mode must be 'm' or 's', got {step_mode!r}")
        self.step_mode = step_mode
        self.record = record
        #: with ``record``, keep the membrane too (``False``: the spikes only, ``last_v`` stays None)
        self.record_v = True
        self.last_v: torch.Tensor | None = None
        self.last_spikes: torch.Tensor | None = None
        self.v_threshold: float | None = None

    def reset(self) -> None:
        """Clear the kept state (membrane, synaptic current, ...) and the probe records."""
        self.last_v = None
        self.last_spikes = None

    def _keep(self, v: torch.Tensor | None, spikes: torch.Tensor) -> None:
        if self.record:
            self.last_v = v.detach() if (v is not None and getattr(self, "record_v", True)) else None
            self.last_spikes = spikes.detach()

    @property
    def wants_membrane(self) -> bool:
        """Whether this forward should produce the membrane record (a probe keeps it)."""
        return self.record and getattr(self, "record_v", True)

    def extra_repr(self) -> str:
        return f"step_mode={self.step_mode!r}"


NEURONS: dict[str, Callable[..., SpikingNeuron]] = {}


def register_neuron(name: str):
    """Class decorator: make a neuron buildable as ``build_neuron(name, **params)``."""

    def deco(cls):
        if name in NEURONS:
            raise ValueError(f"neuron {name!r} registered twice")
        NEURONS[name] = cls
        cls.registry_name = name
        return cls

    return deco


def build_neuron(name: str, **params) -> SpikingNeuron:
    """Build a registered neuron; unknown names and parameters are a :class:`ModelError`."""
    from snnstudio.snn import neurons as _all  # noqa: F401 - fills the registry

    try:
        cls = NEURONS[name]
    except KeyError:
        raise ModelError(f"unknown neuron {name!r}; known: {', '.join(sorted(NEURONS))}") from None
    try:
        return cls(**params)
    except TypeError as exc:
        raise ModelError(f"neuron {name!r}: {exc}") from None
