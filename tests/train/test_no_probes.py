"""Training keeps no probe records (trainer._no_probes): the native kernels then write no membrane
and recompute it in the backward — the same gradients, bit for bit, as with the records kept."""

import copy

import pytest
import torch

from snnstudio.snn.functional import native
from snnstudio.snn.layers import spiking_neurons
from snnstudio.snn.zoo import build_model, default_config
from snnstudio.train.trainer import _no_probes


def test_training_without_probe_records_gives_the_same_gradients_bit_for_bit():
    if native.build() is None:
        pytest.skip("no C compiler: the eager kernels run, with no recompute path")
    torch.manual_seed(0)
    cfg = default_config("ma_snn_gesture_small")
    kept = build_model(cfg)
    bare = copy.deepcopy(kept)
    _no_probes(bare)
    assert all(not m.record for _, m in spiking_neurons(bare)) and all(m.record for _, m in spiking_neurons(kept))
    x = (torch.rand(cfg.T, 3, *cfg.input_size) < 0.2).float()
    grads = []
    for model in (kept, bare):
        model.train()
        model(x).square().sum().backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    assert all(m.last_v is None for _, m in spiking_neurons(bare))
    assert any(g.abs().sum() > 0 for g in grads[0])
    for a, b in zip(*grads):
        assert torch.equal(a, b)
