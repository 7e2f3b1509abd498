"""Pure helpers of the parallel neurons: the T×T matrices and the causal FFT convolution.

All are built with tensor ops (no Python loop over time); a neuron applies them to ``X`` flattened
to ``[T, N]`` with one matmul (``torch.addmm``) or one FFT.
"""

from __future__ import annotations

import torch


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


def causal_conv_fft(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """``y_t = Σ_{j ≤ t} kernel[t − j]·x_j`` along dim 0 of ``x`` ``[T, ...]``, by FFT (zero-padded to 2T)."""
    T = x.shape[0]
    n = 2 * T
    kf = torch.fft.rfft(kernel, n=n).view(-1, *([1] * (x.dim() - 1)))
    return torch.fft.irfft(torch.fft.rfft(x, n=n, dim=0) * kf, n=n, dim=0)[:T]
