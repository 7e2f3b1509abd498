"""Your own network in the studio: a small conv SNN written with SpikingJelly, snnTorch or Norse in a
test-local ``.py`` file, opened as ``file.py:factory`` with safetensors weights through the session
(what the window's engine does), played over a synthetic recording; its recorded spikes must equal
the framework's own run exactly and its membrane potentials to 1e-5."""

from __future__ import annotations

import importlib.util
import textwrap
import threading

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from snnstudio.engine.session import Session
from snnstudio.engine.spec import ModelSpec
from snnstudio.engine.types import SessionConfig
from snnstudio.events.frames import bin_events
from snnstudio.events.preprocess import Preprocess

DT_US = 10_000
HW = (16, 16)

SPIKINGJELLY_NET = """
import torch
from torch import nn
from spikingjelly.activation_based import functional, layer, neuron


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = layer.Conv2d(2, 4, 3, padding=1)
        self.lif1 = neuron.LIFNode(tau=2.0)
        self.pool = layer.AvgPool2d(4)
        self.flat = layer.Flatten()
        self.fc = layer.Linear(4 * 4 * 4, 3)
        self.lif2 = neuron.LIFNode(tau=2.0)

    def forward(self, x):
        return self.lif2(self.fc(self.flat(self.pool(self.lif1(self.conv(x))))))


def multi_step():
    net = Net()
    functional.set_step_mode(net, "m")
    net.input_hw = (16, 16)
    net.class_names = ["left", "right", "other"]
    return net


def single_step():
    net = Net()
    net.input_hw = (16, 16)
    return net
"""

SNNTORCH_NET = """
import torch
from torch import nn
import snntorch as snn


def factory():
    net = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), snn.Leaky(beta=0.8, init_hidden=True),
        nn.AvgPool2d(4), nn.Flatten(), nn.Linear(4 * 4 * 4, 3), snn.Leaky(beta=0.7, init_hidden=True, output=True),
    )
    net.input_hw = (16, 16)
    return net


def explicit():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2 * 16 * 16, 3)
            self.lif = snn.Leaky(beta=0.9)

        def forward(self, x):
            mem = self.lif.init_leaky()
            spk, mem = self.lif(self.fc(x.flatten(1)), mem)
            return spk

    return Net()
"""

NORSE_NET = """
import torch
from torch import nn
import norse.torch as norse


def factory():
    net = norse.SequentialState(
        nn.Conv2d(2, 4, 3, padding=1), norse.LIFCell(),
        nn.AvgPool2d(4), nn.Flatten(), nn.Linear(4 * 4 * 4, 3), norse.LIFCell(),
    )
    net.input_hw = (16, 16)
    return net


def looping():
    return norse.SequentialState(nn.Flatten(2), nn.Linear(2 * 16 * 16, 3), norse.LIF())
"""


def _import(path, name):
    spec = importlib.util.spec_from_file_location(f"oracle_{name}_{abs(hash(str(path)))}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _write(tmp_path, name: str, source: str, factory: str, scale: dict[str, float]):
    """The net file, and its weights (seeded, scaled to fire) as safetensors."""
    py = tmp_path / f"{name}.py"
    py.write_text(textwrap.dedent(source))
    torch.manual_seed(3)
    net = getattr(_import(py, name), factory)()
    with torch.no_grad():
        for key, p in net.state_dict().items():
            for prefix, k in scale.items():
                if key.startswith(prefix) and key.endswith("weight"):
                    p.mul_(k)
    weights = tmp_path / f"{name}.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(weights))
    return py, weights


@pytest.fixture(scope="module")
def recording():
    from snnstudio.events.synthetic import generate_gesture

    return generate_gesture("swipe_left", seed=0, duration_us=200_000)


def play(spec: ModelSpec, rec, follow: dict[str, list[int]]):
    """Every snapshot of one flat-out pass over ``rec`` through a :class:`Session` (the engine)."""
    cfg = SessionConfig(dt_us=DT_US, realtime=False, loop=False, raster_neurons=4096,
                        preprocess=Preprocess(out_size=None, rate="none"))
    snaps, ended = [], threading.Event()
    s = Session(cfg, on_snapshot=snaps.append, on_state=lambda st: ended.set() if st.ended else None)
    s.start()
    try:
        s.set_model(spec)
        s.open(rec)
        for layer, idx in follow.items():
            for i in idx:
                s.follow(layer, i)
        assert s.sync(120)
        assert not s.messages, list(s.messages)
        s.play()
        assert ended.wait(300), "the recording did not play to its end"
        assert s.sync(60)
        assert not s.messages, list(s.messages)
    finally:
        s.close()
    return snaps


def oracle_input(rec, snaps) -> torch.Tensor:
    """``[T, 1, 2, 16, 16]``: the played steps binned independently of the engine (sum-pooled)."""
    t0 = snaps[0].t_start_us
    assert all(s.t_start_us == t0 + i * DT_US for i, s in enumerate(snaps))
    x = bin_events(rec.events, tuple(rec.sensor_size), dt_us=DT_US, t_start_us=t0, n_frames=len(snaps),
                   out_size=(HW[1], HW[0]))
    return torch.from_numpy(x.astype(np.float32))[:, None]



def snntorch_run(net, layers, x: torch.Tensor) -> tuple[dict, dict]:
    """snnTorch's own time loop over ``x`` ``[T, B, ...]`` through the ``nn.Sequential`` ``net``
    (``init_hidden`` neurons): ``({layer: spikes [T, ...]}, {layer: membrane [T, ...]})`` of the
    layers named by index in ``layers``."""
    lifs = {k: net[int(k)] for k in layers}
    spikes = {k: [] for k in lifs}
    v = {k: [] for k in lifs}
    for m in lifs.values():
        m.reset_mem()
    with torch.no_grad():
        for t in range(x.shape[0]):
            h = x[t]
            for i, layer in enumerate(net):
                h = layer(h)
                if str(i) in lifs:
                    h = h[0] if isinstance(h, tuple) else h
                    spikes[str(i)].append(h.clone())
                    v[str(i)].append(layer.mem.clone())
    return {k: torch.stack(s) for k, s in spikes.items()}, {k: torch.stack(s) for k, s in v.items()}

def compare(snaps, spikes: dict[str, torch.Tensor], v: dict[str, torch.Tensor], follow: dict[str, list[int]]):
    """``spikes[layer]`` / ``v[layer]``: ``[T, ...]`` per step (batch 1) from the framework."""
    T = len(snaps)
    fired = {}
    for name, s in spikes.items():
        s = s.reshape(T, -1).numpy()
        got = np.stack([next(l for l in snap.layers if l.name == name).raster for snap in snaps]).astype(bool)
        assert got.shape == s.shape, (name, got.shape, s.shape)  # every neuron is in the raster
        np.testing.assert_array_equal(got, s > 0.5, err_msg=name)
        counts = [next(l for l in snap.layers if l.name == name).spike_count for snap in snaps]
        assert counts == [int(c) for c in (s > 0.5).sum(1)]
        fired[name] = int((s > 0.5).sum())
    for name, idx in follow.items():
        vv = v[name].reshape(T, -1).numpy()
        for t, snap in enumerate(snaps):
            layer = next(l for l in snap.layers if l.name == name)
            for i in idx:
                assert abs(layer.membrane[i] - vv[t, i]) <= 1e-5, (name, t, i, layer.membrane[i], vv[t, i])
    return fired


def _fires(fired: dict[str, int], T: int, sizes: dict[str, int]):
    """Every layer fired, and not always (the comparison above then means something)."""
    for name, n in fired.items():
        assert 0 < n < T * sizes[name], (name, n)


@pytest.mark.parametrize("factory", ["multi_step", "single_step"])
def test_spikingjelly_net_matches_its_own_monitors(tmp_path, recording, factory):
    from spikingjelly.activation_based import functional, neuron

    py, weights = _write(tmp_path, f"sj_{factory}", SPIKINGJELLY_NET, factory, {"conv": 3.0, "fc": 6.0})
    follow = {"lif1": [0, 37, 300, 1023], "lif2": [0, 1, 2]}
    snaps = play(ModelSpec(f"{py}:{factory}", str(weights)), recording, follow)
    assert snaps and snaps[0].model_name == f"sj_{factory}:{factory}"
    assert snaps[0].class_names == (("left", "right", "other") if factory == "multi_step" else ("0", "1", "2"))
    assert [l.kind for l in snaps[0].layers] == ["spikingjelly.LIFNode"] * 2
    x = oracle_input(recording, snaps)

    net = getattr(_import(py, "oracle"), factory)()
    from safetensors.torch import load_file

    net.load_state_dict(load_file(str(weights)))
    net.eval()
    functional.reset_net(net)
    # SpikingJelly's monitor module needs tensorboard: its nodes' outputs and own v / v_seq instead
    nodes = {"lif1": net.lif1, "lif2": net.lif2}
    outs = {k: [] for k in nodes}
    hooks = [m.register_forward_hook(lambda mod, a, o, k=k: outs[k].append(o.clone())) for k, m in nodes.items()]
    v = {k: [] for k in nodes}
    with torch.no_grad():
        if factory == "multi_step":
            for m in nodes.values():
                m.store_v_seq = True
            net(x)  # the whole sequence in one call
            spikes = {k: o[0] for k, o in outs.items()}
            v = {k: m.v_seq.clone() for k, m in nodes.items()}
        else:
            for t in range(x.shape[0]):
                net(x[t])
                for k, m in nodes.items():
                    v[k].append(m.v.clone())
            spikes = {k: torch.stack(o) for k, o in outs.items()}
            v = {k: torch.stack(o) for k, o in v.items()}
    for h in hooks:
        h.remove()
    assert all(isinstance(m, neuron.LIFNode) for m in nodes.values())
    fired = compare(snaps, spikes, v, follow)
    _fires(fired, len(snaps), {"lif1": 1024, "lif2": 3})


def test_snntorch_net_matches_its_own_hidden_state(tmp_path, recording):
    import snntorch as snn
    from safetensors.torch import load_file

    py, weights = _write(tmp_path, "st_net", SNNTORCH_NET, "factory", {"0.": 3.0, "4.": 6.0})
    follow = {"1": [0, 37, 300, 1023], "5": [0, 1, 2]}
    snaps = play(ModelSpec(f"{py}:factory", str(weights)), recording, follow)
    assert [l.kind for l in snaps[0].layers] == ["snntorch.Leaky"] * 2
    x = oracle_input(recording, snaps)

    net = _import(py, "oracle").factory()
    net.load_state_dict(load_file(str(weights)))
    net.eval()
    spikes, v = snntorch_run(net, ("1", "5"), x)
    fired = compare(snaps, spikes, v, follow)
    _fires(fired, len(snaps), {"1": 1024, "5": 3})
    assert isinstance(net[1], snn.Leaky)


def test_snntorch_explicit_state_net_is_refused_with_the_layer_named(tmp_path):
    from snnstudio.engine.models import load_model
    from snnstudio.errors import ModelError

    py = tmp_path / "st_explicit.py"
    py.write_text(textwrap.dedent(SNNTORCH_NET))
    with pytest.raises(ModelError, match=r"snnTorch layer\(s\) lif .*init_hidden=True"):
        load_model(f"{py}:explicit")


def test_norse_net_matches_its_own_state(tmp_path, recording):
    pytest.importorskip("norse")
    from safetensors.torch import load_file

    py, weights = _write(tmp_path, "norse_net", NORSE_NET, "factory", {"0.": 40.0, "4.": 60.0})
    follow = {"1": [0, 37, 300, 1023], "5": [0, 1, 2]}
    snaps = play(ModelSpec(f"{py}:factory", str(weights)), recording, follow)
    assert [l.kind for l in snaps[0].layers] == ["norse.LIFCell"] * 2
    x = oracle_input(recording, snaps)

    net = _import(py, "oracle").factory()
    net.load_state_dict(load_file(str(weights)))
    net.eval()
    spikes = {"1": [], "5": []}
    hooks = [net[int(k)].register_forward_hook(lambda m, a, o, k=k: spikes[k].append(o[0].clone())) for k in spikes]
    v = {"1": [], "5": []}
    state = None
    with torch.no_grad():
        for t in range(x.shape[0]):  # Norse's own loop: the state handed back in
            _, state = net(x[t], state)
            v["1"].append(state[1].v.clone())
            v["5"].append(state[5].v.clone())
    for h in hooks:
        h.remove()
    fired = compare(snaps, {k: torch.stack(s) for k, s in spikes.items()}, {k: torch.stack(s) for k, s in v.items()}, follow)
    _fires(fired, len(snaps), {"1": 1024, "5": 3})


def test_a_peer_net_with_a_trained_frame_steps_at_it(tmp_path, recording):
    """A network of another library streams stateful only, so one that says its trained frame
    (``frame_us``, 20 ms) steps at it even where the step asked for (10 ms) divides it (our
    stateful models would run as a window of sub-binned frames instead)."""
    py = tmp_path / "framed.py"
    py.write_text(textwrap.dedent(SPIKINGJELLY_NET) + "\n\ndef framed():\n    net = multi_step()\n    net.frame_us = 20_000\n    return net\n")
    s = Session(SessionConfig(dt_us=DT_US, realtime=False, loop=False)).start()
    try:
        s.set_model(f"{py}:framed")
        s.open(recording)
        assert s.sync(120) and not s.messages, list(s.messages)
        st = s.state
    finally:
        s.close()
    assert st.dt_us == 20_000 and st.model.mode == "stateful" and st.model.frame_us == 20_000
    assert st.model.layers == (("lif1", "spikingjelly.LIFNode", (4, 16, 16)), ("lif2", "spikingjelly.LIFNode", (3,)))


ODD_NET = """
import torch
from torch import nn
from spikingjelly.activation_based import layer, neuron


class MyLIFNeuron(nn.Module):
    '''A home-made neuron none of the probes' readers knows.'''

    def forward(self, x):
        return (x > 1).float()


def mixed():
    net = nn.Sequential(nn.Flatten(), nn.Linear(2 * 8 * 8, 4), neuron.IFNode(), nn.Linear(4, 3), MyLIFNeuron())
    net.input_hw = (8, 8)
    return net


def only_odd():
    net = nn.Sequential(nn.Flatten(), nn.Linear(2 * 8 * 8, 3), MyLIFNeuron())
    net.input_hw = (8, 8)
    return net
"""


@pytest.mark.filterwarnings("ignore::snnstudio.errors.SnnStudioWarning")
def test_layers_the_probes_cannot_read_are_named(tmp_path, recording):
    from snnstudio.engine.models import inspect_model, load_model
    from snnstudio.errors import ModelError, SnnStudioWarning

    py = tmp_path / "odd.py"
    py.write_text(textwrap.dedent(ODD_NET))
    data = inspect_model(f"{py}:mixed")
    assert [l["name"] for l in data["layers"]] == ["2"] and data["unprobed"] == ["4"]
    from snnstudio.engine import peers

    with pytest.warns(SnnStudioWarning, match="4 look like neuron layers the probes cannot read"):
        peers.prepare(_import(py, "odd").mixed(), "odd")
    s = Session(SessionConfig(realtime=False, loop=False)).start()
    try:
        s.set_model(f"{py}:mixed")
        s.open(recording)
        assert s.sync(120)
    finally:
        s.close()
    assert not s.messages, list(s.messages)  # a note, not an error (predict would stop on a message)
    assert s.state.model.unprobed == ("4",) and s.state.model.layers[0][0] == "2"  # it still runs
    with pytest.raises(ModelError, match=r"no spiking neurons to show .*not readable: 2"):
        from snnstudio.engine.runner import ModelRunner

        ModelRunner(load_model(f"{py}:only_odd").module)


def test_norse_time_looping_modules_are_refused(tmp_path):
    pytest.importorskip("norse")
    from snnstudio.engine.models import load_model
    from snnstudio.errors import ModelError

    py = tmp_path / "norse_loop.py"
    py.write_text(textwrap.dedent(NORSE_NET))
    with pytest.raises(ModelError, match=r"2 \(LIF\) is a Norse module that loops over time itself.*LIFCell"):
        load_model(f"{py}:looping")


def test_seeking_a_peer_net_primes_it_like_playing_from_rest(tmp_path, recording):
    """A seek re-primes a stateful model from rest on the steps before the position (the last
    ``T``): the step shown after seeking equals that of a fresh net fed those same steps."""
    py, weights = _write(tmp_path, "sj_seek", SPIKINGJELLY_NET, "multi_step", {"conv": 3.0, "fc": 6.0})
    cfg = SessionConfig(dt_us=DT_US, window_T=4, realtime=False, loop=False, raster_neurons=4096,
                        preprocess=Preprocess(out_size=None, rate="none"))
    snaps = []
    s = Session(cfg, on_snapshot=snaps.append).start()
    try:
        s.set_model(ModelSpec(f"{py}:multi_step", str(weights)))
        s.open(recording)
        s.seek(recording.t_start_us + 100_000)
        assert s.sync(120) and not s.messages, list(s.messages)
    finally:
        s.close()
    shown = snaps[-1]
    from safetensors.torch import load_file
    from spikingjelly.activation_based import functional

    t0 = shown.t_start_us - 4 * DT_US  # the primed steps, then the step shown
    x = bin_events(recording.events, tuple(recording.sensor_size), dt_us=DT_US, t_start_us=t0, n_frames=5,
                   out_size=(HW[1], HW[0]))
    net = _import(py, "oracle_seek").multi_step()
    net.load_state_dict(load_file(str(weights)))
    net.eval()
    functional.reset_net(net)
    spikes = {}
    hook = net.lif1.register_forward_hook(lambda m, a, o: spikes.__setitem__("lif1", o.clone()))
    with torch.no_grad():
        net(torch.from_numpy(x.astype(np.float32))[:, None])  # from rest, the five steps at once
    hook.remove()
    got = next(l for l in shown.layers if l.name == "lif1").raster.astype(bool)
    np.testing.assert_array_equal(got, spikes["lif1"][-1, 0].reshape(-1).numpy() > 0.5)
    assert got.any() and not got.all()
