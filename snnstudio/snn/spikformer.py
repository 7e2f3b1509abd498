"""Spikformer (Zhou et al., ICLR 2023; code ZK-Zhou/spikformer) and Spikformer V2's SCS stem.

Layouts: images ``[T, B, C, H, W]``; tokens ``[T, B, D, N]`` (channels before tokens, as in the
official code, so token mixing is ``nn.Conv1d`` with kernel 1).

* :class:`SPS` — Spiking Patch Splitting for event data: stages Conv3×3 → BN → LIF →
  MaxPool(3, 2, 1) with D/8, D/4, D/2, D channels; ``num_pools`` (default: enough to reach
  8×8 tokens from a 128×128 input, i.e. 4) says how many of the *last* stages pool, so 64×64 and
  32×32 inputs work too (the official CIFAR code pools the last two stages). Then the relative
  position branch Conv3×3 → BN → LIF whose spikes are added to the tokens.
* :class:`SCS` — Spikformer V2's Spiking Convolutional Stem. **A reading**: the V2 code is not
  released; the paper replaces SPS's max-pools by stride-2 convolutions and adds, per stage,
  MLP-like convolutions that expand then restore the channels. Here a stage is
  Conv3×3 (stride 2 where SPS would pool) → BN → LIF → Conv1×1 (C → rC) → BN → LIF →
  Conv1×1 (rC → C) → BN → LIF, followed by the same relative-position branch as SPS. It
  strides exactly where SPS pools, so both give the same token grid for an input. Zoo presets
  ``spikformer_v2`` / ``spikformer_v2_small`` (``tokenizer="scs"``, ``expand`` = r = 4).
* :class:`SSA` — Spiking Self-Attention: Q, K, V = LIF(BN(Conv1d 1×1, no bias)); per head
  ``attn = Q Kᵀ`` (no softmax), ``x = (attn V)·scale``, LIF with θ = 0.5, then Conv1d → BN → LIF.
  Keeps ``last_weights`` = ``attn`` (``[T, B, heads, N, N]``) for the probes.
* :class:`SpikformerMLP`, :class:`SpikformerBlock` (``x = x + SSA(x); x = x + MLP(x)``) and
  :class:`Spikformer` (head: mean over tokens, Linear, mean over T).

Neurons default to LIF (τ 2, θ 1, hard reset 0, ``detach_reset=True``); any registered neuron
works (role parameters it does not take are dropped). SSA mixes tokens within one time step
only, so with LIF the whole model can run single-step.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from snnstudio.errors import ModelError
from snnstudio.snn.layers import NeuronSpec, SNNModel, neuron_spec, seq
from snnstudio.snn.tokens import DETACHED_RESET, SpikformerMLP, TokenBlock, conv1d_bn

_ROLE = DETACHED_RESET  # Spikformer's LIF: detached reset


def _conv_bn_lif(cin: int, cout: int, neuron: NeuronSpec, k: int = 3, stride: int = 1) -> nn.ModuleDict:
    return nn.ModuleDict(
        {
            "conv": seq(nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False), 3),
            "bn": seq(nn.BatchNorm2d(cout), 3),
            "lif": neuron.build(**_ROLE),
        }
    )


def _run(stage: nn.ModuleDict, x: torch.Tensor) -> torch.Tensor:
    return stage["lif"](stage["bn"](stage["conv"](x)))


def _default_pools(h: int, w: int, stages: int = 4, tokens_side: int = 8) -> int:
    side = min(h, w)
    n = 0
    while n < stages and side // 2 >= tokens_side and side % 2 == 0:
        side //= 2
        n += 1
    return n


def _stage_plan(name: str, in_channels: int, dim: int, h: int, w: int, num_pools: int | None) -> tuple[int, list[int]]:
    """The 4-stage tokenizers' plan: how many stages halve the image, and the channels
    ``[in, dim/8, dim/4, dim/2, dim]`` (clear errors for a bad ``dim`` or ``num_pools``)."""
    if dim % 8:
        raise ModelError(f"{name} needs an embedding dim divisible by 8, got {dim}")
    pools = _default_pools(h, w) if num_pools is None else int(num_pools)
    if not 0 <= pools <= 4:
        raise ModelError(f"{name} has 4 stages; num_pools must be 0…4, got {num_pools}")
    return pools, [in_channels, dim // 8, dim // 4, dim // 2, dim]


class SPS(nn.Module):
    """Spiking Patch Splitting: ``[T, B, C, H, W]`` → tokens ``[T, B, D, N]``."""

    def __init__(
        self,
        in_channels: int = 2,
        dim: int = 256,
        img_size: tuple[int, int] = (128, 128),
        neuron: NeuronSpec | str | None = None,
        num_pools: int | None = None,
    ):
        super().__init__()
        spec = neuron_spec(neuron)
        h, w = img_size
        self.num_pools, chans = _stage_plan("SPS", in_channels, dim, h, w, num_pools)
        self.stages = nn.ModuleList(_conv_bn_lif(chans[i], chans[i + 1], spec) for i in range(4))
        self.pools = nn.ModuleList(
            seq(nn.MaxPool2d(3, 2, 1), 3) if i >= 4 - self.num_pools else nn.Identity() for i in range(4)
        )
        self.rpe = _conv_bn_lif(dim, dim, spec)
        self.grid = (math.ceil(h / 2**self.num_pools), math.ceil(w / 2**self.num_pools))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``[T, B, C, H, W]`` → tokens ``[T, B, D, N]`` (or one step ``[B, C, H, W]`` → ``[B, D, N]``)."""
        for stage, pool in zip(self.stages, self.pools):
            x = pool(_run(stage, x))
        x = x + _run(self.rpe, x)
        return x.flatten(-2)  # [T, B, D, N] (or [B, D, N] single-step)


class SCS(nn.Module):
    """Spiking Convolutional Stem (Spikformer V2) — a reading, the code is unreleased (see module doc)."""

    def __init__(
        self,
        in_channels: int = 2,
        dim: int = 256,
        img_size: tuple[int, int] = (128, 128),
        neuron: NeuronSpec | str | None = None,
        num_pools: int | None = None,
        expand: int = 4,
    ):
        super().__init__()
        spec = neuron_spec(neuron)
        h, w = img_size
        self.num_pools, chans = _stage_plan("SCS", in_channels, dim, h, w, num_pools)
        if int(expand) < 1:
            raise ModelError(f"SCS: expand must be ≥ 1 (channels × expand in the MLP-like convs), got {expand}")
        self.stages = nn.ModuleList()
        for i in range(4):
            c = chans[i + 1]
            stride = 2 if i >= 4 - self.num_pools else 1
            self.stages.append(
                nn.ModuleList(
                    [
                        _conv_bn_lif(chans[i], c, spec, 3, stride),
                        _conv_bn_lif(c, c * expand, spec, 1),
                        _conv_bn_lif(c * expand, c, spec, 1),
                    ]
                )
            )
        self.rpe = _conv_bn_lif(dim, dim, spec)
        self.grid = (math.ceil(h / 2**self.num_pools), math.ceil(w / 2**self.num_pools))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``[T, B, C, H, W]`` → tokens ``[T, B, D, N]`` (or one step ``[B, C, H, W]`` → ``[B, D, N]``)."""
        for down, expand, restore in self.stages:
            x = _run(restore, _run(expand, _run(down, x)))
        x = x + _run(self.rpe, x)
        return x.flatten(-2)


class SSA(nn.Module):
    """Spiking Self-Attention on tokens ``[T, B, D, N]`` (or one step ``[B, D, N]``).

    ``enabled=False`` returns zeros, so a block's ``x + SSA(x)`` skips the attention.
    """

    switch_kind = "attention"
    weights_layout = "T,B,heads,N,N"
    token_measure = "Q·Kᵀ"  # spike coincidence counts, no softmax

    def __init__(self, dim: int, heads: int = 8, scale: float = 0.125, neuron: NeuronSpec | str | None = None):
        super().__init__()
        if dim % heads:
            raise ModelError(f"SSA: dim {dim} is not divisible by {heads} heads")
        spec = neuron_spec(neuron)
        self.dim, self.heads, self.scale = dim, heads, float(scale)
        self.q = conv1d_bn(dim, dim)
        self.k = conv1d_bn(dim, dim)
        self.v = conv1d_bn(dim, dim)
        self.q_lif = spec.build(**_ROLE)
        self.k_lif = spec.build(**_ROLE)
        self.v_lif = spec.build(**_ROLE)
        self.attn_lif = spec.build(**_ROLE, v_threshold=0.5)
        self.proj = conv1d_bn(dim, dim, bias=True)
        self.proj_lif = spec.build(**_ROLE)
        self.enabled = True
        self.last_weights: torch.Tensor | None = None

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        # [..., D, N] -> [..., heads, N, D/heads]
        *lead, d, n = x.shape
        return x.reshape(*lead, self.heads, d // self.heads, n).transpose(-1, -2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Tokens ``[T, B, D, N]`` (or one step) → spikes of the same shape; ``last_weights``: ``attn = Q·Kᵀ``
        per head ``[T, B, heads, N, N]``. Off: zeros."""
        if not self.enabled:
            self.last_weights = None
            return torch.zeros_like(x)
        q = self.q_lif(self.q["bn"](self.q["conv"](x)))
        k = self.k_lif(self.k["bn"](self.k["conv"](x)))
        v = self.v_lif(self.v["bn"](self.v["conv"](x)))
        qh, kh, vh = self._heads(q), self._heads(k), self._heads(v)
        attn = qh @ kh.transpose(-1, -2)  # [..., heads, N, N], integer counts of coincident spikes
        self.last_weights = attn.detach()
        y = (attn @ vh) * self.scale  # [..., heads, N, d]
        y = y.transpose(-1, -2).flatten(-3, -2)  # [..., D, N]
        y = self.attn_lif(y)
        return self.proj_lif(self.proj["bn"](self.proj["conv"](y)))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, heads={self.heads}, scale={self.scale}, enabled={self.enabled}"


class SpikformerBlock(TokenBlock):
    """``x = x + SSA(x); x = x + MLP(x)``."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0, scale: float = 0.125, neuron=None):
        super().__init__()
        self.attn = SSA(dim, heads, scale, neuron)
        self.mlp = SpikformerMLP(dim, int(dim * mlp_ratio), neuron)


class Spikformer(SNNModel):
    """Tokenizer (SPS or SCS) → ``depth`` blocks → mean over tokens → Linear → mean over T."""

    def __init__(
        self,
        num_classes: int = 10,
        input_shape: tuple[int, int, int] = (2, 128, 128),
        T: int = 16,
        dim: int = 256,
        depth: int = 2,
        heads: int = 16,
        mlp_ratio: float = 4.0,
        scale: float = 0.125,
        tokenizer: str = "sps",
        num_pools: int | None = None,
        neuron: NeuronSpec | str | None = None,
        expand: int = 4,
    ):
        super().__init__()
        spec = neuron_spec(neuron)
        self.input_shape = tuple(input_shape)
        self.num_classes, self.T = num_classes, T
        c, h, w = input_shape
        if tokenizer == "sps":
            self.tokenizer = SPS(c, dim, (h, w), spec, num_pools)
        elif tokenizer == "scs":
            self.tokenizer = SCS(c, dim, (h, w), spec, num_pools, expand)
        else:
            raise ModelError(f"unknown Spikformer tokenizer {tokenizer!r}; known: sps, scs")
        self.blocks = nn.ModuleList(SpikformerBlock(dim, heads, mlp_ratio, scale, spec) for _ in range(depth))
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
