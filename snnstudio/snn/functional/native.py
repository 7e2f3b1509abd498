"""Optional native (C, threads from Python) kernel for the reset neurons' multi-step forward and backward.

Why hand-written C: eager PyTorch runs the time recursion as ~15 separate tensor ops per step, each
a full pass over memory; the recursion is pointwise across neurons, so one C loop that keeps the
state in registers reads ``x`` once and writes ``s``/``h`` once (forward) and reads ``h``/``dL/ds``
once and writes ``dL/dx`` once (backward). TorchScript cannot fuse on CPU without LLVM, and
``torch.compile`` took ~50 s to build and was slower than eager here.

The source is compiled with the system C compiler (``cc``; about a second) into a cache folder
(``$SNNSTUDIO_CACHE`` or ``~/.cache/snnstudio``), keyed by the source hash, and loaded with
``ctypes`` — no torch headers, no build at import. The neurons are cut into chunks of 2048 that
``torch.get_num_threads()`` Python threads run (ctypes releases the GIL); no OpenMP, because a
second OpenMP runtime next to torch's own made both pools spin against each other. :func:`load` returns the library when it is
already built; :func:`build` builds it (never called on a GUI start path: the neuron calls it
only when a multi-step forward needs gradients). Anything failing → ``None`` and the eager
kernel runs instead (:mod:`snnstudio.snn.functional.lif`), which stays the reference.

Same arithmetic as the eager step (``h = (x·b + c) + v·a``, no FMA contraction in the forward),
so spikes are identical; the backward is compiled with fast math (vectorised ``expf``): gradients
agree to ~1e-7 relative.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor

import torch

from snnstudio.native import NativeLibrary

_FWD_SRC = r"""
#include <stddef.h>
#define CH 2048
/* chunks [c0, c1) of CH neurons each; the caller spreads chunk ranges over threads */
void lif_fwd(const float* x, float* s, float* h, float* vlast, const float* v0, long T, long N,
             float a, float b, float c, float v0f, float theta, float vr, int hard, int strict, long c0, long c1)
{
    for (long ci = c0; ci < c1; ++ci) {
        long n0 = ci * CH, n1 = n0 + CH < N ? n0 + CH : N, m = n1 - n0;
        float v[CH];
        for (long i = 0; i < m; ++i) v[i] = v0 ? v0[n0 + i] : v0f;
        for (long t = 0; t < T; ++t) {
            const float* xt = x + t * N + n0;
            float* ht = h + t * N + n0;
            float* st = s + t * N + n0;
            for (long i = 0; i < m; ++i) {
                float bx = xt[i] * b;
                bx = bx + c;
                float hv = bx + v[i] * a;
                int f = strict ? (hv > theta) : (hv >= theta);
                ht[i] = hv;
                st[i] = f ? 1.0f : 0.0f;
                v[i] = hard ? (f ? vr : hv) : (f ? hv - theta : hv);
            }
        }
        for (long i = 0; i < m; ++i) vlast[n0 + i] = v[i];
    }
}
"""

_BWD_SRC = r"""
#include <math.h>
#include <stddef.h>
#define CH 2048
/* surrogate derivatives; sur: 0 sigmoid(p), 1 atan(p), 2 triangle(p), 3 rectangular(p), 4 fastsig(p) */
/* α·σ(αz)·(1 − σ(αz)) = α·e/(1 + e)², e = exp(−α|z|) (symmetric; no cancellation in 1 − σ) */
static inline float sg_sigmoid(float z, float p) { float e = expf(-p * fabsf(z)), d = 1.0f + e; return p * e / (d * d); }
static inline float sg_atan(float z, float p) { float k = 1.5707963267948966f * p * z; return 0.5f * p / (1.0f + k * k); }
static inline float sg_triangle(float z, float p) { float r = 1.0f - fabsf(z) / p; return r > 0.0f ? r / p : 0.0f; }
static inline float sg_rect(float z, float p) { return fabsf(z) < p ? 0.5f / p : 0.0f; }
static inline float sg_fastsig(float z, float p) { float d = p * fabsf(z) + 1.0f; return 1.0f / (d * d); }

/* one time step of the reverse recursion over the chunk, straight-line so that it vectorises */
#define STEP(SG) for (long i = 0; i < m; ++i) { \
        float hv = ht[i], z = hv - theta, sg = SG(z, p); \
        float f = strict ? (z > 0.0f ? 1.0f : 0.0f) : (z >= 0.0f ? 1.0f : 0.0f); \
        float A = hard ? (1.0f - f) + kd * sg * (vr - hv) : 1.0f - kd * sg * theta; \
        float g = sg * gt[i] + a * gn[i] * A; \
        gn[i] = g; ot[i] = g * b; }

void lif_bwd(const float* h, const float* gs, float* gx, const float* x, const float* v0, long T, long N,
             float a, float b, float v0f, float theta, float vr, int hard, int strict, int detach,
             int sur, float p, int need_abc, double* sums, long c0, long c1)
{
    float kd = detach ? 0.0f : 1.0f;
    double sa = 0.0, sb = 0.0, sc = 0.0;
    for (long ci = c0; ci < c1; ++ci) {
        long n0 = ci * CH, n1 = n0 + CH < N ? n0 + CH : N, m = n1 - n0;
        float gn[CH];
        for (long i = 0; i < m; ++i) gn[i] = 0.0f;
        for (long t = T - 1; t >= 0; --t) {
            const float* ht = h + t * N + n0;
            const float* gt = gs + t * N + n0;
            float* ot = gx + t * N + n0;
            switch (sur) {
            case 0: STEP(sg_sigmoid) break;
            case 1: STEP(sg_atan) break;
            case 2: STEP(sg_triangle) break;
            case 3: STEP(sg_rect) break;
            default: STEP(sg_fastsig) break;
            }
            if (need_abc) {  /* PLIF: sums for dL/da, dL/db, dL/dc (g_h = dL/dx / b) */
                const float* hp = t > 0 ? h + (t - 1) * N + n0 : NULL;
                const float* xt = x ? x + t * N + n0 : NULL;
                double la = 0.0, lb = 0.0, lc = 0.0;
                for (long i = 0; i < m; ++i) {
                    float g = gn[i], vp;
                    if (hp) {
                        float q = hp[i], fq = (strict ? (q > theta) : (q >= theta)) ? 1.0f : 0.0f;
                        vp = hard ? (fq > 0.0f ? vr : q) : q - fq * theta;
                    } else vp = v0 ? v0[n0 + i] : v0f;
                    la += g * vp; lc += g;
                    if (xt) lb += g * xt[i];
                }
                sa += la; sb += lb; sc += lc;
            }
        }
    }
    sums[0] = sa; sums[1] = sb; sums[2] = sc;
}
"""

SURROGATE_CODES = {"sigmoid": (0, "alpha"), "atan": (1, "alpha"), "triangle": (2, "gamma"),
                   "rectangular": (3, "width"), "fastsig": (4, "scale")}

def _bind(lib: ctypes.CDLL) -> ctypes.CDLL:
    P, L, F, I = ctypes.c_void_p, ctypes.c_long, ctypes.c_float, ctypes.c_int
    lib.lif_fwd.argtypes = [P, P, P, P, P, L, L, F, F, F, F, F, F, I, I, L, L]
    lib.lif_fwd.restype = None
    lib.lif_bwd.argtypes = [P, P, P, P, P, L, L, F, F, F, F, F, I, I, I, I, F, I, P, L, L]
    lib.lif_bwd.restype = None
    return lib


def _libs(cc: str) -> list[str]:
    """``-lmvec`` (glibc's vector math, used by the vectorised ``expf``) when the toolchain has it."""
    probe = subprocess.run([cc, "-print-file-name=libmvec.so"], capture_output=True, text=True)
    has_mvec = probe.returncode == 0 and os.path.sep in probe.stdout.strip()
    return ["-lmvec", "-lm"] if has_mvec else ["-lm"]


# compiled and cached by the shared helper; the forward without FMA contraction (spikes identical
# to the eager step), the backward with fast math (vectorised ``expf``)
_KERNEL = NativeLibrary("lif_kernel", [(_FWD_SRC, ["-fopenmp-simd", "-ffp-contract=off"]),
                                       (_BWD_SRC, ["-fopenmp-simd", "-ffast-math"])],
                        bind=_bind, libs=_libs, version="v5")
#: the kernel library if it is already built (never builds)
load = _KERNEL.load
#: build (once per source version) and load the kernel; ``None`` when no compiler works
build = _KERNEL.build


def supports(x: torch.Tensor, surrogate) -> bool:
    return (x.dtype == torch.float32 and x.device.type == "cpu" and getattr(surrogate, "name", None) in SURROGATE_CODES
            and not surrogate.learnable)


_CH = 2048  # neurons per chunk (CH in the C source)
_MIN_PARALLEL = 1 << 16  # below this many neurons×steps one thread is faster
_pool: ThreadPoolExecutor | None = None


def _run_chunks(call, N: int, T: int) -> list:
    """Run ``call(c0, c1)`` over the chunk range split across ``torch.get_num_threads()`` threads
    (ctypes releases the GIL during the C call)."""
    global _pool
    nch = (N + _CH - 1) // _CH
    nt = min(torch.get_num_threads(), nch)
    if nt <= 1 or N * T < _MIN_PARALLEL:
        return [call(0, nch)]
    if _pool is None or _pool._max_workers < nt:
        _pool = ThreadPoolExecutor(max_workers=nt, thread_name_prefix="snn-lif")
    bounds = [round(i * nch / nt) for i in range(nt + 1)]
    futures = [_pool.submit(call, bounds[i], bounds[i + 1]) for i in range(1, nt)]
    out = [call(bounds[0], bounds[1])]
    return out + [f.result() for f in futures]


def _ptr(t: torch.Tensor | None):
    return None if t is None else ctypes.c_void_p(t.data_ptr())


def forward(lib, x, a, b, c, v0, cfg):
    """``(s, h, v_last)`` for ``x`` ``[T, ...]`` (float32, contiguous)."""
    T = x.shape[0]
    N = x[0].numel()
    s = torch.empty_like(x)
    h = torch.empty_like(x)
    vlast = torch.empty_like(x[0])
    v0t = v0.contiguous().float() if isinstance(v0, torch.Tensor) else None
    hard = cfg.v_reset is not None
    args = (_ptr(x), _ptr(s), _ptr(h), _ptr(vlast), _ptr(v0t), T, N, a, b, c,
            0.0 if v0t is not None else float(v0), cfg.v_threshold, cfg.v_reset if hard else 0.0,
            int(hard), int(cfg.strict))
    _run_chunks(lambda c0, c1: lib.lif_fwd(*args, c0, c1), N, T)
    return s, h, vlast


def backward(lib, h, g_s, x, v0, a, b, cfg, surrogate, need_abc: bool):
    """``(dL/dx, (Σ g_h·v_{t−1}, Σ g_h·x, Σ g_h))``."""
    T = h.shape[0]
    N = h[0].numel()
    gx = torch.empty_like(h)
    gs = g_s.contiguous()
    code, attr = SURROGATE_CODES[surrogate.name]
    v0t = v0.contiguous().float() if isinstance(v0, torch.Tensor) else None
    hard = cfg.v_reset is not None
    args = (_ptr(h), _ptr(gs), _ptr(gx), _ptr(x), _ptr(v0t), T, N, a, b,
            0.0 if v0t is not None else float(v0), cfg.v_threshold, cfg.v_reset if hard else 0.0,
            int(hard), int(cfg.strict), int(cfg.detach_reset), code, float(getattr(surrogate, attr)), int(need_abc))

    def call(c0, c1):
        sums = (ctypes.c_double * 3)()
        lib.lif_bwd(*args, sums, c0, c1)
        return tuple(sums)

    parts = _run_chunks(call, N, T)
    return gx, tuple(sum(p[i] for p in parts) for i in range(3))
