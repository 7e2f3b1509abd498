"""Pure dynamics of the reset neurons (IF, LIF, PLIF, MA-SNN's and MS-ResNet's LIF cells).

All of them are one linear charge, a threshold and a reset, per step t::

    h_t = a·v_{t−1} + b·x_t + c          (charge; v_{−1} = v_init)
    s_t = Θ(h_t − θ)                     (fire; Θ(0) = 1, or 0 when ``strict``)
    v_t = s_t·v_reset + (1 − s_t)·h_t    (hard reset)   |   v_t = h_t − s_t·θ   (soft, v_reset None)

with (SpikingJelly 2.0 forms, k = 1/τ): IF ``a=1, b=1, c=0``; LIF with ``decay_input`` ``a=1−k,
b=k, c=k·v_reset``; without ``a=1−k, b=1, c=k·v_reset``; PLIF the same with ``k = sigmoid(w)``.
``detach_reset`` stops the gradient through ``s_t`` in the reset.

Two implementations with the same arithmetic:

* :func:`reset_neuron_plain` — a per-step loop of tensor ops, differentiated by autograd. It is
  the oracle (and the single-step path: :func:`reset_neuron_step`).
* :func:`reset_neuron_fast` — hand-written autograd over time (:class:`_ResetNeuronSeq`), the
  same algorithm as SpikingJelly 2.0's CPU path. Written by hand because eager autograd records
  ~10 graph nodes per step and keeps every intermediate; here the forward saves only ``h`` and the
  spikes, and the backward runs the recursion (``g_h`` = dL/dh, ``sg`` = surrogate'(h − θ))::

      g_h[t] = sg[t]·g_s[t] + a·g_h[t+1]·A[t],   A[t] = ∂v_t/∂h_t + ∂v_t/∂s_t·sg[t]
      hard: ∂v/∂h = 1 − s, ∂v/∂s = v_reset − h;  soft: ∂v/∂h = 1, ∂v/∂s = −θ;  detach: no ∂v/∂s term
      dL/dx_t = b·g_h[t],  dL/da = Σ g_h[t]·v_{t−1},  dL/db = Σ g_h[t]·x_t,  dL/dc = Σ g_h[t]

  one time step at a time on ``[N]`` slices (cache-sized), in place where possible.
  It needs no compiler (no TorchScript / ``torch.compile``), so it is safe on any start path.
  With ``use_native`` the same Function runs the C kernel of :mod:`.native` (when built) instead
  of the eager loops; the eager loops remain the fallback. ``h`` and ``v_last`` are outputs that
  carry no gradient (``set_materialize_grads(False)``: autograd would otherwise zero-fill an
  ``h``-sized gradient for them on every backward).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from snnstudio.snn.functional import native
from snnstudio.snn.surrogate import Surrogate

Scalar = float | torch.Tensor


@dataclass(frozen=True)
class ResetConfig:
    """Threshold and reset of a reset neuron (everything but the charge coefficients)."""

    v_threshold: float = 1.0
    v_reset: float | None = 0.0  # None = soft reset (subtract the threshold)
    v_init: float = 0.0
    strict: bool = False  # fire on h > θ instead of h ≥ θ
    detach_reset: bool = False


def reset_neuron_step(
    x: torch.Tensor, v: Scalar, a: Scalar, b: Scalar, c: Scalar, cfg: ResetConfig, surrogate: Surrogate
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One step: returns ``(spikes, h, v_next)`` (``h`` is the membrane compared with θ)."""
    bx = x if (isinstance(b, float) and b == 1.0) else x * b
    if not (isinstance(c, float) and c == 0.0):
        bx = bx + c
    h = bx + v * a
    s = surrogate(h - cfg.v_threshold, cfg.strict)
    sr = s.detach() if cfg.detach_reset else s
    if cfg.v_reset is None:
        v_next = h - sr * cfg.v_threshold
    else:
        v_next = sr * cfg.v_reset + (1.0 - sr) * h
    return s, h, v_next


def reset_neuron_plain(
    x: torch.Tensor, a: Scalar, b: Scalar, c: Scalar, cfg: ResetConfig, surrogate: Surrogate, v0: Scalar | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Multi-step over ``x`` ``[T, ...]`` by a loop of :func:`reset_neuron_step`: ``(spikes, h, v_last)``."""
    v: Scalar = cfg.v_init if v0 is None else v0
    spikes, hs = [], []
    for t in range(x.shape[0]):
        s, h, v = reset_neuron_step(x[t], v, a, b, c, cfg, surrogate)
        spikes.append(s)
        hs.append(h)
    return torch.stack(spikes), torch.stack(hs), v


class _ResetNeuronSeq(torch.autograd.Function):
    # Everything runs one time step at a time on [N] slices that stay in cache; no full-size
    # temporaries besides the outputs (spikes, h) and, backward, dL/dx.
    @staticmethod
    def forward(ctx, x, a, b, c, v0, cfg: ResetConfig, surrogate: Surrogate, lib=None, want_h: bool = True):
        af, bf, cf = float(a), float(b), float(c)
        theta, vr = cfg.v_threshold, cfg.v_reset
        ctx.lib = lib
        # h and v_last are non-differentiable: without this autograd would hand backward a zero-filled
        # tensor of h's full size for them on every call (a third of the backward's time)
        ctx.set_materialize_grads(False)
        ctx.cfg, ctx.surrogate, ctx.coef = cfg, surrogate, (af, bf, cf)
        ctx.v0_float = v0 if isinstance(v0, float) else None
        v0t = v0 if isinstance(v0, torch.Tensor) else None
        if lib is not None:
            x = x.contiguous()
            # without a membrane record the forward writes the spikes only and the backward recomputes h
            # from x (kept anyway or in h's place): a third less memory traffic and one tensor fewer
            s, h, v = native.forward(lib, x, af, bf, cf, v0, cfg, want_h=want_h)
            ctx.from_x = h is None
            ctx.save_for_backward(h, s, x if (ctx.from_x or ctx.needs_input_grad[2]) else None, v0t)
            ctx.mark_non_differentiable(*(o for o in (h, v) if o is not None))
            return s, h, v
        T = x.shape[0]
        h = torch.empty_like(x)
        s = torch.empty_like(x)
        fire = torch.empty(x.shape[1:], dtype=torch.bool, device=x.device)
        v = v0
        for t in range(T):
            ht = h[t]
            if bf == 1.0:
                ht.copy_(x[t])
            else:
                torch.mul(x[t], bf, out=ht)
            if isinstance(v, float):
                if v * af + cf != 0.0:
                    ht.add_(v * af + cf)
            else:
                if cf != 0.0:
                    ht.add_(cf)
                ht.add_(v, alpha=af)
            if cfg.strict:
                torch.gt(ht, theta, out=fire)
            else:
                torch.ge(ht, theta, out=fire)
            s[t].copy_(fire)
            if vr is None:
                v = ht.sub(s[t], alpha=theta)
            else:
                v = torch.where(fire, vr, ht)
        ctx.from_x = False
        ctx.save_for_backward(h, s, x if ctx.needs_input_grad[2] else None, v0t)
        ctx.mark_non_differentiable(h, v)
        return s, h, v

    @staticmethod
    def backward(ctx, g_s, _g_h, _g_v):
        h, s, x, v0t = ctx.saved_tensors
        if g_s is None:  # the spikes were not used: every gradient is zero
            g_s = h.new_zeros(()).expand_as(h)
        cfg, sur = ctx.cfg, ctx.surrogate
        af, bf, _cf = ctx.coef
        theta, vr = cfg.v_threshold, cfg.v_reset
        need_x, need_a, need_b, need_c, need_v0 = ctx.needs_input_grad[:5]
        if ctx.lib is not None:
            v0 = v0t if v0t is not None else ctx.v0_float
            if ctx.from_x:
                gx, (sa, sb, sc) = native.backward_from_x(ctx.lib, x, g_s.expand_as(x), v0, af, bf, _cf, cfg, sur,
                                                          need_a or need_b or need_c)
            else:
                gx, (sa, sb, sc) = native.backward(ctx.lib, h, g_s.expand_as(h), x, v0, af, bf, cfg, sur,
                                                   need_a or need_b or need_c)
            ref = x if ctx.from_x else h
            ga = ref.new_tensor(sa) if need_a else None
            gb = ref.new_tensor(sb) if need_b else None
            gc = ref.new_tensor(sc) if need_c else None
            gv0 = gx[0] * (af / bf) if (need_v0 and v0t is not None) else None
            return gx if need_x else None, ga, gb, gc, gv0, None, None, None, None
        T = h.shape[0]
        g_s = g_s.expand_as(h)
        gh = torch.empty_like(h)
        ga = h.new_zeros(()) if need_a else None
        gb = h.new_zeros(()) if need_b else None
        gc = h.new_zeros(()) if need_c else None
        for t in range(T - 1, -1, -1):
            ht, st, ght = h[t], s[t], gh[t]
            sg = sur.grad(ht - theta)
            torch.mul(sg, g_s[t], out=ght)
            if t + 1 < T:
                # g_h[t] += a·g_h[t+1]·A_t,  A_t = ∂v_t/∂h_t + ∂v_t/∂s_t·sg_t
                if cfg.detach_reset:
                    if vr is None:
                        ght.add_(gh[t + 1], alpha=af)
                    else:
                        ght.addcmul_(gh[t + 1], 1.0 - st, value=af)
                else:
                    if vr is None:
                        A = sg.mul_(-theta).add_(1.0)
                    else:
                        A = (1.0 - st).addcmul_(sg, vr - ht)
                    ght.addcmul_(gh[t + 1], A, value=af)
            if need_a:
                if t > 0:
                    hp, sp = h[t - 1], s[t - 1]
                    vp = hp.sub(sp, alpha=theta) if vr is None else torch.where(sp.bool(), vr, hp)
                    ga += torch.dot(ght.reshape(-1), vp.reshape(-1))
                else:
                    ga += (ght * (v0t if v0t is not None else ctx.v0_float)).sum()
            if need_b:
                gb += torch.dot(ght.reshape(-1), x[t].reshape(-1))
            if need_c:
                gc += ght.sum()
        gv0 = gh[0] * af if (need_v0 and v0t is not None) else None
        gx = (gh if bf == 1.0 else gh.mul_(bf)) if need_x else None
        return gx, ga, gb, gc, gv0, None, None, None, None


def _as_tensor(v: Scalar, like: torch.Tensor) -> torch.Tensor:
    return v if isinstance(v, torch.Tensor) else torch.tensor(float(v), dtype=like.dtype, device=like.device)


def reset_neuron_fast(
    x: torch.Tensor, a: Scalar, b: Scalar, c: Scalar, cfg: ResetConfig, surrogate: Surrogate, v0: Scalar | None = None,
    use_native: bool = False, want_h: bool = True,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """Same as :func:`reset_neuron_plain` with the hand-written autograd: ``(spikes, h, v_last)``.

    ``a``, ``b``, ``c`` may be 0-d tensors that require grad (PLIF). ``v0`` may be a tensor
    (continuing a kept state); its gradient is returned too. The surrogate must not have
    learnable parameters (use the plain path for that). ``use_native`` runs the C kernel of
    :mod:`snnstudio.snn.functional.native` when it is built and supports the input; there,
    ``want_h=False`` (no membrane probe) returns ``h`` as ``None``: the kernel never writes it and the
    backward recomputes it from ``x``.
    """
    v0v: Scalar = float(cfg.v_init) if v0 is None else (float(v0) if not isinstance(v0, torch.Tensor) else v0)
    lib = native.load() if use_native and native.supports(x, surrogate) else None
    return _ResetNeuronSeq.apply(x, _as_tensor(a, x), _as_tensor(b, x), _as_tensor(c, x), v0v, cfg, surrogate, lib,
                                 want_h)
