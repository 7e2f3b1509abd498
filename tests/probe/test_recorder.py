import numpy as np
import pytest
import torch
from torch import nn

from snnstudio.bench.probes import TimeDistributed
from snnstudio.errors import SnnStudioError
from snnstudio.probe import ProbeConfig, Recorder
from snnstudio.snn.neurons import SpikingNeuron, build_neuron

from probe_models import ToyTemporalAttention, ours_net, spike_input


def _state(model: nn.Module) -> dict:
    """Every module's hooks and attributes (tensors by type/shape only: forward updates them)."""
    out = {}
    for name, m in model.named_modules():
        attrs = {}
        for k, v in vars(m).items():
            if k in ("_parameters", "_buffers", "_modules"):
                continue
            if isinstance(v, torch.Tensor):
                attrs[k] = ("tensor", tuple(v.shape))
            elif isinstance(v, dict):
                attrs[k] = (type(v).__name__, tuple(v.keys()))
            else:
                attrs[k] = v if isinstance(v, (int, float, str, bool, type(None), tuple)) else type(v).__name__
        out[name] = attrs
    return out


def _neurons(net):
    return [m for m in net.modules() if isinstance(m, SpikingNeuron)]


def test_output_bitwise_equal_and_detach_restores_ours(net, x):
    with torch.no_grad():
        plain = net(x)
    before = _state(net)
    with Recorder(net, ProbeConfig(full=True, capacity=64)) as rec:
        with torch.no_grad():
            probed = net(x)
        assert any(len(m._forward_hooks) for m in net.modules())
    assert torch.equal(plain, probed)
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in net.modules())
    assert _state(net) == before
    assert rec.steps == 6 and rec.samples == 3


def test_full_records_equal_the_neurons_own_spikes_and_membrane(net, x):
    rec = Recorder(net, ProbeConfig(full=True, capacity=64))
    with torch.no_grad():
        net(x)
    rec.detach()
    for (name, r), m in zip(rec.neurons.items(), _neurons(net)):
        np.testing.assert_array_equal(r.spikes.array(), m.last_spikes.numpy() != 0)
        np.testing.assert_array_equal(r.v.array(), m.last_v.numpy())
        s = m.last_spikes.numpy()
        T, B = s.shape[:2]
        np.testing.assert_allclose(r.rate.array(), s.reshape(T, -1).mean(1), rtol=1e-6)
        np.testing.assert_allclose(r.count.array(), s.reshape(T, -1).sum(1), rtol=1e-6)
        assert r.shape == s.shape[2:] and r.v_kind == "pre_reset"
    assert sum(r.total_spikes for r in rec.neurons.values()) > 0  # something fired: the test means something


def test_summary_raster_channel_rate_follow_and_feature_map(net, x):
    rec = Recorder(net, ProbeConfig(capacity=64, raster_size=20, sample=1, seed=3))
    with torch.no_grad():
        net(x)  # first forward fixes the layer shapes
    rec.follow("2", [0, 5, 17])
    rec.clear()
    with torch.no_grad():
        net(x)
    lif = net[2]
    s, v = lif.last_spikes.numpy(), lif.last_v.numpy()
    r = rec.neurons["2"]
    assert r.raster_index.size == 20 and len(set(r.raster_index.tolist())) == 20
    np.testing.assert_array_equal(r.raster.array(), s[:, 1].reshape(6, -1)[:, r.raster_index] != 0)
    np.testing.assert_array_equal(r.follow_v.array(), v[:, 1].reshape(6, -1)[:, [0, 5, 17]])
    np.testing.assert_allclose(r.channel_rate.array(), s.mean(axis=(1, 3, 4)), rtol=1e-6)
    np.testing.assert_array_equal(r.feature_map, s[-1, 1] != 0)
    np.testing.assert_array_equal(r.membrane_map, v[-1, 1])
    latest = rec.latest()["2"]
    np.testing.assert_array_equal(latest["raster"], r.raster.array()[-1])
    assert latest["threshold"] == 1.0 and rec.neurons["5"].threshold == 0.5
    assert not rec.neurons["2"].spikes.total  # summary mode keeps no full record
    hist = rec.history("2", steps=4)
    np.testing.assert_array_equal(hist["raster"], r.raster.array()[-4:])
    assert set(hist) == {"rate", "count", "channel_rate", "raster", "follow_v"}
    rec.follow("2", [3])  # new followed neuron: new indices are used from the next forward on
    with torch.no_grad():
        net(x)
    np.testing.assert_array_equal(r.follow_v.array(), lif.last_v.numpy()[:, 1].reshape(6, -1)[:, [3]])
    with pytest.raises(SnnStudioError, match="out of range"):
        rec.follow("2", [10**6])
    with pytest.raises(SnnStudioError, match="no neuron layer"):
        rec.follow("nope", [0])


def test_ring_bounds_history_but_totals_stay_exact(net):
    rec = Recorder(net, ProbeConfig(capacity=4, full=True))
    xs = [spike_input(T=6, B=2, seed=s) for s in range(3)]
    spikes = []
    with torch.no_grad():
        for xi in xs:
            net(xi)
            spikes.append(net[8].last_spikes.numpy())
    r = rec.neurons["8"]
    allspk = np.concatenate(spikes)
    assert len(r.rate) == 4 and r.rate.total == 18
    np.testing.assert_array_equal(r.spikes.array(), allspk[-4:] != 0)
    assert r.total_spikes == allspk.sum() and r.neuron_steps == allspk.size
    assert rec.steps == 18 and rec.samples == 6


def test_record_flag_is_turned_on_while_attached_then_restored(x):
    net = ours_net()
    net[2].record = False
    rec = Recorder(net, ProbeConfig(full=True))
    assert net[2].record is True
    with torch.no_grad():
        net(x)
    rec.detach()
    assert net[2].record is False
    assert len(rec.neurons["2"].v) == 6


def test_layer_selection_and_unknown_layer():
    net = ours_net()
    rec = Recorder(net, ProbeConfig(layers=["5"]))
    assert list(rec.neurons) == ["5"]
    rec.detach()
    with pytest.raises(SnnStudioError, match="no recordable layer named nope"):
        Recorder(net, ProbeConfig(layers=["nope"]))
    assert all(not m._forward_hooks for m in net.modules())
    with pytest.raises(SnnStudioError, match="step_mode"):
        ProbeConfig(step_mode="x")


def test_attention_weights_recorded_for_the_followed_sample(x):
    torch.manual_seed(0)
    att = ToyTemporalAttention()
    net = nn.Sequential(att, build_neuron("lif"))
    with torch.no_grad():
        plain = net(x)
    rec = Recorder(net, ProbeConfig(sample=2))
    with torch.no_grad():
        assert torch.equal(net(x), plain)
    a = rec.attention["0"]
    assert a.layout == "T,B"
    np.testing.assert_array_equal(a.latest, att.last_weights[:, 2].numpy())
    att.enabled = False
    with torch.no_grad():
        net(x)
    assert a.weights.total == 1  # disabled attention is not recorded
    rec.detach()


def test_spikingjelly_multistep_net_with_v_seq():
    from spikingjelly.activation_based import functional, layer, neuron

    torch.manual_seed(0)
    net = nn.Sequential(
        layer.Conv2d(2, 4, 3, padding=1, step_mode="m"),
        neuron.LIFNode(tau=2.0, step_mode="m", store_v_seq=True),
        layer.Flatten(step_mode="m"),
        layer.Linear(4 * 8 * 8, 3, step_mode="m"),
        neuron.IFNode(step_mode="m"),
    )
    x = spike_input(T=5, B=2) * 2
    with torch.no_grad():
        plain = net(x)
    before = _state(net)  # the state a plain forward leaves
    functional.reset_net(net)
    rec = Recorder(net, ProbeConfig(full=True))
    with torch.no_grad():
        probed = net(x)
    rec.detach()
    assert torch.equal(plain, probed)
    assert _state(net) == before
    r = rec.neurons["1"]
    assert r.kind == "spikingjelly" and r.v_kind == "post_reset" and r.threshold == 1.0
    np.testing.assert_array_equal(r.v.array(), net[1].v_seq.numpy())
    assert r.total_spikes > 0
    assert len(rec.neurons["4"].v) == 5 and net[4].store_v_seq is False  # switched on while attached only
    assert len(rec.neurons["4"].spikes) == 5


def test_snntorch_single_step_loop():
    import snntorch as snn

    torch.manual_seed(0)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(10, 6)
            self.lif = snn.Leaky(beta=0.8, threshold=0.5)

        def forward(self, x, mem):
            return self.lif(self.fc(x), mem)

    net = Net()
    xs = torch.rand(7, 4, 10)

    def run():
        mem, spikes, mems = torch.zeros(4, 6), [], []
        with torch.no_grad():
            for t in range(7):
                s, mem = net(xs[t], mem)
                spikes.append(s)
                mems.append(mem)
        return torch.stack(spikes), torch.stack(mems)

    s0, m0 = run()
    before = _state(net)
    rec = Recorder(net, ProbeConfig(full=True, step_mode="s"))
    s1, m1 = run()
    rec.detach()
    assert _state(net) == before
    assert torch.equal(s0, s1) and torch.equal(m0, m1)
    r = rec.neurons["lif"]
    assert r.kind == "snntorch" and r.threshold == 0.5
    np.testing.assert_array_equal(r.spikes.array(), s0.numpy() != 0)
    np.testing.assert_array_equal(r.v.array(), m0.numpy())
    assert rec.steps == 7 and rec.samples == 4 and s0.sum() > 0


def test_single_step_streaming_records_equal_the_multi_step_run():
    torch.manual_seed(5)
    conv = nn.Conv2d(2, 3, 3, padding=1)

    def build(mode):
        return nn.Sequential(conv, build_neuron("lif", v_threshold=0.3, step_mode=mode))

    x = spike_input(T=7, B=2, p=0.5, seed=9)
    multi = nn.Sequential(TimeDistributed(conv), build_neuron("lif", v_threshold=0.3))
    rec_m = Recorder(multi, ProbeConfig(full=True, seed=2))
    with torch.no_grad():
        multi(x)
    single = build("s")
    rec_s = Recorder(single, ProbeConfig(full=True, seed=2, step_mode="s"))
    with torch.no_grad():
        for t in range(7):
            single(x[t])
    a, b = rec_m.neurons["1"], rec_s.neurons["1"]
    assert a.total_spikes > 0 and b.total_spikes == a.total_spikes
    np.testing.assert_array_equal(b.spikes.array(), a.spikes.array())
    np.testing.assert_allclose(b.v.array(), a.v.array(), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(b.raster.array(), a.raster.array())
    assert rec_s.steps == 7 and rec_s.samples == 2 and rec_s.forwards == 7
    assert rec_s.hook_seconds > 0


def test_spikingjelly_membrane_is_switched_on_while_attached_and_restored():
    from spikingjelly.activation_based import functional, layer, neuron

    torch.manual_seed(1)
    net = nn.Sequential(layer.Linear(6, 5, step_mode="m"), neuron.LIFNode(tau=2.0, step_mode="m"))
    x = torch.rand(9, 2, 6) * 3
    with torch.no_grad():
        plain = net(x)
    before = _state(net)
    functional.reset_net(net)
    rec = Recorder(net, ProbeConfig(full=True))
    assert net[1].store_v_seq is True
    with torch.no_grad():
        probed = net(x)
    v_seq = net[1].v_seq.clone()
    rec.detach()
    assert torch.equal(plain, probed) and plain.sum() > 0
    assert net[1].store_v_seq is False and net[1].v_seq is None
    assert _state(net) == before
    np.testing.assert_array_equal(rec.neurons["1"].v.array(), v_seq.numpy())
    off = Recorder(net, ProbeConfig(full=True, peer_membrane=False))
    functional.reset_net(net)
    with torch.no_grad():
        net(x)
    off.detach()
    assert len(off.neurons["1"].v) == 0 and len(off.neurons["1"].spikes) == 9


def test_norse_cells_in_their_own_state_loop():
    norse = pytest.importorskip("norse.torch")

    torch.manual_seed(0)
    net = norse.SequentialState(nn.Linear(10, 6), norse.LIFCell(p=norse.LIFParameters(v_th=torch.tensor(0.3))))
    xs = torch.rand(9, 4, 10) * 40

    def run():
        state, spikes, vs = None, [], []
        with torch.no_grad():
            for t in range(9):
                s, state = net(xs[t], state)
                spikes.append(s)
                vs.append(state[1].v)
        return torch.stack(spikes), torch.stack(vs)

    s0, v0 = run()
    rec = Recorder(net, ProbeConfig(full=True, step_mode="s"))
    s1, v1 = run()
    rec.detach()
    assert torch.equal(s0, s1) and torch.equal(v0, v1)
    r = rec.neurons["1"]
    assert r.kind == "norse" and r.v_kind == "post_reset" and r.threshold == pytest.approx(0.3)
    np.testing.assert_array_equal(r.spikes.array(), s0.numpy() != 0)
    np.testing.assert_array_equal(r.v.array(), v0.numpy())
    assert rec.steps == 9 and rec.samples == 4 and 0 < s0.sum() < s0.numel()
