"""A variant the weights were not trained as (a neuron swap, attention switched off) is watched
over its first steps, and a silent or saturated one is named with the trained checkpoint to open."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch

from snnstudio.engine.variant_watch import SATURATED_RATE, VariantWatch, trained_alternative


def _snap(n_events, **layers):
    """A snapshot-like object: ``layers`` name → (spike_count, rate)."""
    return SimpleNamespace(n_events=n_events, layers=[SimpleNamespace(name=k, spike_count=c, rate=r)
                                                      for k, (c, r) in layers.items()])


def test_a_silent_layer_is_named_once_enough_input_was_seen():
    w = VariantWatch("the neuron swap to plif", "gesture-plif-tcsa", min_steps=3, min_events=100)
    assert w.observe(_snap(500, conv1=(10, 0.1), fc1=(0, 0.0))) is None  # too few steps yet
    assert w.observe(_snap(0, conv1=(4, 0.1), fc1=(0, 0.0))) is None
    msg = w.observe(_snap(10, conv1=(3, 0.1), fc1=(0, 0.0)))
    assert w.done and "layer fc1 silent" in msg and "conv1" not in msg
    assert msg.startswith("The neuron swap to plif") and "gesture-plif-tcsa" in msg
    assert w.observe(_snap(10, fc1=(0, 0.0))) is None  # said once


def test_no_verdict_without_input_and_none_for_a_living_variant():
    w = VariantWatch("x", min_steps=2, min_events=1000)
    for _ in range(10):  # no events: silence proves nothing
        assert w.observe(_snap(0, conv1=(0, 0.0))) is None
    assert not w.done
    alive = VariantWatch("x", min_steps=2, min_events=10)
    assert alive.observe(_snap(20, conv1=(1, 0.01))) is None
    assert alive.observe(_snap(20, conv1=(0, 0.0))) is None and alive.done  # fired once: alive


def test_a_saturated_layer_is_named_and_a_fine_tune_offered_without_a_checkpoint():
    w = VariantWatch("switching block1.attention off", None, min_steps=2, min_events=1)
    w.observe(_snap(5, conv2=(900, SATURATED_RATE + 0.2), fc1=(3, 0.1)))
    msg = w.observe(_snap(5, conv2=(900, SATURATED_RATE + 0.1), fc1=(3, 0.1)))
    assert "layer conv2 saturated" in msg and "Teach panel" in msg and "open the trained" not in msg


def test_trained_alternative_reads_the_checkpoints_configs(tmp_path):
    for name, cfg in {"a": {"arch": "net", "neuron": "lif", "attention": "tcsa"},
                      "b": {"arch": "net", "neuron": "plif", "attention": "tcsa"},
                      "c": {"arch": "net", "neuron": "plif", "attention": "none"},
                      "d": {"arch": "other", "neuron": "psu", "attention": "tcsa"}}.items():
        (tmp_path / f"{name}.json").write_text(json.dumps({"config": cfg}))
        (tmp_path / f"{name}.safetensors").write_bytes(b"")
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "broken.safetensors").write_bytes(b"")
    (tmp_path / "e.json").write_text(json.dumps({"config": {"arch": "net", "neuron": "psu", "attention": "tcsa"}}))
    assert trained_alternative("net", "plif", "tcsa", tmp_path) == "b"
    assert trained_alternative("net", "plif", "none", tmp_path) == "c"
    assert trained_alternative("net", "psu", "tcsa", tmp_path) is None  # e has no weights beside it
    assert trained_alternative("net", "lif", None, tmp_path) == "a"
    assert trained_alternative("net", "x", None, tmp_path / "nowhere") is None
    assert trained_alternative("ma_snn_gesture", "plif", "tcsa") == "gesture-plif-tcsa"  # the bundled ones


@pytest.fixture
def dead_small_model():
    """The small gesture net with every convolution zeroed: no spike gets past its first layer."""
    from snnstudio.snn import zoo

    model = zoo.build_model(zoo.default_config("ma_snn_gesture_small", T=4))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.Conv2d):
                m.weight.zero_()
                if m.bias is not None:
                    m.bias.zero_()
    return model.eval()


def _run(session, steps):
    session.sync(60)
    first = session.latest().index + 1 if session.latest() is not None else 0
    session.step(steps)
    session.wait_for(lambda x: x is not None and x.index >= first + steps - 1, 60)
    session.sync(60)


def test_the_session_says_when_a_swapped_neuron_leaves_layers_silent(dead_small_model):
    from snnstudio.engine.demo import rotating_bar_recording
    from snnstudio.engine.session import Session, SessionConfig

    s = Session(SessionConfig(realtime=False, loop=True))
    s.start()
    try:
        s.set_model(dead_small_model)
        s.open(rotating_bar_recording(duration_us=2_000_000))
        _run(s, 14)
        assert not any("silent" in m for m in s.messages)  # the model as loaded is not watched
        s.set_neuron("psu")
        _run(s, 14)
        said = [m for m in s.messages if "silent" in m]
        assert len(said) == 1 and said[0].startswith("The neuron swap to psu") and "gesture-psu-tcsa" in said[0]
        switches = [i.name for i in s.state.model.modules if i.switchable]
        assert switches
        for name in switches:
            s.set_enabled(name, False)
        _run(s, 14)
        off = [m for m in s.messages if m.startswith("Switching")]
        assert len(off) == 1 and "silent" in off[0] and off[0].startswith(f"Switching {switches[-1]} off")
        # every attention block off in a PSU net: no bundled PSU net was trained without attention
        assert "open the trained" not in off[0] and "Teach panel" in off[0]
    finally:
        s.close()
