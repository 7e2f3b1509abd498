"""The MA-SNN lightweight DVS128 Gesture network (Yao et al., TPAMI 2023).

Input event counts ``[T, B, 2, 32, 32]`` (128×128 sum-pooled by 4). Layers (default widths):
Conv 2→64 → Conv 64→128 (AvgPool 2) → Conv 128→128 (AvgPool 2) → FC 8192→256 → FC 256→classes.
Each conv layer is Conv3×3 → BN → [AvgPool] → attention → neuron; each FC layer is
Linear → BN1d → [TA] → neuron. The output is the mean over T of the last layer's spikes,
``[B, classes]`` (trained with MSE against one-hot in the paper).

``widths`` (conv1, conv2, conv3, fc1) shrinks the net so that small bundled models train on a
CPU. Any registered neuron works (``neuron`` is a :class:`~snnstudio.snn.layers.NeuronSpec`).

``vote`` > 1 gives the last layer ``vote`` neurons per class and reads each class out as their mean
rate (SpikingJelly's DVS Gesture voting layer): with T steps one output neuron can only say
0, 1/T … 1, so ten classes tie often; ``vote`` neurons per class give T·vote levels.
"""

from __future__ import annotations

import torch
from torch import nn

from snnstudio.errors import ModelError
from snnstudio.snn.attention import build_attention
from snnstudio.snn.layers import NeuronSpec, SNNModel, neuron_spec, seq


class ConvAttLayer(nn.Module):
    """Conv3×3 → BN → [AvgPool 2] → [attention] → neuron, on ``[T, B, C, H, W]`` or one step."""

    def __init__(self, cin: int, cout: int, pool: bool, attention: str, T: int, neuron: NeuronSpec, **att_kw):
        super().__init__()
        self.conv = seq(nn.Conv2d(cin, cout, 3, padding=1, bias=False), 3)
        self.bn = seq(nn.BatchNorm2d(cout), 3)
        self.pool = seq(nn.AvgPool2d(2), 3) if pool else None
        self.attention = build_attention(attention, T=T, channels=cout, **att_kw)
        self.neuron = neuron.build()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[T, B, C, H, W]`` (or one step ``[B, C, H, W]``) → spikes ``[T, B, C', H', W']`` (H', W' halved when
        pooling)."""
        x = self.bn(self.conv(x))
        if self.pool is not None:
            x = self.pool(x)
        if self.attention is not None:
            x = self.attention(x)
        return self.neuron(x)


class FCAttLayer(nn.Module):
    """Linear → BN1d → [TA] → neuron, on ``[T, B, F]`` or one step ``[B, F]``."""

    def __init__(self, fin: int, fout: int, temporal_attention: bool, T: int, neuron: NeuronSpec, t_ratio: int = 5):
        super().__init__()
        self.fc = seq(nn.Linear(fin, fout, bias=False), 1)
        self.bn = seq(nn.BatchNorm1d(fout), 1)
        self.attention = (
            build_attention("ta", T=T, t_ratio=t_ratio, sample_ndim=1) if temporal_attention else None
        )
        self.neuron = neuron.build()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[T, B, F]`` (or one step ``[B, F]``) → spikes ``[T, B, F']``."""
        x = self.bn(self.fc(x))
        if self.attention is not None:
            x = self.attention(x)
        return self.neuron(x)


class VoteReadout(nn.Module):
    """``[..., classes·vote]`` → ``[..., classes]``: the mean of each class's ``vote`` neurons."""

    def __init__(self, vote: int):
        super().__init__()
        if vote < 1:
            raise ModelError(f"vote must be ≥ 1, got {vote}")
        self.vote = int(vote)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[..., classes·vote]`` → ``[..., classes]``."""
        return x.unflatten(-1, (-1, self.vote)).mean(-1)

    def extra_repr(self) -> str:
        return f"vote={self.vote}"


class LogCounts(nn.Module):
    """``log(1 + x)`` of event counts: a window of 10 events and one of 500 differ 4×, not 50×
    (real cameras and scenes span two orders of magnitude of event rate)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``log(1 + x)``, same shape."""
        return torch.log1p(x)


class MASNNGesture(SNNModel):
    """MA-SNN's lightweight DVS Gesture net; ``attention`` is "none", "ta", … or "tcsa"."""

    def __init__(
        self,
        num_classes: int = 11,
        input_shape: tuple[int, int, int] = (2, 32, 32),
        T: int = 60,
        attention: str = "tcsa",
        neuron: NeuronSpec | str | None = None,
        widths: tuple[int, int, int, int] = (64, 128, 128, 256),
        t_ratio: int = 5,
        c_ratio: int = 8,
        sa_kernel: int = 3,
        vote: int = 1,
        input_log: bool = False,
    ):
        super().__init__()
        if len(widths) != 4:
            raise ModelError(f"ma_snn_gesture widths are (conv1, conv2, conv3, fc1), got {tuple(widths)}")
        if int(vote) < 1:
            raise ModelError(f"vote (output neurons per class) must be ≥ 1, got {vote}")
        c, h, w = input_shape
        if h % 4 or w % 4:
            raise ModelError(f"ma_snn_gesture input height and width must be multiples of 4, got {h}×{w}")
        self.input_shape = tuple(input_shape)
        self.num_classes = num_classes
        self.T = T
        spec = neuron_spec(neuron)
        att = dict(t_ratio=t_ratio, c_ratio=c_ratio, sa_kernel=sa_kernel)
        w1, w2, w3, f1 = widths
        self.conv1 = ConvAttLayer(c, w1, False, attention, T, spec, **att)
        self.conv2 = ConvAttLayer(w1, w2, True, attention, T, spec, **att)
        self.conv3 = ConvAttLayer(w2, w3, True, attention, T, spec, **att)
        ta = attention not in ("none", None) and "t" in attention
        self.fc1 = FCAttLayer(w3 * (h // 4) * (w // 4), f1, ta, T, spec, t_ratio)
        self.fc2 = FCAttLayer(f1, num_classes * vote, ta, T, spec, t_ratio)
        self.vote = VoteReadout(vote) if vote > 1 else None
        #: ``input_log``: the counts enter as ``log(1 + x)`` (:class:`LogCounts`)
        self.encode = LogCounts() if input_log else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Event counts ``[T, B, C, H, W]`` → class scores ``[B, classes]`` (output spikes averaged over T); one
        step ``[B, C, H, W]`` → ``[B, classes]``."""
        multi = self.check_input(x)
        if self.encode is not None:
            x = self.encode(x)
        x = self.conv3(self.conv2(self.conv1(x)))
        x = x.flatten(2) if multi else x.flatten(1)
        out = self.fc2(self.fc1(x))
        out = out.mean(0) if multi else out
        return self.vote(out) if self.vote is not None else out
