import numpy as np
import pytest
import torch

from snnstudio.errors import SnnStudioError
from snnstudio.probe import ProbeConfig, Recorder, activity_report, layer_activity, rate_per_step, total_activity
from snnstudio.snn.neurons import SpikingNeuron

from probe_models import ours_net, spike_input


def test_rates_sparsity_and_counts_equal_hand_computation_over_two_batches():
    net = ours_net()
    rec = Recorder(net, ProbeConfig(capacity=3))  # ring smaller than the run: meters use totals
    outs = {}
    with torch.no_grad():
        for seed in (1, 2):
            net(spike_input(T=6, B=3, seed=seed))
            for name, m in net.named_children():
                if isinstance(m, SpikingNeuron):
                    outs.setdefault(name, []).append(m.last_spikes.numpy())
    rec.detach()
    act = layer_activity(rec)
    assert list(act) == list(outs)
    all_spikes, all_elems = 0.0, 0
    for name, arrs in outs.items():
        s = np.concatenate(arrs, axis=1)  # [T, 6 samples, ...]
        a = act[name]
        assert a.neurons == int(np.prod(s.shape[2:]))
        assert a.firing_rate == pytest.approx(s.mean())
        assert a.sparsity == pytest.approx(1 - s.mean())
        assert a.spikes_per_sample == pytest.approx(s.sum() / 6)
        assert a.spikes_per_step == pytest.approx(s.sum() / (6 * 6))
        all_spikes += s.sum()
        all_elems += s.size
    tot = total_activity(rec)
    assert tot.firing_rate == pytest.approx(all_spikes / all_elems)
    assert tot.spikes_per_sample == pytest.approx(all_spikes / 6)
    assert 0 < tot.firing_rate < 1
    last = outs["8"][-1]
    np.testing.assert_allclose(rate_per_step(rec, "8"), last[-3:].reshape(3, -1).mean(1), rtol=1e-6)
    rep = activity_report(rec)
    assert rep["total"]["spikes"] == pytest.approx(all_spikes)
    with pytest.raises(SnnStudioError, match="no neuron layer"):
        rate_per_step(rec, "zz")
