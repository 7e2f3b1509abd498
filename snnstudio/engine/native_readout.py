"""Every spiking layer's read-out of one stream step in one native call.

Per step and per layer the studio shows the newest time step's spike count, channel rates and raster;
at detail rate (:attr:`ModelRunner.detail_interval_s`) also the window's spike count, the feature map
and the share of channels that fired at each position (:class:`~snnstudio.engine.snapshot.LayerSnapshot`).
numpy needs a dozen calls per layer for that, ~3 µs of dispatch each: with five layers, several per
cent of a window step of the default model. The C pass
(:data:`snnstudio.snn.functional.native._READOUT_SRC`) reads each layer once, into one buffer.

Written by hand because no library reads many small tensors' statistics in one call; the runner's
numpy read-out (:meth:`snnstudio.engine.runner.ModelRunner._layer`) stays the oracle and the fallback
(a layer whose values are not 0/1, another dtype or device, kernels not built).

Layouts: a layer's recorded spikes are ``[*lead, *shape]`` float32 (``lead``: ``(T, B)`` for a window,
``(1, B)`` or ``(B,)`` for one step), read at the newest step of batch element ``b``.
"""

from __future__ import annotations

import ctypes
import math
from dataclasses import dataclass

import numpy as np
import torch

#: int64 parameters per layer (see the C source)
NP = 12


@dataclass
class ReadoutPlan:
    """The fixed part of one call over some layers (kept while their tensors keep their shapes)."""

    #: each layer's recorded tensor shape (checked every call: the C code reads by these sizes)
    shapes: tuple[torch.Size, ...]
    #: per-sample neuron shapes, e.g. ``(C, H, W)``
    sample_shapes: tuple[tuple[int, ...], ...]
    #: bytes from each tensor's start to the newest step of element ``b``
    offsets: tuple[int, ...]
    params: np.ndarray  # [L, NP] int64
    params_ptr: int
    idx: tuple[np.ndarray, ...]  # raster indices (the arrays the snapshots carry)
    idx_ptrs: ctypes.Array
    src: ctypes.Array  # the per-call source pointers, filled in place
    #: byte offsets in the call's buffer of: out [L, 3] int64, rate float32, spatial float32, raster, fmap
    layout: tuple[int, int, int, int, int, int]
    #: per layer: (off_c, c, off_k, k, off_fm, fm shape or None, off_sp, sp shape or None, n, win)
    views: tuple[tuple, ...]
    detail: bool
    #: the layer list planned for (held, so that the runner's key, its ``id``, is not reused by another)
    neurons: list


def make_plan(neurons, lead: tuple[int, ...], b: int, raster_index, feature_channels: int | None,
              detail: bool) -> ReadoutPlan | None:
    """The plan for ``neurons`` (``(name, module)`` pairs) recorded with ``lead`` leading axes, read at
    batch element ``b``; ``raster_index(name, n)`` gives a layer's raster indices. ``None`` when a layer
    cannot be read natively (no float32 contiguous CPU spikes)."""
    t_lead = lead[0] if len(lead) == 2 else 1
    batch = lead[-1]
    shapes, samples, offsets, rows, idxs, views = [], [], [], [], [], []
    off_c = off_k = off_fm = off_sp = 0
    for name, m in neurons:
        s = m.last_spikes
        if (s is None or not isinstance(s, torch.Tensor) or s.dtype is not torch.float32 or not s.is_cpu
                or not s.is_contiguous() or tuple(s.shape[: len(lead)]) != tuple(lead) or not 0 <= b < batch):
            return None
        shape = tuple(int(d) for d in s.shape[len(lead):])
        n = math.prod(shape) if shape else 1
        if n == 0:
            return None
        c = shape[0] if len(shape) >= 2 else n
        idx = np.ascontiguousarray(raster_index(name, n), np.int64)
        win = t_lead if detail else 0
        fm = sp = 0
        fm_shape = sp_shape = None
        if detail and len(shape) == 3:
            kc = min(feature_channels, c) if feature_channels is not None else c
            fm, fm_shape = kc * shape[1] * shape[2], (kc, shape[1], shape[2])
            sp, sp_shape = 1, shape[1:]
        rows.append([n, c, idx.size, off_c, off_k, win, batch * n, fm, off_fm, sp, off_sp, 0])
        views.append((off_c, c, off_k, idx.size, off_fm, fm_shape, off_sp, sp_shape, n, max(win, 1)))
        shapes.append(s.shape), samples.append(shape), idxs.append(idx)
        offsets.append(((t_lead - 1) * batch + b) * n * 4)
        off_c += c
        off_k += idx.size
        off_fm += fm
        off_sp += (n // c) if sp else 0
    L = len(rows)
    o_out = 0
    o_rate = 24 * L
    o_sp = o_rate + 4 * off_c
    o_ras = o_sp + 4 * off_sp
    o_fm = o_ras + off_k
    total = o_fm + off_fm
    params = np.ascontiguousarray(rows, np.int64).reshape(L, NP)
    return ReadoutPlan(shapes=tuple(shapes), sample_shapes=tuple(samples), offsets=tuple(offsets),
                       params=params, params_ptr=params.ctypes.data, idx=tuple(idxs),
                       idx_ptrs=(ctypes.c_void_p * L)(*(a.ctypes.data for a in idxs)),
                       src=(ctypes.c_void_p * L)(), layout=(o_out, o_rate, o_sp, o_ras, o_fm, total),
                       views=tuple(views), detail=detail, neurons=neurons)


class BufferPool:
    """Read-out buffers cut one after the other from an allocation of ``size`` bytes, whose address is
    taken once: right after a forward pass every numpy or ctypes entry point runs cold (~10 µs each,
    against ~1 µs warm; measured in situ), and an allocation and its address were two of them per step.
    A slice handed out is never written again; a snapshot holding one keeps its allocation alive
    (one runner's pool: some 256 kB, the read-outs of ~150 steps of the default model)."""

    def __init__(self, size: int = 1 << 18):
        self.size = int(size)
        self._buf: np.ndarray | None = None
        self._base = 0
        self._used = 0

    def take(self, n: int) -> tuple[np.ndarray, int]:
        """``n`` fresh bytes (16-byte aligned) and their address."""
        n16 = (n + 15) & ~15
        if n16 > self.size:  # larger than a pool: an allocation of its own
            buf = np.empty(n16, np.uint8)
            return buf[:n], buf.ctypes.data
        if self._buf is None or self._used + n16 > self.size:
            self._buf = np.empty(self.size, np.uint8)
            self._base, self._used = self._buf.ctypes.data, 0
        at = self._used
        self._used = at + n16
        return self._buf[at:at + n], self._base + at


def read(lib, plan: ReadoutPlan, neurons, pool: BufferPool) -> tuple | None:
    """Run the C read-out of ``neurons`` by ``plan`` into bytes from ``pool``: ``(out, rate, spatial,
    raster, fmap)``, ``out`` per layer ``[newest step's spikes, the window's spikes, 1 where the layer
    holds values that are not 0/1]`` (lists), the others flat read-only arrays that the plan's ``views``
    cut per layer (``spatial`` and ``fmap`` ``None`` in a plan without detail). ``None`` when a layer's
    tensor no longer matches the plan (the caller plans again)."""
    src = plan.src
    shapes, offsets = plan.shapes, plan.offsets
    for i, (_, m) in enumerate(neurons):
        s = m.last_spikes
        # the C code reads by the planned sizes: the same shape, dtype, device and a dense layout
        if s is None or s.shape != shapes[i] or s.dtype is not torch.float32 or not s.is_cpu or not s.is_contiguous():
            return None
        src[i] = s.data_ptr() + offsets[i]
    o_out, o_rate, o_sp, o_ras, o_fm, total = plan.layout
    buf, base = pool.take(total)
    L = len(offsets)
    lib.spike_readout(L, src, plan.params_ptr, plan.idx_ptrs, base + o_out, base + o_rate, base + o_ras, base + o_fm,
                      base + o_sp)
    buf.setflags(write=False)  # the step's slice: read-only for its snapshots (the pool stays writable)
    out = buf[o_out:o_rate].view(np.int64).reshape(L, 3).tolist()
    if not plan.detail:
        return out, buf[o_rate:o_sp].view(np.float32), None, buf[o_ras:o_fm], None
    return (out, buf[o_rate:o_sp].view(np.float32), buf[o_sp:o_ras].view(np.float32), buf[o_ras:o_fm],
            buf[o_fm:total])
