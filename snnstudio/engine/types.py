"""What the window and the engine exchange besides snapshots: the session's settings
(:class:`SessionConfig`), what its controls show (:class:`SessionState`) and the model's layout
(:class:`ModelInfo`, :class:`ModuleInfo`).

Torch-free and Qt-free: plain dataclasses the window's process imports (the engine runs in its own
process, :mod:`snnstudio.engine.process_session`, and sends these over pickled). The engine modules
re-export them (``snnstudio.engine.session.SessionConfig``, ``snnstudio.engine.runner.ModelInfo``
...) for older imports. Times are µs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from snnstudio.events.preprocess import Preprocess


@dataclass
class SessionConfig:
    """``dt_us`` step length (µs); ``window_T`` steps the read-out / window models see;
    ``speed`` playback rate (1 = real time); ``realtime`` pace recordings (False: flat out)."""

    dt_us: int = 10_000
    window_T: int = 16
    speed: float = 1.0
    loop: bool = True
    realtime: bool = True
    raster_neurons: int = 64
    #: channels of a layer's feature maps in its snapshot (``None``: all — the Layers panel pages them)
    feature_channels: int | None = None
    #: torch intra-op threads for the process (set when the worker starts; None: leave as is).
    #: Streaming models are small: two threads spin-wait on each other and on the GUI thread
    #: (a window step of the default model: 4 ms on one thread, up to 10× that on two of a
    #: loaded 2-core machine)
    torch_threads: int | None = 1
    #: when behind, run up to this many steps as one batch (window models; 1: never batch)
    max_batch: int = 4
    #: batch flat-out runs too (``realtime=False``: every window is already due)
    batch_flat_out: bool = False
    #: load shedding: when a paced or live stream is behind, a sliding-window model takes every
    #: late step's events into its frames but evaluates only the newest (up to ``shed_max_steps``
    #: at once), so the screen shows the present instead of working through a queue of the past;
    #: stateful models, whose state must pass every step, still batch up to ``max_batch``.
    #: Flat-out runs (``predict``, ``eval``) never shed
    shed_load: bool = True
    shed_max_steps: int = 100
    #: when a paced playback keeps falling behind (twice 0.5 s within 5 s) with a sliding-window
    #: model, take the next coarser step that divides its trained frame and say so (the studio
    #: turns this on; scripts and benchmarks keep the step they ask for). A session that sheds
    #: load (``shed_load``) stays on the clock, so this matters when shedding is off
    adaptive_step: bool = False
    #: how every source is mapped onto the model's sensor (region of interest, mirror — ``None``:
    #: on for webcams —, resize, flicker suppression, event-rate normalisation); see
    #: :mod:`snnstudio.events.preprocess`. ``Preprocess(out_size=None)`` shows sources as they are
    preprocess: Preprocess = field(default_factory=Preprocess)
    #: event filters applied to every source after it is read, before framing (a spec of
    #: :func:`snnstudio.events.filters.parse_filters`: ``"denoise=2000; hot; crop=16,16,96,96"``;
    #: ``""``: none)
    filters: str = ""


@dataclass(frozen=True)
class ModuleInfo:
    """One row of the model's module tree: ``switchable`` blocks have an ``enabled`` flag."""

    name: str
    type: str
    depth: int
    switchable: bool
    enabled: bool


@dataclass(frozen=True)
class ModelInfo:
    """What the GUI needs to lay out its panels for a model (no tensors)."""

    name: str
    mode: str
    window_T: int
    input_hw: tuple[int, int] | None
    layers: tuple[tuple[str, str, tuple[int, ...]], ...]
    attention: tuple[str, ...]
    n_classes: int
    class_names: tuple[str, ...]
    modules: tuple[ModuleInfo, ...]
    n_parameters: int
    #: the step (µs) the runner is fed, the model's frame length (µs, ``alpha·step_us``) and
    #: the number of steps summed into one frame; ``trained_frame_us`` is the checkpoint's dt
    step_us: int | None = None
    frame_us: int | None = None
    alpha: int = 1
    trained_frame_us: int | None = None
    #: modules that look like neuron layers but none of the probes' readers knows (not shown)
    unprobed: tuple[str, ...] = ()


@dataclass(frozen=True)
class SessionState:
    """What the controls show: play state, position and settings (no arrays)."""

    playing: bool = False
    ended: bool = False
    source_name: str = ""
    seekable: bool = False
    start_us: int | None = None
    end_us: int | None = None
    cursor_us: int | None = None
    sensor_size: tuple[int, int] | None = None
    dt_us: int = 10_000
    window_T: int = 16
    speed: float = 1.0
    loop: bool = True
    model: ModelInfo | None = None
    #: the source's label names (class id → name), where it has labels
    source_classes: dict[int, str] | None = None
    #: the preprocessing in force (mirror resolved for the open source) and what it does to it
    preprocess: Preprocess | None = None
    preprocess_note: str = ""
    #: the region of the sensor the model sees ``(x0, y0, w, h)`` (sensor pixels)
    input_box: tuple[int, int, int, int] | None = None
    #: the event filters in force (canonical spec, ``""``: none) and the source's sensor before them
    filters: str = ""
    source_sensor_size: tuple[int, int] | None = None
    #: what the engine can load: model specs (``set_model``) and neuron names (``set_neuron``),
    #: filled by the engine's worker when it starts (empty before: the window then offers the
    #: torch-free :func:`snnstudio.engine.catalog.model_choices`)
    models: tuple[str, ...] = ()
    neurons: tuple[str, ...] = ()
    #: the companions running beside the model (``set_compare``'s specs / :class:`Variant`\ s, as
    #: the engine holds them: a variant that did not fit a new model is gone)
    compare: tuple = ()
    #: how many ``set_compare`` calls the engine has run (well or not)
    compare_runs: int = 0
    #: why the engine process is not running and was given up (``""``: it runs); the window says
    #: so and offers a restart (:meth:`~snnstudio.engine.process_session.ProcessSession.restart`)
    engine_down: str = ""
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Variant:
    """A compare companion that is a model changed: ``base_spec`` (``None``: the loaded model, as it
    is now) loaded afresh with module ``switches`` applied (``(("attention", False),)``; a key is
    a module name, a last name part matched everywhere — ``attention``, ``ta``, ``ca``, ``sa`` — or
    a kind) and/or its neuron swapped (``neuron``). Only the companion changes; the loaded model
    plays as it is. Pass it to ``set_compare`` like a model spec."""

    base_spec: object = None
    switches: tuple[tuple[str, bool], ...] = ()
    neuron: str | None = None

    @staticmethod
    def parse(text: str) -> "Variant | None":
        """``"attention=off"``, ``"ta=off,neuron=psn"`` (every comma part ``KEY=on|off`` or
        ``neuron=NAME``) as a variant of the loaded model; ``None`` when ``text`` is not one (a
        model spec)."""
        switches, neuron = [], None
        for part in (p.strip() for p in str(text).split(",")):
            key, sep, value = part.partition("=")
            if not sep or not key or not value or "/" in key or "\\" in key:
                return None
            if key == "neuron":
                neuron = value
            elif value.lower() in ("on", "off"):
                switches.append((key, value.lower() == "on"))
            else:
                return None
        return Variant(None, tuple(switches), neuron)

    @property
    def label(self) -> str:
        """What the variant changes, e.g. ``attention off, neuron psn``."""
        parts = [f"{k} {'on' if on else 'off'}" for k, on in self.switches]
        if self.neuron:
            parts.append(f"neuron {self.neuron}")
        return ", ".join(parts) or "as loaded"
