"""Pure helpers of the parallel neurons: the T×T matrices and the causal FFT convolution.

All are built with tensor ops (no Python loop over time); a neuron applies them to ``X`` flattened
to ``[T, N]`` with one matmul (``torch.addmm``) or one FFT.

:func:`parallel_spike` is the PSN family's whole step, ``S = Θ(W·X + b)``: with the C kernel of
:mod:`snnstudio.snn.functional.native` it is one pass forward (``H`` and ``S`` written once) and
one backward (surrogate, ``Wᵀ·dL/dH``, ``dL/dW`` and ``dL/db`` fused, chunk by chunk of neurons
in cache) instead of ~12 tensor passes in eager autograd; the eager ``addmm`` + surrogate stays the
reference (``use_native=False``) and the fallback. Same spikes except where ``|H|`` is within
float rounding of 0 (the sums run in another order than the BLAS); gradients agree to ~1e-6.
"""

from __future__ import annotations

import torch

from snnstudio.snn.functional import native


def band_mask(T: int, k: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """``M[i, j] = 1`` for ``j ≤ i ≤ j + k − 1`` (each output sees its last k inputs), else 0."""
    i = torch.arange(T, device=device).unsqueeze(1)
    j = torch.arange(T, device=device).unsqueeze(0)
    return ((i >= j) & (i - j < k)).to(dtype)


def sliding_matrix(weight: torch.Tensor, T: int) -> torch.Tensor:
    """Banded Toeplitz ``W[i, j] = weight[k − 1 − (i − j)]`` for ``0 ≤ i − j < k`` (sliding PSN).

    ``weight`` ``[k]`` is ordered oldest → newest (its last entry multiplies ``X[t]``)."""
    k = weight.shape[0]
    i = torch.arange(T, device=weight.device).unsqueeze(1)
    j = torch.arange(T, device=weight.device).unsqueeze(0)
    d = i - j
    valid = (d >= 0) & (d < k)
    idx = (k - 1 - d).clamp(0, k - 1)
    return weight[idx] * valid.to(weight.dtype)


def leak_matrices(T: int, tau: float, device=None, dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """BrainCog PSU matrices: ``m1[i,j] = (1/τ)^(i−j+1)`` (i ≥ j), ``m2[i,j] = −(1/τ)^(i−j)`` (i > j)."""
    i = torch.arange(T, device=device).unsqueeze(1)
    j = torch.arange(T, device=device).unsqueeze(0)
    d = (i - j).to(torch.float64)
    r = 1.0 / float(tau)
    m1 = torch.where(i >= j, torch.pow(r, d + 1.0), torch.zeros((), dtype=torch.float64))
    m2 = torch.where(i > j, -torch.pow(r, d), torch.zeros((), dtype=torch.float64))
    return m1.to(dtype), m2.to(dtype)


def time_matmul(w: torch.Tensor, x: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``W·X (+ bias)`` over the time axis: ``w`` ``[T, T]``, ``x`` ``[T, ...]`` → ``[T, ...]``."""
    flat = x.reshape(x.shape[0], -1)
    out = torch.addmm(bias, w, flat) if bias is not None else w @ flat
    return out.view(x.shape)


def paralif_kernel(alpha: torch.Tensor, beta: torch.Tensor, T: int) -> torch.Tensor:
    """Impulse response of ``I_t = α I_{t−1} + X_t``, ``V_t = β V_{t−1} + (1 − β) I_t``: ``[T]``.

    ``K = l * k`` (causal convolution) with ``l_t = α^t``, ``k_t = (1 − β)·β^t``."""
    t = torch.arange(T, device=alpha.device, dtype=alpha.dtype)
    l = torch.pow(alpha, t)
    k = torch.pow(beta, t) * (1.0 - beta)
    n = 2 * T
    return torch.fft.irfft(torch.fft.rfft(l, n=n) * torch.fft.rfft(k, n=n), n=n)[:T]


def causal_toeplitz(kernel: torch.Tensor) -> torch.Tensor:
    """``M[i, j] = kernel[i − j]`` for ``i ≥ j``, else 0: the causal convolution as a ``[T, T]`` matrix."""
    T = kernel.shape[0]
    i = torch.arange(T, device=kernel.device).unsqueeze(1)
    j = torch.arange(T, device=kernel.device).unsqueeze(0)
    d = i - j
    return kernel[d.clamp_min(0)] * (d >= 0).to(kernel.dtype)


def causal_conv_fft(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """``y_t = Σ_{j ≤ t} kernel[t − j]·x_j`` along dim 0 of ``x`` ``[T, ...]``, by FFT (zero-padded to 2T)."""
    T = x.shape[0]
    n = 2 * T
    kf = torch.fft.rfft(kernel, n=n).view(-1, *([1] * (x.dim() - 1)))
    return torch.fft.irfft(torch.fft.rfft(x, n=n, dim=0) * kf, n=n, dim=0)[:T]


class _ParallelSpike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, bias, surrogate, strict, lib, gw_need):
        ctx.set_materialize_grads(False)  # no zero-filled gradient for the non-differentiable H
        s, h = native.psn_forward(lib, x, w, bias, strict)
        ctx.save_for_backward(x, w, h)
        ctx.surrogate, ctx.lib, ctx.gw_need = surrogate, lib, gw_need
        ctx.mark_non_differentiable(h)
        return s, h

    @staticmethod
    def backward(ctx, g_s, _g_h):
        if g_s is None:
            return (None,) * 7
        x, w, h = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        gx, gw, gb = native.psn_backward(ctx.lib, x, w, h, g_s, ctx.surrogate, need_x, need_w, need_b, ctx.gw_need)
        return gx, gw, gb, None, None, None, None


def parallel_spike(
    x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor, surrogate, strict: bool = False,
    gw_need: torch.Tensor | None = None, use_native: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(S, H)`` with ``H = W·X + bias`` over time (:func:`time_matmul`) and ``S = surrogate(H)``
    (fires at ``H ≥ 0``, ``H > 0`` if ``strict``). ``x`` ``[T, ...]``, ``w`` ``[T, T]``, ``bias``
    ``[T, 1]``, ``[T]`` or a scalar. ``gw_need`` (``[T, T]`` bool): where ``w`` is a masked / banded
    matrix built from the real parameters, the entries of ``dL/dw`` the mask keeps (the others are
    left 0 — they are multiplied by 0 on the way to the parameters). ``use_native`` runs the C
    kernel when it is built and supports the input; otherwise the eager reference runs."""
    lib = None
    if use_native and native.supports(x, surrogate) and w.dtype == torch.float32 and x.dim() >= 1:
        lib = native.load()
    T = x.shape[0]
    if lib is None:
        h = time_matmul(w, x, bias.reshape(T, 1) if bias.dim() == 1 else bias)
        return surrogate(h, strict), h
    b = bias.reshape(-1)
    b = b.expand(T) if b.numel() == 1 else b.reshape(T)
    return _ParallelSpike.apply(x.contiguous(), w.contiguous(), b.contiguous(), surrogate, bool(strict), lib, gw_need)
