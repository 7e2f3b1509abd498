"""The one model-spec resolver: .nir graphs (time step from metadata or --dt-us), Python factories
with weights that never run code, one-line errors, and never the default model in place of a
model that failed to load."""

from __future__ import annotations

import json
import textwrap
import threading

import nir
import numpy as np
import pytest
import torch

from snnstudio.cli import main
from snnstudio.engine.models import load_model
from snnstudio.engine.session import Session
from snnstudio.engine.spec import ModelSpec, parse_spec
from snnstudio.engine.types import SessionConfig
from snnstudio.errors import CheckpointError, ModelError
from snnstudio.events.frames import bin_events
from snnstudio.events.preprocess import Preprocess
from snnstudio.snn.neurons.base import SpikingNeuron
from snnstudio.snn.nir_io import load_nir

DT_US = 10_000


def snntorch_like_graph(metadata: dict | None = None) -> nir.NIRGraph:
    """What snnTorch's exporter writes for Flatten → Linear → Leaky(β=0.9) → Linear → Leaky(β=0.8)
    on 2×16×16 input (``tau = dt/(1−β)``, ``r = tau/dt``, dt = 1e-4 s)."""
    rng = np.random.default_rng(0)
    dt = 1e-4

    def leaky(beta, n):
        tau = dt / (1 - beta)
        return nir.LIF(tau=np.full(n, tau), r=np.full(n, tau / dt), v_leak=np.zeros(n), v_threshold=np.ones(n),
                       v_reset=np.zeros(n))

    nodes = {
        "input": nir.Input(input_type=np.array([2, 16, 16])),
        "flat": nir.Flatten(input_type={"input": np.array([2, 16, 16])}, start_dim=0),
        "fc1": nir.Affine(weight=rng.normal(0, 0.5, (8, 512)).astype(np.float32), bias=np.zeros(8, np.float32)),
        "lif1": leaky(0.9, 8),
        "fc2": nir.Affine(weight=rng.normal(0, 2.0, (3, 8)).astype(np.float32), bias=np.zeros(3, np.float32)),
        "lif2": leaky(0.8, 3),
        "output": nir.Output(output_type=np.array([3])),
    }
    edges = [("input", "flat"), ("flat", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"), ("lif2", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata or {}, type_check=False)


@pytest.fixture(scope="module")
def recording():
    from snnstudio.events.synthetic import generate_gesture

    return generate_gesture("swipe_right", seed=1, duration_us=150_000)


def _session(snaps, ended):
    cfg = SessionConfig(dt_us=DT_US, realtime=False, loop=False, raster_neurons=4096,
                        preprocess=Preprocess(out_size=None, rate="none"))
    return Session(cfg, on_snapshot=snaps.append, on_state=lambda st: ended.set() if st.ended else None).start()


def test_nir_graph_needs_a_time_step_from_its_metadata_or_dt_us(tmp_path):
    plain = tmp_path / "plain.nir"
    nir.write(str(plain), snntorch_like_graph())
    with pytest.raises(ModelError, match=r"does not say its time step.*--dt-us"):
        load_model(str(plain))
    with_dt = tmp_path / "with_dt.nir"
    nir.write(str(with_dt), snntorch_like_graph({"dt": 1e-4}))
    a, b = load_model(str(with_dt)).module, load_model(ModelSpec(str(plain), dt_us=100)).module
    assert a.nir_dt_us == pytest.approx(100) and b.nir_dt_us == pytest.approx(100)
    x = torch.rand(5, 1, 2, 16, 16) * 4
    torch.testing.assert_close(a(x), b(x))
    slow = load_model(ModelSpec(str(plain), dt_us=400)).module  # another step: other decays
    slow(x)
    a(x)
    v_a = [m.last_v for m in a.modules() if isinstance(m, SpikingNeuron)][0]
    v_slow = [m.last_v for m in slow.modules() if isinstance(m, SpikingNeuron)][0]
    assert not torch.allclose(v_a, v_slow)


def test_nir_graph_streams_like_the_whole_sequence(tmp_path, recording):
    path = tmp_path / "exported.nir"
    nir.write(str(path), snntorch_like_graph())
    snaps, ended = [], threading.Event()
    s = _session(snaps, ended)
    try:
        s.set_model(ModelSpec(str(path), dt_us=100))
        s.open(recording)
        assert s.sync(120) and not s.messages, list(s.messages)
        s.play()
        assert ended.wait(300)
        assert s.sync(60) and not s.messages, list(s.messages)
    finally:
        s.close()
    assert snaps[0].model_name == "exported"
    names = [layer.name for layer in snaps[0].layers]
    assert len(names) == 2
    T = len(snaps)
    x = bin_events(recording.events, tuple(recording.sensor_size), dt_us=DT_US, t_start_us=snaps[0].t_start_us,
                   n_frames=T, out_size=(16, 16))
    net = load_nir(path, dt=1e-4)
    # the whole sequence at once; the imported net takes the sensor's size pooled to 16×16 by the runner
    net(torch.from_numpy(x.astype(np.float32))[:, None])
    modules = dict(net.named_modules())
    fired = 0
    for name in names:
        want = modules[name].last_spikes.reshape(T, -1).numpy() > 0.5
        got = np.stack([next(l for l in sn.layers if l.name == name).raster for sn in snaps]).astype(bool)
        np.testing.assert_array_equal(got, want, err_msg=name)
        fired += int(want.sum())
    assert 0 < fired < T * 11


def test_a_model_that_fails_to_load_is_never_replaced_by_the_default(tmp_path, recording):
    broken = tmp_path / "broken.nir"
    broken.write_bytes(b"not a NIR file")
    snaps, ended = [], threading.Event()
    s = _session(snaps, ended)
    try:
        s.set_model(str(broken))
        s.open(recording)
        s.play()
        assert s.sync(120)
        s.step(3)
        assert s.sync(60)
        time_out = threading.Event()
        time_out.wait(0.3)
    finally:
        s.close()
    assert snaps == []  # nothing played, least of all the default model
    assert s.state.model is None
    assert any("broken.nir" in m and "not a readable NIR file" in m for m in s.messages), list(s.messages)


FACTORIES = """
import torch
from torch import nn
from snnstudio.snn.neurons import build_neuron

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2 * 8 * 8, 3)
        self.sn = build_neuron("lif")
        self.input_hw = (8, 8)

    def forward(self, x):
        t, b = x.shape[:2]
        return self.sn(self.fc(x.flatten(2)))

def factory():
    return Net()

def not_a_module():
    return 42

def raises():
    raise RuntimeError("no GPU here")

def quits():
    import sys
    sys.exit(3)

def no_size():
    net = Net()
    del net.input_hw
    return net
"""


class Smuggled:
    """A pickled object: torch.load(weights_only=True) must refuse to build it."""

    def __reduce__(self):
        return (print, ("code ran",))


def test_python_factory_specs_weights_and_errors(tmp_path, capsys):
    py = tmp_path / "mine.py"
    py.write_text(textwrap.dedent(FACTORIES))
    assert parse_spec(f"{py}:factory").kind == "python"
    assert parse_spec("my_pkg.nets:build").kind == "python"
    assert parse_spec("default").kind == "builtin" and parse_spec("x.nir").kind == "nir"
    assert "is run" in parse_spec(f"{py}:factory").runs_code() and parse_spec("default").runs_code() is None
    net = load_model(f"{py}:factory").module
    pt = tmp_path / "w.pt"
    state = {k: torch.full_like(v, 0.25) for k, v in net.state_dict().items()}
    torch.save(state, pt)
    loaded = load_model(ModelSpec(f"{py}:factory", str(pt))).module
    assert torch.equal(loaded.fc.weight, torch.full_like(loaded.fc.weight, 0.25))
    torch.save({"state_dict": state}, pt)  # a Lightning-style wrapper is unwrapped
    assert torch.equal(load_model(ModelSpec(f"{py}:factory", str(pt))).module.fc.bias, torch.full((3,), 0.25))
    evil = tmp_path / "evil.pt"
    torch.save({"fc.weight": torch.zeros(3, 128), "x": Smuggled()}, evil)
    capsys.readouterr()
    with pytest.raises(CheckpointError, match="cannot read weights"):
        load_model(ModelSpec(f"{py}:factory", str(evil)))
    assert "code ran" not in capsys.readouterr().out
    torch.save({"fc.weight": torch.zeros(3, 5)}, pt)
    with pytest.raises(CheckpointError, match=r"missing: fc.bias.*wrong shape: fc.weight"):
        load_model(ModelSpec(f"{py}:factory", str(pt)))
    line = textwrap.dedent(FACTORIES).splitlines().index('    raise RuntimeError("no GPU here")') + 1
    for spec, text in [(f"{py}:not_a_module", "returned int, not a torch nn.Module"),
                       (f"{py}:raises", f"raises\\(\\) raised RuntimeError: no GPU here \\(at mine.py:{line}\\)"),
                       (f"{py}:quits", "quits\\(\\) raised SystemExit: 3"),
                       (f"{py}:nothing", "has no 'nothing'"),
                       ("no_such_package_xyz.nets:build", "cannot import no_such_package_xyz.nets"),
                       (str(tmp_path / "gone.py") + ":factory", "no such Python file")]:
        with pytest.raises(ModelError, match=text):
            load_model(spec)
    with pytest.raises(ModelError, match="--weights goes with a Python factory"):
        load_model(ModelSpec("default", str(pt)))


def test_a_network_that_does_not_fit_the_frames_says_how_to_declare_its_size(tmp_path, recording):
    py = tmp_path / "mine.py"
    py.write_text(textwrap.dedent(FACTORIES))
    snaps, ended = [], threading.Event()
    s = _session(snaps, ended)
    try:
        s.set_model(f"{py}:no_size")
        s.open(recording)
        assert s.sync(120)
    finally:
        s.close()
    text = s.messages[-1]
    assert "does not run on 128x128 event frames" in text and "input_hw = (H, W)" in text and "\n" not in text
    assert s.state.model is None and snaps == []


def test_cli_inspect_and_one_line_errors(tmp_path, capsys):
    py = tmp_path / "mine.py"
    py.write_text(textwrap.dedent(FACTORIES))
    assert main(["models", "--inspect", f"{py}:factory", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "python" and data["input_hw"] == [8, 8] and data["n_classes"] == 3
    assert data["layers"] == [{"name": "sn", "kind": "lif", "shape": [3], "framework": "snnstudio"}]
    assert str(py) in data["runs_code"]
    graph = tmp_path / "g.nir"
    nir.write(str(graph), snntorch_like_graph())
    assert main(["models", "--inspect", str(graph), "--dt-us", "100", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "nir" and data["runs_code"] is None and data["input_hw"] == [16, 16]
    assert [(layer["shape"], layer["framework"]) for layer in data["layers"]] == [([8], "snnstudio"), ([3], "snnstudio")]
    for argv, text in [(["models", "--inspect", f"{py}:raises"], "raised RuntimeError"),
                       (["models", "--inspect", str(graph)], "does not say its time step"),
                       (["models", "--inspect", f"{py}:factory", "--dt-us", "100"], "--dt-us sets the time step of a .nir"),
                       (["predict", "synthetic", "--model", "default", "--weights", str(py)], "--weights goes with"),
                       (["gui", "--model", str(tmp_path / "none.nir")], "no such model file"),
                       (["eval", "--model", f"{py}:factory", "--data", "synthetic:test"], "use `snnstudio predict|run it over")]:
        assert main(argv) == 1, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
        assert any(t in err for t in text.split("|")), err


def test_readme_bring_your_own_network_examples_load(tmp_path):
    """Each framework's example in the README's "Bring your own network" loads and is probed."""
    import re
    from pathlib import Path

    from snnstudio.engine.models import inspect_model

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("## Bring your own network"):]
    section = section[:section.index("\n## ", 10)]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    frameworks = []
    for i, block in enumerate(blocks):
        if "norse" in block:
            pytest.importorskip("norse")
        py = tmp_path / f"example{i}.py"
        py.write_text(block)
        data = inspect_model(f"{py}:build")
        assert data["n_classes"] == 10 and data["input_hw"] == [32, 32] and not data["unprobed"]
        assert [layer["shape"] for layer in data["layers"]] == [[8, 32, 32], [10]]
        frameworks.append(data["layers"][0]["framework"])
    assert frameworks == ["spikingjelly", "snntorch", "norse"]


def test_a_package_module_factory_is_found_under_the_current_folder(tmp_path, monkeypatch):
    pkg = tmp_path / "my_nets_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "small.py").write_text(textwrap.dedent(FACTORIES))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.path", [p for p in __import__("sys").path if p not in ("", str(tmp_path))])
    loaded = load_model("my_nets_pkg.small:factory")
    assert loaded.name == "small:factory" and loaded.module.input_hw == (8, 8)
    assert str(tmp_path) not in __import__("sys").path  # only while importing


def test_predict_runs_your_own_network_with_its_weights(tmp_path, capsys):
    from pathlib import Path

    from safetensors.torch import save_file

    py = tmp_path / "mine.py"
    py.write_text(textwrap.dedent(FACTORIES))
    net = load_model(f"{py}:factory").module
    weights = tmp_path / "w.safetensors"
    w = torch.zeros(3, 128)
    w[0] = 2.0  # output 0 hears every input, 1 and 2 nothing: the prediction is 0 once it fires
    save_file({"fc.weight": w, "fc.bias": torch.zeros(3)}, str(weights))
    rec = Path(__file__).resolve().parents[1] / "data" / "io_davis_like.aedat4"
    assert main(["predict", str(rec), "--model", f"{py}:factory", "--weights", str(weights), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    summary = lines[-1]
    assert summary["type"] == "summary" and summary["model"] == "mine:factory"
    steps = [line for line in lines if line.get("type") != "summary"]
    predicted = {step["class"] for step in steps} - {None}
    assert len(steps) > 10 and predicted == {0}, predicted
