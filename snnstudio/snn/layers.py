"""Plumbing shared by every snnstudio model: time-distributed layers, the neuron factory,
step-mode control and the model base class.

Layouts: multi-step tensors are time first, ``[T, B, ...]``; a single step is ``[B, ...]``.
A :class:`SeqWise` wrapper runs a stateless layer (``nn.Conv2d``, ``nn.BatchNorm2d``,
``nn.Linear``, pools ...) on either: it folds ``T`` into the batch for multi-step input and
calls the layer directly on a single step. It tells the two apart by the number of dims, so
models need no mode flag of their own; only the neurons carry ``step_mode``.

Hand-written rather than SpikingJelly's ``SeqToANNContainer`` so that the models do not depend
on SpikingJelly (installed ``--no-deps``, used as a test oracle) and so that single-step input
passes through the same objects. The wrapped layers stay standard ``torch.nn`` layers, so FLOP
and energy hooks find them by type.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

import torch
from torch import nn

from snnstudio.errors import ModelError
from snnstudio.snn.neurons import NEURONS, SpikingNeuron, build_neuron


class SeqWise(nn.Module):
    """Run a stateless layer over ``[T, B, *sample]`` (T folded into B) or ``[B, *sample]``.

    ``sample_ndim`` is the number of per-sample dims the layer expects (3 for ``[C, H, W]``,
    2 for tokens ``[C, N]``, 1 for features ``[F]``).
    """

    def __init__(self, layer: nn.Module, sample_ndim: int):
        super().__init__()
        self.layer = layer
        self.sample_ndim = sample_ndim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The layer applied to every step: ``[T, B, *sample]`` (folded to ``[T·B, ...]``) or one step
        ``[B, *sample]``."""
        if x.ndim == self.sample_ndim + 2:
            t, b = x.shape[:2]
            y = self.layer(x.flatten(0, 1))
            return y.reshape(t, b, *y.shape[1:])
        if x.ndim == self.sample_ndim + 1:
            return self.layer(x)
        raise ModelError(
            f"{type(self.layer).__name__} expects [T, B, ...] or [B, ...] with {self.sample_ndim} "
            f"sample dims, got shape {tuple(x.shape)}"
        )


def seq(layer: nn.Module, sample_ndim: int) -> SeqWise:
    """Shorthand: ``seq(nn.Conv2d(...), 3)``."""
    return SeqWise(layer, sample_ndim)


def _accepted_params(cls) -> tuple[set[str], bool]:
    sig = inspect.signature(cls.__init__)
    names = {n for n in sig.parameters if n != "self"}
    var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())
    return names, var_kw


def _required(cls, name: str) -> bool:
    par = inspect.signature(cls.__init__).parameters.get(name)
    return par is not None and par.default is inspect.Parameter.empty


@dataclass
class NeuronSpec:
    """Which neuron a model uses: a registry name plus parameters, built fresh per layer.

    ``build(**role)`` adds role-specific defaults (e.g. Spikformer's attention neuron has
    ``v_threshold=0.5``); a role parameter the chosen neuron does not take is dropped, so
    every model accepts every registered neuron. ``T`` is passed to neurons that need the
    window length (the PSN family) when they take a ``T`` parameter and none was given; a
    required order ``k`` (masked / sliding PSN) left unset defaults to ``min(4, T)``.
    """

    name: str = "lif"
    params: dict = field(default_factory=dict)
    T: int | None = None

    def build(self, **role) -> SpikingNeuron:
        """A new neuron of this spec; ``role`` parameters (e.g. ``detach_reset``) apply where the neuron takes
        them, the spec's own ``params`` win."""
        if self.name not in NEURONS:
            build_neuron(self.name)  # raises the registry's ModelError (fills the registry first)
        names, var_kw = _accepted_params(NEURONS[self.name])
        params = {k: v for k, v in role.items() if var_kw or k in names}
        params.update(self.params)
        if self.T is not None and "T" in names and "T" not in params:
            params["T"] = self.T
        if "k" in names and "k" not in params and _required(NEURONS[self.name], "k"):
            params["k"] = min(4, self.T) if self.T is not None else 4
        return build_neuron(self.name, **params)


def neuron_spec(spec: NeuronSpec | str | None, **params) -> NeuronSpec:
    """Accept a :class:`NeuronSpec`, a registry name, or ``None`` (plain LIF)."""
    if spec is None:
        return NeuronSpec("lif", dict(params))
    if isinstance(spec, str):
        return NeuronSpec(spec, dict(params))
    return spec


# --- step mode and state ---------------------------------------------------------------


def spiking_neurons(model: nn.Module) -> list[tuple[str, SpikingNeuron]]:
    """``(name, module)`` of every snnstudio spiking neuron in ``model``, in module order."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, SpikingNeuron)]


def set_step_mode(model: nn.Module, mode: str) -> None:
    """Set every neuron to multi-step ``'m'`` or single-step ``'s'`` and clear its state."""
    if mode not in ("m", "s"):
        raise ModelError(f"step mode must be 'm' or 's', got {mode!r}")
    for _, m in spiking_neurons(model):
        if mode == "s" and not m.supports_single_step:
            raise ModelError(f"neuron {type(m).__name__} cannot run single-step (it looks across time)")
        m.step_mode = mode
        m.reset()


def reset_states(model: nn.Module) -> None:
    """Clear every neuron's kept state (call between independent sequences)."""
    for _, m in spiking_neurons(model):
        m.reset()


class SNNModel(nn.Module):
    """Base of the zoo's classifiers: input ``[T, B, C, H, W]`` → ``[B, classes]``.

    Multi-step: the read-out is averaged over ``T``. Single-step (neurons in ``'s'`` mode,
    input ``[B, C, H, W]``): the output is that step's read-out; its mean over the steps equals
    the multi-step output for models that do not look across time.
    """

    input_shape: tuple[int, int, int] = (2, 32, 32)
    num_classes: int = 11

    @property
    def looks_across_time(self) -> bool:
        """True when some part needs the whole window (TA, CA/SA pooling over T, PSN, STA ...):
        streaming must then re-run a sliding window of T steps instead of stepping."""
        return any(getattr(m, "looks_across_time", False) for m in self.modules() if m is not self)

    def check_input(self, x: torch.Tensor) -> bool:
        """Validate the input; returns True for multi-step input."""
        if x.ndim not in (4, 5):
            raise ModelError(
                f"model input must be [T, B, C, H, W] or one step [B, C, H, W], got shape {tuple(x.shape)}"
            )
        if tuple(x.shape[-3:]) != tuple(self.input_shape):
            raise ModelError(
                f"input size (C, H, W) = {tuple(x.shape[-3:])} does not match the model's {tuple(self.input_shape)}"
            )
        return x.ndim == 5
