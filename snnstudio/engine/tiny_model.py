"""A small spiking conv net the engine can always build, with no trained weights: the ``tiny``
model (``--model tiny``) and the engine tests' fixture.

``[T, B, 2, H, W]`` event counts → sum-pool to 32×32 → Conv(2→8) → LIF → MaxPool 2 →
Conv(8→16) → LIF → MaxPool 2 → Linear(16·8·8 → classes) → LIF; output ``[T, B, classes]``
spikes. Weights are random (fixed seed) and scaled so that every layer fires on typical DVS
input; it classifies nothing — it exists so that activity can be shown and tested.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from snnstudio.snn.neurons import build_neuron


class TinySpikingNet(nn.Module):
    """Random-weight two-conv spiking net on 32×32 pooled event counts (see module docstring)."""

    input_hw = (32, 32)

    def __init__(self, n_classes: int = 11, seed: int = 0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.conv1 = nn.Conv2d(2, 8, 3, padding=1)
        self.sn1 = build_neuron("lif", tau=2.0, v_threshold=1.0)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.sn2 = build_neuron("lif", tau=2.0, v_threshold=1.0)
        self.fc = nn.Linear(16 * 8 * 8, n_classes)
        self.sn3 = build_neuron("lif", tau=2.0, v_threshold=1.0)
        with torch.no_grad():
            for m, gain in ((self.conv1, 1.5), (self.conv2, 2.5), (self.fc, 4.0)):
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * gain / m.weight[0].numel() ** 0.5)
                m.bias.fill_(0.05)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, b = x.shape[:2]
        y = x.flatten(0, 1)
        h, w = y.shape[-2:]
        if (h, w) != self.input_hw:
            y = F.adaptive_avg_pool2d(y, self.input_hw) * (h * w / (self.input_hw[0] * self.input_hw[1]))
        y = self.conv1(y.clamp(max=4.0))
        y = self.sn1(y.unflatten(0, (t, b))).flatten(0, 1)
        y = F.max_pool2d(y, 2)
        y = self.conv2(y)
        y = self.sn2(y.unflatten(0, (t, b))).flatten(0, 1)
        y = F.max_pool2d(y, 2)
        y = self.fc(y.flatten(1))
        return self.sn3(y.unflatten(0, (t, b)))
