"""Multi-dimensional attention of MA-SNN (Yao et al., TPAMI 2023; code BICLab/MA-SNN).

Attention rescales the *input current* of a spiking layer, before its neuron:
Conv → BN → AvgPool → attention → neuron, or Linear → BN1d → TA → neuron.

* :class:`TemporalAttention` (TA): avg- and max-pool over every dim but (T, B) → shared MLP
  T → T/r → T (ReLU between, no bias) → sum → sigmoid: one weight per time step,
  ``last_weights`` ``[T, B]``.
* :class:`ChannelAttention` (CA): avg- and max-pool over (T, H, W) → shared MLP C → C/r → C →
  sum → sigmoid: one weight per channel, ``last_weights`` ``[B, C]``.
* :class:`SpatialAttention` (SA): mean and max over T·C → Conv2d(2 → 1, k×k) → sigmoid:
  one weight per pixel, ``last_weights`` ``[B, H, W]``.
* :class:`MultiDimAttention`: a combination in sequence on the running output,
  ``x = TA(x)·x; x = CA(x)·x; x = SA(x)·x``, then ReLU (every MA-SNN variant ends with ReLU).

Input layout is time first: ``[T, B, C, H, W]`` (conv layers) or ``[T, B, F]`` (TA on FC
layers). Every module has ``enabled`` (``False`` = identity) and keeps its last weights
(detached) for the probes. All three pool over T, so they look across time: a streaming engine
must re-run a window of T steps. CA and SA accept one step ``[B, C, H, W]`` (as a window of
T = 1); TA cannot, its MLP is built for a fixed T.

**The contract** (what the probes, the engine's read-out and NIR export rely on, declared here
once): an attention module has ``enabled``, ``last_weights`` (detached tensor or ``None``) and
``weights_layout`` (comma-separated axis names, ``"B"`` the batch); a block groups parts as child
modules ``ta``/``ca``/``sa`` (:data:`PARTS`). Token attention (Spikformer's SSA, Spikeformer's
STA in modes ``s`` and ``st``) is a lone module keeping its full map (``"T,B,heads,N,N"``, or
``"B,heads,TN,TN"`` with ``token_count`` = N); it is the part ``tk``, read as ``"B,N,N"``: the
mean over heads and time steps of ``Q·Kᵀ`` (:func:`token_weights`; what the map holds, e.g.
``"softmax(Q·Kᵀ·s)"``, is its ``token_measure``, :func:`token_measure`). Read them with
:func:`is_attention`, :func:`layout_dims`, :func:`batch_axis`, :func:`part_kind`,
:func:`current_weights`, :func:`sample_weights`, :func:`token_weights` and
:func:`attention_blocks`; never parse ``weights_layout`` elsewhere.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from snnstudio.errors import ModelError

ATTENTION_KINDS = ("none", "ta", "ca", "sa", "tca", "tsa", "csa", "tcsa")


@dataclass(frozen=True)
class PartSpec:
    """One part of an attention block: its child-module name in the block (``key``), what it
    weighs (one weight per ``per``) and the layout of its ``last_weights``."""

    key: str
    name: str
    per: str
    layout: str


#: the parts of a block, in the order they are applied
PARTS: tuple[PartSpec, ...] = (
    PartSpec("ta", "temporal", "time step", "T,B"),
    PartSpec("ca", "channel", "channel", "B,C"),
    PartSpec("sa", "spatial", "pixel", "B,H,W"),
    PartSpec("tk", "token", "token pair", "B,N,N"),
)
PART_KEYS: tuple[str, ...] = tuple(p.key for p in PARTS)
PART_LAYOUTS: dict[str, str] = {p.key: p.layout for p in PARTS}
#: attributes every attention module (a part, or a lone module such as Spikformer's SSA) has
CONTRACT_ATTRS: tuple[str, ...] = ("last_weights", "weights_layout", "enabled")


def is_attention(module: object) -> bool:
    """Whether ``module`` keeps attention weights for the probes (has :data:`CONTRACT_ATTRS`).
    A :class:`MultiDimAttention` block is not one itself; its parts are."""
    return all(hasattr(module, a) for a in CONTRACT_ATTRS)


def layout_dims(layout: object) -> tuple[str, ...]:
    """The axis names of a ``weights_layout`` (``"T, b"`` → ``("T", "B")``); ``()`` when empty."""
    return _dims(str(layout or ""))


@functools.lru_cache(maxsize=256)
def _dims(layout: str) -> tuple[str, ...]:  # parsed once per layout (the studio reads them 50 times a second)
    return tuple(d for d in layout.upper().replace(" ", "").split(",") if d)


def batch_axis(layout: object, ndim: int) -> int | None:
    """The batch axis (``"B"``) of weights of ``ndim`` dims laid out as ``layout``, or ``None``
    (no ``B``, or the weights do not have the layout's number of dims)."""
    dims = layout_dims(layout)
    return dims.index("B") if "B" in dims and len(dims) == ndim else None


def _is_token_pairs(dims: tuple[str, ...]) -> bool:
    """A layout ending in two token axes (``…,N,N`` or ``…,TN,TN``)."""
    return len(dims) >= 2 and dims[-1] == dims[-2] and dims[-1] in ("N", "TN")


def part_kind(module: object, key: str | None = None) -> str:
    """``"ta"``, ``"ca"``, ``"sa"`` or ``"tk"``: from the part's name in its block when it is one,
    else from its layout (ending in two token axes: token; an ``H``/``W`` axis: spatial; a ``C``
    axis: channel; otherwise temporal)."""
    k = (key or "").lower()
    if k in PART_KEYS:
        return k
    dims = layout_dims(getattr(module, "weights_layout", ""))
    if _is_token_pairs(dims):
        return "tk"
    if "H" in dims or "W" in dims:
        return "sa"
    if "C" in dims:
        return "ca"
    return "ta"


def current_weights(module: object):
    """The module's ``last_weights`` while it is switched on, else ``None`` (no stale weights)."""
    if not getattr(module, "enabled", True):
        return None
    return getattr(module, "last_weights", None)


def sample_weights(module: object, b: int = 0, as_numpy: bool = False):
    """:func:`current_weights` of batch element ``b`` (clamped to the batch), the batch axis
    removed: a tensor stays a tensor (unless ``as_numpy``: then a float32 array, possibly a view of
    the module's weights: copy it before keeping it), anything else becomes a float32 numpy array; ``None`` when the module is off
    or has no weights. E.g. TA ``[T, B]`` → ``[T]``, SA ``[B, H, W]`` → ``[H, W]``."""
    w = current_weights(module)
    if w is None:
        return None
    if isinstance(w, torch.Tensor):
        w = w.detach()
        if as_numpy:  # numpy's indexing costs a tenth of torch's dispatch at these sizes
            w = w.numpy() if w.dtype is torch.float32 and w.is_cpu else w.float().cpu().numpy()
    else:
        w = np.asarray(w, np.float32)
    axis = batch_axis(getattr(module, "weights_layout", ""), w.ndim)
    if axis is None:
        return w
    i = min(b, w.shape[axis] - 1)
    if isinstance(w, torch.Tensor):
        return w.select(axis, i)
    return w[(slice(None),) * axis + (i,)] if as_numpy else np.take(w, i, axis=axis)  # as_numpy: a view


def token_measure(module: object) -> str:
    """What a token-attention module's map holds (its ``token_measure``; default ``"Q·Kᵀ"``)."""
    return str(getattr(module, "token_measure", "") or "Q·Kᵀ")


def token_weights(module: object, b: int = 0) -> np.ndarray | None:
    """A token-attention module's map of batch element ``b`` (clamped) as the part ``tk`` reads it:
    ``[N, N]`` float32, the mean over heads and time steps of ``Q·Kᵀ`` (row: query token, column:
    key token). ``"T,B,heads,N,N"`` (also one step, ``[B, heads, N, N]``): the mean over T and
    heads; ``"B,heads,TN,TN"``: the mean over heads of the T same-step ``N × N`` blocks (needs
    ``token_count`` = N). ``None`` when off, without weights, or not token attention."""
    w = current_weights(module)
    dims = layout_dims(getattr(module, "weights_layout", ""))
    if w is None or not _is_token_pairs(dims):
        return None
    a = w.detach().float().cpu().numpy() if isinstance(w, torch.Tensor) else np.asarray(w, np.float32)
    if a.ndim == len(dims) - 1 and dims[0] == "T":  # one step: no T axis
        dims = dims[1:]
    if a.ndim != len(dims) or "B" not in dims:
        return None
    axis = dims.index("B")
    a = np.take(a, min(b, a.shape[axis] - 1), axis=axis)
    a = a.reshape(-1, *a.shape[-2:]).mean(0)  # heads (and T) averaged: [N, N] or [TN, TN]
    if dims[-1] == "TN":
        n = int(getattr(module, "token_count", 0) or 0)
        if n < 1 or a.shape[0] % n:
            return None
        t = a.shape[0] // n
        a = a.reshape(t, n, t, n)[np.arange(t), :, np.arange(t), :].mean(0)  # same-step blocks
    return np.ascontiguousarray(a, dtype=np.float32)


def attention_blocks(model: nn.Module) -> list[tuple[str, nn.Module, dict[str, nn.Module]]]:
    """The attention of ``model`` as ``(name, block, {"ta"|"ca"|"sa"|"tk": part})``, in module order:
    every module with ``enabled`` and parts named in :data:`PART_KEYS` (MA-SNN's
    :class:`MultiDimAttention`, its fused copy), then every other module keeping ``last_weights``
    alone, keyed by :func:`part_kind`."""
    blocks, taken = [], set()
    for name, m in model.named_modules():
        parts = {k: getattr(m, k) for k in PART_KEYS
                 if isinstance(getattr(m, k, None), nn.Module) and hasattr(getattr(m, k), "last_weights")}
        if parts and hasattr(m, "enabled"):
            blocks.append((name, m, parts))
            taken.update(id(p) for p in parts.values())
    for name, m in model.named_modules():
        if hasattr(m, "last_weights") and id(m) not in taken:
            blocks.append((name, m, {part_kind(m): m}))
    return blocks


class _Part(nn.Module):
    looks_across_time = True
    switch_kind = "attention_part"
    weights_layout = ""

    def __init__(self, sample_ndim: int = 3):
        super().__init__()
        self.enabled = True
        self.sample_ndim = sample_ndim
        self.last_weights: torch.Tensor | None = None

    def _as_window(self, x: torch.Tensor) -> tuple[torch.Tensor, bool]:
        if x.ndim == self.sample_ndim + 2:
            return x, False
        if x.ndim == self.sample_ndim + 1:
            return x.unsqueeze(0), True
        raise ModelError(
            f"{type(self).__name__} expects [T, B, ...] with {self.sample_ndim} sample dims, got {tuple(x.shape)}"
        )

    def weights(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            self.last_weights = None  # no stale weights for the probes
            return x
        xw, single = self._as_window(x)
        y = xw * self.weights(xw)
        return y[0] if single else y

    def extra_repr(self) -> str:
        return f"enabled={self.enabled}"


class TemporalAttention(_Part):
    """TA: a weight per time step from the (avg, max)-pooled current, shared MLP T → T/r → T."""

    weights_layout = PART_LAYOUTS["ta"]

    def __init__(self, T: int, ratio: int = 5, sample_ndim: int = 3):
        super().__init__(sample_ndim)
        if T < 1:
            raise ModelError(f"temporal attention needs T ≥ 1, got {T}")
        self.T = T
        hidden = max(1, T // ratio)
        self.fc1 = nn.Linear(T, hidden, bias=False)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(hidden, T, bias=False)

    def mlp(self, z: torch.Tensor) -> torch.Tensor:
        """The shared MLP ``T → T/r → T`` (ReLU between) on the last axis."""
        return self.fc2(self.relu(self.fc1(z)))

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """Sigmoid weights ``[T, B]`` of a window ``[T, B, ...]`` (kept in ``last_weights``), shaped to broadcast
        over ``x``."""
        if x.shape[0] != self.T:
            raise ModelError(
                f"temporal attention is built for T = {self.T} steps, got a window of {x.shape[0]}"
            )
        flat = x.flatten(2)  # [T, B, N]
        pooled = torch.stack([flat.mean(2), flat.amax(2)]).transpose(1, 2)  # [2 (avg, max), B, T]
        w = torch.sigmoid(self.mlp(pooled).sum(0)).transpose(0, 1)  # one shared-MLP call for both: [T, B]
        self.last_weights = w.detach()
        return w.reshape(*w.shape, *([1] * (x.ndim - 2)))


class ChannelAttention(_Part):
    """CA: a weight per channel from the current pooled over (T, H, W), shared MLP C → C/r → C."""

    weights_layout = PART_LAYOUTS["ca"]

    def __init__(self, channels: int, ratio: int = 8, sample_ndim: int = 3):
        super().__init__(sample_ndim)
        hidden = max(1, channels // ratio)
        self.channels = channels
        self.fc1 = nn.Linear(channels, hidden, bias=False)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(hidden, channels, bias=False)

    def mlp(self, z: torch.Tensor) -> torch.Tensor:
        """The shared MLP ``C → C/r → C`` (ReLU between) on the last axis."""
        return self.fc2(self.relu(self.fc1(z)))

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """Sigmoid weights ``[B, C]`` of a window ``[T, B, C, ...]`` (kept in ``last_weights``), shaped to
        broadcast over ``x``."""
        if x.shape[2] != self.channels:
            raise ModelError(f"channel attention is built for {self.channels} channels, got {x.shape[2]}")
        dims = (0, *range(3, x.ndim))  # pool over T and the positions, no copy of x
        w = torch.sigmoid(self.mlp(torch.stack([x.mean(dims), x.amax(dims)])).sum(0))  # [B, C]
        self.last_weights = w.detach()
        return w.reshape(1, *w.shape, *([1] * (x.ndim - 3)))


class SpatialAttention(_Part):
    """SA: a weight per pixel from mean and max over T·C, Conv2d(2 → 1, k×k, no bias)."""

    weights_layout = PART_LAYOUTS["sa"]

    def __init__(self, kernel_size: int = 3):
        super().__init__(sample_ndim=3)
        if kernel_size % 2 != 1:
            raise ModelError(f"spatial attention kernel must be odd, got {kernel_size}")
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """Sigmoid weights ``[B, H, W]`` of a window ``[T, B, C, H, W]`` (kept in ``last_weights``), shaped to
        broadcast over ``x``."""
        pooled = torch.stack([x.mean((0, 2)), x.amax((0, 2))], dim=1)  # over T and C, no copy of x: [B, 2, H, W]
        w = torch.sigmoid(self.conv(pooled))[:, 0]  # [B, H, W]
        self.last_weights = w.detach()
        return w[None, :, None]


class MultiDimAttention(nn.Module):
    """A combination of TA, CA, SA (``kinds`` ⊆ "tcs") applied in that order, then ReLU.

    The parts are child modules ``ta``, ``ca``, ``sa`` (only those built); each can be switched
    off alone. With ``enabled=False``, or every part off, the input passes through unchanged
    (no ReLU either), so "all off" is exactly the model without attention.
    """

    looks_across_time = True
    switch_kind = "attention"

    def __init__(
        self,
        kinds: str,
        T: int | None = None,
        channels: int | None = None,
        t_ratio: int = 5,
        c_ratio: int = 8,
        sa_kernel: int = 3,
        sample_ndim: int = 3,
    ):
        super().__init__()
        kinds = kinds.lower()
        if not kinds or set(kinds) - set("tcs") or len(set(kinds)) != len(kinds):
            raise ModelError(f"attention kinds must be letters of 'tcs', got {kinds!r}")
        if sample_ndim != 3 and set(kinds) - {"t"}:
            raise ModelError("channel and spatial attention need [T, B, C, H, W] input; FC layers take TA only")
        self.kinds = "".join(k for k in "tcs" if k in kinds)
        self.enabled = True
        if "t" in self.kinds:
            if T is None:
                raise ModelError("temporal attention needs T")
            self.ta = TemporalAttention(T, t_ratio, sample_ndim)
        if "c" in self.kinds:
            if channels is None:
                raise ModelError("channel attention needs the channel count")
            self.ca = ChannelAttention(channels, c_ratio, sample_ndim)
        if "s" in self.kinds:
            self.sa = SpatialAttention(sa_kernel)
        self.relu = nn.ReLU()

    def parts(self) -> list[_Part]:
        """The parts built, in the order they are applied."""
        return [getattr(self, n) for n in PART_KEYS if hasattr(self, n)]

    def active_parts(self) -> list[_Part]:
        """The parts switched on (none while the block is off); the others' weights are cleared
        (no stale weights for the probes)."""
        active = [p for p in self.parts() if p.enabled] if self.enabled else []
        for p in self.parts():
            if p not in active:
                p.last_weights = None
        return active

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The switched-on parts in order (TA, CA, SA), each rescaling the running current, then ReLU; all off:
        ``x`` unchanged. Same layout in and out."""
        active = self.active_parts()
        if not active:
            return x
        for part in active:
            x = part(x)
        return self.relu(x)

    def extra_repr(self) -> str:
        return f"kinds={self.kinds!r}, enabled={self.enabled}"


def build_attention(kind: str, T: int | None = None, channels: int | None = None, **kw) -> MultiDimAttention | None:
    """``"none"`` → ``None``; ``"ta"`` … ``"tcsa"`` → :class:`MultiDimAttention`."""
    kind = (kind or "none").lower()
    if kind not in ATTENTION_KINDS:
        raise ModelError(f"unknown attention {kind!r}; known: {', '.join(ATTENTION_KINDS)}")
    if kind == "none":
        return None
    return MultiDimAttention(kind[:-1], T=T, channels=channels, **kw)
