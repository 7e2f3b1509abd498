"""Every registered neuron: builds by name, runs [T, ...], exposes last_v/last_spikes, passes gradients."""

import pytest
import torch

from snnstudio.errors import ModelError
from snnstudio.snn.neurons import NEURONS, SpikingNeuron, build_neuron

REQUIRED = ["if", "lif", "plif", "ma_lif", "psn", "masked_psn", "sliding_psn", "psu", "ipsu", "rpsu",
            "paralif_sb", "paralif_gs", "paralif_d", "paralif_sd", "paralif_td", "paralif_t", "paralif_st", "paralif_tt"]
T = 6
PARAMS = {"psn": dict(T=T), "masked_psn": dict(T=T, k=2), "sliding_psn": dict(k=3), "psu": dict(T=T, v_threshold=0.5),
          "ipsu": dict(T=T), "rpsu": dict(T=T, v_threshold=0.5), "paralif_d": dict(v_threshold=0.05),
          "paralif_sd": dict(v_threshold=0.02), "paralif_td": dict(v_threshold=0.05), "paralif_st": dict(v_threshold=0.6),
          "paralif_tt": dict(v_threshold=0.4), "paralif_t": dict(v_threshold=0.4)}


def test_registry_is_complete():
    assert set(REQUIRED) <= set(NEURONS)


@pytest.mark.parametrize("name", sorted(NEURONS))
def test_neuron_contract_and_gradients(name):
    torch.manual_seed(0)
    n = build_neuron(name, **PARAMS.get(name, {}))
    assert isinstance(n, SpikingNeuron) and n.step_mode == "m" and n.registry_name == name
    x = (torch.randn(T, 4, 3, 5) * 2 + 0.5).requires_grad_()
    s = n(x)
    assert s.shape == x.shape and set(s.unique().tolist()) <= {0.0, 1.0}
    assert 0 < s.detach().mean() < 1, "inputs chosen so that some neurons fire and some do not"
    assert n.last_v.shape == x.shape and torch.equal(n.last_spikes, s.detach())
    assert not n.last_v.requires_grad
    (s * torch.randn_like(s)).sum().backward()
    assert x.grad.abs().sum() > 0
    for pname, p in n.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, pname
    if n.v_threshold is not None and name not in ("psn", "masked_psn", "sliding_psn"):
        fired = s.detach().bool()
        op = torch.gt if getattr(n, "strict", name.startswith(("psu", "ipsu", "rpsu", "paralif"))) else torch.ge
        assert torch.equal(op(n.last_v, n.v_threshold), fired)
    n.reset()
    assert n.last_v is None and n.last_spikes is None


@pytest.mark.parametrize("name", sorted(NEURONS))
def test_single_step_support_is_declared_honestly(name):
    n = build_neuron(name, **PARAMS.get(name, {}))
    if n.supports_single_step:
        s1 = build_neuron(name, step_mode="s", **PARAMS.get(name, {}))
        s1.load_state_dict(n.state_dict())
        out = s1(torch.randn(4, 3))
        assert out.shape == (4, 3)
    else:
        assert n.looks_across_time
        with pytest.raises(ModelError):
            build_neuron(name, step_mode="s", **PARAMS.get(name, {}))


def test_record_false_keeps_nothing():
    n = build_neuron("lif", record=False)
    n(torch.ones(3, 2))
    assert n.last_v is None
