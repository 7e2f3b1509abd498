"""Pieces shared by the spiking transformers (:mod:`snnstudio.snn.spikformer`,
:mod:`snnstudio.snn.spikeformer`) on tokens ``[T, B, D, N]`` (channels before tokens, so token
mixing is ``nn.Conv1d`` with kernel 1): the Conv1d → BN pair of every projection, the token MLP
and the residual block ``x = x + attn(x); x = x + mlp(x)``.
"""

from __future__ import annotations

import torch
from torch import nn

from snnstudio.snn.layers import NeuronSpec, neuron_spec, seq

#: the role parameters of the transformers' neurons: Spikformer's LIF detaches its reset
DETACHED_RESET = {"detach_reset": True}


def conv1d_bn(cin: int, cout: int, bias: bool = False) -> nn.ModuleDict:
    """``{"conv": Conv1d(cin → cout, kernel 1), "bn": BatchNorm1d(cout)}``, both applied per time
    step to ``[T, B, C, N]`` (or one step ``[B, C, N]``)."""
    return nn.ModuleDict({"conv": seq(nn.Conv1d(cin, cout, 1, bias=bias), 2), "bn": seq(nn.BatchNorm1d(cout), 2)})


class SpikformerMLP(nn.Module):
    """Conv1d(D → hD) → BN → LIF → Conv1d(hD → D) → BN → LIF on tokens."""

    def __init__(self, dim: int, hidden: int, neuron: NeuronSpec | str | None = None):
        super().__init__()
        spec = neuron_spec(neuron)
        self.fc1 = conv1d_bn(dim, hidden, bias=True)
        self.lif1 = spec.build(**DETACHED_RESET)
        self.fc2 = conv1d_bn(hidden, dim, bias=True)
        self.lif2 = spec.build(**DETACHED_RESET)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Tokens ``[T, B, D, N]`` (or one step) → spikes of the same shape."""
        x = self.lif1(self.fc1["bn"](self.fc1["conv"](x)))
        return self.lif2(self.fc2["bn"](self.fc2["conv"](x)))


class TokenBlock(nn.Module):
    """The transformer block shared by Spikformer and Spikeformer: ``x = x + attn(x); x = x + mlp(x)``."""

    attn: nn.Module
    mlp: nn.Module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x + attn(x)``, then ``+ mlp(·)``: tokens ``[T, B, D, N]`` in and out."""
        x = x + self.attn(x)
        return x + self.mlp(x)
