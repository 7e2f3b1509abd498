"""Small fixtures for the engine tests: recordings made in memory, a tiny model, a fake
attention block and a chunked event source."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from snnstudio.events.sources.base import EventBatch, EventSource
from snnstudio.events.types import EventRecording, make_events
from snnstudio.snn.neurons import build_neuron


def random_recording(n=20_000, duration_us=500_000, size=(32, 24), seed=0, labels=()):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, duration_us, n))
    ev = make_events(t, rng.integers(0, size[0], n), rng.integers(0, size[1], n), rng.integers(0, 2, n))
    return EventRecording(ev, size, labels=list(labels))


class ChunkedSource(EventSource):
    """Replays a recording as batches of irregular length (an un-paced live-like source)."""

    def __init__(self, rec: EventRecording, seed: int = 1):
        self.rec = rec
        self.sensor_size = rec.sensor_size
        self.seed = seed
        self.closed = False

    def batches(self):
        rng = np.random.default_rng(self.seed)
        t = int(self.rec.t_start_us)
        end = int(self.rec.t_end_us) + 1
        while t < end and not self.closed:
            d = int(rng.integers(1_000, 37_000))
            yield EventBatch(self.rec.time_slice(t, t + d), t, t + d)
            t += d

    def close(self):
        self.closed = True


class SmallNet(nn.Module):
    """Conv(2→4) → LIF → Linear(→3) → LIF on ``[T, B, 2, H, W]``; output ``[T, B, 3]``."""

    def __init__(self, hw=(24, 32), seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.input_hw = hw
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.sn1 = build_neuron("lif")
        self.fc = nn.Linear(4 * hw[0] * hw[1], 3)
        self.sn2 = build_neuron("lif")
        with torch.no_grad():
            self.conv.weight.mul_(4.0)
            self.fc.weight.mul_(8.0)

    def forward(self, x):
        t, b = x.shape[:2]
        y = self.sn1(self.conv(x.flatten(0, 1)).unflatten(0, (t, b)))
        return self.sn2(self.fc(y.flatten(2)))


class FakeTemporalAttention(nn.Module):
    """Scales each time step by fixed weights: a stand-in with the zoo's attention interface
    (``last_weights``, ``weights_layout``, ``enabled``, ``looks_across_time``)."""

    looks_across_time = True

    def __init__(self, T: int):
        super().__init__()
        self.w = torch.linspace(0.1, 1.0, T)
        self.enabled = True
        self.weights_layout = "T"
        self.last_weights = None

    def forward(self, x):
        if not self.enabled:
            self.last_weights = None
            return x
        self.last_weights = self.w
        return x * self.w.view(-1, *([1] * (x.dim() - 1)))


class AttentionNet(SmallNet):
    def __init__(self, T=4, **kw):
        super().__init__(**kw)
        self.ta = FakeTemporalAttention(T)
        self.window_T = T

    def forward(self, x):
        return super().forward(self.ta(x))


def frames_of(rec, dt_us, n):
    from snnstudio.engine.windows import count_frame

    t0 = rec.t_start_us
    return [count_frame(rec.time_slice(t0 + i * dt_us, t0 + (i + 1) * dt_us), rec.sensor_size) for i in range(n)]
