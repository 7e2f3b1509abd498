"""NIR graphs written by each peer library's *own* exporter (SpikingJelly, snnTorch, Norse) from a
small convolutional SNN, opened through the studio's model path (``ModelSpec`` → engine session →
:mod:`snnstudio.snn.nir_io` importer), played over a synthetic recording; the recorded spikes must
equal the library's own run of the network exactly and the membrane potentials to 1e-5.

What each installed exporter needs (read from its code; nir 1.0.8, nirtorch 2.6):

* **SpikingJelly 2.0** (``activation_based.nir_exchange.export_to_nir``, on ``nirtorch.torch_to_nir``)
  exports the conv net as it is (per-neuron parameters of the layer's shape, dt = 1e-4 s).
* **snnTorch 1.0** (``export_nir.export_to_nir``, on nirtorch's deprecated ``extract_nir_graph``)
  then calls ``nir_graph.infer_types()`` itself, which fails twice on the plain conv net:
  (1) without ``ignore_dims=[0]`` the Input node keeps the sample's batch (``[1, 2, 16, 16]``),
  and nir's Conv2d shape inference reads ``input_type[1:]`` as the spatial size (three dims for
  two paddings: ``IndexError: tuple index out of range``); (2) a ``Leaky(beta=0.8)`` exports
  0-d ``tau``/``r``/``v_threshold``, and nir 1.0.8's LIF takes its input type from the
  parameters' shape (``[]``), so inference stops at ``type mismatch: 0.output: [[4 16 16]] ->
  1.input: []``; a per-neuron ``beta`` alone then fails ``All parameters must have the same
  shape`` (the threshold is still 0-d). So: ``ignore_dims=[0]`` and ``beta`` *and* ``threshold``
  as tensors of the layer's shape. The exporter also writes every Leaky as a reset-to-zero LIF
  whatever its ``reset_mechanism`` (NIR has no subtractive reset): only
  ``reset_mechanism="zero"`` is what it writes — with snnTorch's delayed reset that is exactly
  NIR's hard reset (``(1 − s[t−1])·β·v + x`` equals resetting at once), and snnTorch's ``mem``
  is then the membrane before reset, as the studio shows it.
* **Norse 1.1** (``norse.torch.to_nir``, on ``extract_nir_graph`` without type inference) leaves
  every Conv2d's ``input_shape`` and types ``None``, which ``nir.write`` cannot store (``TypeError:
  One of data, shape or dtype must be specified``); it maps no ``nn.Flatten`` / ``nn.AvgPool2d``
  (they become ``None`` nodes, also unwritable) and keeps the sample's batch in the Input type.
  So: an all-conv net (no pooling/flatten), an unbatched ``[C, H, W]`` sample, per-neuron
  parameter tensors, and nir's own ``graph.infer_types()`` before writing. Its exporter also
  writes ``tau = dt / tau_mem_inv`` where the time constant is ``1 / tau_mem_inv`` (Norse's own
  importer reads ``tau_mem_inv = 1 / tau``), so the default ``dt=1e-3`` writes a time constant
  1000× too short; ``to_nir(..., dt=1.0)`` writes the true one. ``LIFCell`` exports as a CubaLIF
  whose input enters the current unscaled and one step before the membrane sees it (NIR's
  CubaLIF: ``w_in`` ``= 1`` scaled by ``dt/τ_syn``, same step), so the net uses ``LIFBoxCell``
  (exported as a LIF, Norse's Euler step is NIR's exactly).

None of the exporters writes the time step into the graph: the studio is given it (``--dt-us``).
"""

from __future__ import annotations

import warnings

import nir
import numpy as np
import pytest
import torch
from torch import nn

from snnstudio.engine.spec import ModelSpec

from test_peer_models import DT_US, HW, _fires, oracle_input, play, snntorch_run


def _scale(net: nn.Module, scale: dict[str, float]) -> None:
    torch.manual_seed(3)
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            m.reset_parameters()
    with torch.no_grad():
        for key, p in net.state_dict().items():
            for prefix, k in scale.items():
                if key.startswith(prefix) and key.endswith("weight"):
                    p.mul_(k)


def play_graph(spec: ModelSpec, rec, follow: dict[str, list[int]]):
    """:func:`play` with ``follow`` keyed by NIR node (the studio names an imported node ``nodes.KEY``)."""
    return play(spec, rec, {f"nodes.{k}": idx for k, idx in follow.items()})


def compare(snaps, spikes, v, follow, v_reset=0.0, threshold=1.0, post_reset=False):
    """``spikes[layer]`` / ``v[layer]``: ``[T, ...]`` (batch 1) from the library's own run.

    The studio shows the membrane *before* reset (the value compared with the threshold). Where
    the library's own state holds it after reset (``post_reset``: SpikingJelly's ``v_seq``,
    Norse's ``state.v``), a step on which the neuron fired has ``v_reset`` there and a value
    above the threshold in the studio; every other step is compared to 1e-5."""
    T = len(snaps)
    fired = {}
    spikes, v, follow = ({f"nodes.{k}": x for k, x in d.items()} for d in (spikes, v, follow))  # the importer's names
    for name, s in spikes.items():
        s = s.reshape(T, -1).numpy() > 0.5
        got = np.stack([next(l for l in snap.layers if l.name == name).raster for snap in snaps]).astype(bool)
        assert got.shape == s.shape, (name, got.shape, s.shape)
        np.testing.assert_array_equal(got, s, err_msg=name)
        fired[name.removeprefix("nodes.")] = int(s.sum())
    checked = 0
    for name, idx in follow.items():
        vv = v[name].reshape(T, -1).numpy()
        ss = spikes[name].reshape(T, -1).numpy() > 0.5
        for t, snap in enumerate(snaps):
            layer = next(l for l in snap.layers if l.name == name)
            for i in idx:
                if post_reset and ss[t, i]:
                    assert vv[t, i] == v_reset and layer.membrane[i] > threshold, (name, t, i)
                else:
                    assert abs(layer.membrane[i] - vv[t, i]) <= 1e-5, (name, t, i, layer.membrane[i], vv[t, i])
                    checked += 1
    assert checked > 0
    return fired


@pytest.fixture(scope="module")
def recording():
    from snnstudio.events.synthetic import generate_gesture

    return generate_gesture("swipe_left", seed=0, duration_us=200_000)


def test_spikingjelly_exported_graph_plays_like_spikingjelly(tmp_path, recording):
    pytest.importorskip("spikingjelly")
    pytest.importorskip("nirtorch")
    from spikingjelly.activation_based import functional, layer, neuron
    from spikingjelly.activation_based.nir_exchange import export_to_nir

    net = nn.Sequential(layer.Conv2d(2, 4, 3, padding=1), neuron.LIFNode(tau=2.0), layer.AvgPool2d(4),
                        layer.Flatten(), layer.Linear(4 * 4 * 4, 3), neuron.LIFNode(tau=2.0))
    functional.set_step_mode(net, "m")
    _scale(net, {"0.": 3.0, "4.": 6.0})
    net.eval()
    path = tmp_path / "sj.nir"
    export_to_nir(net, torch.zeros(4, 1, 2, *HW), save_path=path)  # SpikingJelly writes the file itself
    graph = nir.read(str(path))
    assert {k: type(n).__name__ for k, n in graph.nodes.items() if k.startswith("_")} == {
        "_0": "Conv2d", "_1": "LIF", "_2": "AvgPool2d", "_3": "Flatten", "_4": "Affine", "_5": "LIF"}

    follow = {"_1": [0, 37, 300, 1023], "_5": [0, 1, 2]}
    snaps = play_graph(ModelSpec(str(path), dt_us=100), recording, follow)  # SpikingJelly's dt: 1e-4 s
    assert snaps[0].model_name == "sj"
    x = oracle_input(recording, snaps)

    functional.reset_net(net)
    nodes = {"_1": net[1], "_5": net[5]}
    outs = {}
    hooks = [m.register_forward_hook(lambda mod, a, o, k=k: outs.__setitem__(k, o.clone())) for k, m in nodes.items()]
    for m in nodes.values():
        m.store_v_seq = True
    with torch.no_grad():
        net(x)  # the whole sequence, SpikingJelly's multi-step mode
    for h in hooks:
        h.remove()
    v = {k: m.v_seq.clone() for k, m in nodes.items()}
    # SpikingJelly fires on v ≥ θ, NIR (and the importer's default for a graph that does not say) on
    # v > θ: the two agree unless a membrane lands exactly on θ, which the exact comparison would show
    fired = compare(snaps, outs, v, follow, post_reset=True)
    _fires(fired, len(snaps), {"_1": 1024, "_5": 3})


def test_snntorch_exported_graph_plays_like_snntorch(tmp_path, recording):
    snn = pytest.importorskip("snntorch")
    pytest.importorskip("nirtorch")
    from snntorch.export_nir import export_to_nir

    def leaky(shape, beta, **kw):
        return snn.Leaky(beta=torch.full(shape, beta), threshold=torch.ones(shape), init_hidden=True,
                         reset_mechanism="zero", **kw)

    net = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), leaky((4, 16, 16), 0.8), nn.AvgPool2d(4), nn.Flatten(),
                        nn.Linear(4 * 4 * 4, 3), leaky((3,), 0.7, output=True))
    _scale(net, {"0.": 3.0, "4.": 6.0})
    net.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # nirtorch.extract_nir_graph, which snnTorch calls
        graph = export_to_nir(net, torch.zeros(1, 2, *HW), ignore_dims=[0])
    path = tmp_path / "st.nir"
    nir.write(str(path), graph)
    assert [type(graph.nodes[k]).__name__ for k in "012345"] == ["Conv2d", "LIF", "AvgPool2d", "Flatten", "Affine", "LIF"]

    follow = {"1": [0, 37, 300, 1023], "5": [0, 1, 2]}
    snaps = play_graph(ModelSpec(str(path), dt_us=100), recording, follow)  # snnTorch's fixed dt: 1e-4 s
    x = oracle_input(recording, snaps)

    spikes, v = snntorch_run(net, ("1", "5"), x)
    fired = compare(snaps, spikes, v, follow)
    _fires(fired, len(snaps), {"1": 1024, "5": 3})


def test_norse_exported_graph_plays_like_norse(tmp_path, recording):
    norse = pytest.importorskip("norse.torch")
    from norse.torch import LIFBoxParameters

    def cell(shape):
        return norse.LIFBoxCell(LIFBoxParameters(tau_mem_inv=torch.full(shape, 100.0), v_th=torch.ones(shape),
                                                 v_leak=torch.zeros(shape), v_reset=torch.zeros(shape)))

    net = norse.SequentialState(nn.Conv2d(2, 4, 3, stride=2, padding=1), cell((4, 8, 8)), nn.Conv2d(4, 3, 8), cell((3, 1, 1)))
    _scale(net, {"0.": 4.0, "2.": 10.0})
    net.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        graph = norse.to_nir(net, torch.zeros(2, *HW), dt=1.0)  # dt=1: tau = 1/tau_mem_inv (see above)
    np.testing.assert_allclose(np.asarray(graph.nodes["1"].tau), 0.01)
    assert graph.nodes["0"].input_shape is None  # what nir.write cannot store, until nir infers it
    graph.infer_types()
    path = tmp_path / "norse.nir"
    nir.write(str(path), graph)

    follow = {"1": [0, 37, 100, 255], "3": [0, 1, 2]}
    snaps = play_graph(ModelSpec(str(path), dt_us=1000), recording, follow)  # Norse's dt: 1e-3 s
    x = oracle_input(recording, snaps)

    spikes = {"1": [], "3": []}
    v = {"1": [], "3": []}
    state = None
    with torch.no_grad():
        for t in range(x.shape[0]):  # Norse's own loop: the state handed back in
            h = x[t]
            state = state or [None] * len(net)
            for i, mod in enumerate(net):
                if str(i) in spikes:
                    h, state[i] = mod(h, state[i])
                    spikes[str(i)].append(h.clone())
                    v[str(i)].append(state[i].v.clone())
                else:
                    h = mod(h)
    fired = compare(snaps, {k: torch.stack(s) for k, s in spikes.items()}, {k: torch.stack(s) for k, s in v.items()},
                    follow, post_reset=True)
    _fires(fired, len(snaps), {"1": 256, "3": 3})
