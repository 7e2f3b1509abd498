"""Inference-time fusion for streaming: Conv → BatchNorm → AvgPool 2 as one strided conv.

In eval mode a BatchNorm is a per-channel affine map, so it folds into the conv or linear layer
before it (``torch.nn.utils.fusion``). A k×k stride-1 convolution followed by a 2×2 average pool
is one (k+1)×(k+1) convolution of stride 2 — both are linear and shift-invariant, and the fused
kernel is the conv's kernel box-filtered by the pool (written here: torch folds conv+BN but not
the pool). For a k = 3 conv pooled by 2 that is 16/(4·9) ≈ 0.44 of the multiply-adds, and the BN
and pool passes go (the speed-up of a window step: ``snnstudio bench --only stream``).

MA-SNN's attention (:class:`~snnstudio.snn.attention.MultiDimAttention`, TA → CA → SA → ReLU)
is rewritten to pool the input once (:class:`PooledOnceAttention`): TA and CA both pool means and
maxima, and because every weight is a sigmoid (positive), the pools of the TA-scaled current
follow from per-(step, channel) means and maxima of the input — ``mean(w_t·x) = Σ_t w_t·m_t / T``,
``max(w_t·x) = max_t w_t·M_t``. The TA and CA weights are then applied in one product, SA's pool
reads that product, and its weight and the ReLU are applied in place: 5 passes over the layer's
current instead of 10, and a third of the small ops.

Only the MA-SNN layer classes (:class:`~snnstudio.snn.ma_snn.ConvAttLayer`,
:class:`~snnstudio.snn.ma_snn.FCAttLayer`), whose forward order is known, are fused; everything
else is copied as is. The result equals the original up to float rounding (a spike can flip where
a membrane sits exactly on the threshold). Operation counts and energy must be measured on the
model as built (the papers' architecture), never on the fused copy.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

from snnstudio.snn.attention import PART_KEYS, MultiDimAttention


def _wraps(module, kind) -> bool:
    return module is not None and isinstance(getattr(module, "layer", None), kind)


def _is_pool2(pool: nn.Module) -> bool:
    """A plain 2×2 / stride 2 average pool without padding (the one that fuses into a conv)."""
    if not isinstance(pool, nn.AvgPool2d):
        return False
    k = pool.kernel_size if isinstance(pool.kernel_size, tuple) else (pool.kernel_size,) * 2
    s = pool.stride if isinstance(pool.stride, tuple) else (pool.stride,) * 2
    p = pool.padding if isinstance(pool.padding, tuple) else (pool.padding,) * 2
    return k == (2, 2) and s == (2, 2) and p == (0, 0) and not pool.ceil_mode and pool.divisor_override is None


def _poolable(conv: nn.Conv2d) -> bool:
    return (conv.stride == (1, 1) and conv.dilation == (1, 1) and conv.groups == 1
            and conv.padding_mode == "zeros" and not isinstance(conv.padding, str))


def conv_then_avgpool2(conv: nn.Conv2d) -> nn.Conv2d:
    """The single conv equal to ``conv`` (stride 1) followed by ``AvgPool2d(2)``: kernel k+1,
    stride 2, the same padding and bias."""
    w = conv.weight.detach()
    c_out, c_in, kh, kw = w.shape
    kernel = torch.zeros(c_out, c_in, kh + 1, kw + 1, dtype=w.dtype)
    for dy in (0, 1):
        for dx in (0, 1):
            kernel[:, :, dy : dy + kh, dx : dx + kw] += w / 4
    out = nn.Conv2d(c_in, c_out, (kh + 1, kw + 1), stride=2, padding=conv.padding, bias=conv.bias is not None,
                    dtype=w.dtype, device=w.device)
    with torch.no_grad():
        out.weight.copy_(kernel)
        if conv.bias is not None:
            out.bias.copy_(conv.bias.detach())
    return out


def _mlp_pair(part, avg: torch.Tensor, peak: torch.Tensor) -> torch.Tensor:
    """``sigmoid(mlp(avg) + mlp(peak))`` of a TA/CA part, both rows ``[B, n]`` in one call."""
    B = avg.shape[0]
    h = F.linear(torch.relu(F.linear(torch.cat([avg, peak]), part.fc1.weight, part.fc1.bias)), part.fc2.weight, part.fc2.bias)
    return torch.sigmoid(h[:B] + h[B:])


class PooledOnceAttention(MultiDimAttention):
    """:class:`MultiDimAttention` computed with one pooling pass for TA and CA (see the module
    docstring); the same parts (``ta``, ``ca``, ``sa``: weights, ``enabled``, ``last_weights``)
    and the same result up to float rounding. Inference only (it writes into its own temporaries)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """As :meth:`MultiDimAttention.forward` with one pooling pass for TA and CA (inference on ``[T, B, F]``
        or ``[T, B, C, H, W]``; otherwise the unfused path)."""
        if torch.is_grad_enabled() or x.ndim not in (3, 5):
            return super().forward(x)
        active = self.active_parts()
        on = {k: getattr(self, k) for k in PART_KEYS if getattr(self, k, None) in active}
        if not on:
            return x
        T, B = x.shape[:2]
        if x.ndim == 3:  # [T, B, F]: an FC layer, TA only
            ta = on["ta"]
            if x.shape[0] != ta.T:
                return super().forward(x)
            wt = _mlp_pair(ta, x.mean(2).t(), x.amax(2).t()).t()  # [T, B]
            ta.last_weights = wt
            return (x * wt[:, :, None]).clamp_min_(0)
        C = x.shape[2]
        scale = None  # [T, B, C]: the TA and CA weights together
        if "ta" in on or "ca" in on:
            flat = x.flatten(3)
            m, M = flat.mean(3), flat.amax(3)  # [T, B, C]: per step and channel
            if "ta" in on:
                ta = on["ta"]
                if T != ta.T:
                    return super().forward(x)
                wt = _mlp_pair(ta, m.mean(2).t(), M.amax(2).t()).t()  # [T, B]
                ta.last_weights = wt
                scale = wt[:, :, None].expand(T, B, C)
                m, M = m * wt[:, :, None], M * wt[:, :, None]  # the pools of w_t·x (w_t > 0)
            if "ca" in on:
                ca = on["ca"]
                if C != ca.channels:
                    return super().forward(x)
                wc = _mlp_pair(ca, m.mean(0), M.amax(0))  # [B, C]
                ca.last_weights = wc
                scale = wc[None].expand(T, B, C) if scale is None else scale * wc[None]
        y = x * scale[..., None, None] if scale is not None else x.clone()
        if "sa" in on:
            sa = on["sa"]
            pooled = torch.stack([y.mean((0, 2)), y.amax((0, 2))], dim=1)  # [B, 2, H, W]
            ws = torch.sigmoid(sa.conv(pooled))[:, 0]  # [B, H, W]
            sa.last_weights = ws
            y.mul_(ws[None, :, None])
        return y.clamp_min_(0)


def fused_for_streaming(model: nn.Module) -> nn.Module | None:
    """An eval-mode deep copy of ``model`` with its conv/BN/pool and linear/BN pairs fused, or
    ``None`` when nothing in it fuses (the caller then keeps the original)."""
    from snnstudio.snn.ma_snn import ConvAttLayer, FCAttLayer

    fast = copy.deepcopy(model).eval()
    fused = 0
    for m in fast.modules():
        if isinstance(m, ConvAttLayer) and _wraps(m.conv, nn.Conv2d) and _wraps(m.bn, nn.BatchNorm2d):
            if m.bn.layer.running_mean is None:
                continue  # BN without running statistics normalises with the batch's: not foldable
            conv = fuse_conv_bn_eval(m.conv.layer, m.bn.layer)
            if m.pool is not None and _is_pool2(m.pool.layer) and _poolable(conv):
                conv = conv_then_avgpool2(conv)
                m.pool = None
            m.conv.layer = conv
            m.bn = nn.Identity()
            fused += 1
        elif isinstance(m, FCAttLayer) and _wraps(m.fc, nn.Linear) and _wraps(m.bn, nn.BatchNorm1d):
            if m.bn.layer.running_mean is None:
                continue
            m.fc.layer = fuse_linear_bn_eval(m.fc.layer, m.bn.layer)
            m.bn = nn.Identity()
            fused += 1
    for m in fast.modules():
        if type(m) is MultiDimAttention:  # same children and state, the pooled-once forward
            m.__class__ = PooledOnceAttention
            fused += 1
    for p in fast.parameters():
        p.requires_grad_(False)
    return fast if fused else None
