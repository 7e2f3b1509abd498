"""NIR (Neuromorphic Intermediate Representation) import and export, through the ``nir`` package.

**Time.** NIR states neurons as continuous ODEs; a discrete-time network is their forward-Euler
discretisation with step ``dt`` (seconds), ``v[t] = v[t−1] + (dt/τ)·(v_leak − v[t−1] + R·I[t])`` —
the reading of snnTorch's and SpikingJelly's exporters, whose default ``dt = 1e-4`` s we share
(:data:`DEFAULT_DT`). Our discrete LIF ``h = v + (x − (v − v_reset))/τ`` (SpikingJelly's) is then
*exactly* ``nir.LIF(tau = τ·dt, r = 1, v_leak = v_reset)``; with ``decay_input=False``
(``h = v − (v − v_reset)/τ + x``) it is ``r = τ``; IF ``h = v + x`` is ``nir.IF(r = 1/dt)``.
snnTorch's ``Leaky(beta)`` exports as ``tau = dt/(1−β), r = tau/dt``, which imports as our LIF with
``τ = 1/(1−β)``, ``decay_input=False`` (the same charge ``βv + x``). Importers must use the same
``dt`` the exporter used (snnTorch, SpikingJelly: 1e-4 s; Norse's default is 1e-3 s).
snnTorch resets one step late (its reset uses the previous step's spike), so its spiking
trajectories differ from NIR's and ours after the first spike; sub-threshold they are equal.
Any hard-reset neuron ``h = a·v + b·x + c`` (ours expose ``coefficients()``: ``ma_lif``, ``ms_lif``,
``plif``) is ``nir.LIF(τ = dt/(1−a), R = b/(1−a), v_leak = c/(1−a))``, or IF when ``a = 1``.

**Spike rule and reset.** NIR fires on ``v > θ`` and resets to ``v_reset``; ours fire on ``h ≥ θ``
(SpikingJelly's rule) unless ``strict``. The two differ only when ``h`` equals θ exactly, but that
happens with spike inputs and round weights, so export writes ``metadata["spike_rule"]`` (``">="``
or ``">"``) on every spiking node and import honours it (default ``">"``, NIR's, for graphs from
other tools; ``import_nir(..., spike_rule=">=")`` for SpikingJelly's). NIR has no soft reset
(``v_reset=None``): such neurons are refused. NIR has no initial state: ours start at ``v_reset`` unless they say otherwise (``v_init``, e.g. ``ma_lif``
starts at 0), which export writes as ``metadata["v_init"]`` and import honours.

**Export** (:func:`export_nir`) runs the model once on an example input ``[T, B, ...]`` with forward
hooks to see the layers in execution order, checks that they form a plain chain (each layer's
input is the previous layer's output, up to reshapes), and maps Conv1d/Conv2d, Linear, Flatten,
AvgPool2d (exact when ``ceil_mode=False`` and padding counts; ``divisor_override=1`` is a
SumPool2d), our hard-reset neurons, Identity/Dropout (skipped). BatchNorm right after a conv/linear is
folded into it with its running statistics (``w' = w·γ/√(σ²+ε)``, ``b' = (b − μ)·γ/√(σ²+ε) + β``).
Anything else — attention, max-pool, parallel neurons (PSN...), a BatchNorm with nothing to fold
into, a residual or any operation between layers — is refused with a :class:`ModelError` that
lists the offending modules, never exported as something different.

**Import** (:func:`import_nir`) builds a :class:`NIRNetwork` running ``[T, B, ...]`` with our
neurons: Affine/Linear, Conv1d/Conv2d, AvgPool2d/SumPool2d, Flatten, Scale, Threshold, IF, LIF,
CubaLIF, LI, CubaLI, I. LIF/IF become our registry ``lif``/``if`` where they say it exactly (``v_leak
= v_reset``, ``R`` 1 or τ, the spike rule available), else thin modules here that step NIR's
equations (:class:`NIRLIFNode`, :class:`IFNode`); CubaLIF, LI, CubaLI, I and Threshold are thin
modules here too (the non-spiking ones output their membrane). Nodes with several inputs sum them. Recurrent graphs
(cycles), Delay and nested graphs are refused. Neuron parameters must be uniform per node (0-d or
per-neuron arrays of one value, as snnTorch's and Norse's exporters write them). A time constant
shorter than ``dt`` is refused: its Euler step would overshoot (Norse 1.1's ``to_nir`` writes
``tau = dt/tau_mem_inv``, 1000× too short at its default dt; ``to_nir(..., dt=1.0)`` writes the
time constant itself).
"""

from __future__ import annotations

import math
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from snnstudio.errors import ModelError
from snnstudio.snn.attention import is_attention
from snnstudio.snn.neurons.base import NEURONS, SpikingNeuron, build_neuron

#: the Euler step (seconds) NIR time constants are expressed in, as snnTorch and SpikingJelly do
DEFAULT_DT = 1e-4

_SKIP = (nn.Identity, nn.Dropout)


def _nir():
    try:
        import nir
    except ImportError:  # pragma: no cover - nir is a dependency
        raise ModelError("NIR support needs the 'nir' package (pip install nir)") from None
    return nir


# ==== modules used by imported graphs ============================================================
class SumPool2d(nn.Module):
    """Sum pooling (average pooling times the window size, computed exactly with divisor 1)."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride if stride is not None else kernel_size, padding

    def forward(self, x):
        """Sum of each pooling window of ``[N, C, H, W]``."""
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, divisor_override=1)


class Scale(nn.Module):
    """Elementwise ``x · scale`` (NIR Scale; also the input resistance of an imported neuron)."""

    def __init__(self, scale: torch.Tensor):
        super().__init__()
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))

    def forward(self, x):
        """``x · scale`` (broadcast)."""
        return x * self.scale


class ThresholdNode(SpikingNeuron):
    """NIR Threshold: stateless ``s = Θ(x − θ)`` (fires on x > θ, NIR's rule)."""

    supports_single_step = True

    def __init__(self, v_threshold: float, step_mode: str = "m"):
        super().__init__(step_mode)
        self.v_threshold = float(v_threshold)

    def forward(self, x):
        """Spikes ``x > θ`` (no state; the input is kept as the membrane for the probes)."""
        s = (x > self.v_threshold).to(x.dtype)
        self._keep(x, s)
        return s


class _EulerNeuron(SpikingNeuron):
    """Shared loop: multi-step over ``[T, ...]`` or one step with kept state."""

    def _init_state(self, like):
        raise NotImplementedError

    def _step(self, x, state):
        raise NotImplementedError

    def reset(self) -> None:
        super().reset()
        self.state = None

    def forward(self, x):
        if self.step_mode == "s":
            state = self.state if self.state is not None else self._init_state(x)
            out, v, self.state = self._step(x, state)
            self._keep(v, out)
            return out
        state = self._init_state(x[0])
        outs, vs = [], []
        for t in range(x.shape[0]):
            out, v, state = self._step(x[t], state)
            outs.append(out)
            vs.append(v)
        out = torch.stack(outs)
        self._keep(torch.stack(vs), out)
        return out


def _fire(h: torch.Tensor, threshold: float, strict: bool) -> torch.Tensor:
    return ((h > threshold) if strict else (h >= threshold)).to(h.dtype)


class IFNode(_EulerNeuron):
    """NIR IF, Euler: ``h = v + r_dt·x`` (``r_dt = R·dt``), fire, hard reset to ``v_reset``.

    ``strict``: fire on h > θ (NIR's rule) or on h ≥ θ (ours / SpikingJelly's)."""

    def __init__(self, v_threshold: float = 1.0, v_reset: float = 0.0, r_dt: float = 1.0, strict: bool = False,
                 v_init: float | None = None, step_mode: str = "m"):
        super().__init__(step_mode)
        self.v_threshold, self.v_reset, self.r_dt, self.strict = float(v_threshold), float(v_reset), float(r_dt), bool(strict)
        self.v_init = self.v_reset if v_init is None else float(v_init)
        self.state = None

    def _init_state(self, like):
        return torch.full_like(like, self.v_init)

    def _step(self, x, v):
        h = v + (x if self.r_dt == 1.0 else self.r_dt * x)
        s = _fire(h, self.v_threshold, self.strict)
        return s, h, s * self.v_reset + (1.0 - s) * h


class NIRLIFNode(_EulerNeuron):
    """NIR LIF, Euler: ``h = v + a·(v_leak − v + R·x)`` with ``a = dt/τ``, fire, hard reset to
    ``v_reset`` (used where our ``lif`` cannot say it: ``v_leak ≠ v_reset``, other ``R``, or a
    strict threshold the registry neuron lacks).

    Stepped as ``h = decay·v + gain·x + bias`` (``decay = 1 − a``, ``gain = a·R``, ``bias =
    a·v_leak``, each rounded to 12 significant digits) — the form of our reset neurons, so that an
    exported ``ma_lif``/``ms_lif`` comes back with the same arithmetic.
    """

    def __init__(self, a: float, r: float, v_leak: float, v_threshold: float, v_reset: float, strict: bool = True,
                 v_init: float | None = None, step_mode: str = "m"):
        super().__init__(step_mode)
        self.a, self.r, self.v_leak = float(a), float(r), float(v_leak)
        self.decay, self.gain, self.bias = _snap(1.0 - self.a), _snap(self.a * self.r), _snap(self.a * self.v_leak)
        self.v_threshold, self.v_reset, self.strict = float(v_threshold), float(v_reset), bool(strict)
        self.v_init = self.v_reset if v_init is None else float(v_init)
        self.state = None

    def _init_state(self, like):
        return torch.full_like(like, self.v_init)

    def _step(self, x, v):
        h = self.decay * v + self.gain * x + self.bias
        s = _fire(h, self.v_threshold, self.strict)
        return s, h, s * self.v_reset + (1.0 - s) * h


class CubaLIFNode(_EulerNeuron):
    """NIR CubaLIF, Euler: ``I ← I + (dt/τ_syn)(−I + w_in·x)``, ``h = v + (dt/τ_mem)(v_leak − v + R·I)``,
    fire, hard reset to ``v_reset``. ``a_syn = dt/τ_syn``, ``a_mem = dt/τ_mem``."""

    def __init__(self, a_syn, a_mem, r, v_leak, v_threshold, v_reset, w_in, strict: bool = True,
                 v_init: float | None = None, step_mode="m"):
        super().__init__(step_mode)
        self.v_init = float(v_reset) if v_init is None else float(v_init)
        self.a_syn, self.a_mem, self.r, self.v_leak = float(a_syn), float(a_mem), float(r), float(v_leak)
        self.v_threshold, self.v_reset, self.w_in = float(v_threshold), float(v_reset), float(w_in)
        self.strict = bool(strict)
        self.state = None

    def _init_state(self, like):
        return torch.zeros_like(like), torch.full_like(like, self.v_init)

    def _step(self, x, state):
        i, v = state
        i = i + self.a_syn * (self.w_in * x - i)
        h = v + self.a_mem * (self.v_leak - v + self.r * i)
        s = _fire(h, self.v_threshold, self.strict)
        return s, h, (i, s * self.v_reset + (1.0 - s) * h)


class LeakyIntegrator(_EulerNeuron):
    """NIR LI / CubaLI / I (non-spiking): outputs the membrane ``v`` each step (Euler).

    LI: ``v ← v + a_mem(v_leak − v + R·x)``; CubaLI adds the synaptic current stage first;
    I (``a_mem = None``): ``v ← v + dt·R·x``.
    """

    def __init__(self, a_mem, r, v_leak=0.0, a_syn=None, w_in=1.0, dt=DEFAULT_DT, step_mode="m"):
        super().__init__(step_mode)
        self.a_mem = None if a_mem is None else float(a_mem)
        self.a_syn = None if a_syn is None else float(a_syn)
        self.r, self.v_leak, self.w_in, self.dt = float(r), float(v_leak), float(w_in), float(dt)
        self.state = None

    def _init_state(self, like):
        return torch.zeros_like(like), torch.zeros_like(like)

    def _step(self, x, state):
        i, v = state
        if self.a_syn is not None:
            i = i + self.a_syn * (self.w_in * x - i)
            x = i
        v = v + self.dt * self.r * x if self.a_mem is None else v + self.a_mem * (self.v_leak - v + self.r * x)
        return v, v, (i, v)


class _PerStep(nn.Module):
    """Apply a stateless layer to ``[T, B, ...]`` as one ``[T·B, ...]`` batch."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, x):
        y = self.module(x.flatten(0, 1))
        return y.reshape(x.shape[0], x.shape[1], *y.shape[1:])


class _Flatten(nn.Module):
    """Flatten per-sample dims ``start..end`` of ``[T, B, ...]`` (NIR indices exclude T and B)."""

    def __init__(self, start_dim: int = 0, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def forward(self, x):
        nd = x.dim() - 2
        s = self.start_dim % nd
        e = self.end_dim % nd
        return x.flatten(s + 2, e + 2)


class NIRNetwork(nn.Module):
    """An imported NIR graph running ``[T, B, ...]``; ``nodes`` holds one module per NIR node."""

    def __init__(self, nodes: dict[str, nn.Module], edges: list[tuple[str, str]], order: list[str], inputs: list[str],
                 outputs: list[str], readout: str = "none"):
        super().__init__()
        #: "none", "mean_over_time" or "sum_over_time" (applied to every output, from snnstudio's export)
        self.readout = readout
        self.names = list(nodes)
        self.nodes = nn.ModuleDict({_safe(k): m for k, m in nodes.items()})
        self.edges = [tuple(e) for e in edges]
        self.order, self.inputs, self.outputs = order, inputs, outputs
        self._preds = {n: [a for a, b in self.edges if b == n] for n in self.names}

    def reset(self) -> None:
        """Reset every neuron of the graph (the next input starts from rest)."""
        for m in self.modules():
            if isinstance(m, SpikingNeuron):
                m.reset()

    def forward(self, x: torch.Tensor):
        """Run the graph on ``[T, B, ...]`` in topological order (a node's inputs are summed): the output
        node's value after the ``readout`` (several outputs: a dict by name)."""
        values: dict[str, torch.Tensor] = {}
        for name in self.order:
            if name in self.inputs:
                values[name] = x
                continue
            preds = self._preds[name]
            if not preds:
                raise ModelError(f"NIR node {name!r} has no input")
            inp = values[preds[0]]
            for p in preds[1:]:
                inp = inp + values[p]
            values[name] = self.nodes[_safe(name)](inp)
        outs = {k: self._read(values[k]) for k in self.outputs}
        return outs[self.outputs[0]] if len(outs) == 1 else outs

    def _read(self, y: torch.Tensor) -> torch.Tensor:
        if self.readout == "mean_over_time":
            return y.mean(0)
        if self.readout == "sum_over_time":
            return y.sum(0)
        return y


def _safe(name: str) -> str:
    return name.replace(".", "·")


# ==== import =====================================================================================
def metadata_text(v) -> str:
    """A NIR metadata value as text (HDF5 gives strings back as bytes or 0-d arrays)."""
    if isinstance(v, np.ndarray) and v.shape == ():
        v = v.item()
    return v.decode() if isinstance(v, (bytes, np.bytes_)) else str(v)


def _uniform(arr, what: str, node: str) -> float:
    a = np.asarray(arr, dtype=np.float64).reshape(-1)
    if a.size == 0:
        raise ModelError(f"NIR node {node!r}: empty {what}")
    if not np.all(a == a[0]):
        raise ModelError(f"NIR node {node!r}: {what} differs between neurons; snnstudio neurons take one value per layer")
    return float(a[0])


def _snap(x: float) -> float:
    """Undo the rounding of ``(τ·dt)/dt``: snap to 12 significant digits."""
    return float(f"{x:.12g}")


def _pair(v, n=2):
    a = np.asarray(v).reshape(-1)
    return tuple(int(i) for i in (a if a.size == n else np.repeat(a, n)))


def _padding(p, n):
    if isinstance(p, (bytes, np.bytes_)):
        p = p.decode()
    if isinstance(p, str):
        return p
    return _pair(p, n) if n > 1 else int(np.asarray(p).reshape(-1)[0])


def _registry_neuron(name: str, strict: bool, v_init: float | None, **params) -> SpikingNeuron | None:
    """A registry neuron with this spike rule and initial membrane; ``None`` when it cannot take them."""
    if name not in _registry():
        return None
    extra = {}
    if strict:
        extra["strict"] = True
    if v_init is not None and v_init != params.get("v_reset"):
        extra["v_init"] = v_init
    try:
        n = build_neuron(name, **extra, **params)
    except ModelError:
        return None  # this registry's neuron has no strict threshold / initial membrane
    return None if bool(getattr(n, "strict", False)) != strict else n


def _tau(node, what: str, name: str, dt: float) -> float:
    """A time constant (s) of ``node``, uniform and at least ``dt``: a shorter one makes the Euler
    step overshoot (``dt/τ > 1``: the membrane rings or diverges instead of leaking), which is never
    the network that was exported — the step is wrong, or the exporter wrote τ in other units."""
    tau = _uniform(getattr(node, what), what, name)
    if not tau > 0:
        raise ModelError(f"NIR node {name!r}: {what} must be > 0")
    if dt / tau > 1.0 + 1e-9:
        raise ModelError(
            f"NIR node {name!r}: {what} = {tau:.3g} s is shorter than the time step {dt:.3g} s (the Euler step "
            f"would overshoot); check the time step (--dt-us) — Norse 1.1's to_nir writes tau = dt/tau_mem_inv: "
            f"export with to_nir(..., dt=1.0)")
    return tau


def _neuron_node(kind: str, node, name: str, dt: float, strict: bool, v_init: float | None) -> nn.Module:
    if kind == "LIF":
        tau_nir = _tau(node, "tau", name, dt)
        r = _uniform(node.r, "r", name)
        v_leak = _uniform(node.v_leak, "v_leak", name)
        v_reset = _uniform(node.v_reset, "v_reset", name)
        thr = _uniform(node.v_threshold, "v_threshold", name)
        tau = _snap(tau_nir / dt)
        if v_leak == v_reset and tau >= 1.0:
            for decay_input, ok in ((True, math.isclose(r, 1.0, rel_tol=1e-9)), (False, math.isclose(r, tau, rel_tol=1e-9))):
                if ok:
                    n = _registry_neuron("lif", strict, v_init, tau=tau, v_threshold=thr, v_reset=v_reset, decay_input=decay_input)
                    if n is not None:
                        return n
        return NIRLIFNode(dt / tau_nir, r, v_leak, thr, v_reset, strict, v_init=v_init)
    if kind == "IF":
        r_dt = _snap(_uniform(node.r, "r", name) * dt)
        thr = _uniform(node.v_threshold, "v_threshold", name)
        v_reset = _uniform(node.v_reset, "v_reset", name)
        if r_dt == 1.0:
            n = _registry_neuron("if", strict, v_init, v_threshold=thr, v_reset=v_reset)
            if n is not None:
                return n
        return IFNode(thr, v_reset, r_dt, strict, v_init=v_init)
    if kind == "CubaLIF":
        return CubaLIFNode(
            dt / _tau(node, "tau_syn", name, dt), dt / _tau(node, "tau_mem", name, dt),
            _uniform(node.r, "r", name), _uniform(node.v_leak, "v_leak", name),
            _uniform(node.v_threshold, "v_threshold", name), _uniform(node.v_reset, "v_reset", name),
            _uniform(node.w_in, "w_in", name), strict, v_init=v_init,
        )
    if kind == "LI":
        return LeakyIntegrator(dt / _tau(node, "tau", name, dt), _uniform(node.r, "r", name), _uniform(node.v_leak, "v_leak", name))
    if kind == "CubaLI":
        return LeakyIntegrator(
            dt / _tau(node, "tau_mem", name, dt), _uniform(node.r, "r", name), _uniform(node.v_leak, "v_leak", name),
            a_syn=dt / _tau(node, "tau_syn", name, dt), w_in=_uniform(node.w_in, "w_in", name),
        )
    if kind == "I":
        return LeakyIntegrator(None, _uniform(node.r, "r", name), dt=dt)
    if kind == "Threshold":
        return ThresholdNode(_uniform(node.threshold, "threshold", name))
    raise AssertionError(kind)


def _registry() -> dict:
    from snnstudio.snn import neurons as _all  # noqa: F401 - fills the registry

    return NEURONS


def _layer_node(kind: str, node, name: str) -> nn.Module:
    if kind in ("Affine", "Linear"):
        w = np.asarray(node.weight)
        if w.ndim != 2:
            raise ModelError(f"NIR node {name!r}: {kind} weight of {w.ndim} dims (only 2-D is supported)")
        lin = nn.Linear(w.shape[1], w.shape[0], bias=kind == "Affine")
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w.astype(np.float32)))
            if kind == "Affine":
                lin.bias.copy_(torch.from_numpy(np.asarray(node.bias, dtype=np.float32).reshape(-1)))
        return _PerStep(lin)
    if kind in ("Conv1d", "Conv2d"):
        n = 1 if kind == "Conv1d" else 2
        w = np.asarray(node.weight, dtype=np.float32)
        groups = int(np.asarray(node.groups).reshape(-1)[0])
        cls = nn.Conv1d if n == 1 else nn.Conv2d
        conv = cls(
            w.shape[1] * groups, w.shape[0], w.shape[2:] if n == 2 else w.shape[2],
            stride=_pair(node.stride, n) if n > 1 else int(np.asarray(node.stride).reshape(-1)[0]),
            padding=_padding(node.padding, n),
            dilation=_pair(node.dilation, n) if n > 1 else int(np.asarray(node.dilation).reshape(-1)[0]),
            groups=groups, bias=True,
        )
        with torch.no_grad():
            conv.weight.copy_(torch.from_numpy(w))
            conv.bias.copy_(torch.from_numpy(np.asarray(node.bias, dtype=np.float32).reshape(-1)))
        return _PerStep(conv)
    if kind in ("AvgPool2d", "SumPool2d"):
        k, s, p = _pair(node.kernel_size), _pair(node.stride), _pair(node.padding)
        pool = nn.AvgPool2d(k, s, p) if kind == "AvgPool2d" else SumPool2d(k, s, p)
        return _PerStep(pool)
    if kind == "Flatten":
        return _Flatten(int(node.start_dim), int(node.end_dim))
    if kind == "Scale":
        return Scale(torch.from_numpy(np.asarray(node.scale, dtype=np.float32)))
    raise AssertionError(kind)


_LAYER_KINDS = {"Affine", "Linear", "Conv1d", "Conv2d", "AvgPool2d", "SumPool2d", "Flatten", "Scale"}
_NEURON_KINDS = {"LIF", "IF", "CubaLIF", "LI", "CubaLI", "I", "Threshold"}


def import_nir(graph, dt: float = DEFAULT_DT, spike_rule: str | None = None) -> NIRNetwork:
    """A NIR graph (or a ``.nir`` file path) as an ``nn.Module`` running ``[T, B, ...]``.

    ``dt`` must be the step the exporter used (snnTorch and SpikingJelly: 1e-4 s). ``spike_rule``
    is ``">"`` (NIR's, fire on v > θ) or ``">="`` (ours and SpikingJelly's); ``None`` reads it from
    each node's ``metadata["spike_rule"]`` (which :func:`export_nir` writes), else ``">"``.
    """
    nir = _nir()
    if isinstance(graph, (str, Path)):
        graph = load_graph(graph)
    if not isinstance(graph, nir.NIRGraph):
        raise ModelError(f"import_nir needs a nir.NIRGraph or a .nir path, got {type(graph).__name__}")
    if dt <= 0:
        raise ModelError(f"dt must be > 0 seconds, got {dt}")
    if spike_rule not in (None, ">", ">="):
        raise ModelError(f"spike_rule must be '>' or '>=', got {spike_rule!r}")
    bad = [f"{k} ({type(n).__name__})" for k, n in graph.nodes.items()
           if type(n).__name__ not in _LAYER_KINDS | _NEURON_KINDS | {"Input", "Output"}]
    if bad:
        raise ModelError(f"NIR nodes snnstudio cannot import: {', '.join(bad)}")
    preds = {k: set() for k in graph.nodes}
    for a, b in graph.edges:
        if a not in preds or b not in preds:
            raise ModelError(f"NIR edge ({a!r}, {b!r}) names a node that is not in the graph")
        preds[b].add(a)
    try:
        order = list(TopologicalSorter(preds).static_order())
    except CycleError as exc:
        raise ModelError(f"NIR graph is recurrent (cycle through {', '.join(map(str, exc.args[1]))}); snnstudio imports feed-forward graphs only") from None
    inputs = [k for k, n in graph.nodes.items() if type(n).__name__ == "Input"]
    outputs = [k for k, n in graph.nodes.items() if type(n).__name__ == "Output"]
    if len(inputs) != 1 or not outputs:
        raise ModelError(f"NIR graph needs exactly one Input node and at least one Output (has {len(inputs)} and {len(outputs)})")
    modules: dict[str, nn.Module] = {}
    for k, n in graph.nodes.items():
        kind = type(n).__name__
        if kind in ("Input", "Output"):
            modules[k] = nn.Identity()
        elif kind in _LAYER_KINDS:
            modules[k] = _layer_node(kind, n, k)
        else:
            meta = getattr(n, "metadata", None) or {}
            rule = spike_rule or metadata_text(meta.get("spike_rule", ">"))
            v_init = float(np.asarray(meta["v_init"])) if "v_init" in meta else None
            modules[k] = _neuron_node(kind, n, k, dt, strict=rule != ">=", v_init=v_init)
    readout = metadata_text((getattr(graph, "metadata", None) or {}).get("readout", "none"))
    if readout not in ("none", "mean_over_time", "sum_over_time"):
        raise ModelError(f"NIR graph metadata readout={readout!r} is not one snnstudio knows")
    return NIRNetwork(modules, list(graph.edges), order, inputs, outputs, readout=readout)


def load_graph(path: str | Path):
    """Read a ``.nir`` (HDF5) file as a ``nir.NIRGraph``; a bad file is a :class:`ModelError`."""
    nir = _nir()
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such NIR file")
    import h5py

    from snnstudio.safe_hdf5 import check_hdf5

    def error(p: Path, problem: str) -> ModelError:
        return ModelError(f"{p}: {problem}")

    try:  # one open file for the check and the read: nothing can be swapped in between
        with open(path, "rb") as fh:
            with h5py.File(fh, "r") as h5:
                check_hdf5(h5, path, error)  # no data from other files, no inflated datasets
            fh.seek(0)
            return nir.read(fh)
    except ModelError:
        raise
    except (Exception, RecursionError) as exc:  # h5py/nir raise many kinds
        text = " ".join(str(exc).split())[:200]
        raise ModelError(f"{path}: not a readable NIR file ({type(exc).__name__}: {text})") from None


def load_nir(path: str | Path, dt: float = DEFAULT_DT, spike_rule: str | None = None) -> NIRNetwork:
    """Read a ``.nir`` file and import it (:func:`import_nir`)."""
    return import_nir(load_graph(path), dt=dt, spike_rule=spike_rule)


# ==== export =====================================================================================
def _rule(m) -> dict:
    """Node metadata: the spike rule, and the initial membrane where it is not ``v_reset``."""
    meta = {"spike_rule": ">" if getattr(m, "strict", False) else ">="}
    v_init = getattr(m, "v_init", None)
    if v_init is not None and m.v_reset is not None and float(v_init) != float(m.v_reset):
        meta["v_init"] = float(v_init)
    return meta


def _reset_neuron_lif(m, shape, dt):
    """A hard-reset neuron ``h = a·v + b·x + c`` as NIR LIF (``a < 1``) or IF (``a = 1``).

    Our ``lif``/``plif`` (``tau``, ``decay_input``) use the exact formulas; other reset neurons
    (``ma_lif``, ``ms_lif``, ...) give ``(a, b, c)`` through ``coefficients()``:
    ``τ = dt/(1 − a)``, ``R = b/(1 − a)``, ``v_leak = c/(1 − a)``.
    """
    nir = _nir()
    f = lambda v: np.full(shape, float(v))  # noqa: E731
    vr, thr = float(m.v_reset), float(m.v_threshold)
    name = getattr(type(m), "registry_name", None)
    if name in ("lif", "plif") and hasattr(m, "tau") and hasattr(m, "decay_input"):
        tau = float(m.tau)
        return nir.LIF(tau=f(tau * dt), r=f(1.0 if m.decay_input else tau), v_leak=f(vr), v_threshold=f(thr), v_reset=f(vr), metadata=_rule(m))
    if name == "if" and not hasattr(m, "coefficients"):
        return nir.IF(r=f(1.0 / dt), v_threshold=f(thr), v_reset=f(vr), metadata=_rule(m))
    a, b, c = (float(v) for v in m.coefficients())
    if a == 1.0:
        if c != 0.0:
            raise ModelError(f"{type(m).__name__}: an integrator with a constant drive has no NIR form")
        return nir.IF(r=f(b / dt), v_threshold=f(thr), v_reset=f(vr), metadata=_rule(m))
    if not 0.0 <= a < 1.0:
        raise ModelError(f"{type(m).__name__}: decay {a} outside [0, 1) has no NIR LIF form")
    k = 1.0 - a
    return nir.LIF(tau=f(dt / k), r=f(_snap(b / k)), v_leak=f(_snap(c / k)), v_threshold=f(thr), v_reset=f(vr), metadata=_rule(m))


def _neuron_exporters():
    nir = _nir()

    def if_(m, shape, dt):
        f = lambda v: np.full(shape, float(v))  # noqa: E731
        return nir.IF(r=f(m.r_dt / dt), v_threshold=f(m.v_threshold), v_reset=f(m.v_reset), metadata=_rule(m))

    def lif(m, shape, dt):
        f = lambda v: np.full(shape, float(v))  # noqa: E731
        return nir.LIF(tau=f(dt / m.a), r=f(m.r), v_leak=f(m.v_leak), v_threshold=f(m.v_threshold), v_reset=f(m.v_reset), metadata=_rule(m))

    def cuba(m, shape, dt):
        f = lambda v: np.full(shape, float(v))  # noqa: E731
        return nir.CubaLIF(
            tau_syn=f(dt / m.a_syn), tau_mem=f(dt / m.a_mem), r=f(m.r), v_leak=f(m.v_leak),
            v_threshold=f(m.v_threshold), v_reset=f(m.v_reset), w_in=f(m.w_in), metadata=_rule(m),
        )

    def li(m, shape, dt):
        f = lambda v: np.full(shape, float(v))  # noqa: E731
        if m.a_mem is None:
            return nir.I(r=f(m.r * m.dt / dt))
        if m.a_syn is None:
            return nir.LI(tau=f(dt / m.a_mem), r=f(m.r), v_leak=f(m.v_leak))
        return nir.CubaLI(tau_syn=f(dt / m.a_syn), tau_mem=f(dt / m.a_mem), r=f(m.r), v_leak=f(m.v_leak), w_in=f(m.w_in))

    def threshold(m, shape, dt):
        return nir.Threshold(threshold=np.full(shape, float(m.v_threshold)))

    return {"reset": _reset_neuron_lif, "IFNode": if_, "NIRLIFNode": lif, "CubaLIFNode": cuba,
            "LeakyIntegrator": li, "ThresholdNode": threshold}


_RESET_NEURONS = ("lif", "if", "plif", "ma_lif", "ms_lif")


def _neuron_key(m: nn.Module) -> str | None:
    if type(m) in (IFNode, NIRLIFNode, CubaLIFNode, LeakyIntegrator, ThresholdNode):
        return type(m).__name__
    name = getattr(type(m), "registry_name", None)
    if name in ("lif", "if") or (name in _RESET_NEURONS and hasattr(m, "coefficients")):
        return "reset"
    return None


def _vote_class():
    """:class:`snnstudio.snn.ma_snn.VoteReadout` (imported late: ma_snn builds on this package)."""
    from snnstudio.snn.ma_snn import VoteReadout

    return VoteReadout


def _unsupported(model: nn.Module) -> list[str]:
    """Modules NIR export cannot express (with why), found before running anything."""
    bad = []
    skip_under: list[str] = []
    for name, m in model.named_modules():
        if any(name.startswith(p + ".") for p in skip_under):
            continue
        label = name or "<model>"
        if is_attention(m):
            bad.append(f"{label} ({type(m).__name__}: attention)")
            skip_under.append(name)
        elif isinstance(m, SpikingNeuron):
            if _neuron_key(m) is None:
                bad.append(f"{label} ({type(m).__name__}: neuron without a NIR form)")
            elif getattr(m, "v_reset", 0.0) is None:
                bad.append(f"{label} ({type(m).__name__}: soft reset)")
            skip_under.append(name)
        elif isinstance(m, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AdaptiveMaxPool2d)):
            bad.append(f"{label} ({type(m).__name__}: max-pool)")
        elif isinstance(m, nn.AvgPool2d):
            if m.ceil_mode or m.divisor_override not in (None, 1) or (np.any(m.padding) and not m.count_include_pad):
                bad.append(f"{label} (AvgPool2d with ceil_mode/divisor/padding NIR cannot express)")
        elif isinstance(m, (nn.Conv1d, nn.Conv2d)):
            if m.padding_mode != "zeros":
                bad.append(f"{label} ({type(m).__name__} with padding_mode={m.padding_mode!r})")
        elif isinstance(m, (nn.Linear, nn.Flatten, _Flatten, Scale, nn.BatchNorm1d, nn.BatchNorm2d, SumPool2d, _vote_class(), *_SKIP)):
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) and m.running_mean is None:
                bad.append(f"{label} ({type(m).__name__} without running statistics)")
        elif not list(m.children()):
            bad.append(f"{label} ({type(m).__name__}: no NIR form)")
    return bad


def _lead_options(t: torch.Tensor, tb: int) -> list[int]:
    """How many leading dims (1: ``[T·B, ...]``, 2: ``[T, B, ...]``) can be the time-batch dims."""
    opts = []
    if t.dim() >= 1 and int(t.shape[0]) == tb:
        opts.append(1)
    if t.dim() >= 2 and int(t.shape[0]) * int(t.shape[1]) == tb:
        opts.append(2)
    return opts


_SAMPLE_NDIM = {nn.Conv2d: (3,), nn.BatchNorm2d: (3,), nn.AvgPool2d: (3,), SumPool2d: (3,), nn.Conv1d: (2,), nn.Linear: (1,), nn.BatchNorm1d: (1, 2)}


def _input_lead(m: nn.Module, x: torch.Tensor, tb: int, cur_shape: tuple[int, ...]) -> int | None:
    opts = _lead_options(x, tb)
    for k in opts:
        if tuple(x.shape[k:]) == cur_shape:
            return k
    want = next((v for cls, v in _SAMPLE_NDIM.items() if isinstance(m, cls)), None)
    for k in opts:
        if want is None or x.dim() - k in want:
            return k
    return None


def _fold_bn(weight: np.ndarray, bias: np.ndarray, bn: nn.BatchNorm1d | nn.BatchNorm2d):
    mean = bn.running_mean.detach().double().numpy()
    var = bn.running_var.detach().double().numpy()
    gamma = bn.weight.detach().double().numpy() if bn.affine else np.ones_like(mean)
    beta = bn.bias.detach().double().numpy() if bn.affine else np.zeros_like(mean)
    k = gamma / np.sqrt(var + bn.eps)
    w = weight.astype(np.float64) * k.reshape(-1, *([1] * (weight.ndim - 1)))
    b = (bias.astype(np.float64) - mean) * k + beta
    return w.astype(np.float32), b.astype(np.float32)


def _time_readout(y: torch.Tensor, last: torch.Tensor, T: int, B: int, shape: tuple[int, ...]) -> str | None:
    """Is ``y`` the mean or the sum over time of the last layer's ``[T, B, ...]`` output?"""
    seq = last.reshape(T, B, *shape)
    for name, red in (("mean_over_time", seq.mean(0)), ("sum_over_time", seq.sum(0))):
        if y.shape == red.shape and torch.allclose(y, red, rtol=1e-6, atol=1e-7):
            return name
    return None


def export_nir(model: nn.Module, example_input: torch.Tensor, dt: float = DEFAULT_DT):
    """``model`` (a chain of NIR-expressible layers, run on ``[T, B, ...]``) as a ``nir.NIRGraph``.

    A model whose output is the mean (or sum) over time of its last layer (the zoo's read-out)
    exports its layers, with ``metadata["readout"] = "mean_over_time"`` (or ``"sum_over_time"``)
    on the graph, which :func:`import_nir` applies again. Only the shape, dtype and device of
    ``example_input`` (``[T, B, ...]``) are used: the model is
    run once on uniform random values of that shape (so that no residual or functional op can hide
    behind equal values) in eval mode, BatchNorm folded with its running statistics; every
    module's train/eval mode is restored afterwards and neuron states are reset. Raises
    :class:`ModelError` listing every module NIR cannot express.
    """
    nir = _nir()
    if dt <= 0:
        raise ModelError(f"dt must be > 0 seconds, got {dt}")
    if not isinstance(example_input, torch.Tensor) or example_input.dim() < 3:
        raise ModelError("export_nir needs an example input [T, B, ...] (a tensor of at least 3 dims)")
    bad = _unsupported(model)
    if bad:
        raise ModelError(f"NIR cannot express {len(bad)} module(s): {'; '.join(bad)}")
    for m in model.modules():
        if isinstance(m, SpikingNeuron) and m.step_mode != "m":
            raise ModelError("export_nir runs the model multi-step: set step_mode='m' on every neuron")

    calls: list[tuple[str, nn.Module, torch.Tensor, torch.Tensor]] = []
    handles = []
    for name, m in model.named_modules():
        if isinstance(m, SpikingNeuron) or not list(m.children()):
            def hook(mod, args, out, _n=name):
                calls.append((_n, mod, args[0].detach(), out.detach()))
            handles.append(m.register_forward_hook(hook))
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    for m in model.modules():
        if isinstance(m, SpikingNeuron):
            m.reset()
    gen = torch.Generator(device=example_input.device).manual_seed(0)
    probe_input = torch.rand(example_input.shape, generator=gen, dtype=example_input.dtype if example_input.is_floating_point() else torch.float32, device=example_input.device)
    example_input = probe_input
    try:
        with torch.no_grad():
            y = model(example_input)
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes:
            m.training = mode
        for m in model.modules():
            if isinstance(m, SpikingNeuron):
                m.reset()
    # drop inner leaves of a neuron (a neuron is one node)
    names = [c[0] for c in calls]
    calls = [c for c in calls if not any(c[0].startswith(n + ".") for n in names if n != c[0] and isinstance(model.get_submodule(n), SpikingNeuron))]
    if len({c[0] for c in calls}) != len(calls):
        raise ModelError("export_nir: a module is called more than once per forward (shared weights); NIR export needs a chain")

    T, B = int(example_input.shape[0]), int(example_input.shape[1])
    tb = T * B
    prev_out, prev_name = example_input.detach(), "<input>"
    in_shape = tuple(int(v) for v in example_input.shape[2:])
    nodes: dict = {"input": nir.Input(input_type=np.array(in_shape))}
    order = ["input"]
    cur_shape = in_shape
    pending_linear: str | None = None  # last node a BatchNorm may fold into
    exporters = _neuron_exporters()

    def add(key: str, node) -> str:
        key = key.replace(".", "_") or "layer"
        while key in nodes:
            key += "_"
        nodes[key] = node
        order.append(key)
        return key

    for name, m, x, out in calls:
        if isinstance(m, _vote_class()) and x.numel() * T == prev_out.numel():
            if _time_readout(x, prev_out, T, B, cur_shape) is not None:
                # a vote read-out after the mean over time: linear, so the same as voting every
                # step and taking the mean after it — exported that way
                x = prev_out.reshape(T * B, *cur_shape)
                out = m(x)
        if x.numel() != prev_out.numel() or not torch.equal(x.reshape(-1), prev_out.reshape(-1)):
            raise ModelError(
                f"export_nir: the input of {name!r} is not the output of {prev_name!r} — the model is not a plain "
                "chain (a residual, a functional op or a branch in between); NIR export needs a chain"
            )
        lead = _input_lead(m, x, tb, cur_shape)
        if lead is None:
            raise ModelError(f"export_nir: cannot tell the [T, B] dims of the input of {name!r} (shape {tuple(x.shape)})")
        xs = tuple(int(v) for v in x.shape[lead:])
        if xs != cur_shape:
            if len(xs) == 1 and xs[0] == int(np.prod(cur_shape)):
                add(f"{prev_name}_flatten", nir.Flatten(input_type=np.array(cur_shape), start_dim=0, end_dim=-1))
                pending_linear = None
            else:
                raise ModelError(f"export_nir: reshape {cur_shape} -> {xs} before {name!r} has no NIR form")
        if lead not in _lead_options(out, tb):
            raise ModelError(f"export_nir: cannot tell the [T, B] dims of the output of {name!r} (shape {tuple(out.shape)})")
        outs = tuple(int(v) for v in out.shape[lead:])
        label = name or "layer"
        if isinstance(m, _SKIP):
            pass
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            if pending_linear is None:
                raise ModelError(f"NIR cannot express 1 module(s): {name} (BatchNorm not right after a conv/linear: nothing to fold into)")
            node = nodes[pending_linear]
            w, b = _fold_bn(np.asarray(node.weight), np.asarray(getattr(node, "bias", np.zeros(node.weight.shape[0]))), m)
            if type(node).__name__ == "Linear":
                nodes[pending_linear] = nir.Affine(weight=w, bias=b)
            elif type(node).__name__ == "Affine":
                nodes[pending_linear] = nir.Affine(weight=w, bias=b)
            else:
                node.weight, node.bias = w, b
            pending_linear = None
        elif isinstance(m, nn.Conv2d):
            pending_linear = add(label, nir.Conv2d(
                input_shape=tuple(xs[-2:]), weight=m.weight.detach().numpy().copy(), stride=tuple(m.stride),
                padding=m.padding if isinstance(m.padding, str) else tuple(m.padding), dilation=tuple(m.dilation),
                groups=m.groups,
                bias=m.bias.detach().numpy().copy() if m.bias is not None else np.zeros(m.out_channels, np.float32),
            ))
        elif isinstance(m, nn.Conv1d):
            pending_linear = add(label, nir.Conv1d(
                input_shape=int(xs[-1]), weight=m.weight.detach().numpy().copy(), stride=int(m.stride[0]),
                padding=m.padding if isinstance(m.padding, str) else int(m.padding[0]), dilation=int(m.dilation[0]),
                groups=m.groups,
                bias=m.bias.detach().numpy().copy() if m.bias is not None else np.zeros(m.out_channels, np.float32),
            ))
        elif isinstance(m, nn.Linear):
            if len(xs) != 1:
                raise ModelError(f"export_nir: Linear {name!r} applied to per-sample shape {xs}; NIR Linear takes vectors")
            w = m.weight.detach().numpy().copy()
            pending_linear = add(label, nir.Affine(weight=w, bias=m.bias.detach().numpy().copy()) if m.bias is not None else nir.Linear(weight=w))
        elif isinstance(m, _vote_class()):  # the mean of each class's voters: a fixed linear map
            if len(xs) != 1 or xs[0] % m.vote:
                raise ModelError(f"export_nir: vote read-out {name!r} on per-sample shape {xs}")
            classes = xs[0] // m.vote
            w = np.zeros((classes, xs[0]), np.float32)
            w[np.repeat(np.arange(classes), m.vote), np.arange(xs[0])] = 1.0 / m.vote
            add(label, nir.Linear(weight=w))
            pending_linear = None
        elif isinstance(m, Scale):
            add(label, nir.Scale(scale=np.broadcast_to(m.scale.detach().numpy(), outs).astype(np.float32).copy()))
            pending_linear = None
        elif isinstance(m, (nn.Flatten, _Flatten)):
            if len(outs) != 1:
                raise ModelError(f"export_nir: Flatten {name!r} leaves per-sample shape {outs}; only full flattening has a NIR form here")
            add(label, nir.Flatten(input_type=np.array(xs), start_dim=0, end_dim=-1))
            pending_linear = None
        elif isinstance(m, (nn.AvgPool2d, SumPool2d)):
            k, s, p = (np.array(_pair(v)) for v in (m.kernel_size, m.stride if m.stride is not None else m.kernel_size, m.padding))
            summing = isinstance(m, SumPool2d) or m.divisor_override == 1
            add(label, (nir.SumPool2d if summing else nir.AvgPool2d)(kernel_size=k, stride=s, padding=p))
            pending_linear = None
        elif isinstance(m, SpikingNeuron):
            add(label, exporters[_neuron_key(m)](m, outs, dt))
            pending_linear = None
        else:  # pragma: no cover - _unsupported() lists these first
            raise ModelError(f"NIR cannot express 1 module(s): {name} ({type(m).__name__})")
        prev_out, prev_name, cur_shape = out, name, outs
    readout = None
    if y.numel() != prev_out.numel() or not torch.equal(y.reshape(-1), prev_out.reshape(-1)):
        readout = _time_readout(y, prev_out, T, B, cur_shape)
        if readout is None:
            raise ModelError(
                f"export_nir: the model's output is neither the output of its last layer {prev_name!r} nor its "
                "mean or sum over time; NIR export needs a chain"
            )
    nodes["output"] = nir.Output(output_type=np.array(cur_shape))
    order.append("output")
    edges = list(zip(order[:-1], order[1:]))
    meta = {"dt": dt, "exporter": "snnstudio"}
    if readout is not None:
        meta["readout"] = readout
    try:
        return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)
    except ValueError as exc:
        raise ModelError(f"export_nir: NIR rejected the graph: {exc}") from None


def save_nir(model_or_graph, path: str | Path, example_input: torch.Tensor | None = None, dt: float = DEFAULT_DT) -> Path:
    """Write a model (exported with :func:`export_nir`) or a graph to ``path`` (HDF5, ``nir.write``)."""
    nir = _nir()
    graph = model_or_graph
    if isinstance(model_or_graph, nn.Module):
        if example_input is None:
            raise ModelError("save_nir of a model needs example_input [T, B, ...]")
        graph = export_nir(model_or_graph, example_input, dt=dt)
    from snnstudio.safe_files import write_by_name

    path = Path(path)
    # temp + rename, regular files only
    write_by_name(path, lambda tmp: nir.write(tmp, graph), lambda p, problem: ModelError(f"{p}: {problem}"))
    return path


def export_zoo_model(model: nn.Module, cfg, sensor_size: tuple[int, int] | None = None):
    """A zoo model (``cfg``: its :class:`~snnstudio.snn.zoo.ModelConfig`) as a NIR graph the studio
    plays again as it ran: :func:`export_nir` at the model's frame length ``cfg.dt_us``, with its
    class names, window ``T`` (the read-out is the mean over it) and the sensor it was trained on
    (``sensor_size``, width × height) in the graph's metadata."""
    example = torch.zeros(cfg.T, 1, *cfg.input_size)  # only its shape is used
    graph = export_nir(model, example, dt=cfg.dt_us * 1e-6)
    graph.metadata["class_names"] = list(cfg.class_names)
    graph.metadata["T"] = int(cfg.T)
    if sensor_size is not None:
        graph.metadata["sensor_size"] = [int(v) for v in sensor_size]
    return graph
