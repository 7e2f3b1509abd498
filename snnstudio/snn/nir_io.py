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
trajectories differ from NIR's and ours after the first spike; sub-threshold they are equal. Spike and reset: NIR fires on ``v > θ`` and resets to ``v_reset``; ours
fires on ``h ≥ θ`` (SpikingJelly's rule) — the two differ only when ``h`` equals θ exactly. NIR has
no soft reset (``v_reset=None``), so such neurons are refused.

**Export** (:func:`export_nir`) runs the model once on an example input ``[T, B, ...]`` with forward
hooks to see the layers in execution order, checks that they form a plain chain (each layer's
input is the previous layer's output, up to reshapes), and maps Conv1d/Conv2d, Linear, Flatten,
AvgPool2d (exact when ``ceil_mode=False`` and padding counts; ``divisor_override=1`` is a
SumPool2d), our LIF/IF neurons, Identity/Dropout (skipped). BatchNorm right after a conv/linear is
folded into it with its running statistics (``w' = w·γ/√(σ²+ε)``, ``b' = (b − μ)·γ/√(σ²+ε) + β``).
Anything else — attention, max-pool, parallel neurons (PSN...), a BatchNorm with nothing to fold
into, a residual or any operation between layers — is refused with a :class:`ModelError` that
lists the offending modules, never exported as something different.

**Import** (:func:`import_nir`) builds a :class:`NIRNetwork` running ``[T, B, ...]`` with our
neurons: Affine/Linear, Conv1d/Conv2d, AvgPool2d/SumPool2d, Flatten, Scale, Threshold, IF, LIF,
CubaLIF, LI, CubaLI, I (the last five as thin modules here: Euler steps of NIR's equations; the
non-spiking ones output their membrane). Nodes with several inputs sum them. Recurrent graphs
(cycles), Delay and nested graphs are refused. Neuron parameters must be uniform per node.
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
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, divisor_override=1)


class Scale(nn.Module):
    """Elementwise ``x · scale`` (NIR Scale; also the input resistance of an imported neuron)."""

    def __init__(self, scale: torch.Tensor):
        super().__init__()
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))

    def forward(self, x):
        return x * self.scale


class ThresholdNode(SpikingNeuron):
    """NIR Threshold: stateless ``s = Θ(x − θ)`` (fires on x > θ, NIR's rule)."""

    supports_single_step = True

    def __init__(self, v_threshold: float, step_mode: str = "m"):
        super().__init__(step_mode)
        self.v_threshold = float(v_threshold)

    def forward(self, x):
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


class IFNode(_EulerNeuron):
    """Integrate-and-fire, ``h = v + x``, fire on h ≥ θ, hard reset (used when the registry has no "if")."""

    def __init__(self, v_threshold: float = 1.0, v_reset: float = 0.0, step_mode: str = "m"):
        super().__init__(step_mode)
        self.v_threshold, self.v_reset, self.state = float(v_threshold), float(v_reset), None

    def _init_state(self, like):
        return torch.full_like(like, self.v_reset)

    def _step(self, x, v):
        h = v + x
        s = (h >= self.v_threshold).to(x.dtype)
        return s, h, s * self.v_reset + (1.0 - s) * h


class CubaLIFNode(_EulerNeuron):
    """NIR CubaLIF, Euler: ``I ← I + (dt/τ_syn)(−I + w_in·x)``, ``h = v + (dt/τ_mem)(v_leak − v + R·I)``,
    fire on h ≥ θ, hard reset to ``v_reset``. ``a_syn = dt/τ_syn``, ``a_mem = dt/τ_mem``."""

    def __init__(self, a_syn, a_mem, r, v_leak, v_threshold, v_reset, w_in, step_mode="m"):
        super().__init__(step_mode)
        self.a_syn, self.a_mem, self.r, self.v_leak = float(a_syn), float(a_mem), float(r), float(v_leak)
        self.v_threshold, self.v_reset, self.w_in = float(v_threshold), float(v_reset), float(w_in)
        self.state = None

    def _init_state(self, like):
        return torch.zeros_like(like), torch.full_like(like, self.v_reset)

    def _step(self, x, state):
        i, v = state
        i = i + self.a_syn * (self.w_in * x - i)
        h = v + self.a_mem * (self.v_leak - v + self.r * i)
        s = (h >= self.v_threshold).to(x.dtype)
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


class _ScaledNeuron(nn.Module):
    """``neuron(r · x)``: an imported neuron whose input resistance is not 1."""

    def __init__(self, r: float, neuron: nn.Module):
        super().__init__()
        self.r, self.neuron = float(r), neuron

    def forward(self, x):
        return self.neuron(x * self.r)


class NIRNetwork(nn.Module):
    """An imported NIR graph running ``[T, B, ...]``; ``nodes`` holds one module per NIR node."""

    def __init__(self, nodes: dict[str, nn.Module], edges: list[tuple[str, str]], order: list[str], inputs: list[str], outputs: list[str]):
        super().__init__()
        self.names = list(nodes)
        self.nodes = nn.ModuleDict({_safe(k): m for k, m in nodes.items()})
        self.edges = [tuple(e) for e in edges]
        self.order, self.inputs, self.outputs = order, inputs, outputs
        self._preds = {n: [a for a, b in self.edges if b == n] for n in self.names}

    def reset(self) -> None:
        for m in self.modules():
            if isinstance(m, SpikingNeuron):
                m.reset()

    def forward(self, x: torch.Tensor):
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
        if len(self.outputs) == 1:
            return values[self.outputs[0]]
        return {k: values[k] for k in self.outputs}


def _safe(name: str) -> str:
    return name.replace(".", "·")


# ==== import =====================================================================================
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


def _neuron_node(kind: str, node, name: str, dt: float) -> nn.Module:
    if kind == "LIF":
        tau = _snap(_uniform(node.tau, "tau", name) / dt)
        r = _uniform(node.r, "r", name)
        v_leak = _uniform(node.v_leak, "v_leak", name)
        v_reset = _uniform(node.v_reset, "v_reset", name)
        thr = _uniform(node.v_threshold, "v_threshold", name)
        if tau <= 0:
            raise ModelError(f"NIR node {name!r}: tau must be > 0")
        if v_leak != v_reset:
            raise ModelError(f"NIR node {name!r}: LIF with v_leak ({v_leak}) != v_reset ({v_reset}) has no snnstudio neuron")
        if math.isclose(r, 1.0, rel_tol=1e-9):
            return build_neuron("lif", tau=tau, v_threshold=thr, v_reset=v_reset, decay_input=True)
        if math.isclose(r, tau, rel_tol=1e-9):
            return build_neuron("lif", tau=tau, v_threshold=thr, v_reset=v_reset, decay_input=False)
        return _ScaledNeuron(r, build_neuron("lif", tau=tau, v_threshold=thr, v_reset=v_reset, decay_input=True))
    if kind == "IF":
        r = _uniform(node.r, "r", name) * dt
        thr = _uniform(node.v_threshold, "v_threshold", name)
        v_reset = _uniform(node.v_reset, "v_reset", name)
        neuron = build_neuron("if", v_threshold=thr, v_reset=v_reset) if "if" in _registry() else IFNode(thr, v_reset)
        return neuron if math.isclose(r, 1.0, rel_tol=1e-9) else _ScaledNeuron(_snap(r), neuron)
    if kind == "CubaLIF":
        return CubaLIFNode(
            dt / _uniform(node.tau_syn, "tau_syn", name), dt / _uniform(node.tau_mem, "tau_mem", name),
            _uniform(node.r, "r", name), _uniform(node.v_leak, "v_leak", name),
            _uniform(node.v_threshold, "v_threshold", name), _uniform(node.v_reset, "v_reset", name),
            _uniform(node.w_in, "w_in", name),
        )
    if kind == "LI":
        return LeakyIntegrator(dt / _uniform(node.tau, "tau", name), _uniform(node.r, "r", name), _uniform(node.v_leak, "v_leak", name))
    if kind == "CubaLI":
        return LeakyIntegrator(
            dt / _uniform(node.tau_mem, "tau_mem", name), _uniform(node.r, "r", name), _uniform(node.v_leak, "v_leak", name),
            a_syn=dt / _uniform(node.tau_syn, "tau_syn", name), w_in=_uniform(node.w_in, "w_in", name),
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


def import_nir(graph, dt: float = DEFAULT_DT) -> NIRNetwork:
    """A NIR graph (or a ``.nir`` file path) as an ``nn.Module`` running ``[T, B, ...]``.

    ``dt`` must be the step the exporter used (snnTorch and SpikingJelly: 1e-4 s).
    """
    nir = _nir()
    if isinstance(graph, (str, Path)):
        graph = load_graph(graph)
    if not isinstance(graph, nir.NIRGraph):
        raise ModelError(f"import_nir needs a nir.NIRGraph or a .nir path, got {type(graph).__name__}")
    if dt <= 0:
        raise ModelError(f"dt must be > 0 seconds, got {dt}")
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
            modules[k] = _neuron_node(kind, n, k, dt)
    return NIRNetwork(modules, list(graph.edges), order, inputs, outputs)


def load_graph(path: str | Path):
    """Read a ``.nir`` (HDF5) file as a ``nir.NIRGraph``; a bad file is a :class:`ModelError`."""
    nir = _nir()
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such NIR file")
    try:
        return nir.read(path)
    except Exception as exc:  # h5py/nir raise many kinds
        raise ModelError(f"{path}: not a readable NIR file ({type(exc).__name__}: {exc})") from None


def load_nir(path: str | Path, dt: float = DEFAULT_DT) -> NIRNetwork:
    """Read a ``.nir`` file and import it (:func:`import_nir`)."""
    return import_nir(load_graph(path), dt=dt)


# ==== export =====================================================================================
def _neuron_exporters():
    nir = _nir()

    def lif(m, shape, dt):
        if m.v_reset is None:
            raise ModelError("soft reset (v_reset=None) has no NIR form")
        vr = float(m.v_reset)
        return nir.LIF(
            tau=np.full(shape, m.tau * dt), r=np.full(shape, 1.0 if m.decay_input else float(m.tau)),
            v_leak=np.full(shape, vr), v_threshold=np.full(shape, float(m.v_threshold)), v_reset=np.full(shape, vr),
        )

    def if_(m, shape, dt):
        if m.v_reset is None:
            raise ModelError("soft reset (v_reset=None) has no NIR form")
        return nir.IF(r=np.full(shape, 1.0 / dt), v_threshold=np.full(shape, float(m.v_threshold)), v_reset=np.full(shape, float(m.v_reset)))

    def cuba(m, shape, dt):
        f = lambda v: np.full(shape, float(v))  # noqa: E731
        return nir.CubaLIF(
            tau_syn=f(dt / m.a_syn), tau_mem=f(dt / m.a_mem), r=f(m.r), v_leak=f(m.v_leak),
            v_threshold=f(m.v_threshold), v_reset=f(m.v_reset), w_in=f(m.w_in),
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

    return {"lif": lif, "if": if_, "IFNode": if_, "CubaLIFNode": cuba, "LeakyIntegrator": li, "ThresholdNode": threshold}


def _neuron_key(m: nn.Module) -> str | None:
    name = getattr(type(m), "registry_name", None)
    if name in ("lif", "if"):
        return name
    if type(m) in (IFNode, CubaLIFNode, LeakyIntegrator, ThresholdNode):
        return type(m).__name__
    return None


def _unsupported(model: nn.Module) -> list[str]:
    """Modules NIR export cannot express (with why), found before running anything."""
    from snnstudio.probe.layers import is_attention

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
        elif isinstance(m, (nn.Linear, nn.Flatten, _Flatten, Scale, nn.BatchNorm1d, nn.BatchNorm2d, SumPool2d, *_SKIP)):
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


def export_nir(model: nn.Module, example_input: torch.Tensor, dt: float = DEFAULT_DT):
    """``model`` (a chain of NIR-expressible layers, run on ``[T, B, ...]``) as a ``nir.NIRGraph``.

    Only the shape, dtype and device of ``example_input`` (``[T, B, ...]``) are used: the model is
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
    if y.numel() != prev_out.numel() or not torch.equal(y.reshape(-1), prev_out.reshape(-1)):
        raise ModelError(f"export_nir: the model's output is not the output of its last layer {prev_name!r}; NIR export needs a chain")
    nodes["output"] = nir.Output(output_type=np.array(cur_shape))
    order.append("output")
    edges = list(zip(order[:-1], order[1:]))
    try:
        return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": dt, "exporter": "snnstudio", "spike_rule": "h >= threshold"})
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
    path = Path(path)
    nir.write(path, graph)
    return path
