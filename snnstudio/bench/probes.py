"""Instrumentation overhead: the same model on the same input with probes vs without.

The model is a stand-in for MA-SNN's DVS128 Gesture network (Conv 2→64 → Conv 64→128 + pool →
Conv 128→128 + pool → FC 8192→256 → FC 256→11, BN, our LIF), built here until the zoo lands.
Reported, for the streaming summary recorder (the GUI's default, ``overhead``), the full recorder
and the operation counter: ``*_overhead`` = median over rounds of t(probed) / t(plain, timed just
before) − 1, ``*_overhead_of_bests`` = best t(probed) / best t(plain) − 1, ``*_cpu_overhead`` the
median ratio of this process's CPU times (steadier on a loaded machine), and
``summary_hook_share`` = time inside the recorder's hooks / forward time. Goal: summary < 15 %.
"""

from __future__ import annotations

import time

import numpy as np
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


def calibrated(net: nn.Module, x: torch.Tensor, bias: float = 0.6) -> nn.Module:
    """Set every BatchNorm's statistics from ``x`` and its shift to ``bias`` so that each layer's
    current is ~N(bias, 1) and the untrained stand-in fires at realistic rates (~10 %); eval mode."""
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d)]
    with torch.no_grad():
        for m in bns:
            m.reset_running_stats()
            m.momentum = None  # cumulative average: one pass gives the batch statistics
            m.bias.fill_(bias)
        net.train()
        net(x)
    return net.eval()


def _events(T: int, B: int, size: int, density: float = 0.1, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    counts = torch.poisson(torch.full((T, B, 2, size, size), density), generator=g)
    return counts


def run(quick: bool) -> dict:
    from snnstudio.bench import best_time
    from snnstudio.probe import OpCounter, ProbeConfig, Recorder

    torch.manual_seed(0)
    T, B, size = (8, 1, 32) if quick else (30, 1, 32)
    rounds = 5 if quick else 9
    x = _events(T, B, size)
    net = calibrated(standin_net(size), x)

    def plain():
        with torch.no_grad():
            return net(x)

    results: dict = {"model": "MA-SNN-like stand-in conv net", "input": [T, B, 2, size, size], "rounds": rounds}
    probes = {
        "summary": Recorder(net, ProbeConfig(capacity=256), attach=False),
        "full": Recorder(net, ProbeConfig(capacity=256, full=True), attach=False),
        "opcounter": OpCounter(net, attach=False),
    }
    # Side by side: each round times the plain model, then each probe attached, then detached
    # again. Wall time (best_time) and this process's CPU time are both taken: on a shared,
    # loaded machine the CPU time is the steadier of the two (torch runs single-threaded here).
    def cpu_time() -> float:
        t0 = time.process_time()
        plain()
        return time.process_time() - t0

    best = {k: float("inf") for k in ("plain", *probes)}
    ratios: dict[str, list[float]] = {k: [] for k in probes}
    cpu_ratios: dict[str, list[float]] = {k: [] for k in probes}
    for _ in range(rounds):
        t_plain, c_plain = best_time(plain, repeat=1), cpu_time()
        best["plain"] = min(best["plain"], t_plain)
        for label, probe in probes.items():
            probe.attach()
            try:
                t, c = best_time(plain, repeat=1), cpu_time()
            finally:
                probe.detach()
            best[label] = min(best[label], t)
            ratios[label].append(t / t_plain)
            cpu_ratios[label].append(c / c_plain)
    results["plain_s"] = best["plain"]
    for label in probes:
        results[f"{label}_s"] = best[label]
        # headline: median over rounds of (probed / plain measured just before it) − 1
        results[f"{label}_overhead"] = float(np.median(ratios[label])) - 1.0
        results[f"{label}_overhead_of_bests"] = best[label] / best["plain"] - 1.0
        results[f"{label}_cpu_overhead"] = float(np.median(cpu_ratios[label])) - 1.0
    results["overhead"] = results["summary_overhead"]
    # noise-free view of the same cost: time spent inside the recorder's hooks per forward
    rec = probes["summary"]
    rec.clear()
    rec.attach()
    try:
        t_fwd = best_time(plain, repeat=3)
    finally:
        rec.detach()
    results["summary_hook_s_per_forward"] = rec.hook_seconds / max(1, rec.forwards)
    results["summary_hook_share"] = results["summary_hook_s_per_forward"] / t_fwd
    results["goal_overhead"] = 0.15
    from snnstudio.probe import total_activity

    results["firing_rate"] = total_activity(probes["summary"]).firing_rate  # spikes do flow
    return results
