"""The runner on the zoo's own models (MA-SNN gesture net), against the model's forward."""

import numpy as np
import pytest
import torch

zoo = pytest.importorskip("snnstudio.snn.zoo")

from snnstudio.engine.runner import ModelRunner  # noqa: E402
from snnstudio.engine.demo import rotating_bar_recording  # noqa: E402

from engine_helpers import frames_of  # noqa: E402


def _frames(n, dt=20_000):
    rec = rotating_bar_recording(duration_us=200_000, rate_hz=2_000_000)
    return frames_of(rec, dt, n)


def _pooled(frames, k=4):
    x = torch.from_numpy(np.stack(frames))
    return torch.nn.functional.avg_pool2d(x, k) * k * k  # [T, 2, 32, 32]: 128 sum-pooled by 4


def test_stateful_zoo_net_streams_like_its_multistep_forward():
    cfg = zoo.default_config("ma_snn_gesture_small", T=6, attention="none", neuron_params=dict(zoo.MA_LIF))
    torch.manual_seed(0)
    model = zoo.build_model(cfg)
    assert not model.looks_across_time
    runner = ModelRunner(model, name="small")
    assert runner.mode == "stateful" and runner.window_T == 6 and runner.input_hw == (32, 32)
    frames = _frames(6)
    steps = [runner.step(f) for f in frames]
    torch.manual_seed(0)
    oracle = zoo.build_model(cfg).eval()
    with torch.no_grad():
        out = oracle(_pooled(frames)[:, None])  # [1, classes], mean over T
    np.testing.assert_allclose(steps[-1][2], out[0].numpy(), rtol=1e-5, atol=1e-6)
    s1 = oracle.conv1.neuron.last_spikes  # [T, 1, C, H, W]
    layer = steps[-1][0][0]
    assert layer.name == "conv1.neuron" and layer.shape == tuple(s1.shape[2:])
    assert layer.spike_count == int((s1[-1] > 0.5).sum())


def test_window_zoo_net_shows_attention_of_the_window():
    cfg = zoo.default_config("ma_snn_gesture_small", T=4)
    torch.manual_seed(1)
    model = zoo.build_model(cfg)
    runner = ModelRunner(model, name="tcsa")
    assert runner.mode == "window"
    frames = _frames(5)
    for f in frames:
        layers, attention, readout, (sops, energy) = runner.step(f)
    torch.manual_seed(1)
    oracle = zoo.build_model(cfg).eval()
    with torch.no_grad():
        out = oracle(_pooled(frames[-4:])[:, None])
    np.testing.assert_allclose(readout, out[0].numpy(), rtol=1e-5, atol=1e-6)
    names = [a.name for a in attention]
    assert names[:3] == ["conv1.attention", "conv2.attention", "conv3.attention"]
    a = attention[0]
    att = oracle.conv1.attention
    # the runner streams a conv/BN-fused copy (snnstudio.snn.fuse): equal up to float rounding
    np.testing.assert_allclose(a.ta, att.ta.last_weights[:, 0].numpy(), rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(a.ca, att.ca.last_weights[0].numpy(), rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(a.sa, att.sa.last_weights[0].numpy(), rtol=1e-4, atol=1e-7)
    assert a.ta.shape == (4,) and a.sa.ndim == 2
    # SOPs / energy of one step = the op counter's count over the window / T
    from snnstudio.probe import EnergyConfig, OpCounter

    with OpCounter(oracle, EnergyConfig(step_mode="m")) as oc, torch.no_grad():
        oracle(_pooled(frames[-4:])[:, None])
    rep = oc.report()
    runner.cost_every = 1
    layers, _, _, (sops, energy) = runner.step(frames[-1])  # window now frames[-3:] + frames[-1]
    assert energy is not None and energy > 0
    assert rep["energy_pj"] / 4 == pytest.approx(energy, rel=0.5)
    # per layer: the ops of its block (conv1.conv, conv1.attention.* → conv1.neuron); together the total
    assert sum(la.sops for la in layers) == pytest.approx(sops) and sum(la.energy_pj for la in layers) == pytest.approx(energy)
    for la in layers:
        block = la.name.rpartition(".")[0] + "."
        own = sum(r["energy_pj"] for n, r in rep["layers"].items() if n.startswith(block)) / 4
        assert la.energy_pj == pytest.approx(own, rel=0.5), la.name
        assert la.window_steps == 4 and 0.0 <= la.window_rate <= 1.0


def test_switching_a_zoo_attention_block_off():
    cfg = zoo.default_config("ma_snn_gesture_small", T=4)
    runner = ModelRunner(zoo.build_model(cfg))
    info = runner.info()
    switchable = [m.name for m in info.modules if m.switchable]
    assert "conv1.attention" in switchable and "conv1.attention.ta" in switchable
    runner.set_enabled("conv1.attention", False)
    assert not runner.model.conv1.attention.enabled
    _, attention, _, _ = runner.step(_frames(1)[0])
    assert not attention[0].enabled


def test_swapping_the_neuron_keeps_the_other_weights():
    from snnstudio.engine.models import with_neuron
    from snnstudio.engine.session import Session, SessionConfig
    from snnstudio.errors import ModelError

    cfg = zoo.default_config("ma_snn_gesture_small", T=4)
    model = zoo.build_model(cfg)
    swapped = with_neuron(model, "psn", "small")
    assert swapped.name == "small [psn]" and swapped.module.config.neuron == "psn"
    assert torch.equal(swapped.module.conv1.conv.layer.weight, model.conv1.conv.layer.weight)
    kinds = {getattr(m, "registry_name", None) for m in swapped.module.modules()}
    assert "psn" in kinds and "lif" not in kinds
    with pytest.raises(ModelError, match="zoo model"):
        with_neuron(torch.nn.Linear(2, 2), "psn")
    s = Session(SessionConfig(realtime=False))
    s.start()
    try:
        s.set_model(model)
        s.set_neuron("psn")
        s.open(rotating_bar_recording(duration_us=200_000))
        s.step(2)
        snap = s.wait_for(lambda x: x is not None and x.index >= 1, 30)
        assert not s.messages and snap.model_name.endswith("[psn]")
        assert {layer.kind for layer in snap.layers} == {"psn"}
        assert s.state.model.mode == "window"  # PSN looks across time
    finally:
        s.close()
