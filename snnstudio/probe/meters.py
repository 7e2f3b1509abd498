"""Activity meters from a :class:`~snnstudio.probe.recorder.Recorder`: firing rate, sparsity, spike count.

Rates come from the recorder's running totals, so they are exact over the whole run however
long it was (the ring buffers only bound the per-step history). Definitions, per layer:

* ``firing_rate`` = spikes / (neurons × steps × samples) — the fraction of neuron-steps that fired;
* ``sparsity`` = 1 − firing_rate;
* ``spikes_per_step`` = spikes per sample per time step;
* ``spikes_per_sample`` = spikes per sample over all the steps it was fed (the whole window).

The total row pools every neuron layer (a neuron-weighted rate, not the mean of layer rates).
``rate_per_step`` gives the per-step history kept in the ring (batch-averaged rate per step).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from snnstudio.errors import SnnStudioError
from snnstudio.probe.recorder import Recorder


@dataclass(frozen=True)
class LayerActivity:
    name: str
    neurons: int
    firing_rate: float
    sparsity: float
    spikes_per_step: float
    spikes_per_sample: float
    spikes: float

    def to_dict(self) -> dict:
        """The fields as a plain dict (JSON-able)."""
        return asdict(self)


def _row(name: str, neurons: int, spikes: float, neuron_steps: int, sample_steps: int, samples: int) -> LayerActivity:
    rate = spikes / neuron_steps if neuron_steps else 0.0
    return LayerActivity(
        name=name,
        neurons=neurons,
        firing_rate=rate,
        sparsity=1.0 - rate,
        spikes_per_step=spikes / sample_steps if sample_steps else 0.0,
        spikes_per_sample=spikes / samples if samples else 0.0,
        spikes=spikes,
    )


def layer_activity(recorder: Recorder) -> dict[str, LayerActivity]:
    """Per-layer activity since the recorder's last clear, in model order."""
    return {
        name: _row(name, rec.neurons, rec.total_spikes, rec.neuron_steps, rec.sample_steps, recorder.samples)
        for name, rec in recorder.neurons.items()
        if rec.neuron_steps
    }


def total_activity(recorder: Recorder) -> LayerActivity:
    """All neuron layers pooled: rate over every neuron-step, spikes summed over layers."""
    recs = [r for r in recorder.neurons.values() if r.neuron_steps]
    spikes = sum(r.total_spikes for r in recs)
    neuron_steps = sum(r.neuron_steps for r in recs)
    sample_steps = max((r.sample_steps for r in recs), default=0)
    return _row("total", sum(r.neurons for r in recs), spikes, neuron_steps, sample_steps, recorder.samples)


def rate_per_step(recorder: Recorder, layer: str) -> np.ndarray:
    """The kept per-step history of a layer's firing rate (``[steps]``, oldest first)."""
    try:
        return recorder.neurons[layer].rate.array()
    except KeyError:
        raise SnnStudioError(f"no neuron layer named {layer!r}; known: {', '.join(recorder.neurons)}") from None


def activity_report(recorder: Recorder) -> dict:
    """JSON-able: ``{"layers": {name: {...}}, "total": {...}}``."""
    return {
        "layers": {k: v.to_dict() for k, v in layer_activity(recorder).items()},
        "total": total_activity(recorder).to_dict(),
    }
