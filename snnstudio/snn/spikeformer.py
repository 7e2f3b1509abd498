"""Spikeformer (Li, Lei & Yang 2022, arXiv 2211.10686): a Convolutional Tokenizer (CT) and a
Transformer encoder with spatio-temporal attention (STA).

**A reading of the paper**: its code was never released, so this follows the paper's text.

* :class:`ConvTokenizer` (CT) — the paper's answer to the Transformer's "data hunger" and
  unstable training: instead of cutting patches, ``ct_layers`` stages of
  Conv3×3 → BN → LIF → MaxPool(3, 2, 1) (a spiking version of the compact-transformer
  tokenizer; channels ramp up to ``dim``) turn ``[T, B, C, H, W]`` into tokens ``[T, B, D, N]``,
  plus an optional learnable position embedding ``[D, N]``.
* :class:`STA` — spatio-temporal attention: Q, K, V = LIF(BN(Conv1d 1×1)) of the tokens, and
  scaled dot-product attention with softmax taken jointly over **all T·N tokens of the
  window** (``mode="st"``), so each token attends to every position at every time step. The
  paper's ablation compares it with spatial-only attention (within one step, ``mode="s"``) and
  temporal-only attention (one position across steps, ``mode="t"``); both are offered. The
  attended values go through Conv1d → BN → LIF. ``last_weights`` keeps the attention map.
* :class:`SpikeformerBlock` (``x = x + STA(x); x = x + MLP(x)``, the MLP as in Spikformer) and
  :class:`Spikeformer` (head: mean over tokens, Linear, mean over T).

STA in modes "st" and "t" looks across time (``looks_across_time``): streaming re-runs a
window of T steps. A single step ``[B, C, H, W]`` is treated as a window of one step.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from snnstudio.errors import ModelError
from snnstudio.snn.layers import NeuronSpec, SNNModel, neuron_spec, seq
from snnstudio.snn.tokens import SpikformerMLP, TokenBlock, conv1d_bn

STA_MODES = ("st", "s", "t")


class ConvTokenizer(nn.Module):
    """CT: ``layers`` × (Conv3×3 → BN → LIF → MaxPool(3, 2, 1)), then flatten to tokens."""

    def __init__(
        self,
        in_channels: int,
        dim: int,
        img_size: tuple[int, int],
        layers: int = 2,
        neuron: NeuronSpec | str | None = None,
        pos_embedding: bool = True,
    ):
        super().__init__()
        if layers < 1:
            raise ModelError(f"the convolutional tokenizer needs ≥ 1 layer, got {layers}")
        spec = neuron_spec(neuron)
        chans = [in_channels] + [max(1, dim // 2 ** (layers - 1 - i)) for i in range(layers)]
        self.convs = nn.ModuleList(seq(nn.Conv2d(chans[i], chans[i + 1], 3, padding=1, bias=False), 3) for i in range(layers))
        self.bns = nn.ModuleList(seq(nn.BatchNorm2d(chans[i + 1]), 3) for i in range(layers))
        self.lifs = nn.ModuleList(spec.build() for _ in range(layers))
        self.pools = nn.ModuleList(seq(nn.MaxPool2d(3, 2, 1), 3) for _ in range(layers))
        h, w = img_size
        for _ in range(layers):
            h, w = (h - 1) // 2 + 1, (w - 1) // 2 + 1
        self.grid = (h, w)
        self.pos = nn.Parameter(torch.zeros(dim, h * w)) if pos_embedding else None
        if self.pos is not None:
            nn.init.trunc_normal_(self.pos, std=0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``[T, B, C, H, W]`` → tokens ``[T, B, D, N]`` (plus the position embedding when there is one)."""
        for conv, bn, lif, pool in zip(self.convs, self.bns, self.lifs, self.pools):
            x = pool(lif(bn(conv(x))))
        x = x.flatten(-2)
        return x + self.pos if self.pos is not None else x


class STA(nn.Module):
    """Spatio-temporal attention on tokens ``[T, B, D, N]``; ``enabled=False`` returns zeros."""

    switch_kind = "attention"
    token_measure = "softmax(Q·Kᵀ·s)"

    def __init__(self, dim: int, heads: int = 8, mode: str = "st", neuron: NeuronSpec | str | None = None):
        super().__init__()
        if mode not in STA_MODES:
            raise ModelError(f"unknown STA mode {mode!r}; known: {', '.join(STA_MODES)}")
        if dim % heads:
            raise ModelError(f"STA: dim {dim} is not divisible by {heads} heads")
        spec = neuron_spec(neuron)
        self.dim, self.heads, self.mode = dim, heads, mode
        self.scale = 1.0 / math.sqrt(dim // heads)
        self.q, self.k, self.v = conv1d_bn(dim, dim), conv1d_bn(dim, dim), conv1d_bn(dim, dim)
        self.q_lif, self.k_lif, self.v_lif = spec.build(), spec.build(), spec.build()
        self.proj = conv1d_bn(dim, dim, bias=True)
        self.proj_lif = spec.build()
        self.enabled = True
        self.last_weights: torch.Tensor | None = None
        self.weights_layout = {"st": "B,heads,TN,TN", "s": "T,B,heads,N,N", "t": "B,heads,N,T,T"}[mode]
        #: N, the tokens per step (set by a forward): splits the ``st`` map's ``TN`` axes for the probes
        self.token_count = 0

    @property
    def looks_across_time(self) -> bool:
        """True in modes ``st`` and ``t`` (a stream re-runs a window of T steps), False in ``s``."""
        return self.mode != "s"

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Softmax attention of spike tensors ``[T, B, D, N]`` in this module's mode."""
        t, b, d, n = q.shape
        h, dh = self.heads, d // self.heads
        self.token_count = n

        def split(z):  # -> [T, B, h, N, dh]
            return z.reshape(t, b, h, dh, n).transpose(-1, -2)

        q, k, v = split(q), split(k), split(v)
        if self.mode == "st":  # [B, h, T·N, dh]
            q, k, v = (z.permute(1, 2, 0, 3, 4).reshape(b, h, t * n, dh) for z in (q, k, v))
        elif self.mode == "t":  # [B, h, N, T, dh]
            q, k, v = (z.permute(1, 2, 3, 0, 4) for z in (q, k, v))
        attn = torch.softmax((q @ k.transpose(-1, -2)) * self.scale, dim=-1)
        self.last_weights = attn.detach()
        y = attn @ v
        if self.mode == "st":
            y = y.reshape(b, h, t, n, dh).permute(2, 0, 1, 3, 4)
        elif self.mode == "t":
            y = y.permute(3, 0, 1, 2, 4)
        return y.transpose(-1, -2).reshape(t, b, d, n)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Tokens ``[T, B, D, N]`` (or one step ``[B, D, N]``, a window of 1) → spikes of the same shape. Off:
        zeros."""
        if not self.enabled:
            self.last_weights = None
            return torch.zeros_like(x)
        single = x.ndim == 3
        if single:
            x = x.unsqueeze(0)
        q = self.q_lif(self.q["bn"](self.q["conv"](x)))
        k = self.k_lif(self.k["bn"](self.k["conv"](x)))
        v = self.v_lif(self.v["bn"](self.v["conv"](x)))
        y = self.attend(q, k, v)
        y = self.proj_lif(self.proj["bn"](self.proj["conv"](y)))
        return y[0] if single else y

    def extra_repr(self) -> str:
        return f"dim={self.dim}, heads={self.heads}, mode={self.mode!r}, enabled={self.enabled}"


class SpikeformerBlock(TokenBlock):
    """``x = x + STA(x); x = x + MLP(x)``."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0, mode: str = "st", neuron=None):
        super().__init__()
        self.attn = STA(dim, heads, mode, neuron)
        self.mlp = SpikformerMLP(dim, int(dim * mlp_ratio), neuron)


class Spikeformer(SNNModel):
    """CT → ``depth`` STA blocks → mean over tokens → Linear → mean over T."""

    def __init__(
        self,
        num_classes: int = 11,
        input_shape: tuple[int, int, int] = (2, 64, 64),
        T: int = 8,
        dim: int = 128,
        depth: int = 2,
        heads: int = 8,
        ct_layers: int = 2,
        sta_mode: str = "st",
        mlp_ratio: float = 4.0,
        pos_embedding: bool = True,
        neuron: NeuronSpec | str | None = None,
    ):
        super().__init__()
        spec = neuron_spec(neuron)
        self.input_shape = tuple(input_shape)
        self.num_classes, self.T = num_classes, T
        c, h, w = input_shape
        self.tokenizer = ConvTokenizer(c, dim, (h, w), ct_layers, spec, pos_embedding)
        self.blocks = nn.ModuleList(SpikeformerBlock(dim, heads, mlp_ratio, sta_mode, spec) for _ in range(depth))
        self.head = seq(nn.Linear(dim, num_classes), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``[T, B, C, H, W]`` → class scores ``[B, classes]`` (mean over tokens, then over T); one step →
        ``[B, classes]``."""
        multi = self.check_input(x)
        x = self.tokenizer(x)
        for block in self.blocks:
            x = block(x)
        out = self.head(x.mean(-1))
        return out.mean(0) if multi else out
