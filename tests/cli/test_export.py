"""``snnstudio export --model M --nir OUT.nir``: the bundled no-attention gesture net exports, and
its graph played through the studio's session gives the checkpoint's own timeline; what NIR cannot
express is listed in one line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from snnstudio.cli import main
from snnstudio.engine.demo import bundled_demo_files


def _steps(capsys, *argv):
    assert main(["predict", *argv, "--json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.strip()]
    return [x for x in lines if x["type"] == "step"]


def test_an_exported_graph_plays_as_its_checkpoint(capsys, tmp_path):
    demo = bundled_demo_files()
    if not demo:
        pytest.skip("no bundled demo recording")
    out = tmp_path / "none.nir"
    assert main(["export", "--model", "gesture-lif-none", "--nir", str(out)]) == 0
    assert "play it with: snnstudio gui --model" in capsys.readouterr().out
    import nir

    graph = nir.read(out)
    kinds = [type(n).__name__ for n in graph.nodes.values()]
    assert kinds.count("LIF") == 5 and "Linear" in kinds  # five neuron layers, the vote as a fixed map
    want = _steps(capsys, str(demo[0]), "--model", "gesture-lif-none", "--seconds", "2")
    got = _steps(capsys, str(demo[0]), "--model", str(out), "--seconds", "2")
    assert len(got) == len(want) > 100
    names = list(want[0]["probabilities"])
    assert list(got[0]["probabilities"]) == names  # the class names came back with the graph
    p_want = np.array([[s["probabilities"][n] for n in names] for s in want])
    p_got = np.array([[s["probabilities"][n] for n in names] for s in got])
    np.testing.assert_allclose(p_got, p_want, atol=1e-5)  # BatchNorm folded: float rounding only
    top2 = np.sort(p_want, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 1e-4  # an exact tie may break either way
    assert clear.sum() > 0.9 * len(want)
    assert [s["predicted"] for s, c in zip(got, clear) if c] == [s["predicted"] for s, c in zip(want, clear) if c]


def test_what_nir_cannot_express_is_listed_in_one_line(capsys, tmp_path):
    assert main(["export", "--model", "default", "--nir", str(tmp_path / "d.nir")]) == 1
    err = capsys.readouterr().err
    assert "NIR cannot express" in err and "conv1.attention.ta (TemporalAttention: attention)" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "d.nir").exists() and not list(tmp_path.iterdir())  # nothing half written


def test_an_unwritable_output_is_refused_before_loading(capsys, tmp_path):
    assert main(["export", "--model", "gesture-lif-none", "--nir", str(tmp_path / "no" / "such" / "x.nir")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_a_graph_without_class_names_predicts_by_number(capsys, tmp_path):
    import torch
    from torch import nn

    from snnstudio.bench.probes import TimeDistributed
    from snnstudio.snn.neurons import build_neuron
    from snnstudio.snn.nir_io import save_nir

    demo = bundled_demo_files()
    if not demo:
        pytest.skip("no bundled demo recording")
    torch.manual_seed(0)
    net = nn.Sequential(TimeDistributed(nn.Conv2d(2, 4, 3, padding=1)), build_neuron("lif", v_threshold=0.3),
                        TimeDistributed(nn.AvgPool2d(8)), TimeDistributed(nn.Flatten()),
                        TimeDistributed(nn.Linear(4 * 4 * 4, 3)), build_neuron("lif", v_threshold=0.3)).eval()
    path = save_nir(net, tmp_path / "bare.nir", example_input=torch.zeros(2, 1, 2, 32, 32), dt=0.01)
    steps = _steps(capsys, str(demo[0]), "--model", str(path), "--seconds", "0.2")
    assert steps and all(list(s["probabilities"]) == ["0", "1", "2"] for s in steps)
    assert all(s["predicted"] is None or s["predicted"] in ("0", "1", "2") for s in steps)
