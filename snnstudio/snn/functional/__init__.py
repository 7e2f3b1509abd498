"""Pure neuron dynamics (no modules, no state): the neurons in :mod:`snnstudio.snn.neurons` are thin
wrappers around these functions (Norse style)."""
