"""The MA-SNN gesture net: shapes, read-out, streaming equivalence, switches, bad input."""

import pytest
import torch

from snnstudio.errors import ModelError
from snnstudio.snn.zoo import (
    build_model,
    default_config,
    reset_states,
    set_enabled,
    set_step_mode,
    switchable_modules,
)


def _small(**kw):
    return default_config("ma_snn_gesture_small", **{"T": 6, **kw})


def _events(T=6, B=2, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(T, B, 2, size, size, generator=g) < 0.15).float() * 2.0


def _louder(model, gain=10.0):
    """Eval-mode BN starts as identity; a larger gain makes every layer fire."""
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
                mod.weight.fill_(gain)


def test_full_size_layout_matches_the_paper():
    m = build_model(default_config("ma_snn_gesture", T=4))
    assert m.fc1.fc.layer.in_features == 8192 and m.fc1.fc.layer.out_features == 256
    assert [m.conv1.conv.layer.out_channels, m.conv2.conv.layer.out_channels, m.conv3.conv.layer.out_channels] == [64, 128, 128]
    assert m.conv1.pool is None and m.conv2.pool is not None and m.conv3.pool is not None
    out = m(_events(T=4, B=1))
    assert out.shape == (1, 11)


def test_output_is_mean_over_T_of_last_spikes():
    torch.manual_seed(0)
    m = build_model(_small())
    out = m(_events())
    spikes = m.fc2.neuron.last_spikes
    assert spikes.shape == (6, 2, 11)
    assert torch.allclose(out, spikes.mean(0))
    assert torch.allclose(spikes, spikes.round(), atol=1e-6) and set(spikes.round().unique().tolist()) <= {0.0, 1.0}


def test_voting_read_out_averages_each_class_group_of_neurons():
    torch.manual_seed(0)
    m = build_model(_small(options={"vote": 4}))
    _louder(m)
    out = m(_events())
    spikes = m.fc2.neuron.last_spikes
    assert spikes.shape == (6, 2, 44) and out.shape == (2, 11)
    by_hand = torch.stack([spikes[:, :, 4 * k : 4 * k + 4].mean((0, 2)) for k in range(11)], dim=1)
    assert spikes.sum() > 0 and torch.allclose(out, by_hand)
    levels = set((out * 24).round().unique().tolist())  # T·vote = 24 levels, where one neuron gives 6
    assert levels <= set(range(25)) and torch.allclose(out * 24, (out * 24).round(), atol=1e-5)
    with pytest.raises(ModelError, match="vote"):
        build_model(_small(options={"vote": 0}))


def test_log_input_is_the_plain_net_on_log_counts():
    """``input_log``: the net sees ``log(1 + counts)`` — the oracle is the same weights fed
    ``log1p`` of the input by hand."""
    torch.manual_seed(0)
    plain = build_model(_small())
    _louder(plain)
    logged = build_model(_small(options={"input_log": True}))
    logged.load_state_dict(plain.state_dict())
    x = _events() * 7.0  # counts well above 1, where log1p and identity differ
    reset_states(plain)
    want = plain(torch.log1p(x))
    want_v = plain.conv1.neuron.last_v.clone()
    reset_states(logged)
    got = logged(x)
    assert torch.equal(got, want) and want.sum() > 0
    assert torch.equal(logged.conv1.neuron.last_v, want_v)
    reset_states(plain)
    plain(x)
    assert not torch.allclose(plain.conv1.neuron.last_v, want_v)  # the raw counts drive it otherwise


def test_single_step_equals_multi_step_without_attention():
    torch.manual_seed(0)
    m = build_model(_small(attention="none"))
    m.eval()
    _louder(m)
    assert not m.looks_across_time
    x = _events(seed=1)
    with torch.no_grad():
        multi = m(x)
        hidden = m.fc1.neuron.last_spikes
        set_step_mode(m, "s")
        steps, hidden_steps = [], []
        for t in range(x.shape[0]):
            steps.append(m(x[t]))
            hidden_steps.append(m.fc1.neuron.last_spikes)
        set_step_mode(m, "m")
    assert multi.abs().sum() > 0 and 0 < hidden.mean() < 1  # spikes flow, so the comparison means something
    assert torch.allclose(torch.stack(hidden_steps), hidden, atol=1e-5)  # LIF spikes are 1 ± ulp (surrogate trick)
    assert torch.allclose(torch.stack(steps).mean(0), multi, atol=1e-6)


@pytest.mark.parametrize("att", ["ta", "ca", "sa", "tcsa"])
def test_attention_looks_across_time(att):
    assert build_model(_small(attention=att)).looks_across_time


def test_switching_all_attention_off_equals_the_plain_model():
    torch.manual_seed(0)
    att = build_model(_small(attention="tcsa")).eval()
    _louder(att)
    plain = build_model(_small(attention="none")).eval()
    missing, unexpected = plain.load_state_dict(att.state_dict(), strict=False)
    assert not missing and unexpected and all(".attention." in k for k in unexpected)
    x = _events(seed=2)
    with torch.no_grad():
        with_att = att(x)
        for s in switchable_modules(att):
            if s.kind == "attention":
                set_enabled(att, s.name, False)
        reset_states(att)
        assert torch.allclose(att(x), plain(x))
        assert all(not s.enabled for s in switchable_modules(att) if s.kind == "attention")
    reset_states(att)
    assert plain(x).abs().sum() > 0
    assert not torch.allclose(with_att, plain(x))


def test_module_tree_names_attention_parts():
    m = build_model(_small(attention="tcsa"))
    names = {s.name: s.kind for s in switchable_modules(m)}
    assert names["conv1.attention"] == "attention"
    assert names["conv2.attention.ca"] == "attention_part"
    assert names["fc1.attention.ta"] == "attention_part"
    assert "fc1.attention.ca" not in names  # FC layers carry TA only
    set_enabled(m, "conv2.attention.sa", False)
    assert m.conv2.attention.sa.enabled is False
    with pytest.raises(ModelError, match="no switchable module"):
        set_enabled(m, "conv9.attention", False)


def test_gradients_reach_the_first_layer():
    torch.manual_seed(0)
    m = build_model(_small())  # the preset's MA-SNN LIF parameters: the net fires from the start
    out = m(_events(seed=3))
    assert m.conv3.neuron.last_spikes.sum() > 0
    torch.nn.functional.mse_loss(out, torch.eye(11)[:2]).backward()
    g = m.conv1.conv.layer.weight.grad
    assert g is not None and g.abs().sum() > 0


def test_bad_input_is_a_model_error():
    m = build_model(_small())
    with pytest.raises(ModelError, match="does not match"):
        m(torch.zeros(6, 1, 2, 64, 64))
    with pytest.raises(ModelError, match=r"\[T, B, C, H, W\]"):
        m(torch.zeros(2, 32, 32))
    with pytest.raises(ModelError, match="built for T = 6"):
        m(torch.zeros(5, 1, 2, 32, 32))
    with pytest.raises(ModelError, match="widths"):
        build_model(_small(widths=(8, 8)))
