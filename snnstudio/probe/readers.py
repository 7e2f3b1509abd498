"""Recognise what a module is to the probes, and read its spikes, membrane and attention.

Three kinds of spiking neuron are read, every reading is time first (``[n_steps, B, ...]``):

* ours (:class:`snnstudio.snn.neurons.base.SpikingNeuron`): ``last_spikes`` and ``last_v`` — the
  membrane *before* reset (``h``), same shape as the spikes.
* SpikingJelly (``spikingjelly.activation_based.neuron.BaseNode``): the output is the spikes; the
  membrane is ``v_seq`` (multi-step with ``store_v_seq=True``) or ``v`` (single-step), both *after*
  reset — SpikingJelly keeps nothing else. Multi-step without ``store_v_seq`` gives no membrane
  (the recorder switches it on while attached, see ``ProbeConfig.peer_membrane``).
* snnTorch (``snntorch._neurons.neurons.SpikingNeuron``: ``Leaky``, ``Synaptic``...): single-step
  modules; spikes are the output (first item of a tuple), the membrane is ``mem`` after the call
  (before reset when ``reset_delay`` is on, snnTorch's default).

* Norse (``norse.torch.module.snn.SNNCell``: ``LIFCell``, ``LIFBoxCell``...): single-step cells
  returning ``(spikes, state)``; the membrane is ``state.v`` after the step (*after* reset). Norse's
  time-looping modules (``LIF``...) are not read (their states are the whole sequence's last).

Attention modules are recognised by the attention contract of :mod:`snnstudio.snn.attention`
(``last_weights``, ``weights_layout``, ``enabled``). The peer libraries are only looked up when
already imported (a model holding their neurons has imported them), so probing costs no import.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import torch
from torch import nn

from snnstudio.snn.attention import is_attention
from snnstudio.snn.neurons.base import SpikingNeuron

OURS, SPIKINGJELLY, SNNTORCH, NORSE, ATTENTION = "snnstudio", "spikingjelly", "snntorch", "norse", "attention"


@dataclass
class NeuronReading:
    """One forward's worth of a neuron layer: ``spikes`` and ``v`` are ``[n_steps, B, ...]``."""

    spikes: torch.Tensor
    v: torch.Tensor | None
    #: "pre_reset" (the value compared with the threshold) or "post_reset"
    v_kind: str


def _peer_class(module_name: str, attr: str):
    mod = sys.modules.get(module_name)
    return getattr(mod, attr, None) if mod is not None else None


def kind_of(module: nn.Module) -> str | None:
    """Which reader applies to ``module`` (one of the constants above), or ``None``."""
    if isinstance(module, SpikingNeuron):
        return OURS
    sj = _peer_class("spikingjelly.activation_based.neuron", "BaseNode")
    if sj is not None and isinstance(module, sj):
        return SPIKINGJELLY
    st = _peer_class("snntorch._neurons.neurons", "SpikingNeuron")
    if st is not None and isinstance(module, st):
        return SNNTORCH
    nc = _peer_class("norse.torch.module.snn", "SNNCell")
    if nc is not None and isinstance(module, nc):
        return NORSE
    if is_attention(module):
        return ATTENTION
    return None


def threshold_of(module: nn.Module) -> float | None:
    """The firing threshold of a neuron module (ours: ``v_threshold``; snnTorch: ``threshold``; Norse:
    ``p.v_th``), or ``None``."""
    thr = getattr(module, "v_threshold", None)
    if thr is None:
        thr = getattr(module, "threshold", None)
    if thr is None:  # Norse: the parameters' v_th
        thr = getattr(getattr(module, "p", None), "v_th", None)
    if isinstance(thr, torch.Tensor):
        return float(thr.detach().reshape(-1)[0]) if thr.numel() else None
    return None if thr is None else float(thr)


def _time_first(t: torch.Tensor, multi_step: bool) -> torch.Tensor:
    return t if multi_step else t.unsqueeze(0)


def read_neuron(kind: str, module: nn.Module, output) -> NeuronReading | None:
    """The spikes and membrane of ``module`` after a forward that returned ``output``."""
    if kind == OURS:
        multi = module.step_mode == "m"
        spikes = module.last_spikes if module.last_spikes is not None else output
        if not isinstance(spikes, torch.Tensor):
            return None
        v = module.last_v
        return NeuronReading(_time_first(spikes.detach(), multi), None if v is None else _time_first(v, multi), "pre_reset")
    if kind == SPIKINGJELLY:
        multi = getattr(module, "step_mode", "s") == "m"
        spikes = output[0] if isinstance(output, tuple) else output
        if not isinstance(spikes, torch.Tensor):
            return None
        v = None
        if multi:
            vs = getattr(module, "v_seq", None)
            if isinstance(vs, torch.Tensor) and vs.shape == spikes.shape:
                v = vs.detach()
        else:
            vv = getattr(module, "v", None)
            if isinstance(vv, torch.Tensor) and vv.shape == spikes.shape:
                v = vv.detach().unsqueeze(0)
        return NeuronReading(_time_first(spikes.detach(), multi), v, "post_reset")
    if kind == SNNTORCH:
        spikes = output[0] if isinstance(output, tuple) else output
        if not isinstance(spikes, torch.Tensor):
            return None
        mem = getattr(module, "mem", None)
        v = mem.detach().unsqueeze(0) if isinstance(mem, torch.Tensor) and mem.shape == spikes.shape else None
        kind_v = "pre_reset" if getattr(module, "reset_delay", True) else "post_reset"
        return NeuronReading(spikes.detach().unsqueeze(0), v, kind_v)
    if kind == NORSE:
        if not isinstance(output, tuple) or not output or not isinstance(output[0], torch.Tensor):
            return None
        spikes = output[0].detach()
        vv = getattr(output[1], "v", None) if len(output) > 1 else None
        v = vv.detach().unsqueeze(0) if isinstance(vv, torch.Tensor) and vv.shape == spikes.shape else None
        return NeuronReading(spikes.unsqueeze(0), v, "post_reset")
    return None


class HookedProbe:
    """Base of the probes (:class:`~snnstudio.probe.recorder.Recorder`,
    :class:`~snnstudio.probe.flops.OpCounter`): the hooks they put on a model, removed by
    :meth:`detach` (which also puts back every attribute listed in ``_restore``), a context
    manager around ``attach``/``detach``, and a forward pre-hook on the model's root that counts
    forwards, time steps and samples. Multi-step input is ``[T, B, ...]`` (T steps of B samples);
    single-step input is ``[B, ...]`` (one step; samples is the largest batch seen). Subclasses
    set ``self._handles = []``, ``self._restore = []`` and ``self.config.step_mode``."""

    forwards: int
    steps: int
    samples: int
    _handles: list
    _restore: list

    def attach(self):  # pragma: no cover - every probe defines it
        """Put the hooks on the model (a no-op when attached); returns the probe."""
        raise NotImplementedError

    def detach(self) -> None:
        """Remove every hook and restore every attribute changed by :meth:`attach`."""
        for h in self._handles:
            h.remove()
        self._handles.clear()
        for module, attr, value in reversed(self._restore):
            setattr(module, attr, value)
        self._restore.clear()

    def __enter__(self):
        return self.attach()

    def __exit__(self, *exc) -> None:
        self.detach()

    def _root_hook(self, module, args):
        x = args[0] if args else None
        if not isinstance(x, torch.Tensor) or x.dim() < 1:
            return None
        self.forwards += 1
        if self.config.step_mode == "m":
            self.steps += int(x.shape[0])
            self.samples += int(x.shape[1]) if x.dim() > 1 else 1
        else:
            self.steps += 1
            self.samples = max(self.samples, int(x.shape[0]))
        return None
