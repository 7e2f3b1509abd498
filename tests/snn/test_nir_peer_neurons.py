"""The neuron nodes the peer libraries' own NIR exporters write (SpikingJelly's IF / LIF / PLIF /
CUBALIF, snnTorch's Leaky and Synaptic, Norse's LIFBoxCell and LIBoxCell) import with
:func:`snnstudio.snn.nir_io.import_nir` into neurons that step exactly as the library's own do:
spikes equal, membranes to 1e-5 (the studio's membrane is the one compared with the threshold,
before reset; where a library keeps it after reset, a step that fired holds ``v_reset`` there).

What each graph needs to mean what the library ran (see ``tests/engine/test_peer_nir_exports.py``
for why): snnTorch's exporter writes every neuron as a reset-to-zero node and never the
subtractive reset, so Leaky uses ``reset_mechanism="zero"`` (its delayed reset is then NIR's)
and Synaptic also ``reset_delay=False`` (its delayed zero reset clears the step *after* a spike
completely, input included, which NIR's CubaLIF does not); per-neuron parameter tensors, since
nir 1.0.8 types a LIF by its parameters' shape. Norse writes ``tau = dt / tau_mem_inv``, so it
exports with ``dt=1.0`` and the graph is read at Norse's dt of 1 ms; its 0-d parameters (the
cells' defaults) import as one value per layer."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from snnstudio.snn.nir_io import import_nir
from snnstudio.snn.neurons.base import SpikingNeuron

T, N_IN, N = 40, 20, 6


@pytest.fixture(scope="module")
def x():
    g = torch.Generator().manual_seed(0)
    return (torch.rand(T, 1, N_IN, generator=g) < 0.3).float() * torch.rand(T, 1, N_IN, generator=g) * 3


def _linear(seed=1, gain=4.0):
    torch.manual_seed(seed)
    lin = nn.Linear(N_IN, N)
    with torch.no_grad():
        lin.weight.mul_(gain)
    return lin


def _ours(graph, dt, x):
    net = import_nir(graph, dt=dt)
    with torch.no_grad():
        out = net(x)
    neurons = [m for m in net.modules() if isinstance(m, SpikingNeuron)]
    assert len(neurons) == 1
    return out, neurons[0]


def _check(out, neuron, ref_s, ref_v, *, post_reset: bool, v_reset: float = 0.0):
    assert torch.equal(out, ref_s)
    n = int(ref_s.sum())
    assert 0 < n < ref_s.numel(), n  # it fired, and not always
    v = neuron.last_v
    fired = ref_s > 0.5
    if post_reset:
        assert torch.all(ref_v[fired] == v_reset)
        assert torch.all(v[fired] >= neuron_threshold(neuron))
        torch.testing.assert_close(v[~fired], ref_v[~fired], atol=1e-5, rtol=0)
    else:
        torch.testing.assert_close(v, ref_v, atol=1e-5, rtol=0)


def neuron_threshold(neuron) -> float:
    return float(neuron.v_threshold)


SJ_NEURONS = {
    "IFNode": lambda neuron: neuron.IFNode(),
    "LIFNode(decay_input=False, v_reset=-0.2)": lambda neuron: neuron.LIFNode(tau=3.0, decay_input=False, v_reset=-0.2),
    "ParametricLIFNode": lambda neuron: neuron.ParametricLIFNode(init_tau=2.5),
    "CUBALIFNode": lambda neuron: neuron.CUBALIFNode(c_decay=0.5, v_decay=0.75),
}


@pytest.mark.parametrize("kind", list(SJ_NEURONS))
def test_spikingjelly_neurons(kind, x):
    pytest.importorskip("spikingjelly")
    pytest.importorskip("nirtorch")
    from spikingjelly.activation_based import functional, neuron
    from spikingjelly.activation_based.nir_exchange import export_to_nir

    node = SJ_NEURONS[kind](neuron)
    net = nn.Sequential(_linear(), node)
    functional.set_step_mode(net, "m")
    graph = export_to_nir(net, x)  # dt = 1e-4 s
    functional.reset_net(net)
    node.store_v_seq = True
    with torch.no_grad():
        ref = net(x)
    out, ours = _ours(graph, 1e-4, x)
    _check(out, ours, ref, node.v_seq, post_reset=True, v_reset=float(node.v_reset))


def _snntorch_neuron(snn, kind):
    sh = (N,)
    common = dict(threshold=torch.ones(sh), init_hidden=True, reset_mechanism="zero")
    if kind == "Leaky":
        return snn.Leaky(beta=torch.full(sh, 0.8), **common)
    if kind == "Leaky(reset_delay=False)":
        return snn.Leaky(beta=torch.full(sh, 0.8), reset_delay=False, **common)
    return snn.Synaptic(alpha=torch.full(sh, 0.6), beta=torch.full(sh, 0.8), reset_delay=False, **common)


@pytest.mark.parametrize("kind", ["Leaky", "Leaky(reset_delay=False)", "Synaptic(reset_delay=False)"])
def test_snntorch_neurons(kind, x):
    snn = pytest.importorskip("snntorch")
    pytest.importorskip("nirtorch")
    from snntorch.export_nir import export_to_nir

    node = _snntorch_neuron(snn, kind)
    net = nn.Sequential(_linear(), node)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        graph = export_to_nir(net, x[0], ignore_dims=[0])  # dt = 1e-4 s, fixed
    assert type(graph.nodes["1"]).__name__ == ("CubaLIF" if kind.startswith("Synaptic") else "LIF")
    node.reset_mem()
    spikes, mems = [], []
    with torch.no_grad():
        for t in range(T):
            spikes.append(net(x[t]))
            mems.append(node.mem.clone())
    out, ours = _ours(graph, 1e-4, x)
    # the delayed reset keeps the membrane before reset in mem; reset_delay=False zeroes it at once
    _check(out, ours, torch.stack(spikes), torch.stack(mems), post_reset="reset_delay=False" in kind)


def test_snntorch_subtractive_reset_is_not_what_its_exporter_writes(x):
    """snnTorch's default ``reset_mechanism="subtract"`` is written as the same reset-to-zero LIF:
    the graph then plays differently from the net (documented, not something an importer can see)."""
    snn = pytest.importorskip("snntorch")
    pytest.importorskip("nirtorch")
    from snntorch.export_nir import export_to_nir

    node = snn.Leaky(beta=torch.full((N,), 0.8), threshold=torch.ones(N), init_hidden=True)
    net = nn.Sequential(_linear(), node)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        graph = export_to_nir(net, x[0], ignore_dims=[0])
    node.reset_mem()
    with torch.no_grad():
        ref = torch.stack([net(x[t]) for t in range(T)])
    out, _ = _ours(graph, 1e-4, x)
    assert not torch.equal(out, ref)


@pytest.mark.parametrize("kind", ["LIFBoxCell", "LIBoxCell"])
def test_norse_cells(kind, x):
    norse = pytest.importorskip("norse.torch")

    cell = getattr(norse, kind)()  # Norse's defaults: 0-d parameters, tau_mem_inv = 100 /s
    net = norse.SequentialState(_linear(gain=8.0), cell)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        graph = norse.to_nir(net, x[0, 0], dt=1.0)  # tau = 1 / tau_mem_inv (see the module docstring)
    outs, vs, state = [], [], None
    with torch.no_grad():
        for t in range(T):
            o, state = net(x[t], state)
            outs.append(o)
            vs.append(state[1].v.clone())
    out, ours = _ours(graph, 1e-3, x)  # Norse's dt
    ref, ref_v = torch.stack(outs), torch.stack(vs)
    if kind == "LIBoxCell":  # a leaky integrator: its output is its membrane
        assert ref.abs().max() > 0.1
        torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)
        torch.testing.assert_close(ours.last_v, ref_v, atol=1e-5, rtol=0)
    else:
        _check(out, ours, ref, ref_v, post_reset=True)


def test_a_time_constant_shorter_than_the_step_is_refused(x):
    """Norse's default export (``dt=1e-3``) writes ``tau = 1e-5`` s for ``tau_mem_inv = 100``; read at
    Norse's 1 ms its Euler step would be ``dt/τ = 100`` (a membrane that rings and blows up, not the
    net): refused with the time step and Norse's ``dt=1.0`` named. Read at 1 µs it happens to be
    Norse's own step (``a = 1e-6 / 1e-5``) — the same network as exporting with ``dt=1.0``."""
    import nir
    import numpy as np

    from snnstudio.errors import ModelError

    norse = pytest.importorskip("norse.torch")
    net = norse.SequentialState(_linear(gain=8.0), norse.LIFBoxCell())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        default = norse.to_nir(net, x[0, 0])
        fixed = norse.to_nir(net, x[0, 0], dt=1.0)
    np.testing.assert_allclose(float(default.nodes["1"].tau), 1e-5, rtol=1e-6)
    with pytest.raises(ModelError, match=r"'1': tau = 1e-05 s is shorter than the time step 0.001 s.*to_nir\(\.\.\., dt=1\.0\)"):
        import_nir(default, dt=1e-3)
    a, _ = _ours(default, 1e-6, x)
    b, _ = _ours(fixed, 1e-3, x)
    assert torch.equal(a, b) and a.sum() > 0


@pytest.mark.parametrize("kind", ["LI", "CubaLIF"])
def test_a_synaptic_or_integrator_time_constant_shorter_than_the_step_is_refused(kind):
    import nir
    import numpy as np

    from snnstudio.errors import ModelError

    params = {"LI": dict(tau=np.full(3, 5e-5), r=np.ones(3), v_leak=np.zeros(3)),
              "CubaLIF": dict(tau_syn=np.full(3, 5e-5), tau_mem=np.full(3, 1e-3), r=np.ones(3), v_leak=np.zeros(3),
                              v_threshold=np.ones(3))}[kind]
    g = nir.NIRGraph(nodes={"in": nir.Input(np.array([3])), "n": getattr(nir, kind)(**params),
                            "out": nir.Output(np.array([3]))}, edges=[("in", "n"), ("n", "out")], type_check=False)
    what = "tau_syn" if kind == "CubaLIF" else "tau"
    with pytest.raises(ModelError, match=rf"'n': {what} = 5e-05 s is shorter than the time step 0.0001 s"):
        import_nir(g, dt=1e-4)
    import_nir(g, dt=5e-5)  # a step equal to the shortest time constant is fine
