"""Stream and probe networks built with other SNN libraries (SpikingJelly, snnTorch, Norse).

The runner streams a model **stateful, one step per call** (see :mod:`snnstudio.engine.runner`):
it feeds one frame of counts, the neurons keep their state until :meth:`ModelRunner.reset`. How
each library's network is driven that way:

* **SpikingJelly** (``activation_based.neuron.BaseNode``): nodes in single-step mode (``'s'``) get
  ``[B, C, H, W]`` per step; in multi-step mode (``'m'``, ``functional.set_step_mode(net, 'm')``)
  they get ``[1, B, C, H, W]`` per step and keep ``v`` across calls — a multi-step node starts each
  call from the ``v`` the last one left, so ``T`` calls of one step give exactly the spikes of one
  call on the whole ``[T, B, ...]`` sequence (no reset per window; the runner resets at a seek or
  a new source). A network must not mix the two modes. The membrane shown is SpikingJelly's ``v``
  (multi-step: ``v_seq``, switched on here with ``store_v_seq``): *after* reset.
* **snnTorch** (``_neurons.neurons.SpikingNeuron``: ``Leaky``, ``Synaptic`` …) with
  ``init_hidden=True``: the layer keeps ``mem`` itself, the network takes ``[B, C, H, W]`` per step
  (as in snnTorch's own time loop). The membrane shown is ``mem`` after the call. A layer with
  ``init_hidden=False`` keeps its state in the user's own ``forward`` loop (``spk, mem =
  lif(x, mem)``), which the studio cannot step from outside: such networks are refused with the
  layer named (rebuild them with ``init_hidden=True``).
* **Norse** (``norse.torch`` cells, ``SNNCell``: ``LIFCell`` …): a cell returns ``(spikes, state)``
  and takes the state back in; each cell is wrapped (:class:`KeptStateCell`, same attribute name)
  so that a call without a state continues from the kept one. Works inside ``SequentialState``
  and in a plain ``forward`` that ignores the state. The membrane shown is ``state.v``. Norse's
  own time-looping modules (``LIF``, ``Lift``) are refused: give the cells.

Each neuron layer gets a :class:`PeerNeuron` view (a forward hook) with the attributes the runner
reads from snnstudio's own neurons (``last_spikes``, ``last_v``, ``v_threshold``, ``reset()``), so
rasters, rates, feature maps and followed membranes work as for ours. Neuron-like modules none of
the readers knows are listed in ``model.unprobed`` and said once (a warning) when the model loads.
"""

from __future__ import annotations

import sys
import warnings

import torch
from torch import nn

from snnstudio.errors import ModelError, SnnStudioWarning
from snnstudio.probe.readers import NORSE, SNNTORCH, SPIKINGJELLY, kind_of, threshold_of
from snnstudio.snn.neurons.base import SpikingNeuron

#: the probe kinds of a peer layer (the ``framework`` column of ``models --inspect``)
FRAMEWORKS = (SPIKINGJELLY, SNNTORCH, NORSE)


def _norse_layer_class():
    mod = sys.modules.get("norse.torch.module.snn")
    return getattr(mod, "SNN", None) if mod is not None else None


def peer_kind(module: nn.Module) -> str | None:
    """``spikingjelly``, ``snntorch`` or ``norse`` for a neuron layer of that library, else ``None``."""
    if isinstance(module, KeptStateCell):
        return NORSE
    kind = kind_of(module)
    return kind if kind in FRAMEWORKS else None


class KeptStateCell(nn.Module):
    """A Norse cell that keeps its state between calls: ``forward(x, state=None)`` continues from
    the kept state when ``state`` is ``None`` (the runner's calls), returns ``(spikes, state)``."""

    def __init__(self, cell: nn.Module):
        super().__init__()
        self.cell = cell
        self.state = None

    def forward(self, x, state=None):
        out, new = self.cell(x, self.state if state is None else state)
        self.state = new
        return out, new

    def reset(self) -> None:
        self.state = None


class PeerNeuron:
    """The runner's view of one peer neuron layer (see the module docstring): ``last_spikes`` and
    ``last_v`` in the layer's own layout (``[B, ...]`` single-step, ``[1, B, ...]`` multi-step)."""

    def __init__(self, name: str, module: nn.Module, kind: str):
        self.name, self.module, self.kind = name, module, kind
        inner = module.cell if isinstance(module, KeptStateCell) else module
        self.registry_name = f"{kind}.{type(inner).__name__}"
        self.last_spikes: torch.Tensor | None = None
        self.last_v: torch.Tensor | None = None
        self.v_threshold = threshold_of(inner)
        #: what the membrane is: "post_reset" (SpikingJelly, Norse) or snnTorch's ``mem`` after the call
        self.v_kind = "pre_reset" if kind == SNNTORCH and getattr(module, "reset_delay", True) else "post_reset"
        self._handle = module.register_forward_hook(self._hook)

    def _hook(self, module, args, output) -> None:
        spikes = output[0] if isinstance(output, tuple) else output
        if not isinstance(spikes, torch.Tensor):
            return
        spikes = spikes.detach()
        v = None
        if self.kind == SPIKINGJELLY:
            v = getattr(module, "v_seq", None) if getattr(module, "step_mode", "s") == "m" else getattr(module, "v", None)
        elif self.kind == SNNTORCH:
            v = getattr(module, "mem", None)
        elif self.kind == NORSE and isinstance(output, tuple) and len(output) > 1:
            v = getattr(output[1], "v", None)
        self.last_spikes = spikes
        self.last_v = v.detach() if isinstance(v, torch.Tensor) and v.shape == spikes.shape else None

    def reset(self) -> None:
        """Forget the last reading and the layer's state (the runner's reset)."""
        self.last_spikes = self.last_v = None
        m = self.module
        if self.kind == SPIKINGJELLY:
            m.reset()
        elif self.kind == SNNTORCH:
            reset_mem = getattr(m, "reset_mem", None)
            if callable(reset_mem):
                reset_mem()
            else:  # the older snnTorch API
                init = getattr(m, "init_leaky", None) or getattr(m, "init_synaptic", None)
                if callable(init):
                    init()
        elif self.kind == NORSE:
            m.reset()

    def detach(self) -> None:
        self._handle.remove()


def _replace(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, attr = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, attr, new)


def prepare(model: nn.Module, label: str = "") -> nn.Module:
    """Make ``model``'s peer neurons streamable (see the module docstring), in place: wrap Norse
    cells, switch on SpikingJelly's ``store_v_seq`` in multi-step nodes, refuse what cannot be
    stepped from outside, and set ``model.step_input_ndim`` (4: ``[B, C, H, W]`` per step; 5:
    ``[1, B, C, H, W]``), ``model.streaming_mode = "stateful"`` and ``model.unprobed``. A model
    with no peer neurons is left as it is."""
    label = label or type(model).__name__
    found: dict[str, list[str]] = {SPIKINGJELLY: [], SNNTORCH: [], NORSE: []}
    modes: set[str] = set()
    explicit: list[str] = []
    norse_cells: list[str] = []
    loops = _norse_layer_class()
    wrapped = [n for n, m in model.named_modules() if isinstance(m, KeptStateCell)]  # prepared before
    for name, m in model.named_modules():
        kind = peer_kind(m)
        if kind is None:
            if loops is not None and isinstance(m, loops):
                raise ModelError(f"{label}: {name or 'the model'} ({type(m).__name__}) is a Norse module that loops over "
                                 f"time itself; the studio steps the network one frame at a time: use the cell "
                                 f"({type(m).__name__}Cell) instead")
            continue
        found[kind].append(name)
        if kind == SPIKINGJELLY:
            modes.add(getattr(m, "step_mode", "s"))
            if getattr(m, "step_mode", "s") == "m" and not getattr(m, "store_v_seq", True):
                m.store_v_seq = True
        elif kind == SNNTORCH and not getattr(m, "init_hidden", False):
            explicit.append(name)
        elif kind == NORSE and not isinstance(m, KeptStateCell) and not any(name.startswith(f"{c}.") for c in wrapped):
            norse_cells.append(name)
    if explicit:
        raise ModelError(f"{label}: snnTorch layer(s) {', '.join(explicit)} keep their state in your own time loop "
                         f"(init_hidden=False); the studio steps the network itself, one frame per call: build them "
                         f"with init_hidden=True")
    if len(modes) > 1:
        raise ModelError(f"{label}: SpikingJelly nodes mix single-step and multi-step mode; set one "
                         f"(functional.set_step_mode(net, 's' or 'm'))")
    peers_found = sum(len(v) for v in found.values())
    if not peers_found:
        return model
    for name in norse_cells:
        if not name:
            raise ModelError(f"{label}: the model is a single Norse cell; wrap it in a network (e.g. SequentialState)")
        _replace(model, name, KeptStateCell(model.get_submodule(name)))
    model.step_input_ndim = 5 if modes == {"m"} else 4
    model.streaming_mode = "stateful"
    model.peer_frameworks = tuple(k for k, v in found.items() if v)
    model.unprobed = tuple(unprobed_layers(model))
    if model.unprobed:
        warnings.warn(f"{label}: {', '.join(model.unprobed)} look like neuron layers the probes cannot read "
                      f"(not shown)", SnnStudioWarning, stacklevel=2)
    return model


def unprobed_layers(model: nn.Module) -> list[str]:
    """Modules whose class name says neuron (``LIF``, ``Neuron``, ``Node``, ``Cell``, ``Spik``)
    that none of the readers knows (the probes show nothing of them)."""
    wrapped = [p for p, q in model.named_modules() if isinstance(q, KeptStateCell)]
    out = []
    for name, m in model.named_modules():
        if not name or isinstance(m, (SpikingNeuron, KeptStateCell)) or peer_kind(m) is not None:
            continue
        if any(name.startswith(f"{p}.") for p in wrapped):
            continue
        cls = type(m).__name__
        if any(k in cls for k in ("LIF", "Neuron", "Node", "Spik", "Izhikevich")):
            out.append(name)
    return out


def peer_neurons(model: nn.Module) -> list[PeerNeuron]:
    """A :class:`PeerNeuron` view per peer neuron layer of ``model`` (execution order of
    ``named_modules``); empty for a model of snnstudio's own neurons."""
    out = []
    for name, m in model.named_modules():
        kind = peer_kind(m)
        if kind is None:
            continue
        if kind == NORSE and not isinstance(m, KeptStateCell):
            continue  # the cell inside its wrapper: the wrapper is the layer
        out.append(PeerNeuron(name, m, kind))
    return out
