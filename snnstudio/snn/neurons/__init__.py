"""Spiking neurons: one registry, one interface (see :mod:`snnstudio.snn.neurons.base`).

``build_neuron(name, **params)`` builds any registered neuron. Importing this package
imports every neuron module so that the registry is complete.
"""

from snnstudio.snn.neurons.base import NEURONS, SpikingNeuron, build_neuron, register_neuron
from snnstudio.snn.neurons import lif  # noqa: F401  (registers "lif")

__all__ = ["NEURONS", "SpikingNeuron", "build_neuron", "register_neuron"]
