"""Spiking neurons: one registry, one interface (see :mod:`snnstudio.snn.neurons.base`).

``build_neuron(name, **params)`` builds any registered neuron. Importing this package
imports every neuron module so that the registry is complete.

Registered: ``if``, ``lif``, ``plif``, ``ma_lif``, ``ms_lif`` (reset neurons, stream single-step);
``psn``, ``masked_psn``, ``psu``, ``ipsu``, ``rpsu`` (parallel over a fixed T: ``looks_across_time``,
no single-step — a streaming engine runs them on a sliding window of the last T inputs and keeps the
last output step — :func:`as_streaming` does that); ``sliding_psn`` and the ``paralif_*`` family
(parallel in training, real single-step streaming).
"""

from snnstudio.snn.neurons.base import NEURONS, SpikingNeuron, build_neuron, register_neuron
from snnstudio.snn.neurons import lif, paralif, psn, psu  # noqa: F401,E402  (fill the registry)
from snnstudio.snn.neurons.stream import WindowStream, as_streaming  # noqa: E402

__all__ = ["NEURONS", "SpikingNeuron", "WindowStream", "as_streaming", "build_neuron", "register_neuron"]
