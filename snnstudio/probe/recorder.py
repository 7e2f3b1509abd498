"""Forward hooks that record, per named layer, spikes, membrane and attention into ring buffers.

``Recorder(model, ProbeConfig(...))`` attaches to any ``nn.Module`` (also usable as a context
manager); ``detach()`` removes every hook and restores every attribute it touched, so the model is
exactly as before. Hooks only read: the model's output is bitwise the same with or without probes.

Two depths of recording, both bounded (ring buffers of ``capacity`` steps, memory never grows):

* **summary** (always, cheap, for streaming to the GUI), per neuron layer and per step:
  ``rate`` (fraction of neurons firing, over the batch), ``count`` (spikes, over the batch),
  ``channel_rate`` ``[C]`` (axis 2 of ``[T, B, C, ...]``, over batch and space), ``raster``
  ``[K]`` (bool, a fixed random subset of ``raster_size`` flat neuron indices of batch item
  ``sample``), ``follow_v`` ``[F]`` (membrane of the neurons chosen with :meth:`Recorder.follow`)
  and, latest step only, ``feature_map`` (spikes of ``sample``, per-sample layout e.g. ``[C, H, W]``)
  and ``membrane_map`` (its membrane, same layout).
* **full** (``ProbeConfig(full=True)``, for offline analysis): every step's spikes ``[B, ...]``
  (bool) and membrane (float32).

Besides the rings, each layer keeps running totals since the last :meth:`Recorder.clear`
(spikes, neuron-steps, sample-steps) from which :mod:`snnstudio.probe.meters` computes exact
rates over a whole run however long it is. Time steps are counted from the model's input:
``step_mode="m"`` means the model takes ``[T, B, ...]``, ``"s"`` one step ``[B, ...]``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from snnstudio.errors import SnnStudioError
from snnstudio.probe.readers import ATTENTION, OURS, SPIKINGJELLY, NeuronReading, HookedProbe, kind_of, read_neuron, threshold_of
from snnstudio.probe.ring import RingBuffer
from snnstudio.snn.attention import current_weights, sample_weights


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def _index(rec, kind: str, idx: np.ndarray, device) -> torch.Tensor:
    """The index array as a tensor on ``device``, converted once (the cache is emptied whenever
    the layer's raster or followed indices change)."""
    key = (kind, str(device))
    t = rec._index_cache.get(key)
    if t is None:
        t = rec._index_cache[key] = torch.from_numpy(idx).to(device)
    return t


@dataclass
class ProbeConfig:
    """What to record. ``capacity`` is in time steps (attention: in forwards)."""

    capacity: int = 512
    full: bool = False
    raster_size: int = 256
    sample: int = 0
    seed: int = 0
    channel_rates: bool = True
    feature_map: bool = True
    #: also keep the latest step's membrane map of ``sample`` (to click a neuron and see its v)
    membrane_map: bool = True
    attention: bool = True
    step_mode: str = "m"
    #: turn on SpikingJelly's ``store_v_seq`` while attached (restored on detach), so that
    #: multi-step SpikingJelly neurons yield their membrane; their output is unchanged by it
    peer_membrane: bool = True
    #: record only these layer names (``None``: every recognised layer)
    layers: list[str] | None = None

    def __post_init__(self):
        if self.step_mode not in ("m", "s"):
            raise SnnStudioError(f"ProbeConfig.step_mode must be 'm' or 's', got {self.step_mode!r}")
        if self.capacity < 1 or self.raster_size < 0 or self.sample < 0:
            raise SnnStudioError("ProbeConfig: capacity must be >= 1, raster_size and sample >= 0")


@dataclass
class NeuronLayerRecord:
    """Everything recorded for one neuron layer (numpy only)."""

    name: str
    kind: str
    threshold: float | None
    capacity: int
    full: bool
    rate: RingBuffer = field(init=False)
    count: RingBuffer = field(init=False)
    channel_rate: RingBuffer = field(init=False)
    raster: RingBuffer = field(init=False)
    follow_v: RingBuffer = field(init=False)
    spikes: RingBuffer = field(init=False)
    v: RingBuffer = field(init=False)
    feature_map: np.ndarray | None = None
    membrane_map: np.ndarray | None = None
    v_kind: str | None = None
    #: per-sample layout of the layer (e.g. (C, H, W)), known after the first forward
    shape: tuple[int, ...] | None = None
    raster_index: np.ndarray | None = None
    follow_index: np.ndarray | None = None
    _index_cache: dict = field(default_factory=dict, repr=False)
    # running totals since the last clear
    total_spikes: float = 0.0
    neuron_steps: int = 0  # neurons × steps × batch items seen
    sample_steps: int = 0  # steps × batch items seen

    def __post_init__(self):
        for name in ("rate", "count", "channel_rate", "raster", "follow_v", "spikes", "v"):
            setattr(self, name, RingBuffer(self.capacity))

    #: neurons per sample (product of ``shape``)
    neurons: int = 0

    def clear(self) -> None:
        """Empty every ring and the running totals (the shape and followed indices stay)."""
        for name in ("rate", "count", "channel_rate", "raster", "follow_v", "spikes", "v"):
            getattr(self, name).clear()
        self.feature_map = self.membrane_map = None
        self.total_spikes = 0.0
        self.neuron_steps = self.sample_steps = 0


@dataclass
class AttentionRecord:
    """One attention module's weights per forward (``layout`` is its ``weights_layout``; the
    batch axis is dropped unless ``ProbeConfig.full``) and the ``latest`` of them."""

    name: str
    layout: str
    weights: RingBuffer
    latest: np.ndarray | None = None

    def clear(self) -> None:
        """Forget the recorded weights."""
        self.weights.clear()
        self.latest = None


class Recorder(HookedProbe):
    """Attach probes to ``model``; read ``neurons``, ``attention`` and :meth:`latest`."""

    def __init__(self, model: nn.Module, config: ProbeConfig | None = None, attach: bool = True):
        self.model = model
        self.config = config or ProbeConfig()
        self.neurons: dict[str, NeuronLayerRecord] = {}
        self.attention: dict[str, AttentionRecord] = {}
        self._handles: list = []
        self._restore: list[tuple[nn.Module, str, object]] = []
        self._follow: dict[str, np.ndarray] = {}
        self._rng = np.random.default_rng(self.config.seed)
        #: time steps and samples fed to the model since the last clear
        self.steps = 0
        self.samples = 0
        self.forwards = 0
        #: CPU seconds (this thread) spent inside the recording hooks since the last clear: the
        #: probes' own cost, steady on a loaded machine
        self.hook_seconds = 0.0
        if attach:
            self.attach()

    # ---- attach / detach ---------------------------------------------------------------------
    @property
    def attached(self) -> bool:
        """Whether the hooks are on the model."""
        return bool(self._handles)

    def attach(self) -> "Recorder":
        """Hook every neuron layer (and attention module, with ``config.attention``) of the model, or those named
        in ``config.layers`` (an unknown name: :class:`SnnStudioError`); returns self."""
        if self._handles:
            return self
        wanted = None if self.config.layers is None else set(self.config.layers)
        for name, module in self.model.named_modules():
            kind = kind_of(module)
            if kind is None or (wanted is not None and name not in wanted):
                continue
            if kind == ATTENTION:
                if not self.config.attention:
                    continue
                layout = str(module.weights_layout)
                rec = self.attention.get(name) or AttentionRecord(name, layout, RingBuffer(self.config.capacity))
                self.attention[name] = rec
                self._handles.append(module.register_forward_hook(self._attention_hook(rec, module)))
                continue
            if kind == OURS and not module.record:
                self._restore.append((module, "record", module.record))
                module.record = True
            if kind == SPIKINGJELLY and self.config.peer_membrane and not getattr(module, "store_v_seq", True):
                # the setter clears v_seq: restore the flag first, then the old v_seq
                self._restore.append((module, "v_seq", getattr(module, "v_seq", None)))
                self._restore.append((module, "store_v_seq", False))
                module.store_v_seq = True
            rec = self.neurons.get(name) or NeuronLayerRecord(
                name, kind, threshold_of(module), self.config.capacity, self.config.full
            )
            self.neurons[name] = rec
            self._handles.append(module.register_forward_hook(self._neuron_hook(rec, kind)))
        if wanted is not None:
            missing = wanted - set(self.neurons) - set(self.attention)
            if missing:
                self.detach()
                raise SnnStudioError(f"no recordable layer named {', '.join(sorted(missing))}")
        self._handles.append(self.model.register_forward_pre_hook(self._root_hook))
        return self

    def clear(self) -> None:
        """Forget every record and total (keeps hooks, raster and followed indices)."""
        for rec in self.neurons.values():
            rec.clear()
        for rec in self.attention.values():
            rec.clear()
        self.steps = self.samples = self.forwards = 0
        self.hook_seconds = 0.0

    # ---- choices -----------------------------------------------------------------------------
    def follow(self, layer: str, flat_indices) -> None:
        """Record every step's membrane of these neurons (flat indices into the per-sample layout)."""
        if layer not in self.neurons:
            raise SnnStudioError(f"no neuron layer named {layer!r}; known: {', '.join(self.neurons)}")
        idx = np.asarray(flat_indices, dtype=np.int64).reshape(-1)
        rec = self.neurons[layer]
        if rec.shape is not None and idx.size and (idx.min() < 0 or idx.max() >= rec.neurons):
            raise SnnStudioError(f"layer {layer!r} has {rec.neurons} neurons; follow indices out of range")
        self._follow[layer] = idx
        rec.follow_index = idx
        rec._index_cache.clear()
        rec.follow_v.clear()

    # ---- hooks -------------------------------------------------------------------------------

    def _neuron_hook(self, rec: NeuronLayerRecord, kind: str):
        def hook(module, args, output):
            t0 = time.thread_time()
            reading = read_neuron(kind, module, output)
            if reading is not None:
                self._record(rec, reading)
            self.hook_seconds += time.thread_time() - t0
            return None

        return hook

    def _attention_hook(self, rec: AttentionRecord, module):
        def hook(mod, args, output):
            t0 = time.thread_time()
            try:
                self._record_attention(rec, module)
            finally:
                self.hook_seconds += time.thread_time() - t0
            return None

        return hook

    def _record_attention(self, rec: AttentionRecord, module) -> None:
        w = current_weights(module) if self.config.full else sample_weights(module, self.config.sample)
        if not isinstance(w, torch.Tensor):
            return
        w = w.detach()
        arr = _np(w.float()).copy()  # not a view of the module's tensor
        rec.latest = arr
        rec.weights.push(arr[None])

    def _record(self, rec: NeuronLayerRecord, r: NeuronReading) -> None:
        cfg = self.config
        s = r.spikes
        n, batch = int(s.shape[0]), int(s.shape[1]) if s.dim() > 1 else 1
        if s.dim() < 2:
            s = s.reshape(n, 1)
        shape = tuple(s.shape[2:])
        if rec.shape != shape:
            rec.clear()
            rec.shape = shape
            rec.neurons = int(np.prod(shape)) if shape else 1
            k = min(cfg.raster_size, rec.neurons)
            rec.raster_index = np.sort(self._rng.choice(rec.neurons, size=k, replace=False)) if k else np.empty(0, np.int64)
            idx = self._follow.get(rec.name)
            rec.follow_index = idx[idx < rec.neurons] if idx is not None else None
            rec._index_cache.clear()
        rec.v_kind = r.v_kind
        # Counting by summing the spike values is 50x faster than counting nonzeros; spikes are
        # 0/1 for every supported neuron, and rounding absorbs surrogate arithmetic (0.99999994).
        c = shape[0] if shape else 1
        per_ch = s.reshape(n, batch, c, -1)
        if not per_ch.is_floating_point():
            per_ch = per_ch.float()
        ch_counts = torch.round(per_ch.sum(-1)).sum(1)  # [n, C] over the batch
        counts = _np(ch_counts.sum(1)).astype(np.float32)
        neurons = rec.neurons or 1
        rec.count.push(counts)
        rec.rate.push(counts / (batch * neurons))
        rec.total_spikes += float(counts.sum())
        rec.neuron_steps += n * batch * neurons
        rec.sample_steps += n * batch
        if cfg.channel_rates and shape:
            rec.channel_rate.push(_np(ch_counts / (batch * (neurons // c))))
        b = min(cfg.sample, batch - 1)
        mine = s.reshape(n, batch, -1)[:, b]
        if rec.raster_index is not None and rec.raster_index.size:
            rec.raster.push(_np(mine[:, _index(rec, "raster", rec.raster_index, mine.device)] != 0))
        if rec.follow_index is not None and rec.follow_index.size and r.v is not None:
            vv = r.v.reshape(n, batch, -1)[:, b]
            rec.follow_v.push(_np(vv[:, _index(rec, "follow", rec.follow_index, vv.device)].float()))
        if cfg.feature_map:
            rec.feature_map = _np(s[-1, b] != 0) if s.dim() > 2 else _np(s[-1, b : b + 1] != 0)  # a fresh tensor
        if cfg.membrane_map and r.v is not None:
            rec.membrane_map = _np(r.v.reshape(s.shape)[-1, b].float()).copy()
        if cfg.full:
            rec.spikes.push(_np(s != 0))
            if r.v is not None:
                rec.v.push(_np(r.v.reshape(s.shape).float()))

    # ---- reading -----------------------------------------------------------------------------
    def history(self, layer: str, steps: int | None = None) -> dict[str, np.ndarray]:
        """The last ``steps`` kept steps of one neuron layer (all kept when ``None``), oldest first:
        ``rate`` ``[n]``, ``count`` ``[n]``, ``channel_rate`` ``[n, C]``, ``raster`` ``[n, K]``,
        ``follow_v`` ``[n, F]`` and, with ``full``, ``spikes`` ``[n, B, ...]`` and ``v``."""
        try:
            rec = self.neurons[layer]
        except KeyError:
            raise SnnStudioError(f"no neuron layer named {layer!r}; known: {', '.join(self.neurons)}") from None
        out = {}
        for name in ("rate", "count", "channel_rate", "raster", "follow_v", "spikes", "v"):
            ring: RingBuffer = getattr(rec, name)
            if len(ring):
                out[name] = ring.array() if steps is None else ring.latest(steps)
        return out

    def latest(self) -> dict[str, dict[str, np.ndarray | float | None]]:
        """The last step of every layer: what a streaming view draws (copies, numpy only)."""
        out: dict[str, dict] = {}
        for name, rec in self.neurons.items():
            if not len(rec.rate):
                continue
            out[name] = {
                "rate": float(rec.rate.latest(1)[0]),
                "count": float(rec.count.latest(1)[0]),
                "channel_rate": rec.channel_rate.latest(1)[0] if len(rec.channel_rate) else None,
                "raster": rec.raster.latest(1)[0] if len(rec.raster) else None,
                "follow_v": rec.follow_v.latest(1)[0] if len(rec.follow_v) else None,
                "feature_map": None if rec.feature_map is None else rec.feature_map.copy(),
                "membrane_map": None if rec.membrane_map is None else rec.membrane_map.copy(),
                "v_kind": rec.v_kind,
                "threshold": rec.threshold,
            }
        for name, rec in self.attention.items():
            if rec.latest is not None:
                out[name] = {"weights": rec.latest.copy(), "layout": rec.layout}
        return out
