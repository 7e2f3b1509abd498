"""Run a torch model one stream step at a time and read out what the GUI draws.

Two ways to stream a model built for ``[T, B, ...]`` input:

* **stateful** (every neuron can run single-step and no module looks across time): all neurons are
  put in single-step mode and keep their state between calls; each step feeds ``[1, 1, 2, H, W]``.
  The read-out averages the output over the last ``T`` steps (the model's own mean over ``T``).
* **window** (a module looks across time: temporal attention, PSN, ...): the last ``T`` frames are
  kept (zero-padded at the start) and the whole window is re-evaluated each step; what is shown is
  the window's last time step.

The **step** (``step_us``, the session's hop, e.g. 10 ms) and the model's **frame** (``frame_us``,
the ``dt_us`` it was trained on, e.g. 150 ms) are decoupled for window models: each step brings
one sub-bin of events (pooled straight to the model's input size by
:func:`~snnstudio.events.frames.bin_events`), and the window is the last ``T`` frames of
``alpha = frame_us / step_us`` sub-bins each, kept by :class:`~snnstudio.events.frames.SlidingFrames`
(only the new sub-bin is binned per step). So the model sees frames as long as those it was
trained on while its prediction updates every step. Where ``frame_us`` is not a multiple of the
step, ``alpha`` is the nearest whole number (frames of ``alpha·step_us``; :attr:`frame_mismatch`
says so). A stateful model whose trained frame is a multiple (> 1) of the step runs the same way,
as a window of its ``T`` trained frames re-run from rest each step — exactly its training input —
instead of single-step on frames shorter than it was trained on. Otherwise a stateful model runs
single-step, one frame per step, its state carried over (the session then gives a trained model
its trained ``dt`` as the step, see :class:`~snnstudio.engine.session.Session`).

Window steps run a fused streaming copy of the model (:mod:`snnstudio.snn.fuse`: conv/BN/pool
folded, MA-SNN attention pooled once). SOPs and energy are metered on the model as built (the
papers' architecture) every ``cost_every`` steps and, with ``cost_interval_s``, whenever that much
time has passed; with ``meter_aside`` a playing window model is metered in a background thread,
off the step's path, and no more often than its share of wall time allows (:data:`METER_SHARE`:
a metering that took 20 ms waits 2 s). A step carries the last metered cost.

Networks of other libraries (SpikingJelly, snnTorch, Norse; see :mod:`snnstudio.engine.peers`)
always run stateful, one frame per call (``[B, C, H, W]`` or ``[1, B, C, H, W]``, as the network
takes it), read through forward-hook views with the same attributes.

Per spiking layer it reads the neuron contract's ``last_spikes`` / ``last_v`` (see
:mod:`snnstudio.snn.neurons.base`); per attention block its parts' weights, through the attention
contract of :mod:`snnstudio.snn.attention`. Nothing here changes the model's output. Everything
returned is numpy (the GUI never sees a tensor).
"""

from __future__ import annotations

import atexit
import math
import threading
import time
import weakref
from collections import deque
from dataclasses import replace

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from snnstudio.engine import native_readout
from snnstudio.engine.snapshot import AttentionSnapshot, LayerSnapshot
from snnstudio.engine.types import ModelInfo, ModuleInfo  # noqa: F401 - re-exported
from snnstudio.errors import ModelError
from snnstudio.events.frames import SlidingFrames, bin_events
from snnstudio.snn.attention import attention_blocks, sample_weights, token_measure, token_weights
from snnstudio.snn.neurons.base import SpikingNeuron


def _sample_shape(shape: tuple[int, ...], lead: tuple[int, ...]) -> tuple[int, ...]:
    """The per-sample neuron shape of a tensor whose leading dims are ``lead`` (``(T, B)`` or
    ``(B,)``, batch 1), or of one with those dims folded into the first (``[T·B, ...]``)."""
    n = len(lead)
    if len(shape) > n and tuple(shape[:n]) == tuple(lead):
        return tuple(shape[n:])
    folded = int(np.prod(lead))
    if len(shape) >= 2 and shape[0] == folded:
        return tuple(shape[1:])
    return (int(np.prod(shape)) // folded,)


def _weights_of(module: nn.Module, kind: str, b: int = 0) -> np.ndarray | None:
    """A part's weights for batch element ``b`` (read by the attention contract) as the GUI
    draws them: ``[T]``, ``[C]`` or ``[h, w]``."""
    w = sample_weights(module, b, as_numpy=True)
    if w is None:
        return None
    a = np.squeeze(w)
    if kind == "sa":
        while a.ndim > 2:
            a = a[-1]
        return np.atleast_2d(a)
    return a.reshape(-1) if a.ndim <= 1 else a.reshape(a.shape[0], -1)[:, 0]


def _first_tensor(out):
    """A model's output tensor: itself, or the first tensor of a tuple/list (snnTorch's
    ``(spk, mem)``, Norse's ``(out, state)``)."""
    while isinstance(out, (tuple, list)) and out:
        out = out[0]
    if not isinstance(out, torch.Tensor):
        raise ModelError(f"the model returned {type(out).__name__}, not a tensor of class scores")
    return out


def _peer_views(model: nn.Module) -> list:
    """Views of the model's SpikingJelly / snnTorch / Norse neuron layers (empty: ours)."""
    from snnstudio.engine.peers import peer_neurons

    return peer_neurons(model)


def _ro(a: np.ndarray) -> np.ndarray:
    """``a`` made read-only in place (for arrays created by the read-out, shared with no one)."""
    a.setflags(write=False)
    return a


#: torch's inference-mode guard without the Python context machinery of ``torch.inference_mode`` (entered
#: once a step: ~1 µs against ~3 µs warm, and several times that right after a forward, when the
#: interpreter's caches are cold); the public context where a torch lacks it
_inference_mode = ((lambda: torch._C._InferenceMode(True)) if hasattr(torch._C, "_InferenceMode")
                   else torch.inference_mode)

#: live runners, whose background meters are stopped before the interpreter exits (see stop_meter)
_RUNNERS: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _stop_meters() -> None:
    for runner in list(_RUNNERS):
        runner.stop_meter(timeout=5.0)


#: steps closer than this (s) count as playing: their cost is metered aside, not in line
PLAYING_GAP_S = 1.0
#: the share of wall time the background meter may take while a stream plays: after a metering that
#: took ``d`` seconds, the next waits at least ``d / METER_SHARE`` (it runs the model as built with
#: counting hooks, on the other core but holding the GIL and the memory bus much of the time)
METER_SHARE = 0.01


def rates_to_probabilities(r: np.ndarray) -> np.ndarray:
    """Class probabilities from the read-out: spike rates in [0, 1] are normalised to sum to 1
    (uniform when nothing fired); any other values (logits) go through a softmax."""
    r = np.asarray(r, np.float64)
    if r.size == 0:
        return r.astype(np.float32)
    if r.min() >= 0.0 and r.max() <= 1.0:
        s = r.sum()
        return (r / s if s > 0 else np.full_like(r, 1.0 / r.size)).astype(np.float32)
    e = np.exp(r - r.max())
    return (e / e.sum()).astype(np.float32)


class ModelRunner:
    """Streams one model step by step (see module docstring); owned by one worker thread."""

    def __init__(
        self,
        model: nn.Module,
        name: str = "",
        class_names: dict[int, str] | list[str] | None = None,
        window_T: int = 16,
        mode: str | None = None,
        input_hw: tuple[int, int] | None = None,
        raster_neurons: int = 64,
        feature_channels: int | None = None,
        sensor_hw: tuple[int, int] = (128, 128),
        cost_every: int = 16,
        step_us: int | None = None,
        cost_interval_s: float | None = None,
        meter_aside: bool = False,
        detail_interval_s: float | None = None,
        meter_share: float | None = METER_SHARE,
    ):
        self.model = model.eval()
        self.name = name or type(model).__name__
        cfg = getattr(model, "config", None)
        fixed_T = getattr(model, "window_T", None) or getattr(cfg, "T", None)
        self.window_T = int(fixed_T or window_T)
        self.fixed_T = fixed_T is not None
        shape = getattr(model, "input_shape", None) or getattr(cfg, "input_size", None)
        self.input_hw = tuple(input_hw or getattr(model, "input_hw", None) or (tuple(shape)[1:] if shape else None) or sensor_hw)
        # zoo models (SNNModel) take one step as [B, C, H, W]; other models get [T=1, B, C, H, W]
        # (a network of peer neurons says which, see snnstudio.engine.peers)
        self.step_input_ndim = int(getattr(model, "step_input_ndim", None) or (4 if hasattr(model, "check_input") else 5))
        self.sensor_hw = tuple(sensor_hw)
        #: the part of the sensor the model sees ``(x0, y0, w, h)`` (None: all of it) and the factor
        #: its counts are scaled by (the event-rate normalisation); see :meth:`set_input_map`
        self.input_box: tuple[int, int, int, int] | None = None
        self.input_gain = 1.0
        self.neurons = [(n, m) for n, m in model.named_modules() if isinstance(m, SpikingNeuron)]
        #: SpikingJelly / snnTorch / Norse layers, read through forward hooks (streamed stateful)
        self.peers = _peer_views(model)
        if self.peers and self.neurons:
            raise ModelError(f"model {self.name!r} mixes snnstudio neurons with another library's; use one")
        if self.peers:
            self.neurons = [(p.name, p) for p in self.peers]
            mode = "stateful"
        if not self.neurons:
            from snnstudio.engine.peers import unprobed_layers

            odd = unprobed_layers(model)
            raise ModelError(f"model {self.name!r} has no spiking neurons to show (snnstudio, SpikingJelly, "
                             f"snnTorch or Norse)" + (f"; not readable: {', '.join(odd)}" if odd else ""))
        self.attention = attention_blocks(model)
        across = any(getattr(m, "looks_across_time", False) for m in model.modules())
        single = all(getattr(m, "supports_single_step", True) for _, m in self.neurons)
        #: how the model itself can stream ('stateful' or 'window'); :attr:`mode` is how it does now
        self.native_mode = mode or getattr(model, "streaming_mode", None) or ("stateful" if single and not across else "window")
        if self.native_mode not in ("stateful", "window"):
            raise ModelError(f"streaming mode must be 'stateful' or 'window', got {self.native_mode!r}")
        self._mode_forced = mode is not None
        if self.native_mode != "stateful" and self.peers:
            raise ModelError(f"model {self.name!r}: networks of other libraries stream stateful only")
        trained = getattr(model, "frame_us", None) or getattr(cfg, "dt_us", None)
        #: the frame length (µs) the model was trained on (None: unknown, one step = one frame)
        self.trained_frame_us = int(trained) if trained else None
        self.step_us = int(step_us) if step_us else None
        self.mode = self._effective_mode()
        self.raster_neurons = raster_neurons
        self.feature_channels = feature_channels
        self.followed: dict[str, list[int]] = {}
        names = class_names if class_names is not None else getattr(model, "class_names", None) or getattr(cfg, "class_names", None)
        if isinstance(names, dict):
            names = [names.get(i, str(i)) for i in range(max(names) + 1)] if names else []
        self.class_names = tuple(names or ())
        self._raster_index: dict[str, np.ndarray] = {}
        self._ones: dict[int, np.ndarray] = {}  # float32 ones per channel size (channel counts)
        self._readout = None  # the native read-out (None: not built when last asked, at _readout_asked)
        self._readout_asked = -math.inf
        self._plans: dict[tuple, native_readout.ReadoutPlan | None] = {}  # per (neurons, lead, b, detail)
        self._pool = native_readout.BufferPool()  # the native read-out's output buffers
        self._shapes: dict[str, tuple[int, ...]] = {}
        self.n_classes = 0
        self.ops = self._op_counter()
        #: the model with its conv/BN/pool fused (:mod:`snnstudio.snn.fuse`), run on the steps
        #: whose cost is not measured (window mode: no state carried between steps); built on the
        #: first window step (``False`` until then), ``None`` when nothing fuses
        self._fast = False
        #: SOPs/energy are measured every ``cost_every`` steps (the last value is carried between)
        #: — a metered step runs the model as built with counting hooks, ~2× a window step — and,
        #: with ``cost_interval_s``, also whenever that much wall time has passed since the last
        #: (a streaming session: rarely at 100 steps/s, on every step when stepping by hand)
        self.cost_every = cost_every
        self.cost_interval_s = cost_interval_s
        #: window mode with a fused copy: meter in a background thread, off the step's path (a
        #: metered step took two window steps and delayed the steps queued behind it)
        self.meter_aside = meter_aside
        #: at most this share of wall time metering aside (:data:`METER_SHARE`; ``None``: no limit)
        self.meter_share = meter_share
        self._meter_gap_s = 0.0  # the wait the last aside metering's duration asks for
        #: feature maps, spatial and window rates and attention weights are read out at most this
        #: often (s) while steps come faster (a stream playing); steps between show the last ones.
        #: ``None``: every step. The per-step series the window stacks into histories (rasters,
        #: channel rates, counts, rates, followed membranes) are this step's, always
        #: (:meth:`_layer_counts`).
        self.detail_interval_s = detail_interval_s
        self._last_detail = -math.inf
        self._detail: tuple[dict, tuple] | None = None  # (layer read-outs by name, attention) last in detail
        self._meter_lock = threading.Lock()
        self._ops_lock = threading.Lock()  # the op counter's hooks: one user at a time
        self._meter_wake = threading.Event()
        self._meter_next: torch.Tensor | None = None
        self._meter_thread: threading.Thread | None = None
        self._meter_stopped = False  # stop_meter: no more metering aside
        _RUNNERS.add(self)
        self._last_step_wall = -math.inf
        #: windows metered aside: [taken, finished]
        self.meter_windows = [0, 0]
        self._last_cost: tuple[float | None, float | None] = (None, None)
        self._last_measure = -math.inf
        #: per spiking layer: (SOPs, energy pJ) per time step of its block, from the last metering
        self._layer_cost: dict[str, tuple[float, float]] = {}
        self._membranes_kept()  # none followed yet: spikes only
        self.reset()
        self._warm_up()

    def _fused(self):
        from snnstudio.snn.fuse import fused_for_streaming

        try:
            fast = fused_for_streaming(self.model)
        except Exception:  # an unusual layer: stream the model as built
            return None
        if fast is None:
            return None
        neurons = [(n, m) for n, m in fast.named_modules() if isinstance(m, SpikingNeuron)]
        if [n for n, _ in neurons] != [n for n, _ in self.neurons]:
            return None
        return fast, neurons, attention_blocks(fast)

    def _net(self, measure: bool = False):
        """``(model, neurons, attention)`` to run a step with: the fused copy in window mode
        unless the step's cost is measured (op counts are of the model as built)."""
        if self.mode == "window" and not measure:
            if self._fast is False:
                self._fast = self._fused()  # a deep copy: neurons already in multi-step mode
            if self._fast is not None:
                return self._fast
        return self.model, self.neurons, self.attention

    def _op_counter(self):
        """SOPs and energy per step from ``snnstudio.probe.OpCounter`` (None if not installed)."""
        try:
            from snnstudio.probe import EnergyConfig, OpCounter
        except ImportError:
            return None
        step_mode = "s" if self.mode == "stateful" and self.step_input_ndim == 4 else "m"
        try:
            return OpCounter(self.model, EnergyConfig(step_mode=step_mode), attach=False)
        except Exception:  # a layer the meter does not know: no cost shown rather than no model
            if not getattr(self, "peers", None):
                raise
            return None

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget the stream: neuron state, the frame window and the read-out history."""
        models = [self.model] + ([self._fast[0]] if getattr(self, "_fast", None) else [])
        for model in models:
            for m in model.modules():
                if isinstance(m, SpikingNeuron):
                    m.step_mode = "s" if self.mode == "stateful" else "m"
                    m.reset()
                elif m is not model and hasattr(m, "reset") and callable(m.reset):
                    try:
                        m.reset()
                    except TypeError:
                        pass
        for p in getattr(self, "peers", ()):
            p.reset()
        self._step_count = 0  # the first step of a stream is metered (reset runs in __init__ too)...
        if self._last_cost[0] is None:  # ...until a cost is known: then the meter's budget holds on
            self._last_measure = -math.inf
        self._detail = None
        h, w = self.input_hw
        self._window = SlidingFrames(self.window_T, self.alpha, (2, h, w)) if self.mode == "window" else None
        self._outputs: deque[np.ndarray] = deque(maxlen=self.window_T)
        self._folded: np.ndarray | None = None  # a stateful model's skipped steps' input, for its next step

    def _effective_mode(self) -> str:
        """A stateful model trained on frames of several steps runs as a window of its T trained
        frames (re-run each step from rest, exactly its training input) rather than single-step
        on frames shorter than it was trained on; otherwise the model's own mode."""
        tr, st = self.trained_frame_us, self.step_us
        if self.native_mode == "stateful" and not self._mode_forced and tr and st and tr > st and tr % st == 0:
            return "window"
        return self.native_mode

    @property
    def alpha(self) -> int:
        """Steps (sub-bins) summed into one model frame: ``frame_us / step_us`` for window models
        that know their trained frame length, else 1."""
        if self.mode != "window" or not self.trained_frame_us or not self.step_us:
            return 1
        return max(1, round(self.trained_frame_us / self.step_us))

    @property
    def frame_us(self) -> int | None:
        """The length (µs) of the frames the model is fed (``alpha · step_us``)."""
        return self.alpha * self.step_us if self.step_us else self.trained_frame_us

    @property
    def frame_mismatch(self) -> str | None:
        """A one-line note when the frames fed differ from the trained ones (else ``None``)."""
        f, tr = self.frame_us, self.trained_frame_us
        if not f or not tr or f == tr:
            return None
        how = "one step is one frame" if self.mode == "stateful" else f"{self.alpha} × {self.step_us / 1000:g} ms steps"
        return f"{self.name}: frames of {f / 1000:g} ms ({how}); it was trained on {tr / 1000:g} ms frames"

    @property
    def prime_steps(self) -> int:
        """Steps of history the runner needs to show a position as if it had played up to it."""
        return self.window_T * self.alpha if self.mode == "window" else self.window_T

    def set_step(self, step_us: int) -> None:
        """Feed steps of ``step_us`` µs from now on (recomputes ``alpha``; forgets the stream)."""
        if int(step_us) < 1:
            raise ModelError(f"the step must be at least 1 µs, got {step_us}")
        self.step_us = int(step_us)
        mode = self._effective_mode()
        if mode != self.mode:
            self.mode = mode
            self.ops = self._op_counter()
        self.reset()

    def set_window(self, T: int) -> None:
        if self.fixed_T and T != self.window_T:
            raise ModelError(f"model {self.name!r} is built for T={self.window_T}; its window cannot change")
        if T < 1:
            raise ModelError(f"T must be at least 1, got {T}")
        self.window_T = int(T)
        self.reset()

    def follow(self, layer: str, index: int, on: bool = True) -> None:
        """Record the membrane potential of neuron ``index`` (flat, per sample) of ``layer``."""
        if layer not in self._shapes:
            raise ModelError(f"no spiking layer {layer!r}; layers: {', '.join(self._shapes)}")
        n = int(np.prod(self._shapes[layer]))
        if not 0 <= index < n:
            raise ModelError(f"neuron {index} is outside layer {layer!r} ({n} neurons)")
        lst = self.followed.setdefault(layer, [])
        if on and index not in lst:
            lst.append(int(index))
        elif not on and index in lst:
            lst.remove(index)
        self._membranes_kept()

    def _membranes_kept(self) -> None:
        """Only the layers with a followed neuron keep (and a native kernel writes) their membrane."""
        models = [self.model] + ([self._fast[0]] if getattr(self, "_fast", None) else [])
        for model in models:
            for n, m in model.named_modules():
                if isinstance(m, SpikingNeuron):
                    m.record_v = bool(self.followed.get(n))

    def set_enabled(self, module: str, enabled: bool) -> None:
        """Switch a block with an ``enabled`` flag (an attention block) on or off."""
        mods = dict(self.model.named_modules())
        m = mods.get(module)
        if m is None or not hasattr(m, "enabled"):
            raise ModelError(f"module {module!r} cannot be switched (it has no 'enabled' flag)")
        m.enabled = bool(enabled)
        if self._fast:
            self._fast[0].get_submodule(module).enabled = bool(enabled)
        self._detail = None  # the next step reads the attention anew (a switched-off block shows at once)
        self._last_measure, self._meter_gap_s = -math.inf, 0.0  # and meters the new cost at once

    def info(self) -> ModelInfo:
        rows = []
        for n, m in self.model.named_modules():
            if not n:
                continue
            rows.append(ModuleInfo(n, type(m).__name__, n.count("."), hasattr(m, "enabled"), bool(getattr(m, "enabled", True))))
        return ModelInfo(
            name=self.name,
            mode=self.mode,
            window_T=self.window_T,
            input_hw=tuple(self.input_hw),
            layers=tuple((n, getattr(m, "registry_name", type(m).__name__), self._shapes.get(n, ())) for n, m in self.neurons),
            attention=tuple(n for n, _, _ in self.attention),
            n_classes=self.n_classes,
            class_names=self.class_names,
            modules=tuple(rows),
            n_parameters=sum(p.numel() for p in self.model.parameters()),
            step_us=self.step_us,
            frame_us=self.frame_us,
            alpha=self.alpha,
            trained_frame_us=self.trained_frame_us,
            unprobed=tuple(getattr(self.model, "unprobed", None) or ()),
        )

    # ------------------------------------------------------------------ stepping
    def set_input_map(self, box: tuple[int, int, int, int] | None, gain: float = 1.0) -> None:
        """See only ``box`` = ``(x0, y0, w, h)`` of the sensor (the region of interest, in sensor
        pixels; ``None``: the whole sensor), its counts pooled to the input size and multiplied by
        ``gain`` (:mod:`snnstudio.events.preprocess`: the event-rate normalisation)."""
        H, W = self.sensor_hw
        if box is not None:
            x0, y0, bw, bh = (int(v) for v in box)
            if x0 < 0 or y0 < 0 or bw <= 0 or bh <= 0 or x0 + bw > W or y0 + bh > H:
                raise ModelError(f"input box {box} is not inside the {W}x{H} sensor")
            box = None if (x0, y0, bw, bh) == (0, 0, W, H) else (x0, y0, bw, bh)
        self.input_box = box
        self.input_gain = float(gain)

    def _crop(self, frame: np.ndarray) -> np.ndarray:
        """A ``[..., H, W]`` frame cut to the input box."""
        if self.input_box is None:
            return frame
        x0, y0, bw, bh = self.input_box
        return frame[..., y0:y0 + bh, x0:x0 + bw]

    def _crop_events(self, events: np.ndarray, sensor_size: tuple[int, int]):
        """Events inside the input box, shifted to its origin, and the box's ``(w, h)``."""
        if self.input_box is None:
            return events, tuple(sensor_size)
        x0, y0, bw, bh = self.input_box
        x = events["x"].astype(np.int64) - x0
        y = events["y"].astype(np.int64) - y0
        keep = (x >= 0) & (x < bw) & (y >= 0) & (y < bh)
        out = events[keep].copy()
        out["x"] = x[keep]
        out["y"] = y[keep]
        return out, (bw, bh)

    def bin_steps(self, events: np.ndarray, sensor_size: tuple[int, int], t_start_us: int, n: int, dt_us: int) -> np.ndarray:
        """``n`` steps of ``dt_us`` from ``t_start_us`` as model inputs ``[n, 2, h, w]`` (float32):
        cut to the input box, sum-pooled to the input size (``x·w // W``), scaled by the gain."""
        h, w = self.input_hw
        events, size = self._crop_events(events, sensor_size)
        out = None if (w, h) == tuple(size) else (w, h)
        x = bin_events(events, tuple(size), dt_us=int(dt_us), t_start_us=int(t_start_us), n_frames=int(n), out_size=out)
        x = x.astype(np.float32, copy=False)
        return x * np.float32(self.input_gain) if self.input_gain != 1.0 else x

    def _prepare(self, frame: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(self._crop(frame), np.float32))
        if self.input_gain != 1.0:
            x = x * self.input_gain
        h, w = self.input_hw
        if x.shape[-2:] != (h, w):
            H, W = x.shape[-2:]
            if H % h == 0 and W % w == 0:
                x = F.avg_pool2d(x[None], (H // h, W // w))[0] * ((H // h) * (W // w))
            else:
                x = F.adaptive_avg_pool2d(x[None], (h, w))[0] * (H * W / (h * w))
        return x

    def _warm_up(self) -> None:
        h, w = self.sensor_hw
        try:
            self.step(np.zeros((2, h, w), np.float32))
        except ModelError:
            raise
        except Exception as exc:  # a model/input mismatch: say so in one line
            hint = "" if getattr(self.model, "input_hw", None) or hasattr(self.model, "check_input") else (
                "; give the module your factory returns an input_hw = (H, W) attribute and the studio pools the "
                "events to that size")
            raise ModelError(f"model {self.name!r} does not run on {w}x{h} event frames (2 polarities): "
                             f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}{hint}") from None
        self.reset()

    def sub_bin(self, events: np.ndarray, sensor_size: tuple[int, int], t_start_us: int) -> np.ndarray:
        """One step's events ``[t_start_us, t_start_us + step_us)`` as counts ``[2, h, w]`` at the
        model's input size (``bin_events`` sum-pooling, ``x·w // W``; no full-size frame)."""
        if not self.step_us:
            raise ModelError(f"model {self.name!r}: set the step length (set_step) before feeding events")
        return self.bin_steps(events, sensor_size, t_start_us, 1, self.step_us)[0]

    def step_events(self, events: np.ndarray, sensor_size: tuple[int, int], t_start_us: int, frame: np.ndarray | None = None):
        """Advance one step on its events (see :meth:`sub_bin`); returns what :meth:`step` does.
        ``frame`` (the same events counted at full size, optional) is used as is when the model
        takes the sensor's size."""
        return self.step_events_many([(events, t_start_us, frame)], sensor_size)[0]

    def prime(self, sub_bins: np.ndarray) -> None:
        """Feed ``[k, 2, h, w]`` past sub-bins (oldest first) without reading anything out: the
        window models only fill their frames; stateful ones run (their state must advance)."""
        if self.mode == "window":
            self._window.extend(sub_bins)
        else:
            for s in sub_bins[-self.window_T :]:
                self._advance(torch.from_numpy(np.ascontiguousarray(s, np.float32)))
        if self.ops is not None:
            with self._ops_lock:
                self.ops.clear()

    def step(self, frame: np.ndarray):
        """Advance one step on a ``[2, H, W]`` count frame (pooled to the input size); returns
        ``(layers, attention, readout, cost)`` where ``readout`` is the class read-out (window
        models: the window's mean; stateful: averaged over the last ``T`` steps) and ``cost`` is
        ``(sops, energy_pj)`` of this one step (``(None, None)`` without a meter)."""
        return self._advance(self._prepare(frame))

    def step_events_many(self, windows, sensor_size: tuple[int, int]) -> list:
        """Advance several consecutive steps at once, ``windows`` being ``(events, t_start_us,
        frame)`` each (oldest first); returns one :meth:`step` result per step. A window model
        runs their windows as one batch ``[T, B, ...]`` — the same outputs as one step after the
        other (every module is per sample), for a fraction of the per-call overhead: how the
        session catches up when it falls behind. A stateful model steps through them in order."""
        xs = self._inputs(windows, sensor_size)
        if self.mode != "window" or len(xs) == 1:
            return [self._advance(torch.from_numpy(x)) for x in xs]
        return self._advance_batch(xs)

    def skip_events_many(self, windows, sensor_size: tuple[int, int]) -> None:
        """Take several consecutive steps' events (``(events, t_start_us, frame)`` each, oldest
        first) without evaluating the model: a session that has fallen behind sheds the late steps
        and evaluates only the newest. A window model's sliding frames then hold the same frames as
        after stepping through all of them; a stateful model gets the skipped steps' input folded
        into its next step (their counts added to it: one step sees all their events, its state
        decays once instead of once per skipped step)."""
        xs = self._inputs(windows, sensor_size)
        if self.mode == "window":
            for x in xs:
                self._window.push(x)
        else:
            folded = np.sum(xs, axis=0, dtype=np.float32) if xs else None
            if folded is not None:
                self._folded = folded if self._folded is None else self._folded + folded
        self._step_count += len(windows)

    def _inputs(self, windows, sensor_size: tuple[int, int]) -> list[np.ndarray]:
        """The model inputs ``[2, h, w]`` (float32) of ``(events, t_start_us, frame)`` steps."""
        W, H = sensor_size
        w, h = (self.input_box[2], self.input_box[3]) if self.input_box is not None else (W, H)
        ih, iw = self.input_hw
        gain = np.float32(self.input_gain)
        xs = []
        for events, t0, frame in windows:
            if frame is not None and frame.shape != (2, H, W):
                frame = None
            if frame is not None and (ih, iw) == (h, w):
                x = np.ascontiguousarray(self._crop(frame), np.float32)
                if gain != 1.0:
                    x = x * gain
                xs.append(x if x.flags.writeable else x.copy())  # a frozen snapshot frame
            elif frame is not None and h % ih == 0 and w % iw == 0:
                # the full-size counts summed over blocks: what sub_bin's x·w // W mapping bins,
                # without a second pass over the events (~10× cheaper at 1 M events/s)
                x = np.ascontiguousarray(self._crop(frame)).reshape(2, ih, h // ih, iw, w // iw).sum(axis=(2, 4), dtype=np.float32)
                xs.append(x * gain if gain != 1.0 else x)
            else:
                xs.append(self.sub_bin(events, sensor_size, t0))
        return xs

    @torch.inference_mode()
    def _advance_batch(self, xs: list[np.ndarray]) -> list:
        T, B = self.window_T, len(xs)
        frames = np.stack([self._window.push(x).copy() for x in xs], axis=1)  # [T, B, 2, h, w]
        self._step_count += B
        net, neurons, blocks = self._net()
        out = net(torch.from_numpy(frames)).detach().float()
        readouts = (out.reshape(T, B, -1).mean(0) if out.dim() >= 3 else out.reshape(B, -1)).numpy()
        lead = (T, B)
        results = []
        for b in range(B):
            layers = self._read_layers(neurons, lead, b, None)
            attention = tuple(self._attention(name, m, parts, b) for name, m, parts in blocks)
            readout = readouts[b].copy()
            self.n_classes = int(readout.size)
            results.append((layers, attention, readout, self._last_cost))
        return results

    def _advance(self, x: torch.Tensor):
        with _inference_mode():
            return self._advance_in(x)

    def _advance_in(self, x: torch.Tensor):
        if self._folded is not None:  # skipped steps' input (stateful shedding) goes in with this one
            x = x + torch.from_numpy(self._folded).to(x.dtype)
            self._folded = None
        now = time.perf_counter()
        # steps less than a second apart are a stream playing (on a loaded machine one step of the
        # default can take a few tenths of a second); slower ones are stepped by hand: meter in line
        playing, self._last_step_wall = now - self._last_step_wall < PLAYING_GAP_S, now
        can_aside = (playing and self.meter_aside and self.ops is not None and self.mode == "window"
                     and self._net()[0] is not self.model)
        since = now - self._last_measure
        if self.ops is None:
            measure = False
        elif can_aside:  # within the meter's share of wall time (and cost_interval_s)
            due = since >= self.cost_interval_s if self.cost_interval_s is not None else self._step_count % self.cost_every == 0
            measure = due and since >= self._meter_gap_s
        else:
            measure = self._step_count % self.cost_every == 0 or (
                self.cost_interval_s is not None and since >= self.cost_interval_s)
        if measure:
            self._last_measure = now
        self._step_count += 1
        aside = measure and can_aside
        if aside:  # the fused copy runs this step; the model as built is metered on its window aside
            measure = False
        if not measure:
            return self._step_on(x, False, aside)
        with self._ops_lock:  # not while the background meter uses the counter's hooks
            return self._step_on(x, True, False)

    def _step_on(self, x: torch.Tensor, measure: bool, aside: bool):
        if measure:
            # hooks only on measured steps (they cost ~40 % of a forward); clear() then attach()
            # so that the hooks write into the fresh records
            self.ops.detach()
            self.ops.clear()
            self.ops.attach()
        net, neurons, blocks = self._net(measure)
        if self.mode == "stateful":
            if self.step_input_ndim == 4:
                out, lead = self.model(x[None]), (1,)
            else:
                out, lead = self.model(x[None, None]), (1, 1)
        else:
            frames = self._window.push(x.numpy())
            out = net(torch.from_numpy(frames)[:, None])
            lead = (self.window_T, 1)
            if aside:
                self._meter_aside(torch.from_numpy(frames.copy())[:, None])
        o = _first_tensor(out)  # (in inference mode: nothing to detach)
        if o.dtype is not torch.float32:
            o = o.float()
        if self.mode == "window":
            readout = (o.reshape(self.window_T, -1).mean(0) if o.dim() >= 3 else o.reshape(-1)).numpy()
        else:
            self._outputs.append(o.reshape(-1).numpy().copy())
            readout = np.mean(np.stack(self._outputs), axis=0)
        self.n_classes = int(readout.size)
        now = time.perf_counter()
        detail = (measure or self._detail is None or self.detail_interval_s is None
                  or now - self._last_detail >= self.detail_interval_s)
        if detail:
            self._last_detail = now
            layers = self._read_layers(neurons, lead, 0, None)
            attention = tuple(self._attention(name, m, parts) for name, m, parts in blocks)
            self._detail = ({la.name: la for la in layers}, attention)
        else:
            last, attention = self._detail
            layers = self._read_layers(neurons, lead, 0, last)
        if measure:
            self.ops.detach()
            self._note_cost(self.ops.report())
            layers = tuple(replace(la, sops=self._layer_cost.get(la.name, (None, None))[0],
                                   energy_pj=self._layer_cost.get(la.name, (None, None))[1]) for la in layers)
        return layers, attention, readout, self._last_cost

    def _meter_aside(self, frames: torch.Tensor) -> None:
        """Meter the model as built on ``frames`` (one window, ``[T, 1, ...]``) in a background
        thread; the cost lands in ``_last_cost`` when done (a window already waiting is replaced,
        one being metered is finished first). The thread ends after 2 s without work."""
        with self._meter_lock:
            if self._meter_stopped:
                return
            self._meter_next = frames
            if self._meter_thread is None:
                self._meter_thread = threading.Thread(target=self._meter_loop, name="snn-meter", daemon=True)
                self._meter_thread.start()
            self._meter_wake.set()

    def stop_meter(self, timeout: float = 10.0) -> None:
        """Stop the background meter: a window being metered is finished, none is taken after; returns
        when its thread has ended (at most ``timeout`` s). A process must not exit while the thread is
        inside a forward pass: the C++ runtime aborts it (``terminate called without an active
        exception``, exit status 134); an ``atexit`` hook calls this for every runner left."""
        with self._meter_lock:
            self._meter_stopped = True
            self._meter_next = None
            thread = self._meter_thread
        self._meter_wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _meter_loop(self) -> None:
        while True:
            if not self._meter_wake.wait(2.0):
                with self._meter_lock:
                    if self._meter_next is None:
                        self._meter_thread = None
                        return
            with self._meter_lock:
                if self._meter_stopped:
                    self._meter_thread = None
                    return
                frames, self._meter_next = self._meter_next, None
                self._meter_wake.clear()
                if frames is not None:
                    self.meter_windows[0] += 1
            ops = self.ops
            if frames is None or ops is None:
                continue
            try:
                t0 = time.perf_counter()
                with self._ops_lock, torch.inference_mode():
                    ops.detach()
                    ops.clear()
                    ops.attach()
                    try:
                        self.model(frames)
                    finally:
                        ops.detach()
                    rep = ops.report()
                self._note_cost(rep)
                if self.meter_share:
                    self._meter_gap_s = (time.perf_counter() - t0) / self.meter_share
            except Exception:  # a model changed under the meter: the next window is metered again
                pass
            finally:
                self.meter_windows[1] += 1

    def _layer(self, name: str, m: SpikingNeuron, lead: int, b: int = 0,
               reuse: LayerSnapshot | None = None) -> LayerSnapshot:
        """Read out the last time step of batch element ``b`` of one spiking layer. The arrays
        are made here (never views of the model's tensors), so they are frozen without a copy.
        ``reuse``: this layer's last detailed read-out, whose feature map and window rate are
        shown again (steps between detail read-outs, see ``detail_interval_s``)."""
        s = m.last_spikes
        if s is None:
            raise ModelError(f"layer {name!r} did not record its spikes (record=False?)")
        shape = _sample_shape(tuple(s.shape), lead)
        self._shapes[name] = shape
        t_lead = lead[0] if len(lead) == 2 else 1
        n_batch = lead[-1]
        # 0/1 as uint8 (a surrogate can leave 1 - 6e-8, hence > 0.5), compared in numpy on views
        # (torch's reshape and indexing cost more in dispatch than the work at these sizes)
        t = s if s.device.type == "cpu" else s.cpu()
        arr = (t.numpy() if t.dtype == torch.float32 else t.float().numpy()).reshape(t_lead, n_batch, -1)
        spikes = (arr[-1, b] > 0.5).view(np.uint8)
        n = spikes.size
        idx = self._raster_idx(name, n)
        count = int(np.count_nonzero(spikes))
        # 0/1 float spikes (every neuron here): channel and position counts as float32 products with
        # ones (BLAS; exact integers for 0/1), a third of np.count_nonzero along an axis
        binary = arr.dtype == np.float32 and len(shape) >= 2 and float(arr[-1, b].sum()) == count
        if t_lead > 1 and reuse is not None and reuse.shape == shape:  # a window's: counted at detail rate
            window_rate = reuse.window_rate
        elif t_lead > 1:  # a window: every step the model ran (eval's spikes / neuron-steps)
            fired = float(arr[:, b].sum()) if binary and n * t_lead < (1 << 24) else float(np.count_nonzero(arr[:, b] > 0.5))
            window_rate = fired / (n * t_lead) if n else 0.0
        else:
            window_rate = count / n if n else 0.0
        if binary:
            per_f = arr[-1, b].reshape(shape[0], -1)
            per_channel = (per_f @ self._ones_of(per_f.shape[1])) / np.float32(per_f.shape[1])
        elif len(shape) >= 2:
            per = spikes.reshape(shape[0], -1)
            per_channel = np.count_nonzero(per, axis=1).astype(np.float32) / np.float32(per.shape[1])
        else:
            per_channel = spikes.astype(np.float32)
        fmap = spatial = None
        if reuse is not None and reuse.shape == shape:
            fmap, spatial = reuse.feature_map, reuse.spatial_rate
        elif len(shape) == 3:
            grid = spikes.reshape(shape)
            fmap = _ro(grid[: self.feature_channels].copy())  # uint8 0/1, every channel unless limited
            if binary:
                spatial = (self._ones_of(shape[0]) @ per_f).reshape(shape[1:]) / np.float32(shape[0])
            else:
                spatial = np.count_nonzero(grid, axis=0).astype(np.float32) / np.float32(shape[0])
            spatial = _ro(spatial)
        membrane, spiked = {}, {}
        follow = self.followed.get(name)
        if follow and m.last_v is not None:
            v_last = m.last_v.reshape(t_lead, n_batch, -1)[-1, b]
            membrane = {i: float(v_last[i]) for i in follow}
            spiked = {i: bool(spikes[i]) for i in follow}
        th = getattr(m, "v_threshold", None)
        return LayerSnapshot(
            name=name,
            kind=getattr(m, "registry_name", type(m).__name__),
            shape=shape,
            rate=count / n if n else 0.0,
            channel_rates=_ro(per_channel),
            raster=_ro(spikes[idx]),
            raster_index=idx,
            spike_count=count,
            membrane=membrane,
            spiked=spiked,
            threshold=None if th is None or not math.isfinite(float(th)) else float(th),
            feature_map=fmap,
            spatial_rate=spatial,
            window_rate=window_rate,
            window_steps=t_lead,
            sops=self._layer_cost.get(name, (None, None))[0],
            energy_pj=self._layer_cost.get(name, (None, None))[1],
        )

    def _read_layers(self, neurons, lead: tuple[int, ...], b: int, last: dict[str, LayerSnapshot] | None
                     ) -> tuple[LayerSnapshot, ...]:
        """Every layer's read-out of batch element ``b``: in detail (``last`` None, :meth:`_layer`) or this
        step's per-step series on the last detail read-outs ``last`` (:meth:`_layer_counts`) — all layers in
        one C call (:mod:`snnstudio.engine.native_readout`) where the kernels are built; a layer it cannot
        read (values that are not 0/1, no detail read-out of the same shape) the numpy way."""
        lib = self._readout_lib()
        res = None
        if lib is not None:
            detail = last is None
            key = (id(neurons), lead, b, detail)
            plan = self._plans.get(key, False)  # False: not planned yet; None: these layers cannot be
            if plan:
                res = native_readout.read(lib, plan, neurons, self._pool)
            if res is None and plan is not None:  # new, or a tensor changed shape
                if len(self._plans) >= 64:  # plans of layer sets and batch sizes no longer met
                    self._plans.clear()
                plan = self._plans[key] = native_readout.make_plan(neurons, lead, b, self._raster_idx,
                                                                   self.feature_channels, detail)
                res = native_readout.read(lib, plan, neurons, self._pool) if plan is not None else None
        if res is None:
            if last is None:
                return tuple(self._layer(name, m, lead, b) for name, m in neurons)
            return tuple(self._layer_counts(name, m, lead, last.get(name), b) for name, m in neurons)
        counts, rate, _, raster, _ = res
        if last is None:
            return tuple(self._layer(name, m, lead, b) if counts[i][2] else self._detailed(name, m, plan, res, i, lead, b)
                         for i, (name, m) in enumerate(neurons))
        out = []
        for i, (name, m) in enumerate(neurons):
            prev = last.get(name)
            oc, c, ok, k = plan.views[i][:4]
            if counts[i][2] or prev is None or prev.shape != plan.sample_shapes[i] or prev.raster_index is not plan.idx[i]:
                out.append(self._layer_counts(name, m, lead, prev, b))
            else:
                out.append(self._counted(name, m, prev, lead, b, counts[i][0], rate[oc:oc + c], raster[ok:ok + k],
                                         frozen_arrays=True))
        return tuple(out)

    def _raster_idx(self, name: str, n: int) -> np.ndarray:
        """The flat indices of layer ``name``'s raster neurons (``raster_neurons`` spread evenly over its
        ``n``; kept while ``n`` stays, so the columns stack)."""
        idx = self._raster_index.get(name)
        if idx is None or (idx.size and idx[-1] >= n):
            k = min(self.raster_neurons, n)
            idx = _ro(np.unique(np.linspace(0, n - 1, k).round().astype(np.int64)))
            self._raster_index[name] = idx
        return idx

    def _detailed(self, name: str, m: SpikingNeuron, plan: native_readout.ReadoutPlan,
                  res: tuple[np.ndarray, ...], i: int, lead: tuple[int, ...], b: int) -> LayerSnapshot:
        """:meth:`_layer`'s read-out of layer ``i`` from the C read-out ``res`` (the same values)."""
        oc, c, ok, k, ofm, fm_shape, osp, sp_shape, n, win = plan.views[i]
        shape = plan.sample_shapes[i]
        self._shapes[name] = shape
        counts, rate, spatial, raster, fmap = res
        count = counts[i][0]
        membrane, spiked = {}, {}
        follow = self.followed.get(name)
        if follow and m.last_v is not None:
            t_lead = lead[0] if len(lead) == 2 else 1
            v_last = m.last_v.reshape(t_lead, lead[-1], -1)[-1, b]
            spikes = m.last_spikes.numpy().reshape(t_lead, lead[-1], -1)[-1, b]
            membrane = {j: float(v_last[j]) for j in follow}
            spiked = {j: bool(spikes[j] > 0.5) for j in follow}
        th = getattr(m, "v_threshold", None)
        cost = self._layer_cost.get(name, (None, None))
        snap = object.__new__(LayerSnapshot)
        snap.__dict__.update(
            name=name, kind=getattr(m, "registry_name", type(m).__name__), shape=shape, rate=count / n,
            channel_rates=rate[oc:oc + c], raster=raster[ok:ok + k], raster_index=plan.idx[i],
            spike_count=count, membrane=membrane, spiked=spiked,
            threshold=None if th is None or not math.isfinite(float(th)) else float(th),
            feature_map=None if fm_shape is None else fmap[ofm:ofm + math.prod(fm_shape)].reshape(fm_shape),
            spatial_rate=None if sp_shape is None else spatial[osp:osp + math.prod(sp_shape)].reshape(sp_shape),
            window_rate=counts[i][1] / (n * win), window_steps=win, sops=cost[0], energy_pj=cost[1])
        return snap

    def _counted(self, name: str, m: SpikingNeuron, last: LayerSnapshot, lead: tuple[int, ...], b: int, count: int,
                 per_channel: np.ndarray, raster: np.ndarray, frozen_arrays: bool = False) -> LayerSnapshot:
        """``last`` (the layer's last detail read-out) with this step's count, rate, channel rates,
        raster, followed membranes and cost: a frozen copy with those fields changed, made without
        the field-by-field frozen ``__init__`` (a third of a read-out). ``frozen_arrays``: the arrays are
        read-only already."""
        n = last.n_neurons
        if not frozen_arrays:
            per_channel, raster = _ro(per_channel), _ro(raster)
        changes = {"rate": count / n if n else 0.0, "spike_count": count, "channel_rates": per_channel, "raster": raster}
        follow = self.followed.get(name)
        if follow and m.last_v is not None:
            t_lead = lead[0] if len(lead) == 2 else 1
            v_last = m.last_v.reshape(t_lead, lead[-1], -1)[-1, b]
            spikes = m.last_spikes.numpy().reshape(t_lead, lead[-1], -1)[-1, b]
            changes["membrane"] = {j: float(v_last[j]) for j in follow}
            changes["spiked"] = {j: bool(spikes[j] > 0.5) for j in follow}
        cost = self._layer_cost.get(name)
        if cost is not None:
            changes["sops"], changes["energy_pj"] = cost
        snap = object.__new__(LayerSnapshot)
        snap.__dict__.update(last.__dict__)
        snap.__dict__.update(changes)
        return snap

    def _readout_lib(self):
        """The native kernels (with the read-out) when built, else ``None`` (never builds here; while
        they are not built — the session builds them in the background — asked again once a second)."""
        now = time.perf_counter()
        if self._readout is None and now - self._readout_asked >= 1.0:
            from snnstudio.snn.functional import native

            self._readout_asked = now
            lib = native.load()
            if lib is not None and hasattr(lib, "spike_readout"):
                self._readout = lib
        return self._readout

    def _layer_counts(self, name: str, m: SpikingNeuron, lead: tuple[int, ...], last: LayerSnapshot | None,
                      b: int = 0) -> LayerSnapshot:
        """A step between detail read-outs: this step's per-step series — raster, channel rates,
        spike count, rate, followed membranes — and cost, on the last detail read-out of the layer
        (its feature map, spatial rate and window rate). One pass over the newest step: channel
        counts as a float32 matrix-vector product with ones (exact for 0/1 spikes; anything else, a
        non-integral total, is read in full), the raster gathered from its indices. A layer without
        a detail read-out of the same shape is read in full."""
        s = m.last_spikes
        if last is None or s is None or s.device.type != "cpu" or s.dtype != torch.float32:
            return self._layer(name, m, lead, b, reuse=last)
        t_lead = lead[0] if len(lead) == 2 else 1
        arr = s.numpy().reshape(t_lead, lead[-1], -1)[-1, b]
        n = arr.size
        if n != last.n_neurons or last.raster_index.size and last.raster_index[-1] >= n:
            return self._layer(name, m, lead, b, reuse=last)
        shape = last.shape
        if len(shape) >= 2:
            per = arr.reshape(shape[0], -1)
            counts = per @ self._ones_of(per.shape[1])
            total = float(counts.sum())
            per_channel = counts / np.float32(per.shape[1])
        else:
            total = float(arr.sum())
            per_channel = arr.copy()
        if total != int(total) or total > (1 << 24):  # not 0/1 spikes (or past float32's integers)
            return self._layer(name, m, lead, b, reuse=last)
        return self._counted(name, m, last, lead, b, int(total), per_channel,
                             (arr[last.raster_index] > 0.5).view(np.uint8))

    def _ones_of(self, n: int) -> np.ndarray:
        """float32 ones ``[n]`` (kept per size): the vector that sums a layer's channels or positions."""
        ones = self._ones.get(n)
        if ones is None:
            ones = self._ones[n] = np.ones(n, np.float32)
        return ones

    def _note_cost(self, rep: dict) -> None:
        """Keep a meter report's totals and per-layer figures per time step (``_last_cost``,
        ``_layer_cost``: a spiking layer gets the ops of the modules of its block, e.g.
        ``conv1.conv.layer`` and ``conv1.attention.*`` for ``conv1.neuron``)."""
        steps = rep["steps_per_sample"] or 1.0
        per: dict[str, list[float]] = {}
        blocks = sorted(((name.rpartition(".")[0] + ".", name) for name in self._shapes if "." in name),
                        key=lambda b: -len(b[0]))
        for op_name, row in rep.get("layers", {}).items():
            for prefix, layer in blocks:
                if op_name.startswith(prefix):
                    acc = per.setdefault(layer, [0.0, 0.0])
                    acc[0] += float(row.get("acs", 0.0)) / steps
                    acc[1] += float(row.get("energy_pj", 0.0)) / steps
                    break
        self._layer_cost = {k: (v[0], v[1]) for k, v in per.items()}
        self._last_cost = (rep["sops"] / steps, rep["energy_pj"] / steps)

    def _attention(self, name: str, m: nn.Module, parts: dict[str, nn.Module], b: int = 0) -> AttentionSnapshot:
        on = bool(getattr(m, "enabled", True))
        # off: stale weights hidden; token attention ("tk") is read [N, N] by the contract
        w = {"ta": None, "ca": None, "sa": None, "tk": None}
        if on:
            for k, p in parts.items():
                a = token_weights(p, b) if k == "tk" else _weights_of(p, k, b)
                if a is not None:
                    a = a.astype(np.float32, order="C", copy=True)  # a copy: the module's weights change
                    a.setflags(write=False)
                    w[k] = a
        # made without the frozen dataclass's field-by-field __init__ (read 50 times a second)
        snap = object.__new__(AttentionSnapshot)
        snap.__dict__.update(name=name or type(m).__name__, enabled=on, ta=w["ta"], ca=w["ca"], sa=w["sa"],
                             tokens=w["tk"], tokens_measure=token_measure(parts["tk"]) if w["tk"] is not None else "")
        return snap
