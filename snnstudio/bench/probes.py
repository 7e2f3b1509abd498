"""Instrumentation overhead: the same model on the same input with probes vs without.

The model is a stand-in for MA-SNN's DVS128 Gesture network (Conv 2→64 → Conv 64→128 + pool →
Conv 128→128 + pool → FC 8192→256 → FC 256→11, BN, our LIF), built here until the zoo lands.
Reported: best-of times and ``overhead`` = t(probes) / t(plain) − 1 for the streaming summary
recorder (the GUI's default), for the full recorder, and for the operation counter. Goal: the
summary recorder under 15 %.
"""

from __future__ import annotations

import torch
from torch import nn


class TimeDistributed(nn.Module):
    """Apply a stateless layer to every step of ``[T, B, ...]`` (as one ``[T·B, ...]`` batch)."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.module(x.flatten(0, 1))
        return y.reshape(x.shape[0], x.shape[1], *y.shape[1:])


def standin_net(size: int = 32, classes: int = 11, neuron: str = "lif", width: int = 64) -> nn.Sequential:
    """MA-SNN-like Gesture net for ``[T, B, 2, size, size]`` input; returns ``[T, B, classes]`` spikes."""
    from snnstudio.snn.neurons import build_neuron

    w1, w2 = width, 2 * width
    td = TimeDistributed
    feat = w2 * (size // 4) ** 2
    return nn.Sequential(
        td(nn.Conv2d(2, w1, 3, padding=1, bias=False)), td(nn.BatchNorm2d(w1)), build_neuron(neuron),
        td(nn.Conv2d(w1, w2, 3, padding=1, bias=False)), td(nn.BatchNorm2d(w2)), td(nn.AvgPool2d(2)), build_neuron(neuron),
        td(nn.Conv2d(w2, w2, 3, padding=1, bias=False)), td(nn.BatchNorm2d(w2)), td(nn.AvgPool2d(2)), build_neuron(neuron),
        td(nn.Flatten()), td(nn.Linear(feat, 256, bias=False)), td(nn.BatchNorm1d(256)), build_neuron(neuron),
        td(nn.Linear(256, classes, bias=False)), build_neuron(neuron),
    )


def _events(T: int, B: int, size: int, density: float = 0.1, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    counts = torch.poisson(torch.full((T, B, 2, size, size), density), generator=g)
    return counts


def run(quick: bool) -> dict:
    from snnstudio.bench import best_time
    from snnstudio.probe import OpCounter, ProbeConfig, Recorder

    torch.manual_seed(0)
    T, B, size = (8, 1, 32) if quick else (30, 1, 32)
    repeat = 3 if quick else 5
    net = standin_net(size).eval()
    with torch.no_grad():  # BN with non-trivial statistics so that spikes flow
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d):
                m.weight.fill_(2.0)
    x = _events(T, B, size)

    def plain():
        with torch.no_grad():
            return net(x)

    results: dict = {"model": "MA-SNN-like stand-in conv net", "input": [T, B, 2, size, size], "repeat": repeat}
    t_plain = best_time(plain, repeat=repeat)
    results["plain_s"] = t_plain
    for label, make in (
        ("summary", lambda: Recorder(net, ProbeConfig(capacity=256))),
        ("full", lambda: Recorder(net, ProbeConfig(capacity=256, full=True))),
        ("opcounter", lambda: OpCounter(net)),
    ):
        probe = make()
        try:
            t = best_time(plain, repeat=repeat)
        finally:
            probe.detach()
        t_again = best_time(plain, repeat=repeat)  # plain measured again beside it: drift check
        base = min(t_plain, t_again)
        results[f"{label}_s"] = t
        results[f"{label}_overhead"] = t / base - 1.0
    results["overhead"] = results["summary_overhead"]
    results["goal_overhead"] = 0.15
    return results
