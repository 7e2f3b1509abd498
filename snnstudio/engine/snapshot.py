"""What the GUI draws for one model step: immutable dataclasses of numpy arrays (no torch).

A :class:`Snapshot` is built by the engine worker after each step and handed to the GUI as a
whole; nothing in it is ever mutated afterwards (arrays are made read-only), so the GUI thread
may hold on to it while the worker builds the next one.

Layouts: the event frame is ``[2, H, W]`` float32 counts (channel 0 = OFF, 1 = ON); feature maps
are ``[k, h, w]``; attention weights are ``ta [T]``, ``ca [C]``, ``sa [h, w]``. Times are µs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


def frozen(a, dtype=np.float32) -> np.ndarray:
    """A read-only contiguous copy of ``a`` (so a snapshot cannot change under the GUI)."""
    out = np.array(a, dtype=dtype, copy=True, order="C")
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class LayerSnapshot:
    """One spiking layer at one step.

    ``rate`` is the fraction of its neurons that fired at the newest time step; ``channel_rates
    [C]`` the same per channel; ``window_rate`` the firing rate over every time step the model ran
    for this snapshot (spikes / neuron-steps, the definition of ``snnstudio eval``'s ``firing_rate``):
    a window model re-runs its ``window_steps = T`` steps each step, so its newest step alone can
    read far off (an output layer silent at the last step reads 0 % while firing 8 % of its
    neuron-steps); a stateful model runs one step (``window_rate == rate``); ``sops`` /
    ``energy_pj`` the synaptic operations and energy (pJ) per time step of the modules that feed
    this layer (its block: ``conv1.*`` for ``conv1.neuron``; ``None`` until metered, or for a
    neuron outside a block); ``raster [n]`` the spikes (0/1) of a fixed, evenly spread subset of ``n`` neurons
    whose flat indices are ``raster_index [n]`` (the same every step, so columns stack into a
    raster); ``membrane`` maps a followed flat neuron index to its membrane potential ``h``
    (before reset) and ``spiked`` to whether it fired; ``threshold`` is the line to draw (``None``
    where the neuron has none); ``feature_map [k, h, w]`` (uint8 0/1) the spikes of the first ``k`` channels (every channel by default)
    (``None`` for flat layers); ``spatial_rate [h, w]`` the share of all its channels that fired at
    each position; ``shape`` the per-sample neuron shape, e.g. ``(C, H, W)``. While a stream plays
    faster than the session's detail rate (50 read-outs a second), ``feature_map``, ``spatial_rate``
    and ``window_rate`` are those of the last detail read-out (at most 1/50 s old: what a window
    drawing at that rate shows); the per-step series are always the step's own.
    """

    name: str
    kind: str
    shape: tuple[int, ...]
    rate: float
    channel_rates: np.ndarray
    raster: np.ndarray
    raster_index: np.ndarray
    spike_count: int
    membrane: dict[int, float] = field(default_factory=dict)
    spiked: dict[int, bool] = field(default_factory=dict)
    threshold: float | None = None
    feature_map: np.ndarray | None = None
    #: ``[h, w]``: the share of the layer's channels that fired at each position at the newest
    #: step (``None`` for flat layers) — the Events view's overlay
    spatial_rate: np.ndarray | None = None
    window_rate: float | None = None
    window_steps: int = 1
    sops: float | None = None
    energy_pj: float | None = None

    @property
    def n_neurons(self) -> int:
        return math.prod(self.shape) if self.shape else 0

    @property
    def mean_rate(self) -> float:
        """The firing rate over the steps the model ran (``window_rate``, else ``rate``)."""
        return self.rate if self.window_rate is None else self.window_rate


#: an attention part whose weights (in [0, 1]) span less than this (max − min) is constant: it
#: weights every step / channel / pixel alike, i.e. does nothing but scale
FLAT_SPAN = 0.01


@dataclass(frozen=True)
class AttentionSnapshot:
    """The weights of one attention block at this step (each ``None`` where that part is absent
    or switched off): ``ta [T]`` per time step, ``ca [C]`` per channel, ``sa [h, w]`` per pixel;
    ``tokens [N, N]`` float32, token attention (Spikformer's SSA: ``Q·Kᵀ`` counts; Spikeformer's
    STA: softmax weights; ``tokens_measure`` says which), the mean over heads and time steps
    (a stateful stream runs one step at a time: the newest step), row = query token, column = key."""

    name: str
    enabled: bool
    ta: np.ndarray | None = None
    ca: np.ndarray | None = None
    sa: np.ndarray | None = None
    tokens: np.ndarray | None = None
    tokens_measure: str = ""

    def parts(self) -> dict[str, np.ndarray]:
        """The parts present: ``{"ta": …, "ca": …, "sa": …}``."""
        return {k: w for k, w in (("ta", self.ta), ("ca", self.ca), ("sa", self.sa)) if w is not None and w.size}

    @property
    def spread(self) -> float:
        """How much the block's weights vary: the sum over its parts of their standard deviation
        (token attention: of the map divided by its largest value, so in [0, 1] too; 0 for a block
        whose every part is flat; the Attention panel opens on the largest)."""
        s = float(sum(float(np.std(w)) for w in self.parts().values()))
        if self.tokens is not None and self.tokens.size:
            top = float(np.max(np.abs(self.tokens)))
            s += float(np.std(self.tokens)) / top if top > 0 else 0.0
        return s

    def constant_parts(self, span: float = FLAT_SPAN) -> dict[str, float]:
        """``{part: its mean weight}`` for the parts whose weights span less than ``span``."""
        return {k: float(np.mean(w)) for k, w in self.parts().items() if float(np.ptp(w)) < span}


@dataclass(frozen=True)
class Metrics:
    """Cost and speed of one step: total firing rate over all spiking neurons (over the steps the
    model ran: the layers' ``window_rate`` pooled, as ``snnstudio eval``), spike count (newest step),
    synaptic operations and energy (``None`` until a meter provides them), step latency (ms,
    model + probes + snapshot)."""

    firing_rate: float
    spike_count: int
    sops: float | None = None
    energy_pj: float | None = None
    latency_ms: float = 0.0


@dataclass(frozen=True)
class Counters:
    """Throughput seen by the session, averaged over the last second of wall time."""

    events_per_s: float = 0.0
    steps_per_s: float = 0.0
    dropped: int = 0
    realtime_factor: float = 0.0
    #: CPU time (ms) the engine worker thread spent per step (binning, model, read-out, snapshot)
    cpu_ms_per_step: float = 0.0
    #: steps shed since the source opened: their events went into the model's frames, but only a
    #: newer step was evaluated and shown (see ``SessionConfig.shed_load``)
    shed_steps: int = 0


@dataclass(frozen=True)
class Snapshot:
    """Everything the GUI draws for one step ``index`` covering ``t_start_us <= t < t_end_us``."""

    index: int
    t_start_us: int
    t_end_us: int
    frame: np.ndarray
    n_events: int
    layers: tuple[LayerSnapshot, ...] = ()
    attention: tuple[AttentionSnapshot, ...] = ()
    probabilities: np.ndarray | None = None
    predicted: int | None = None
    confidence: float = 0.0
    label: int | None = None
    label_name: str | None = None
    class_names: tuple[str, ...] = ()
    metrics: Metrics = field(default_factory=lambda: Metrics(0.0, 0))
    counters: Counters = field(default_factory=Counters)
    recording_start_us: int | None = None
    recording_end_us: int | None = None
    model_name: str = ""
    #: the same window through the compared models (lock-step), each a full snapshot
    compare: tuple[Snapshot, ...] = ()
    #: ``time.perf_counter()`` wall times at which the step's first and last events arrived
    #: (paced playback: when the stream clock passed the window's start and end; live: the end
    #: is when the source delivered the window) — end-to-end latency = drawn − ``wall_window_s[0]``
    wall_window_s: tuple[float, float] | None = None
    #: ``time.perf_counter()`` wall time at which the engine published this snapshot (the
    #: clock is system-wide, so it compares across the engine's and the window's processes)
    wall_ready_s: float | None = None

    @property
    def time_us(self) -> int:
        """The end of the step's window: 'now' on the stream clock."""
        return self.t_end_us

    def layer(self, name: str) -> LayerSnapshot:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)
