"""Small real models for the probe tests: ours (Conv/BN + our LIF), SpikingJelly's and snnTorch's."""

from __future__ import annotations

import torch
from torch import nn

from snnstudio.bench.probes import TimeDistributed
from snnstudio.snn.neurons import build_neuron


def ours_net(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    td = TimeDistributed
    net = nn.Sequential(
        td(nn.Conv2d(2, 4, 3, padding=1, bias=False)), td(nn.BatchNorm2d(4)), build_neuron("lif"),
        td(nn.Conv2d(4, 6, 3, padding=1)), td(nn.AvgPool2d(2)), build_neuron("lif", v_threshold=0.5),
        td(nn.Flatten()), td(nn.Linear(6 * 4 * 4, 5)), build_neuron("lif"),
    )
    with torch.no_grad():
        net[1].module.weight.fill_(1.5)
        net[1].module.running_var.fill_(0.5)
    return net.eval()


def spike_input(T=6, B=3, C=2, H=8, W=8, p=0.3, seed=1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(T, B, C, H, W, generator=g) < p).float()


class ToyTemporalAttention(nn.Module):
    """Duck-typed attention: a weight per time step and batch item (layout "T,B")."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(1, 1)
        self.enabled = True
        self.weights_layout = "T,B"
        self.last_weights = None

    def forward(self, x):
        if not self.enabled:
            return x
        pooled = x.flatten(2).mean(2, keepdim=True)  # [T, B, 1]
        w = torch.sigmoid(self.fc(pooled))[..., 0]  # [T, B]
        self.last_weights = w.detach()
        return x * w.reshape(*w.shape, *([1] * (x.dim() - 2)))
