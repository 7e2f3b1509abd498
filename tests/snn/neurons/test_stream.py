"""Streaming: every neuron runs one step at a time through as_streaming."""

import pytest
import torch

from snnstudio.snn.neurons import NEURONS, build_neuron
from snnstudio.snn.neurons.stream import WindowStream, as_streaming

T = 5
PARAMS = {"psn": dict(T=T), "masked_psn": dict(T=T, k=2), "sliding_psn": dict(k=3), "psu": dict(T=T, v_threshold=0.5),
          "ipsu": dict(T=T), "rpsu": dict(T=T, v_threshold=0.5)}


@pytest.mark.parametrize("name", ["psu", "ipsu", "rpsu", "masked_psn"])
def test_window_stream_equals_multi_step_for_causal_neurons(name):
    torch.manual_seed(3)
    n = build_neuron(name, **PARAMS[name])
    if name == "masked_psn":
        n.lambda_ = 1.0
    x = torch.randn(T, 4, 3) + 0.5
    with torch.no_grad():
        multi = n(x)
        v_multi = n.last_v.clone()
        stream = as_streaming(n)
        assert isinstance(stream, WindowStream)
        outs, vs = [], []
        for t in range(T):
            outs.append(stream(x[t]))
            vs.append(stream.last_v)
    assert torch.equal(torch.stack(outs), multi)
    assert torch.allclose(torch.stack(vs), v_multi, atol=1e-6)


def test_window_stream_slides_after_T_steps():
    torch.manual_seed(4)
    n = build_neuron("psu", T=T, v_threshold=0.5)
    x = torch.randn(T + 3, 6) + 0.5
    stream = as_streaming(build_neuron("psu", T=T, v_threshold=0.5))
    stream.neuron.load_state_dict(n.state_dict())
    with torch.no_grad():
        outs = [stream(x[t]) for t in range(T + 3)]
        for t in range(T, T + 3):  # window = the last T inputs, output = its last row
            want = n(x[t - T + 1 : t + 1])[-1]
            assert torch.equal(outs[t], want)
    stream.reset()
    assert stream.last_v is None and stream._t == 0


@pytest.mark.parametrize("name", sorted(NEURONS))
def test_every_neuron_streams(name):
    n = as_streaming(build_neuron(name, **PARAMS.get(name, {})))
    with torch.no_grad():
        for _ in range(T + 2):
            s = n(torch.randn(2, 3))
            assert s.shape == (2, 3) and n.last_v.shape == (2, 3)
