"""Instrumentation overhead: the same model on the same input with probes vs without.

The model is the zoo's MA-SNN DVS128 Gesture preset (``ma_snn_gesture``; ``ma_snn_gesture_small``
with ``--quick``) on random event counts.
Reported, for the streaming summary recorder (the GUI's default, ``overhead``), the full recorder
and the operation counter: ``*_overhead`` = median over rounds of t(probed) / t(plain, timed just
before) − 1, ``*_overhead_of_bests`` = best t(probed) / best t(plain) − 1, ``*_cpu_overhead`` the
median ratio of this process's CPU times (steadier on a loaded machine), and
``summary_hook_share`` = CPU time inside the recorder's hooks / CPU time of the probed forward. Goal: summary < 15 %.
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


def _events(T: int, B: int, size: int, density: float = 0.1, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    counts = torch.poisson(torch.full((T, B, 2, size, size), density), generator=g)
    return counts


def _default_model(quick: bool) -> tuple[nn.Module, torch.Tensor, str]:
    """The zoo's MA-SNN Gesture preset, its input ``[T, 1, C, H, W]`` and a description."""
    from snnstudio.snn.zoo import build_model, default_config

    name = "ma_snn_gesture_small" if quick else "ma_snn_gesture"
    cfg = default_config(name)
    net = build_model(cfg).eval()
    c, h, w = cfg.input_size
    x = _events(cfg.T, 1, h, density=0.5)[:, :, :c, :, :w]
    return net, x, f"zoo preset {name!r} (T={cfg.T})"


def run(quick: bool) -> dict:
    from snnstudio.bench import best_time
    from snnstudio.probe import OpCounter, ProbeConfig, Recorder

    torch.manual_seed(0)
    rounds = 5 if quick else 9
    net, x, label = _default_model(quick)

    def plain():
        with torch.no_grad():
            return net(x)

    results: dict = {"model": label, "input": list(x.shape), "rounds": rounds}
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
    # steadier view of the same cost: CPU time inside the recorder's hooks / CPU time of a forward
    rec = probes["summary"]
    rec.attach()
    try:
        plain()
        rec.clear()
        n = 3
        c0 = time.process_time()
        for _ in range(n):
            plain()
        c_fwd = (time.process_time() - c0) / n
    finally:
        rec.detach()
    results["summary_hook_cpu_s_per_forward"] = rec.hook_seconds / n
    results["summary_hook_share"] = rec.hook_seconds / n / c_fwd
    results["goal_overhead"] = 0.15
    from snnstudio.probe import total_activity

    results["firing_rate"] = total_activity(probes["summary"]).firing_rate  # spikes do flow
    return results
