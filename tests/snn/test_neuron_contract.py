import pytest
import torch

from snnstudio.errors import ModelError
from snnstudio.snn.neurons import build_neuron


def test_lif_hand_worked_constant_input():
    # LIF (tau 2, h = v + (x - v) / tau), constant input 0.6 -> h = 0.3, 0.45, 0.525, 0.5625, no spike
    n = build_neuron("lif")
    s = n(torch.full((4, 1), 0.6))
    assert torch.allclose(n.last_v[:, 0], torch.tensor([0.3, 0.45, 0.525, 0.5625]))
    assert s.sum() == 0


def test_unknown_neuron_and_parameter_are_model_errors():
    with pytest.raises(ModelError, match="unknown neuron"):
        build_neuron("no_such")
    with pytest.raises(ModelError, match="lif"):
        build_neuron("lif", no_such_param=1)
