"""NIR import/export: round trips, a hand-built graph, peers (SpikingJelly, snnTorch), BN folding, refusals."""

import sys
import types

import nir
import numpy as np
import pytest
import torch
from torch import nn

from snnstudio.bench.probes import TimeDistributed
from snnstudio.errors import ModelError
from snnstudio.snn.neurons import SpikingNeuron, build_neuron
from snnstudio.snn.nir_io import DEFAULT_DT, IFNode, export_nir, import_nir, load_nir, save_nir

from probe_models import ToyTemporalAttention, spike_input

DT = DEFAULT_DT


def _chain_net():
    torch.manual_seed(4)
    td = TimeDistributed
    net = nn.Sequential(
        td(nn.Conv2d(2, 6, 3, padding=1)), build_neuron("lif", tau=2.0, v_threshold=0.3),
        td(nn.AvgPool2d(2)), td(nn.Conv2d(6, 8, 3, stride=2, padding=1, bias=False)),
        build_neuron("lif", tau=3.0, v_threshold=0.2, decay_input=False, v_reset=-0.1),
        td(nn.Flatten()), td(nn.Linear(8 * 2 * 2, 5)), IFNode(v_threshold=0.25),
    )
    with torch.no_grad():
        net[0].module.weight.mul_(3)
    return net.eval()


def _layer_spikes(model):
    return [m.last_spikes.clone() for m in model.modules() if isinstance(m, SpikingNeuron)]


def test_round_trip_ours_nir_ours_is_identical_and_through_a_file(tmp_path):
    net = _chain_net()
    x = spike_input(T=6, B=3, p=0.4, seed=5)
    graph = export_nir(net, x)
    assert [type(graph.nodes[k]).__name__ for k in graph.nodes] == [
        "Input", "Conv2d", "LIF", "AvgPool2d", "Conv2d", "LIF", "Flatten", "Affine", "IF", "Output"]
    back = import_nir(graph)
    with torch.no_grad():
        want = net(x)
        got = back(x)
    assert torch.equal(want, got)
    for a, b in zip(_layer_spikes(net), _layer_spikes(back)):
        assert torch.equal(a, b)
        assert 0 < float(a.mean()) < 1  # every layer fires, none saturates: the comparison means something
    path = save_nir(net, tmp_path / "net.nir", example_input=x)
    assert nir.read(path).nodes.keys() == graph.nodes.keys()
    loaded = load_nir(path)
    assert type(loaded.nodes["1"]).__name__ == "LIFNode"  # spike rule ">=" survived the file
    with torch.no_grad():
        assert torch.equal(loaded(x), want)


def test_lif_parameters_follow_the_euler_reading():
    graph = export_nir(_chain_net(), spike_input(T=2, B=1))
    lif1, lif2, if_ = graph.nodes["1"], graph.nodes["4"], graph.nodes["7"]
    assert lif1.tau.shape == (6, 8, 8)
    np.testing.assert_allclose(lif1.tau, 2.0 * DT)
    np.testing.assert_allclose(lif1.r, 1.0)  # decay_input: h = v + (x - (v - v_reset)) / tau
    np.testing.assert_allclose(lif2.r, 3.0)  # no decay_input: r = tau
    np.testing.assert_allclose(lif2.v_leak, -0.1)
    np.testing.assert_allclose(lif2.v_reset, -0.1)
    np.testing.assert_allclose(if_.r, 1.0 / DT)
    assert graph.metadata["dt"] == DT


def test_hand_built_graph_gives_hand_computed_spikes():
    w = np.array([[1.0, 0.5], [-1.0, 2.0]], np.float32)
    b = np.array([0.1, 0.0], np.float32)
    ones = np.ones(2)
    graph = nir.NIRGraph.from_list(
        nir.Affine(weight=w, bias=b),
        nir.LIF(tau=2 * DT * ones, r=ones, v_leak=0 * ones, v_threshold=ones, v_reset=0 * ones),
    )
    model = import_nir(graph)
    x = torch.ones(4, 1, 2)
    with torch.no_grad():
        s = model(x)
    # currents 1.6 and 1.0; tau 2: neuron 0 h = 0.8, 1.2 (fire, reset), 0.8, 1.2; neuron 1 h = .5 .75 .875 .9375
    assert s[:, 0].tolist() == [[0.0, 0.0], [1.0, 0.0], [0.0, 0.0], [1.0, 0.0]]
    lif = [m for m in model.modules() if isinstance(m, SpikingNeuron)][0]
    np.testing.assert_allclose(lif.last_v[:, 0, 0].numpy(), [0.8, 1.2, 0.8, 1.2], rtol=1e-6)
    np.testing.assert_allclose(lif.last_v[:, 0, 1].numpy(), [0.5, 0.75, 0.875, 0.9375], rtol=1e-6)


def test_batchnorm_is_folded_exactly():
    torch.manual_seed(6)
    td = TimeDistributed
    net = nn.Sequential(td(nn.Conv2d(2, 4, 3, padding=1)), td(nn.BatchNorm2d(4)), build_neuron("lif", v_threshold=0.5),
                        td(nn.Flatten()), td(nn.Linear(4 * 8 * 8, 3, bias=False)), td(nn.BatchNorm1d(3)), build_neuron("lif", v_threshold=0.2))
    with torch.no_grad():
        for bn in (net[1].module, net[5].module):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.uniform_(0.5, 2.0)
            bn.bias.uniform_(-0.2, 0.2)
    net.train()  # export folds running statistics and leaves the mode as it was
    x = spike_input(T=5, B=2, p=0.5, seed=7)
    graph = export_nir(net, x)
    assert net.training
    kinds = [type(n).__name__ for n in graph.nodes.values()]
    assert kinds == ["Input", "Conv2d", "LIF", "Flatten", "Affine", "LIF", "Output"]
    net.eval()
    back = import_nir(graph)
    with torch.no_grad():
        y_ref = net[1](net[0](x))
        y_fold = back.nodes["0_module"](x)
        np.testing.assert_allclose(y_fold.numpy(), y_ref.numpy(), rtol=1e-5, atol=1e-5)
        assert torch.equal(net(x), back(x))
        assert net(x).sum() > 0 and net[2].last_spikes.sum() > 0


def test_refusal_lists_every_offending_module():
    torch.manual_seed(0)
    td = TimeDistributed
    net = nn.Sequential(
        td(nn.Conv2d(2, 4, 3)), ToyTemporalAttention(), td(nn.MaxPool2d(2)),
        build_neuron("lif", v_reset=None), td(nn.Flatten()), td(nn.Linear(36, 2)), nn.GELU(),
    )
    with pytest.raises(ModelError) as err:
        export_nir(net, spike_input(T=2, B=1))
    msg = str(err.value)
    assert "4 module(s)" in msg
    for part in ("1 (ToyTemporalAttention: attention)", "2.module (MaxPool2d: max-pool)", "3 (LIFNode: soft reset)", "6 (GELU"):
        assert part in msg


def test_non_chain_and_lonely_batchnorm_are_refused():
    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = TimeDistributed(nn.Linear(4, 4))
            self.lif = build_neuron("lif")

        def forward(self, x):
            return self.lif(self.fc(x) + x)

    with pytest.raises(ModelError, match="not a plain chain"):
        export_nir(Residual(), torch.zeros(3, 2, 4))  # zeros would hide the residual: export uses random values
    lonely = nn.Sequential(TimeDistributed(nn.BatchNorm1d(4)), build_neuron("lif"))
    with pytest.raises(ModelError, match="nothing to fold into"):
        export_nir(lonely.eval(), torch.rand(3, 2, 4))
    with pytest.raises(ModelError, match="example input"):
        export_nir(lonely, torch.rand(4))


def test_import_refuses_recurrence_delay_and_nonuniform_parameters(tmp_path):
    ones = np.ones(3)
    lif = nir.LIF(tau=2 * DT * ones, r=ones, v_leak=0 * ones, v_threshold=ones, v_reset=0 * ones)
    rec = nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([3])), "lif": lif, "w": nir.Linear(weight=np.eye(3)),
               "output": nir.Output(output_type=np.array([3]))},
        edges=[("input", "lif"), ("lif", "w"), ("w", "lif"), ("lif", "output")], type_check=False,
    )
    with pytest.raises(ModelError, match="recurrent"):
        import_nir(rec)
    delay = nir.NIRGraph.from_list(nir.Delay(delay=ones), type_check=False)
    with pytest.raises(ModelError, match="delay"):
        import_nir(delay)
    bad = nir.NIRGraph.from_list(nir.LIF(tau=np.array([1, 2, 3]) * DT, r=ones, v_leak=0 * ones, v_threshold=ones, v_reset=0 * ones))
    with pytest.raises(ModelError, match="tau differs"):
        import_nir(bad)
    junk = tmp_path / "junk.nir"
    junk.write_bytes(b"not hdf5")
    with pytest.raises(ModelError, match="not a readable NIR file"):
        load_nir(junk)
    with pytest.raises(ModelError, match="no such NIR file"):
        load_nir(tmp_path / "missing.nir")


@pytest.fixture
def no_nirtorch(monkeypatch):
    """The peers' mapping functions live in modules that import nirtorch (absent here) only for their
    graph tracers; a stand-in module lets us call the per-layer mappings themselves."""
    if "nirtorch" not in sys.modules:
        try:
            import nirtorch  # noqa: F401
        except ImportError:
            monkeypatch.setitem(sys.modules, "nirtorch", types.ModuleType("nirtorch"))


def test_spikingjelly_peer_mapping_and_dynamics_agree(no_nirtorch):
    from spikingjelly.activation_based import functional, layer, neuron
    from spikingjelly.activation_based.nir_exchange import to_nir

    torch.manual_seed(8)
    sj = nn.Sequential(layer.Linear(6, 5, step_mode="m"), neuron.LIFNode(tau=3.0, v_threshold=0.4, step_mode="m"),
                       layer.Linear(5, 4, step_mode="m"), neuron.IFNode(v_threshold=0.3, step_mode="m"))
    with torch.no_grad():
        sj[0].weight.mul_(4)
        sj[2].weight.mul_(4)
    mapper = object.__new__(to_nir._ModuleMapper)
    mapper.dt = DT
    mapper.module_io_shape = {sj[1]: (7, 2, 5), sj[3]: (7, 2, 4)}
    graph = nir.NIRGraph.from_list(mapper.map_linear(sj[0]), mapper.map_lif(sj[1]), mapper.map_linear(sj[2]), mapper.map_if(sj[3]))
    ours = import_nir(graph, spike_rule=">=")  # SpikingJelly fires on h >= threshold, as we do
    assert type(ours.nodes["lif"]).__name__ == "LIFNode"  # our registry neuron, not a stand-in
    x = torch.rand(7, 2, 6) * 1.5
    with torch.no_grad():
        want = sj(x)
        got = ours(x)
    functional.reset_net(sj)
    assert want.sum() > 0
    assert torch.equal(got, want)
    hidden = [m for m in ours.modules() if isinstance(m, SpikingNeuron)][0].last_spikes
    assert 0 < float(hidden.mean()) < 1
    # and our export of the same neuron matches SpikingJelly's mapping parameter for parameter
    ours_lif = nn.Sequential(TimeDistributed(nn.Linear(6, 5)), build_neuron("lif", tau=3.0, v_threshold=0.4))
    mine = export_nir(ours_lif, x).nodes["1"]
    theirs = graph.nodes["lif"]
    for f in ("tau", "r", "v_leak", "v_threshold", "v_reset"):
        np.testing.assert_allclose(getattr(mine, f), getattr(theirs, f), rtol=1e-12)


def test_snntorch_peer_export_imports_with_the_same_membrane(no_nirtorch):
    import snntorch as snn
    from snntorch import export_nir as snn_export

    torch.manual_seed(9)
    fc = nn.Linear(6, 4)
    leaky = snn.Leaky(beta=0.75, threshold=50.0)  # sub-threshold: snnTorch resets one step late
    syn = snn.Synaptic(alpha=0.5, beta=0.8, threshold=50.0)
    xs = torch.rand(8, 3, 6)
    for neuron_mod in (leaky, syn):
        nodes = [snn_export._extract_snntorch_module(fc), snn_export._extract_snntorch_module(neuron_mod)]
        ours = import_nir(nir.NIRGraph.from_list(*nodes, type_check=False))
        with torch.no_grad():
            ours(xs)
            mems = []
            state = None
            for t in range(8):
                if neuron_mod is leaky:
                    _, m = leaky(fc(xs[t]), state)
                    state = m
                else:
                    _, s_, m = syn(fc(xs[t]), *(state or (None, None)))
                    state = (s_, m)
                mems.append(m)
        ours_v = [m for m in ours.modules() if isinstance(m, SpikingNeuron)][0].last_v
        np.testing.assert_allclose(ours_v.numpy(), torch.stack(mems).numpy(), rtol=1e-5, atol=1e-6)


def test_conv1d_and_sum_pool_round_trip_and_li_readout():
    torch.manual_seed(11)
    td = TimeDistributed
    net1 = nn.Sequential(td(nn.Conv1d(3, 4, 3, stride=2, padding=1)), build_neuron("lif", v_threshold=0.2))
    x1 = (torch.rand(5, 2, 3, 12) < 0.5).float()
    g1 = export_nir(net1, x1)
    assert type(g1.nodes["0_module"]).__name__ == "Conv1d"
    with torch.no_grad():
        assert torch.equal(import_nir(g1)(x1), net1(x1)) and net1(x1).sum() > 0
    net2 = nn.Sequential(td(nn.AvgPool2d(2, divisor_override=1)), IFNode(v_threshold=2.0))
    x2 = spike_input(T=4, B=1, p=0.5)
    g2 = export_nir(net2, x2)
    assert type(g2.nodes["0_module"]).__name__ == "SumPool2d"
    with torch.no_grad():
        assert torch.equal(import_nir(g2)(x2), net2(x2)) and net2(x2).sum() > 0
    # LI readout, tau = 2 dt, r = 1: v = v + (x - v)/2 for x = 1 -> 0.5, 0.75, 0.875
    li = nir.NIRGraph.from_list(nir.LI(tau=np.full(2, 2 * DT), r=np.ones(2), v_leak=np.zeros(2)))
    with torch.no_grad():
        v = import_nir(li)(torch.ones(3, 1, 2))
    np.testing.assert_allclose(v[:, 0, 0].numpy(), [0.5, 0.75, 0.875])


def test_imported_graph_exports_back_to_the_same_graph():
    n = 3
    f = lambda v: np.full(n, float(v))  # noqa: E731
    rng = np.random.default_rng(0)
    w1, w2 = rng.normal(size=(n, 4)).astype(np.float32), rng.normal(size=(2, n)).astype(np.float32)
    graph = nir.NIRGraph.from_list(
        nir.Linear(weight=w1),
        nir.CubaLIF(tau_syn=f(2 * DT), tau_mem=f(4 * DT), r=f(1.5), v_leak=f(0.1), v_threshold=f(0.7), v_reset=f(0.0), w_in=f(2.0)),
        nir.Affine(weight=w2, bias=np.ones(2, np.float32)),
        nir.LI(tau=np.full(2, 3 * DT), r=np.ones(2), v_leak=np.zeros(2)),
    )
    model = import_nir(graph)
    x = (torch.rand(6, 2, 4) < 0.6).float()
    with torch.no_grad():
        y = model(x)
    cuba = [m for m in model.modules() if type(m).__name__ == "CubaLIFNode"][0]
    assert 0 < float(cuba.last_spikes.mean()) < 1
    again = export_nir(model, x)
    src = [n_ for n_ in graph.nodes.values()]
    dst = [n_ for n_ in again.nodes.values()]
    assert [type(a).__name__ for a in src] == [type(b).__name__ for b in dst]
    for a, b in zip(src[1:-1], dst[1:-1]):
        for key, val in a.to_dict().items():
            if key in ("type", "metadata", "input_type"):
                continue
            np.testing.assert_allclose(np.asarray(getattr(b, key), dtype=np.float64), np.asarray(val, dtype=np.float64), rtol=1e-6)
    with torch.no_grad():
        assert torch.equal(import_nir(again)(x), y)


def test_spike_rule_strict_for_nir_and_inclusive_for_ours():
    ones = np.ones(1)
    graph = nir.NIRGraph.from_list(nir.IF(r=ones / DT, v_threshold=ones, v_reset=0 * ones))
    x = torch.full((4, 1, 1), 0.5)  # h = 0.5, 1.0 (exactly the threshold), ...
    with torch.no_grad():
        strict = import_nir(graph)(x)[:, 0, 0].tolist()  # NIR: v > θ
        inclusive = import_nir(graph, spike_rule=">=")(x)[:, 0, 0].tolist()
    assert strict == [0.0, 0.0, 1.0, 0.0]  # 0.5, 1.0, 1.5 fires, 0.5
    assert inclusive == [0.0, 1.0, 0.0, 1.0]  # 0.5, 1.0 fires, 0.5, 1.0 fires
    with pytest.raises(ModelError, match="spike_rule"):
        import_nir(graph, spike_rule="=>")


class _DecayNeuron(SpikingNeuron):
    """Test oracle: a reset neuron ``h = a·v + b·x + c`` with a strict threshold, exposing
    ``coefficients()`` like snnstudio's reset neurons (``ma_lif``/``ms_lif``)."""

    registry_name = "ms_lif"  # not registered: only read by the exporter

    def __init__(self, a, b, c, v_threshold, v_reset, v_init):
        super().__init__()
        self.a, self.b, self.c = a, b, c
        self.v_threshold, self.v_reset, self.v_init, self.strict = v_threshold, v_reset, v_init, True

    def coefficients(self):
        return self.a, self.b, self.c

    def forward(self, x):
        v = torch.full_like(x[0], self.v_init)
        out, hs = [], []
        for t in range(x.shape[0]):
            h = self.a * v + self.b * x[t] + self.c
            s = (h > self.v_threshold).float()
            v = s * self.v_reset + (1 - s) * h
            out.append(s)
            hs.append(h)
        self._keep(torch.stack(hs), torch.stack(out))
        return torch.stack(out)


def test_generic_reset_neuron_exports_through_its_coefficients():
    torch.manual_seed(12)
    neuron = _DecayNeuron(a=0.25, b=1.0, c=0.05, v_threshold=0.5, v_reset=0.3, v_init=0.0)
    net = nn.Sequential(TimeDistributed(nn.Linear(5, 4)), neuron)
    x = torch.rand(9, 2, 5)
    graph = export_nir(net, x)
    lif = graph.nodes["1"]
    np.testing.assert_allclose(lif.tau, DT / 0.75)
    np.testing.assert_allclose(lif.r, 1 / 0.75)
    np.testing.assert_allclose(lif.v_leak, 0.05 / 0.75)
    np.testing.assert_allclose(lif.v_reset, 0.3)
    assert graph.metadata["dt"] == DT and lif.metadata == {"spike_rule": ">", "v_init": 0.0}
    back = import_nir(graph)
    with torch.no_grad():
        want = net(x)
        got = back(x)
    assert 0 < float(want.mean()) < 1
    assert torch.equal(got, want)
    np.testing.assert_allclose(back.nodes["1"].last_v.numpy(), neuron.last_v.numpy(), rtol=1e-5, atol=1e-6)


def test_mean_over_time_readout_is_exported_as_graph_metadata(tmp_path):
    class Classifier(nn.Module):
        def __init__(self, reduce):
            super().__init__()
            self.body = _chain_net()
            self.reduce = reduce

        def forward(self, x):
            return self.reduce(self.body(x))

    x = spike_input(T=6, B=3, p=0.4, seed=5)
    net = Classifier(lambda y: y.mean(0)).eval()
    graph = export_nir(net, x)
    assert graph.metadata["readout"] == "mean_over_time"
    path = save_nir(graph, tmp_path / "clf.nir")
    back = load_nir(path)
    assert back.readout == "mean_over_time"
    with torch.no_grad():
        want = net(x)
        assert want.shape == (3, 5) and want.sum() > 0
        assert torch.equal(back(x), want)
    with pytest.raises(ModelError, match="mean or sum over time"):
        export_nir(Classifier(lambda y: y.amax(0)), x)


def test_ma_lif_like_neuron_round_trips_exactly_with_its_initial_state():
    torch.manual_seed(13)
    neuron = _DecayNeuron(a=0.3, b=1.0, c=0.0, v_threshold=0.3, v_reset=0.3, v_init=0.0)  # MA-SNN's cell
    net = nn.Sequential(TimeDistributed(nn.Linear(5, 6)), neuron)
    x = (torch.rand(12, 3, 5) < 0.5).float()
    back = import_nir(export_nir(net, x))
    with torch.no_grad():
        want = net(x)
        assert torch.equal(back(x), want) and 0 < float(want.mean()) < 1
    no_init = export_nir(net, x)
    del no_init.nodes["1"].metadata["v_init"]  # a reader that drops it starts at v_reset: different
    with torch.no_grad():
        assert not torch.equal(import_nir(no_init)(x), want)


@pytest.mark.parametrize("how", ["external_link", "external_storage", "virtual"])
def test_a_nir_file_reading_other_files_is_refused(tmp_path, how):
    import h5py

    from snnstudio.snn.nir_io import load_graph

    ones = np.ones(3)
    graph = nir.NIRGraph.from_list(nir.Affine(weight=np.eye(3), bias=np.zeros(3)), nir.IF(r=ones, v_threshold=ones))
    path = save_nir(graph, tmp_path / "g.nir")
    load_graph(path)  # readable as written
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.arange(9, dtype="<f8").tobytes())
    with h5py.File(path, "r+") as f:
        if how == "external_link":
            f["node/extra"] = h5py.ExternalLink(str(secret), "/x")
        elif how == "external_storage":
            f["node"].create_dataset("extra", shape=(9,), dtype="<f8", external=[(str(secret), 0, 72)])
        else:
            layout = h5py.VirtualLayout(shape=(9,), dtype="<f8")
            layout[:] = h5py.VirtualSource(str(tmp_path / "other.h5"), "x", shape=(9,))
            f["node"].create_virtual_dataset("extra", layout)
    with pytest.raises(ModelError, match=r"g\.nir: /node/extra (is an external link|keeps its data in another"
                                         r" file|is a virtual dataset)"):
        load_nir(path)
