"""The evaluator against independent computations: switched-off attention = the model built without
it, spike counts = hooks on the neurons, energy = the probe's formula; variants and names."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snnstudio.errors import CheckpointError
from snnstudio.snn.checkpoints import save_checkpoint
from snnstudio.snn.layers import reset_states, spiking_neurons
from snnstudio.snn.zoo import MA_LIF, ModelConfig, build_model
from snnstudio.train import evaluate as E
from snnstudio.train.data import FrameDataset
from snnstudio.train.trainer import TrainConfig, _lr_at


def _cfg(attention="tcsa"):
    return ModelConfig(T=4, dt_us=100_000, input_size=(2, 8, 8), num_classes=3, class_names=["a", "b", "c"],
                       widths=(4, 8, 8, 16), attention=attention, neuron_params=dict(MA_LIF)).validate()


def _data(n=12, seed=0):
    rng = np.random.default_rng(seed)
    frames = rng.poisson(0.6, (n, 4, 2, 8, 8)).astype(np.uint16)
    return FrameDataset(frames, np.arange(n) % 3, ["a", "b", "c"], "toy", 100_000)


def _model(cfg, seed=0):
    torch.manual_seed(seed)
    m = build_model(cfg).eval()
    for mod in m.modules():  # non-trivial BN statistics so that the net is not silent
        if isinstance(mod, torch.nn.BatchNorm2d | torch.nn.BatchNorm1d):
            mod.running_var.fill_(0.2)
    return m


def test_attention_off_equals_the_model_without_attention():
    ds = _data()
    m = _model(_cfg("tcsa"))
    off, cfg_off, _ = E.variant_model(m, m.config, E.parse_variant("attention=off"))
    plain = build_model(_cfg("none")).eval()
    plain.load_state_dict({k: v for k, v in m.state_dict().items() if k in plain.state_dict()})
    a = E.evaluate_model(off, cfg_off, ds, batch_size=5)
    b = E.evaluate_model(plain, plain.config, ds, batch_size=5)
    for key in ("accuracy", "spike_count", "firing_rate", "sops"):
        assert a[key] == pytest.approx(b[key], rel=1e-9, abs=1e-12), key
    assert a["confusion"] == b["confusion"]
    # and the original model is untouched by the variant
    assert all(s.enabled for s in __import__("snnstudio.snn.zoo", fromlist=["x"]).switchable_modules(m))


def test_counts_match_hooks_and_argmax():
    ds = _data()
    m = _model(_cfg("tcsa"))
    row = E.evaluate_model(m, m.config, ds, batch_size=5)
    spikes = [0.0]
    hooks = [n.register_forward_hook(lambda mod, a, o: spikes.__setitem__(0, spikes[0] + float(o.sum())))
             for _, n in spiking_neurons(m)]
    x = torch.from_numpy(ds.frames.astype(np.float32)).transpose(0, 1)
    with torch.no_grad():
        reset_states(m)
        pred = m(x).argmax(1).numpy()
    for h in hooks:
        h.remove()
    assert row["spike_count"] == pytest.approx(spikes[0] / len(ds))
    assert row["accuracy"] == pytest.approx(float((pred == ds.labels).mean()))
    conf = np.zeros((3, 3), int)
    np.add.at(conf, (ds.labels, pred), 1)
    assert row["confusion"] == conf.tolist()
    assert row["energy_uj"] == pytest.approx((4.6 * row["macs"] + 0.9 * row["sops"]) * 1e-6)
    assert row["latency_ms_per_step"] > 0


def test_ablation_table_rows_and_files(tmp_path, monkeypatch):
    m = _model(_cfg("tcsa"))
    path = save_checkpoint(tmp_path / "toy", m, m.config, {"accuracy": 0.5})
    monkeypatch.setattr(E, "data_for", lambda spec, cfg, meta, limit, cache, workers=1, progress=None, filters="":
                        _data().limit(limit))
    calls = []
    res = E.ablation_table([str(path)], "toy", ["conv1.attention.ta=off,fc2.attention=off", "neuron=plif"], limit=9,
                           batch_size=4, device="cpu", progress=lambda d, t: calls.append((d, t)))
    assert [r["variant"] for r in res["rows"]] == ["as trained", "conv1.attention.ta=off,fc2.attention=off",
                                                   "neuron=plif"]
    assert res["rows"][2]["neuron"] == "plif" and res["rows"][2]["untrained"]
    assert all(r["samples"] == 9 for r in res["rows"])
    assert calls[-1] == (9, 9)  # 3 batches × 3 variants
    for suffix in ("json", "csv", "md"):
        E.write_table(res, tmp_path / f"t.{suffix}")
    assert (tmp_path / "t.md").read_text().count("\n") == 2 + 3
    stop = E.ablation_table([str(path)], "toy", ["attention=off"], device="cpu", cancel=lambda: True)
    assert stop["cancelled"] and stop["rows"] == []


def test_variant_and_name_errors(tmp_path):
    with pytest.raises(E.EvaluationError, match="on or off"):
        E.parse_variant("attention=maybe")
    with pytest.raises(E.EvaluationError, match="KEY=on"):
        E.parse_variant("attention")
    m = _model(_cfg("none"))
    with pytest.raises(E.EvaluationError, match="switchable: none"):
        E.variant_model(m, m.config, E.parse_variant("attention=off"))
    with pytest.raises(E.EvaluationError, match="unknown neuron"):
        E.variant_model(m, m.config, E.parse_variant("neuron=nosuch"))
    with pytest.raises(CheckpointError, match="no model"):
        E.resolve_model(tmp_path / "missing")


def test_cosine_schedule_and_warmup():
    cfg = TrainConfig(lr=1.0, epochs=10)
    assert _lr_at(cfg, 0) == pytest.approx(1.0)
    assert _lr_at(cfg, 5) == pytest.approx(0.5)
    assert _lr_at(cfg, 10) == pytest.approx(0.0, abs=1e-12)
    warm = TrainConfig(lr=1.0, epochs=10, warmup_epochs=2)
    assert _lr_at(warm, 1) == pytest.approx(0.5, rel=1e-2) and _lr_at(warm, 2) == pytest.approx(1.0)
