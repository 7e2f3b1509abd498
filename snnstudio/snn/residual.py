"""Residual spiking blocks and a small residual classifier for event frames.

All blocks take ``[T, B, C, H, W]`` (or one step ``[B, C, H, W]``); "SN" is the model's
spiking neuron (any registered one). Each block's shortcut is a child ``shortcut``
(:class:`Shortcut`) that the GUI can switch off (``enabled=False`` drops the shortcut term).

* :class:`SpikingBlock` — Spiking ResNet: ``SN(conv-bn(SN(conv-bn(x))) + shortcut(x))``, the
  spike after the add.
* :class:`SEWBlock` — SEW ResNet (Fang et al. 2021): ``out = SN(conv-bn(SN(conv-bn(x))))``; the
  shortcut is ``x`` or ``SN(bn(conv1×1(x)))``; connect ADD ``out + id``, AND ``out·id``, IAND
  ``id·(1 − out)`` (:func:`sew_connect`). The last BN is zero-initialised (for AND its bias
  is 1), so every block starts as the identity.
* :class:`MSBlock` — MS-ResNet (Hu et al.): the residual branch ``SN → conv → BN → SN → conv →
  BN`` is added to the shortcut on real values (membrane shortcut); the shortcut is ``x`` or
  ``bn(conv1×1(x))``. MS-ResNet's own LIF (θ 0.5, decay 0.25, detached hard reset) comes
  from the preset's neuron parameters. Att-Res-SNN puts attention (e.g. CSA) in the residual
  branch before the add — pass ``attention``.
* :class:`ORSynABlock` — OR residual with SynA (Shan et al.), used at stage transitions:
  ``out = a + b − a·b`` (:func:`or_residual`, logical OR on spikes). The main branch ``a``
  gets SynA's temporal-attention gate (sigmoid weights, then ReLU) before its SN; the
  downsample branch ``b = SN(bn(conv1×1(x)) · m)`` gets a spiking gate: a binary mask ``m``
  over time steps fired by an SN from a temporal descriptor ("natural pruning"). Each branch
  is computed once — the released code evaluates each branch twice, a bug not reproduced.
  The SynA gates are read from the paper's description (a reading). Blocks inside a stage
  (:class:`PlainBlock`) have no shortcut.
* :class:`ResidualNet` — stem Conv3×3-BN(-SN) → stages (stride 2 at each new stage) → global
  average pool → Linear → mean over T.
"""

from __future__ import annotations

import torch
from torch import nn

from snnstudio.errors import ModelError
from snnstudio.snn.attention import build_attention
from snnstudio.snn.layers import NeuronSpec, SNNModel, neuron_spec, seq

SEW_CONNECTS = ("add", "and", "iand")


def sew_connect(out: torch.Tensor, identity: torch.Tensor, kind: str) -> torch.Tensor:
    """SEW element-wise connect: ADD ``out + id``, AND ``out·id``, IAND ``id·(1 − out)``."""
    if kind == "add":
        return out + identity
    if kind == "and":
        return out * identity
    if kind == "iand":
        return identity * (1.0 - out)
    raise ModelError(f"unknown SEW connect {kind!r}; known: {', '.join(SEW_CONNECTS)}")


def or_residual(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """OR of two spike tensors, differentiably: ``a + b − a·b``."""
    return a + b - a * b


class ConvBN(nn.Module):
    """Conv2d (no bias) → BatchNorm2d on ``[T, B, C, H, W]`` or one step."""

    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1):
        super().__init__()
        self.conv = seq(nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False), 3)
        self.bn = seq(nn.BatchNorm2d(cout), 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[T, B, C, H, W]`` (or one step) → ``[T, B, C', H', W']``."""
        return self.bn(self.conv(x))


class Shortcut(nn.Module):
    """A block's shortcut: identity, or a 1×1 conv-BN (optionally followed by an SN)."""

    switch_kind = "shortcut"

    def __init__(self, cin: int, cout: int, stride: int, neuron: NeuronSpec | None = None):
        super().__init__()
        self.enabled = True
        self.down = ConvBN(cin, cout, 1, stride) if (stride != 1 or cin != cout) else None
        self.sn = neuron.build() if (self.down is not None and neuron is not None) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Identity, or the 1×1 conv-BN (and its SN) when the size or stride changes."""
        if self.down is None:
            return x
        y = self.down(x)
        return self.sn(y) if self.sn is not None else y

    def extra_repr(self) -> str:
        return f"enabled={self.enabled}"


class SpikingBlock(nn.Module):
    """Spiking ResNet basic block: ``SN(conv-bn(SN(conv-bn(x))) + shortcut(x))``."""

    def __init__(self, cin: int, cout: int, stride: int = 1, neuron: NeuronSpec | str | None = None, attention: nn.Module | None = None):
        super().__init__()
        neuron = neuron_spec(neuron)
        self.cb1, self.sn1 = ConvBN(cin, cout, 3, stride), neuron.build()
        self.cb2 = ConvBN(cout, cout)
        self.attention = attention
        self.shortcut = Shortcut(cin, cout, stride)
        self.sn2 = neuron.build()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Spikes ``[T, B, C', H', W']`` of input ``[T, B, C, H, W]``:
        ``SN(conv-bn(SN(conv-bn(x))) + shortcut(x))``."""
        out = self.cb2(self.sn1(self.cb1(x)))
        if self.attention is not None:
            out = self.attention(out)
        if self.shortcut.enabled:
            out = out + self.shortcut(x)
        return self.sn2(out)


class SEWBlock(nn.Module):
    """SEW ResNet basic block with connect ``add``, ``and`` or ``iand``."""

    def __init__(
        self,
        cin: int,
        cout: int,
        stride: int = 1,
        neuron: NeuronSpec | str | None = None,
        connect: str = "add",
        attention: nn.Module | None = None,
    ):
        super().__init__()
        neuron = neuron_spec(neuron)
        if connect not in SEW_CONNECTS:
            raise ModelError(f"unknown SEW connect {connect!r}; known: {', '.join(SEW_CONNECTS)}")
        self.connect = connect
        self.cb1, self.sn1 = ConvBN(cin, cout, 3, stride), neuron.build()
        self.cb2 = ConvBN(cout, cout)
        self.attention = attention
        self.sn2 = neuron.build()
        self.shortcut = Shortcut(cin, cout, stride, neuron)
        nn.init.zeros_(self.cb2.bn.layer.weight)
        if connect == "and":
            nn.init.ones_(self.cb2.bn.layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``g(SN(conv-bn(SN(conv-bn(x)))), shortcut(x))`` with ``g`` the connect function (``add``: spike
        counts, ``and``/``iand``: spikes)."""
        out = self.cb2(self.sn1(self.cb1(x)))
        if self.attention is not None:
            out = self.attention(out)
        out = self.sn2(out)
        if not self.shortcut.enabled:
            return out
        return sew_connect(out, self.shortcut(x), self.connect)

    def extra_repr(self) -> str:
        return f"connect={self.connect!r}"


class MSBlock(nn.Module):
    """MS-ResNet block: ``shortcut(x) + BN(conv(SN(BN(conv(SN(x))))))`` on membrane values."""

    def __init__(self, cin: int, cout: int, stride: int = 1, neuron: NeuronSpec | str | None = None, attention: nn.Module | None = None):
        super().__init__()
        neuron = neuron_spec(neuron)
        self.sn1, self.cb1 = neuron.build(), ConvBN(cin, cout, 3, stride)
        self.sn2, self.cb2 = neuron.build(), ConvBN(cout, cout)
        self.attention = attention
        self.shortcut = Shortcut(cin, cout, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Membrane-shortcut: ``shortcut(x) + conv-bn(SN(conv-bn(SN(x))))`` (real values, no SN after the sum)."""
        res = self.cb2(self.sn2(self.cb1(self.sn1(x))))
        if self.attention is not None:
            res = self.attention(res)
        return res + self.shortcut(x) if self.shortcut.enabled else res


class SynAGate(nn.Module):
    """SynA's temporal gates on ``[T, B, C, H, W]`` (a reading of Shan et al.).

    ``spiking=False`` (main branch): TA weights ``sigmoid(MLP(avg) + MLP(max))`` per step (the
    MLP T → T/r → T as in MA-SNN's TA), the current rescaled by them, then ReLU.
    ``spiking=True`` (downsample branch): the same temporal descriptor drives an SN whose binary
    output masks whole time steps. ``last_weights`` is ``[T, B]`` (weights, or the 0/1 mask).
    ``enabled=False`` passes the input through unchanged.
    """

    looks_across_time = True
    switch_kind = "attention"
    weights_layout = "T,B"

    def __init__(self, T: int, neuron: NeuronSpec | None = None, ratio: int = 5):
        super().__init__()
        self.T = T
        hidden = max(1, T // ratio)
        self.fc1 = nn.Linear(T, hidden, bias=False)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(hidden, T, bias=False)
        self.sn = neuron.build() if neuron is not None else None
        self.enabled = True
        self.last_weights: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``[T, B, C, H, W]`` (or one step, T = 1) gated per time step: ``relu(x·σ(z))``, or ``x·SN(z)``
        (a 0/1 mask) with a neuron; ``last_weights`` ``[T, B]``."""
        if not self.enabled:
            self.last_weights = None
            return x
        xw = x if x.ndim == 5 else x.unsqueeze(0)
        if xw.shape[0] != self.T:
            raise ModelError(f"SynA gate is built for T = {self.T} steps, got a window of {xw.shape[0]}")
        flat = xw.flatten(2)
        avg, mx = flat.mean(2).transpose(0, 1), flat.amax(2).transpose(0, 1)  # [B, T]
        z = (self.fc2(self.relu(self.fc1(avg))) + self.fc2(self.relu(self.fc1(mx)))).transpose(0, 1)  # [T, B]
        if self.sn is None:
            w = torch.sigmoid(z)
            y = torch.relu(xw * w[..., None, None, None])
        else:
            w = self.sn(z)  # multi-step over T: a binary mask
            y = xw * w[..., None, None, None]
        self.last_weights = w.detach()
        return y if x.ndim == 5 else y[0]

    def extra_repr(self) -> str:
        return f"spiking={self.sn is not None}, enabled={self.enabled}"


class ORSynABlock(nn.Module):
    """Stage transition of the OR-residual SynA-ResNet: ``a OR b`` (each branch computed once)."""

    def __init__(self, cin: int, cout: int, stride: int, T: int, neuron: NeuronSpec | str | None = None, t_ratio: int = 5):
        super().__init__()
        neuron = neuron_spec(neuron)
        self.cb1, self.sn1 = ConvBN(cin, cout, 3, stride), neuron.build()
        self.cb2 = ConvBN(cout, cout)
        self.gate = SynAGate(T, None, t_ratio)
        self.sn2 = neuron.build()
        self.shortcut = Shortcut(cin, cout, stride)  # conv1×1-BN; its gate and SN follow
        self.down_gate = SynAGate(T, neuron, t_ratio)
        self.down_sn = neuron.build()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``a OR b``: the gated residual branch's spikes OR the gated shortcut's (the branch alone when the
        shortcut is off)."""
        a = self.sn2(self.gate(self.cb2(self.sn1(self.cb1(x)))))
        if not self.shortcut.enabled:
            return a
        b = self.down_sn(self.down_gate(self.shortcut(x)))
        return or_residual(a, b)


class PlainBlock(nn.Module):
    """A block without shortcut: ``SN(conv-bn(SN(conv-bn(x))))`` (inside OR-residual stages)."""

    def __init__(self, cin: int, cout: int, stride: int = 1, neuron: NeuronSpec | str | None = None):
        super().__init__()
        neuron = neuron_spec(neuron)
        self.cb1, self.sn1 = ConvBN(cin, cout, 3, stride), neuron.build()
        self.cb2, self.sn2 = ConvBN(cout, cout), neuron.build()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``SN(conv-bn(SN(conv-bn(x))))``."""
        return self.sn2(self.cb2(self.sn1(self.cb1(x))))


RESIDUAL_KINDS = ("spiking", "sew_add", "sew_and", "sew_iand", "ms", "or_syna")


class ResidualNet(SNNModel):
    """A small residual SNN: stem → ``len(widths)`` stages of ``blocks`` blocks → pool → Linear."""

    def __init__(
        self,
        kind: str = "sew_add",
        num_classes: int = 11,
        input_shape: tuple[int, int, int] = (2, 32, 32),
        T: int = 16,
        widths: tuple[int, ...] = (32, 64, 128),
        blocks: int = 1,
        attention: str = "none",
        neuron: NeuronSpec | str | None = None,
        t_ratio: int = 5,
        c_ratio: int = 8,
        sa_kernel: int = 3,
    ):
        super().__init__()
        if kind not in RESIDUAL_KINDS:
            raise ModelError(f"unknown residual kind {kind!r}; known: {', '.join(RESIDUAL_KINDS)}")
        if not widths or blocks < 1:
            raise ModelError(f"a residual net needs ≥ 1 width and ≥ 1 block per stage (got {widths}, {blocks})")
        if kind == "or_syna" and attention not in ("none", None):
            raise ModelError("or_syna has its own attention (SynA); set attention to 'none'")
        spec = neuron_spec(neuron)
        self.kind = kind
        self.input_shape = tuple(input_shape)
        self.num_classes, self.T = num_classes, T
        c = input_shape[0]
        self.stem = ConvBN(c, widths[0])
        self.stem_sn = None if kind == "ms" else spec.build()
        layers: list[nn.Module] = []
        cin = widths[0]
        for i, w in enumerate(widths):
            for j in range(blocks):
                stride = 2 if (i > 0 and j == 0) else 1
                att = build_attention(attention, T=T, channels=w, t_ratio=t_ratio, c_ratio=c_ratio, sa_kernel=sa_kernel)
                if kind == "spiking":
                    layers.append(SpikingBlock(cin, w, stride, spec, att))
                elif kind.startswith("sew_"):
                    layers.append(SEWBlock(cin, w, stride, spec, kind[4:], att))
                elif kind == "ms":
                    layers.append(MSBlock(cin, w, stride, spec, att))
                elif stride != 1 or cin != w:
                    layers.append(ORSynABlock(cin, w, stride, T, spec, t_ratio))
                else:
                    layers.append(PlainBlock(cin, w, stride, spec))
                cin = w
        self.layers = nn.Sequential(*layers)
        self.final_sn = spec.build() if kind == "ms" else None
        self.pool = seq(nn.AdaptiveAvgPool2d(1), 3)
        self.head = seq(nn.Linear(cin, num_classes), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Event counts ``[T, B, C, H, W]`` → class scores ``[B, classes]`` (averaged over T); one step
        ``[B, C, H, W]`` → ``[B, classes]``."""
        multi = self.check_input(x)
        x = self.stem(x)
        if self.stem_sn is not None:
            x = self.stem_sn(x)
        x = self.layers(x)
        if self.final_sn is not None:
            x = self.final_sn(x)
        x = self.pool(x).flatten(-3)
        out = self.head(x)
        return out.mean(0) if multi else out
