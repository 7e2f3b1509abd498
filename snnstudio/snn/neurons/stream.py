"""Streaming any neuron one step at a time: :func:`as_streaming` and :class:`WindowStream`.

Neurons with ``supports_single_step`` just switch to ``step_mode = "s"``. The fixed-T parallel
neurons (PSN, masked PSN, PSU, IPSU, RPSU) see a whole ``[T, ...]`` block, so a stream runs them
on a window: for the first T ticks the window is the inputs so far followed by zeros and the
output is row t (for the causal ones — PSU family, masked PSN at λ = 1 — this is exactly the
multi-step output of those first T steps); afterwards the window is the last T inputs and the
output is its last row. PSN's full ``W`` also looks at future steps; streamed, the future is
zeros (first T ticks) or the window ends at "now" (later). Each tick costs one multi-step call
on ``[T, ...]``.
"""

from __future__ import annotations

import torch

from snnstudio.snn.neurons.base import SpikingNeuron


class WindowStream(SpikingNeuron):
    """Single-step wrapper around a fixed-T neuron (``neuron.T``): keeps the last T inputs."""

    supports_single_step = True
    looks_across_time = True

    def __init__(self, neuron: SpikingNeuron, record: bool = True):
        super().__init__("s", record)
        self.neuron = neuron
        self.T = int(neuron.T)
        self.v_threshold = neuron.v_threshold
        self._window: torch.Tensor | None = None
        self._t = 0

    def reset(self) -> None:
        """Forget the window and the wrapped neuron's state."""
        super().reset()
        self.neuron.reset()
        self._window = None
        self._t = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """One step ``[...]`` in: re-run the wrapped neuron on a window of the last T steps (the first T
        steps: those so far, the rest zeros) and return this step's spikes."""
        if self._window is None or self._window.shape[1:] != x.shape:
            self._window = x.new_zeros((self.T, *x.shape))
            self._t = 0
        if self._t < self.T:
            row = self._t
            self._window = self._window.clone()
            self._window[row] = x
        else:
            row = self.T - 1
            self._window = torch.cat([self._window[1:], x.unsqueeze(0)])
        self._t += 1
        s = self.neuron(self._window)[row]
        v = self.neuron.last_v[row] if self.neuron.last_v is not None else s
        self._keep(v, s)
        return s

    def extra_repr(self) -> str:
        return f"T={self.T}"


def as_streaming(neuron: SpikingNeuron) -> SpikingNeuron:
    """The neuron in single-step form: itself with ``step_mode="s"`` when it supports it, else a
    :class:`WindowStream` around it. State starts fresh (``reset()``)."""
    neuron.reset()
    if neuron.supports_single_step:
        neuron.step_mode = "s"
        return neuron
    return WindowStream(neuron, record=neuron.record)
