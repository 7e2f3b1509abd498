"""Operation counts and energy: FLOPs per layer, MACs, ACs (= SOPs) and ``E = E_MAC·MACs + E_AC·ACs``.

Counting rules (the SNN papers' convention, as MA-SNN and Spikformer count; 45 nm figures below):

* **FLOPs** of a layer are its multiply-accumulates for one input image / token at one time step:
  Conv1d ``C_out·L_out·(C_in/groups)·k``, Conv2d ``C_out·H_out·W_out·(C_in/groups)·kh·kw`` (stride,
  dilation and padding enter through the output size), Linear ``in·out`` per position. Biases are
  not counted; BatchNorm is taken as folded into the preceding conv/linear (0 ops); pooling,
  flatten, reshapes and neuron updates are free (0 ops) — the usual convention of the SNN papers.
* A layer fed **real values** costs **MACs** = T·FLOPs per sample. That is the first conv/linear
  executed (the encoding layer; ``EnergyConfig.scale_first_by_density`` scales it by its input's
  fraction of non-zero entries, MA-SNN's option for event frames), and every layer whose input in
  a forward is not made of non-negative integers. That input check is what makes attention's own
  MLPs/convs (MA-SNN's TA/CA/SA, fed pooled real-valued descriptors) cost MACs, while the
  spike-fed Q/K/V convs inside spike-driven attention (Spikformer's SSA) cost ACs, as the papers
  count them. The encoding-layer rule skips layers inside attention modules (as the attention
  contract of :mod:`snnstudio.snn.attention` recognises them).
* A layer fed **spikes** costs **ACs** (= SOPs). Two modes (``EnergyConfig.mode``):
  ``"expected"`` (the papers'): ``ACs = T · fr_in · FLOPs`` with ``fr_in`` the measured mean of
  the layer's *input* (the firing rate for binary spikes; spike counts for integer inputs such as
  SEW-ADD sums count one AC per spike); ``"exact"``: the number of accumulates actually needed —
  ``Σ_inputs x · fan_out(x)`` where a conv's fan-out at the border is smaller (computed with one
  extra all-ones convolution of the input). For Linear both modes are equal; for convs with
  padding, "exact" is smaller at the border.
* **Custom counters** add ops that are not Conv/Linear (e.g. Spikformer's spike-driven attention
  matmuls, :func:`ssa_sops`): a module defines ``energy_ops(self, stats) -> OpCount`` or its class
  name is registered with :func:`register_op_counter`. Its Conv/Linear children are still counted
  as usual; the counter adds to them. Counts are per sample over the steps it was fed. One is
  registered here for class ``SSA`` (snnstudio's Spikformer attention: attributes ``heads``,
  ``dim``, children ``q_lif``/``k_lif``/``v_lif``, tokens ``[..., D, N]``), looked up by name so
  that this module imports no model code.

Energy uses 45 nm figures (Horowitz 2014): ``E_MAC`` 4.6 pJ, ``E_AC`` 0.9 pJ (configurable).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from snnstudio.errors import SnnStudioError
from snnstudio.probe.readers import ATTENTION, HookedProbe, kind_of
from snnstudio.snn.attention import is_attention

E_MAC_PJ = 4.6
E_AC_PJ = 0.9


# ---- pure counts ---------------------------------------------------------------------------------
def _pair(v) -> tuple[int, ...]:
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length of a convolution along one axis:
    ``(size + 2·padding − dilation·(kernel − 1) − 1) // stride + 1``."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def conv2d_flops(c_in: int, c_out: int, kernel, out_hw, groups: int = 1) -> int:
    """MACs of one Conv2d on one image: ``C_out·H_out·W_out·(C_in/groups)·kh·kw``."""
    kh, kw = _pair(kernel)
    h, w = _pair(out_hw)
    return c_out * h * w * (c_in // groups) * kh * kw


def conv1d_flops(c_in: int, c_out: int, kernel: int, out_len: int, groups: int = 1) -> int:
    """MACs of one Conv1d on one sequence: ``C_out·L_out·(C_in/groups)·k``."""
    return c_out * out_len * (c_in // groups) * kernel


def linear_flops(in_features: int, out_features: int, positions: int = 1) -> int:
    """MACs of one Linear at ``positions`` positions: ``in·out·positions``."""
    return in_features * out_features * positions


def ssa_sops(T: float, heads: int, N: int, d: int, fr_q: float, fr_k: float, fr_v: float) -> float:
    """Spikformer's SSA counter: ``T·heads·N·d²·(min(fr_k, fr_v) + fr_q)`` (d = channels per head).

    ``K^T V`` is computed first (``N·d²`` per head, gated by the sparser of K and V), then
    ``Q (K^T V)`` (``N·d²``, gated by Q).
    """
    return float(T) * heads * N * d * d * (min(fr_k, fr_v) + fr_q)


def energy_pj(macs: float, acs: float, e_mac_pj: float = E_MAC_PJ, e_ac_pj: float = E_AC_PJ) -> float:
    """``E = E_MAC·MACs + E_AC·ACs`` in picojoules."""
    return e_mac_pj * macs + e_ac_pj * acs


def module_flops(module: nn.Module, input_shape) -> int:
    """FLOPs of ``module`` for one image / position, given its input shape without the batch
    (Conv2d ``(C, H, W)``, Conv1d ``(C, L)``, Linear ``(in,)``); other modules cost 0."""
    s = tuple(int(v) for v in input_shape)
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        if isinstance(module.padding, str):
            raise SnnStudioError("module_flops: string padding needs the output size; run the module instead")
        ho = conv_output_size(s[-2], kh, module.stride[0], module.padding[0], module.dilation[0])
        wo = conv_output_size(s[-1], kw, module.stride[1], module.padding[1], module.dilation[1])
        return conv2d_flops(module.in_channels, module.out_channels, (kh, kw), (ho, wo), module.groups)
    if isinstance(module, nn.Conv1d):
        if isinstance(module.padding, str):
            raise SnnStudioError("module_flops: string padding needs the output size; run the module instead")
        lo = conv_output_size(s[-1], module.kernel_size[0], module.stride[0], module.padding[0], module.dilation[0])
        return conv1d_flops(module.in_channels, module.out_channels, module.kernel_size[0], lo, module.groups)
    if isinstance(module, nn.Linear):
        return linear_flops(module.in_features, module.out_features)
    return 0


# ---- custom counters -----------------------------------------------------------------------------
@dataclass
class OpCount:
    macs: float = 0.0
    acs: float = 0.0


@dataclass
class ModuleStats:
    """What a custom counter is told about its module after a run (per sample)."""

    #: time steps each sample was fed
    steps: float
    samples: int
    #: last input shape the module saw (with batch/time dims, as it came)
    input_shape: tuple[int, ...] | None
    #: firing rates of spiking descendants, by name relative to the module ("q_lif", "attn.lif"...)
    child_rates: dict[str, float] = field(default_factory=dict)


OP_COUNTERS: dict[str, Callable[[nn.Module, ModuleStats], OpCount]] = {}


def register_op_counter(class_name: str):
    """Decorator: ``fn(module, stats) -> OpCount`` counts extra ops of modules of this class name."""

    def deco(fn):
        OP_COUNTERS[class_name] = fn
        return fn

    return deco


@register_op_counter("SSA")
def _spikformer_ssa(module: nn.Module, stats: ModuleStats) -> OpCount:
    """Spikformer SSA: ``T·heads·N·d²·(min(fr_k, fr_v) + fr_q)`` with d = dim / heads."""
    heads, dim = getattr(module, "heads", None), getattr(module, "dim", None)
    if not heads or not dim or stats.input_shape is None or not getattr(module, "enabled", True):
        return OpCount()
    r = stats.child_rates
    n_tokens = int(stats.input_shape[-1])
    return OpCount(acs=ssa_sops(stats.steps, int(heads), n_tokens, int(dim) // int(heads),
                                r.get("q_lif", 0.0), r.get("k_lif", 0.0), r.get("v_lif", 0.0)))


# ---- the counter ---------------------------------------------------------------------------------
@dataclass
class EnergyConfig:
    e_mac_pj: float = E_MAC_PJ
    e_ac_pj: float = E_AC_PJ
    #: "expected" (T·fr_in·FLOPs) or "exact" (count every nonzero input × its fan-out)
    mode: str = "expected"
    #: the first conv/linear executed costs MACs whatever its input (the encoding layer)
    first_layer_macs: bool = True
    #: MA-SNN option: scale the first layer's MACs by its input's fraction of non-zero entries
    scale_first_by_density: bool = False
    #: model input layout: "m" [T, B, ...] or "s" [B, ...] (one step per forward)
    step_mode: str = "m"

    def __post_init__(self):
        if self.mode not in ("expected", "exact"):
            raise SnnStudioError(f"EnergyConfig.mode must be 'expected' or 'exact', got {self.mode!r}")
        if self.step_mode not in ("m", "s"):
            raise SnnStudioError(f"EnergyConfig.step_mode must be 'm' or 's', got {self.step_mode!r}")


@dataclass
class LayerOps:
    name: str
    type: str
    order: int = -1
    in_attention: bool = False
    flops: int = 0  # per image / position, last forward
    dense: float = 0.0  # Σ FLOPs × images over forwards
    acs_expected: float = 0.0
    acs_exact: float = 0.0
    in_sum: float = 0.0
    in_nonzero: float = 0.0
    nz_numel: float = 0.0  # elements over which in_nonzero was counted
    in_numel: float = 0.0
    real_valued: bool = False  # some forward got non-integer or negative input


@dataclass(frozen=True)
class LayerCost:
    name: str
    type: str
    flops: int
    fed: str  # "real" or "spikes"
    input_rate: float
    macs: float
    acs: float
    energy_pj: float

    def to_dict(self) -> dict:
        """The fields as a plain dict (JSON-able)."""
        return asdict(self)


def _is_counts(x: torch.Tensor) -> bool:
    """Is ``x`` made of non-negative integers (spikes or spike counts)?

    A tolerance of 1e-3 absorbs spikes that surrogate arithmetic leaves at 0.99999994. Written with
    min/max reductions: ``torch.allclose`` is 20x slower on these sizes.
    """
    if x.dtype == torch.bool:
        return True
    if x.numel() == 0:
        return True
    if float(x.amin()) < 0:
        return False
    if not x.is_floating_point():
        return True
    return float((x - x.round()).abs_().amax()) <= 1e-3


class OpCounter(HookedProbe):
    """Hooks on every Conv1d/Conv2d/Linear (input side), spiking neuron and custom-counted module.

    ``with OpCounter(model) as oc: model(x)`` then :meth:`report` (per sample) — or attach for a
    whole evaluation; :meth:`clear` starts a new count. ``detach`` removes every hook.
    """

    def __init__(self, model: nn.Module, config: EnergyConfig | None = None, attach: bool = True):
        self.model = model
        self.config = config or EnergyConfig()
        self.layers: dict[str, LayerOps] = {}
        self._rates: dict[str, list[float]] = {}  # neuron name -> [spikes, elements]
        self._custom: dict[str, nn.Module] = {}
        self._inputs: dict[str, tuple[int, ...]] = {}
        self._handles: list = []
        self._restore: list = []
        self._order = 0
        self.steps = 0
        self.samples = 0
        self.forwards = 0
        if attach:
            self.attach()

    def attach(self) -> "OpCounter":
        """Hook every Conv/Linear, every neuron layer and every module with a custom counter (once; returns
        self)."""
        if self._handles:
            return self
        attention_prefixes = [n for n, m in self.model.named_modules() if is_attention(m) and n]
        for name, m in self.model.named_modules():
            if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
                rec = self.layers.get(name) or LayerOps(name, type(m).__name__)
                rec.in_attention = any(name.startswith(p + ".") for p in attention_prefixes)
                self.layers[name] = rec
                self._handles.append(m.register_forward_hook(self._layer_hook(rec)))
            kind = kind_of(m)
            if kind is not None and kind != ATTENTION:
                self._rates.setdefault(name, [0.0, 0.0])
                self._handles.append(m.register_forward_hook(self._neuron_hook(name)))
            if hasattr(m, "energy_ops") or type(m).__name__ in OP_COUNTERS:
                self._custom[name] = m
                self._handles.append(m.register_forward_pre_hook(self._shape_hook(name)))
        self._handles.append(self.model.register_forward_pre_hook(self._root_hook))
        return self

    def clear(self) -> None:
        """Forget every count (keeps the hooks)."""
        for rec in self.layers.values():  # in place: the hooks hold these objects
            fresh = LayerOps(rec.name, rec.type, in_attention=rec.in_attention)
            rec.__dict__.update(fresh.__dict__)
        for acc in self._rates.values():
            acc[0] = acc[1] = 0.0
        self._order = 0
        self.steps = self.samples = self.forwards = 0

    # ---- hooks ---------------------------------------------------------------------------------

    def _shape_hook(self, name: str):
        def hook(module, args):
            if args and isinstance(args[0], torch.Tensor):
                self._inputs[name] = tuple(args[0].shape)
            return None

        return hook

    def _neuron_hook(self, name: str):
        def hook(module, args, output):
            s = output[0] if isinstance(output, tuple) else output
            if isinstance(s, torch.Tensor):
                acc = self._rates[name]
                acc[0] += float(torch.count_nonzero(s))
                acc[1] += s.numel()
            return None

        return hook

    def _layer_hook(self, rec: LayerOps):
        def hook(module, args, output):
            x = args[0] if args else None
            if not isinstance(x, torch.Tensor) or not isinstance(output, torch.Tensor):
                return None
            x = x.detach()
            if rec.order < 0:
                rec.order = self._order
                self._order += 1
            if isinstance(module, nn.Linear):
                positions = x.numel() // module.in_features
                rec.flops = linear_flops(module.in_features, module.out_features)
                dense = float(rec.flops) * positions
            else:
                spatial = 2 if isinstance(module, nn.Conv2d) else 1
                images = int(np.prod(output.shape[: output.dim() - spatial - 1])) if output.dim() > spatial + 1 else 1
                out_sp = tuple(output.shape[-spatial:])
                k = module.kernel_size
                rec.flops = (
                    conv2d_flops(module.in_channels, module.out_channels, k, out_sp, module.groups)
                    if spatial == 2
                    else conv1d_flops(module.in_channels, module.out_channels, k[0], out_sp[0], module.groups)
                )
                dense = float(rec.flops) * images
            if not _is_counts(x):
                rec.real_valued = True
            xf = x if x.is_floating_point() else x.float()
            total = float(xf.sum())
            numel = float(x.numel())
            rec.dense += dense
            rec.in_sum += total
            rec.in_numel += numel
            if rec.order == 0 or rec.real_valued:  # the density of real-valued inputs is reported
                rec.in_nonzero += float(torch.count_nonzero(x))
                rec.nz_numel += numel
            mean_in = total / numel if numel else 0.0
            rec.acs_expected += mean_in * dense
            if self.config.mode == "exact" and not rec.real_valued:
                rec.acs_exact += _exact_acs(module, xf.round())
            return None

        return hook

    # ---- report --------------------------------------------------------------------------------
    def neuron_rates(self) -> dict[str, float]:
        """Mean firing rate of each neuron layer since the last :meth:`clear` (spikes / neuron-steps)."""
        return {k: (s / n if n else 0.0) for k, (s, n) in self._rates.items()}

    @property
    def steps_per_sample(self) -> float:
        """Time steps per sample seen (single-step input: every call is a step of the same sample)."""
        if self.config.step_mode == "s":
            return float(self.steps)
        return self.steps / self.forwards if self.forwards else 0.0

    def layer_costs(self) -> dict[str, LayerCost]:
        """Per-layer MACs/ACs/energy per sample (layers in execution order)."""
        cfg = self.config
        per = 1.0 / self.samples if self.samples else 0.0
        out: dict[str, LayerCost] = {}
        first_order = min((r.order for r in self.layers.values() if r.order >= 0 and not r.in_attention), default=-1)
        for rec in sorted((r for r in self.layers.values() if r.order >= 0), key=lambda r: r.order):
            first = cfg.first_layer_macs and not rec.in_attention and rec.order == first_order
            real = first or rec.real_valued
            rate = rec.in_sum / rec.in_numel if rec.in_numel else 0.0
            if real:
                macs = rec.dense * per
                if first and cfg.scale_first_by_density:
                    macs *= rec.in_nonzero / rec.nz_numel if rec.nz_numel else 0.0
                acs = 0.0
                rate = rec.in_nonzero / rec.nz_numel if rec.nz_numel else 0.0
            else:
                macs = 0.0
                acs = (rec.acs_exact if cfg.mode == "exact" else rec.acs_expected) * per
            out[rec.name] = LayerCost(
                rec.name, rec.type, rec.flops, "real" if real else "spikes", rate, macs, acs,
                energy_pj(macs, acs, cfg.e_mac_pj, cfg.e_ac_pj),
            )
        for name, m in self._custom.items():
            stats = ModuleStats(
                steps=self.steps_per_sample,
                samples=self.samples,
                input_shape=self._inputs.get(name),
                child_rates={
                    k[len(name) + 1 :] if name else k: v
                    for k, v in self.neuron_rates().items()
                    if (not name or k.startswith(name + ".")) and k != name
                },
            )
            fn = getattr(m, "energy_ops", None)
            ops = fn(stats) if callable(fn) else OP_COUNTERS[type(m).__name__](m, stats)
            key = f"{name}:{type(m).__name__}" if name else type(m).__name__
            out[key] = LayerCost(
                key, type(m).__name__, 0, "custom", float("nan"), float(ops.macs), float(ops.acs),
                energy_pj(ops.macs, ops.acs, cfg.e_mac_pj, cfg.e_ac_pj),
            )
        return out

    def report(self) -> dict:
        """JSON-able totals and per-layer rows, all per sample (one inference over its steps)."""
        costs = self.layer_costs()
        macs = sum(c.macs for c in costs.values())
        acs = sum(c.acs for c in costs.values())
        return {
            "per": "sample",
            "steps_per_sample": self.steps_per_sample,
            "samples": self.samples,
            "mode": self.config.mode,
            "e_mac_pj": self.config.e_mac_pj,
            "e_ac_pj": self.config.e_ac_pj,
            "macs": macs,
            "acs": acs,
            "sops": acs,
            "energy_pj": energy_pj(macs, acs, self.config.e_mac_pj, self.config.e_ac_pj),
            "energy_pj_per_step": (
                energy_pj(macs, acs, self.config.e_mac_pj, self.config.e_ac_pj) / self.steps_per_sample
                if self.steps_per_sample else 0.0
            ),
            "layers": {k: c.to_dict() for k, c in costs.items()},
        }


def _exact_acs(module: nn.Module, x: torch.Tensor) -> float:
    """Σ over inputs of value × number of output units that read it (zero padding excluded)."""
    if isinstance(module, nn.Linear):
        return float(x.sum()) * module.out_features
    g = module.groups
    c_in = module.in_channels
    per_group_out = module.out_channels // g
    if isinstance(module, nn.Conv2d):
        xs = x.reshape(-1, g, c_in // g, *x.shape[-2:]).sum(2)
        ones = torch.ones(g, 1, *module.kernel_size, dtype=xs.dtype, device=xs.device)
        y = F.conv2d(xs, ones, None, module.stride, module.padding, module.dilation, g)
    else:
        xs = x.reshape(-1, g, c_in // g, x.shape[-1]).sum(2)
        ones = torch.ones(g, 1, *module.kernel_size, dtype=xs.dtype, device=xs.device)
        y = F.conv1d(xs, ones, None, module.stride, module.padding, module.dilation, g)
    return float(y.sum()) * per_group_out
