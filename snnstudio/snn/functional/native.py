"""Optional native (C, run in torch's OpenMP pool) kernels: the reset neurons' multi-step forward and backward,
and the PSN family's ``S = Θ(W·X + b)`` forward and backward.

Why hand-written C: eager PyTorch runs the time recursion as ~15 separate tensor ops per step, each
a full pass over memory; the recursion is pointwise across neurons, so one C loop that keeps the
state in registers reads ``x`` once and writes ``s``/``h`` once (forward) and reads ``h``/``dL/ds``
once and writes ``dL/dx`` once (backward). TorchScript cannot fuse on CPU without LLVM, and
``torch.compile`` takes tens of seconds to build (SpikingJelly's LIF under it is the peer in
``snnstudio bench --only neurons``, which has the figures). What each part does:

* the surrogate's ``exp`` (sigmoid): an inline branch-free Cephes ``expf``, vectorised by the
  compiler at any SIMD width (libm's scalar ``expf`` made the backward compute-bound);
* forward: blocks of 32 neurons whose membranes stay in vector registers over the
  time loop, spikes (and the membrane, only for a probe that records it) stored straight to the
  output; training without a membrane record writes no ``h`` either: the backward recomputes it
  from ``x`` block by block in cache (:func:`backward_from_x`, the forward's arithmetic, so the
  same bits), which reads ``x`` once and writes ``dL/dx`` once;
* the backward from a saved ``h`` and the PSN: outputs larger than :data:`NT_BYTES` are computed
  into a cache-resident row and copied out with streaming stores (no read of the destination);
* ``s.sum().backward()`` hands an expanded scalar ``dL/ds``: passed as one number, never materialised;
* PSN: the ``[T, T]`` products run on ``[T, 512]`` blocks of neurons in cache, register-blocked
  2 output × 4 input rows, with the surrogate, ``Wᵀ·dL/dH``, ``dL/dW`` and ``dL/db`` in one backward pass.

Build: the system C compiler (``cc``; about two seconds), ``-O3 -march=native`` first and a portable
flag set when that fails (:data:`FLAG_SETS`), into a cache folder (``$SNNSTUDIO_CACHE`` or
``~/.cache/snnstudio``) under a name that hashes the sources, the flags and — for ``-march=native`` —
the CPU model and feature flags, so a shared cache never hands a library to a CPU that cannot run it.
Loaded with ``ctypes`` — no torch headers, no build at import. The neurons are cut into chunks (2048
for the LIF, 512 for the PSN) and :data:`TASKS` groups of chunks that ``torch.get_num_threads()``
threads share. Where torch's own thread pool is OpenMP (Linux wheels), the library is built with
``-fopenmp`` and its ``*_par`` entry points run the tasks in that very pool (``libgomp`` is matched
by its soname, so no second runtime is loaded; :func:`_omp_usable` checks the process's mappings):
the threads a convolution just used are still spinning and take the kernel at once, where a separate
pool of threads would fight them for the cores (a neuron forward right after a compiled peer's took
2-3 times as long on Python threads). Elsewhere (or when a second runtime shows up) Python threads
run the same tasks (ctypes releases the GIL).
:func:`load` returns the library when it is already built; :func:`build` builds it (never called on a
GUI start path: the neurons call it only when a multi-step forward needs gradients). Anything
failing → ``None`` and the eager kernels run instead (:mod:`snnstudio.snn.functional.lif`,
:mod:`snnstudio.snn.functional.parallel`), which stay the reference.

The LIF forward has the same arithmetic as the eager step (``h = (x·b + c) + v·a``, no FMA
contraction: ``-ffp-contract=off``), so spikes are identical, whatever the thread count; the
backward contracts to FMAs: gradients agree to ~1e-7 relative. The PSN sums run in another order
than the BLAS: ``H`` agrees to float rounding (~1e-7 relative), spikes except where ``|H|`` is that close to 0.
"""

from __future__ import annotations

import ctypes
import threading
from concurrent.futures import ThreadPoolExecutor

import torch

from snnstudio.native import NativeLibrary

_CH = 2048  # neurons per chunk of the reset-neuron kernels (CH in the C source)
_LB = 32  # lanes of a forward / recomputing-backward block: their membranes stay in registers (LB)
_PC = 512  # neurons per chunk of the PSN kernels (PC)
#: the block sizes, defined once for every C unit
_SIZES = f"#define CH {_CH}\n#define LB {_LB}\n#define PC {_PC}\n"

_COMMON_SRC = _SIZES + r"""
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
/* copy a finished row from a cache-resident buffer to its place in a big output tensor; with nt,
   by non-temporal (streaming) stores: a tensor larger than the caches is not read back before it is
   overwritten (no write-allocate), which saves a third of the memory traffic of a pass */
static void put(float* restrict dst, const float* restrict src, long m, int nt) {
#if defined(__SSE2__)
    if (nt) {
        long i = 0;
        for (; i < m && ((uintptr_t)(dst + i) & 15u); ++i) dst[i] = src[i];
        for (; i + 4 <= m; i += 4) _mm_stream_ps(dst + i, _mm_loadu_ps(src + i));
        for (; i < m; ++i) dst[i] = src[i];
        return;
    }
#endif
    memcpy(dst, src, (size_t)m * sizeof(float));
}
static void fence(int nt) {
#if defined(__SSE2__)
    if (nt) _mm_sfence();
#endif
    (void)nt;
}
"""

_FWD_SRC = _COMMON_SRC + r"""
/* the charge h = (x·b + c) + v·a, in this order and unfused (the eager step's rounding): the forward
   and the backward's recompute both use it, so they produce the same h bit for bit */
#define CHARGE(XV, VV) ((((XV) * b) + c) + (VV) * a)
/* one step over a block of lanes: v stays in registers over the time loop; spikes (and the membrane
   when h is not NULL) written straight to the output, rows N apart */
#define FWD_BLOCK(M, RESET, STORE_H) \
    for (long t = 0; t < T; ++t) { \
        const float* restrict xt = x + t * N + i0; \
        float* restrict st = s + t * N + i0; \
        float* restrict ht = h ? h + t * N + i0 : st; \
        for (long i = 0; i < (M); ++i) { \
            float hv = CHARGE(xt[i], v[i]); \
            int f = strict ? (hv > theta) : (hv >= theta); \
            STORE_H \
            st[i] = f ? 1.0f : 0.0f; \
            v[i] = f ? (RESET) : hv; \
        } \
    }
/* chunks [c0, c1) of CH neurons each; the caller spreads chunk ranges over threads */
void lif_fwd(const float* restrict x, float* restrict s, float* restrict h, float* restrict vlast,
             const float* restrict v0, long T, long N, float a, float b, float c, float v0f, float theta,
             float vr, int hard, int strict, long c0, long c1)
{
    long n_end = c1 * CH < N ? c1 * CH : N;
    for (long i0 = c0 * CH; i0 < n_end; i0 += LB) {
        long mb = n_end - i0 < LB ? n_end - i0 : LB;
        float v[LB];
        for (long i = 0; i < mb; ++i) v[i] = v0 ? v0[i0 + i] : v0f;
        if (mb == LB) {  /* a constant trip count: the block's membranes live in vector registers */
            if (hard) {
                if (h) { FWD_BLOCK(LB, vr, ht[i] = hv;) } else { FWD_BLOCK(LB, vr, ) }
            } else {
                if (h) { FWD_BLOCK(LB, hv - theta, ht[i] = hv;) } else { FWD_BLOCK(LB, hv - theta, ) }
            }
        } else if (hard) {
            if (h) { FWD_BLOCK(mb, vr, ht[i] = hv;) } else { FWD_BLOCK(mb, vr, ) }
        } else {
            if (h) { FWD_BLOCK(mb, hv - theta, ht[i] = hv;) } else { FWD_BLOCK(mb, hv - theta, ) }
        }
        if (vlast) for (long i = 0; i < mb; ++i) vlast[i0 + i] = v[i];  /* NULL: no state kept */
    }
}
/* h over the T steps of lanes [i0, i0 + mb) (mb <= LB) into hb (T rows of LB floats), with the forward's
   arithmetic (this unit has no FMA contraction): the backward recomputes h instead of reading it */
void lif_recompute(const float* restrict x, const float* restrict v0, long T, long N, float a, float b, float c,
                   float v0f, float theta, float vr, int hard, int strict, long i0, long mb, float* restrict hb)
{
    float v[LB];
    for (long i = 0; i < mb; ++i) v[i] = v0 ? v0[i0 + i] : v0f;
    for (long t = 0; t < T; ++t) {
        const float* restrict xt = x + t * N + i0;
        float* restrict ht = hb + t * LB;
        for (long i = 0; i < mb; ++i) {
            float hv = CHARGE(xt[i], v[i]);
            int f = strict ? (hv > theta) : (hv >= theta);
            ht[i] = hv;
            v[i] = f ? (hard ? vr : hv - theta) : hv;
        }
    }
}
"""

_BWD_SRC = _COMMON_SRC + r"""
/* exp(x) for x <= 0: Cephes expf (x = n ln2 + r, |r| <= ln2/2, degree-6 polynomial, ~1 ulp); no libm
   call, branch-free, so the loop vectorises at any SIMD width (libm's scalar expf made the sigmoid
   surrogate 4x slower than the memory traffic). Below 2^-126 it returns 0; the clamp is done on the
   integer side because gcc -march=native would not if-convert a float clamp here. */
static inline float exp_nonpos(float x) {
    int n = (int)(x * 1.44269504088896341f - 0.5f);  /* trunc toward 0 of a value <= 0: round to nearest */
    int tiny = n < -126;
    n = tiny ? -126 : n;
    float fn = (float)n;
    float r = (x - fn * 0.693359375f) + fn * 2.12194440e-4f;
    float y = 1.9875691500e-4f;
    y = y * r + 1.3981999507e-3f;
    y = y * r + 8.3334519073e-3f;
    y = y * r + 4.1665795894e-2f;
    y = y * r + 1.6666665459e-1f;
    y = y * r + 5.0000001201e-1f;
    y = y * (r * r) + r + 1.0f;
    int32_t bits = (int32_t)((uint32_t)(n + 127) << 23);
    float sc;
    memcpy(&sc, &bits, sizeof sc);
    return tiny ? 0.0f : y * sc;
}
/* surrogate derivatives; sur: 0 sigmoid(p), 1 atan(p), 2 triangle(p), 3 rectangular(p), 4 fastsig(p) */
/* a·s(az)·(1 - s(az)) = a·e/(1 + e)^2, e = exp(-a|z|) (symmetric; no cancellation in 1 - s) */
static inline float sg_sigmoid(float z, float p) { float e = exp_nonpos(-p * __builtin_fabsf(z)), d = 1.0f + e; return p * e / (d * d); }
static inline float sg_atan(float z, float p) { float k = 1.5707963267948966f * p * z; return 0.5f * p / (1.0f + k * k); }
static inline float sg_triangle(float z, float p) { float r = 1.0f - __builtin_fabsf(z) / p; return r > 0.0f ? r / p : 0.0f; }
static inline float sg_rect(float z, float p) { return __builtin_fabsf(z) < p ? 0.5f / p : 0.0f; }
static inline float sg_fastsig(float z, float p) { float d = p * __builtin_fabsf(z) + 1.0f; return 1.0f / (d * d); }

/* one step of the reverse recursion over a chunk, surrogate inlined, straight-line so that it vectorises:
   g_h = sg·g_s + a·g_h[t+1]·A,  hard: A = (1 - s) + sg·(v_reset - h),  soft: A = 1 - sg·theta */
#define STEP_HARD(SG) for (long i = 0; i < m; ++i) { \
        float hv = ht[i], z = hv - theta, sg = SG(z, p); \
        float f = strict ? (z > 0.0f ? 1.0f : 0.0f) : (z >= 0.0f ? 1.0f : 0.0f); \
        float g = sg * gt[i] + a * gn[i] * ((1.0f - f) + kd * sg * (vr - hv)); \
        gn[i] = g; ob[i] = g * b; }
#define STEP_SOFT(SG) for (long i = 0; i < m; ++i) { \
        float sg = SG(ht[i] - theta, p); \
        float g = sg * gt[i] + a * gn[i] * (1.0f - kd * sg * theta); \
        gn[i] = g; ob[i] = g * b; }
#define CASES(STEP) switch (sur) { \
        case 0: STEP(sg_sigmoid) break; case 1: STEP(sg_atan) break; case 2: STEP(sg_triangle) break; \
        case 3: STEP(sg_rect) break; default: STEP(sg_fastsig) break; }

/* PLIF: one step's per-neuron float sums g_h·v_{t-1}, g_h·x, g_h over m neurons: hp is h at t − 1
   (NULL at t = 0: the start state v0, or v0f everywhere when v0 is NULL), xt the input (NULL: none) */
static inline void abc_step(const float* restrict hp, const float* restrict v0, float v0f, const float* restrict xt,
                            const float* restrict gn, long m, float theta, float vr, int hard, int strict,
                            float* restrict accA, float* restrict accB, float* restrict accC)
{
    if (hp) {
        for (long i = 0; i < m; ++i) {
            float q = hp[i], fq = (strict ? (q > theta) : (q >= theta)) ? 1.0f : 0.0f;
            float vp = hard ? (fq > 0.0f ? vr : q) : q - fq * theta;
            accA[i] += gn[i] * vp;
        }
    } else {
        for (long i = 0; i < m; ++i) accA[i] += gn[i] * (v0 ? v0[i] : v0f);
    }
    if (xt) for (long i = 0; i < m; ++i) accB[i] += gn[i] * xt[i];
    for (long i = 0; i < m; ++i) accC[i] += gn[i];
}

/* reverse recursion per chunk; gs NULL = dL/ds is the constant gsc everywhere (the expanded
   gradient of a .sum(): never materialised) */
void lif_bwd(const float* restrict h, const float* restrict gs, float gsc, float* restrict gx,
             const float* restrict x, const float* restrict v0, long T, long N,
             float a, float b, float v0f, float theta, float vr, int hard, int strict, int detach,
             int sur, float p, int need_abc, int nt, double* sums, long c0, long c1)
{
    float kd = detach ? 0.0f : 1.0f;
    double sa = 0.0, sb = 0.0, sc = 0.0;
    float gn[CH], gconst[CH], ob[CH], accA[CH], accB[CH], accC[CH];
    if (!gs) for (long i = 0; i < CH; ++i) gconst[i] = gsc;
    for (long ci = c0; ci < c1; ++ci) {
        long n0 = ci * CH, n1 = n0 + CH < N ? n0 + CH : N, m = n1 - n0;
        for (long i = 0; i < m; ++i) gn[i] = 0.0f;
        if (need_abc) for (long i = 0; i < m; ++i) { accA[i] = 0.0f; accB[i] = 0.0f; accC[i] = 0.0f; }
        for (long t = T - 1; t >= 0; --t) {
            const float* restrict ht = h + t * N + n0;
            const float* restrict gt = gs ? gs + t * N + n0 : gconst;
            if (hard) CASES(STEP_HARD) else CASES(STEP_SOFT)
            put(gx + t * N + n0, ob, m, nt);
            if (need_abc)
                abc_step(t > 0 ? h + (t - 1) * N + n0 : NULL, v0 ? v0 + n0 : NULL, v0f, x ? x + t * N + n0 : NULL,
                         gn, m, theta, vr, hard, strict, accA, accB, accC);
        }
        if (need_abc) for (long i = 0; i < m; ++i) { sa += accA[i]; sb += accB[i]; sc += accC[i]; }
    }
    fence(nt);
    sums[0] = sa; sums[1] = sb; sums[2] = sc;
}

void lif_recompute(const float*, const float*, long, long, float, float, float, float, float, float, int, int, long,
                   long, float*);
/* the same reverse recursion from x instead of a saved h: per block of LB lanes, h is recomputed into hb
   (T·LB floats of this task's scratch) with the forward's arithmetic, then run backward; dL/dx written
   straight to gx. Reads x once and writes dL/dx once: the forward then never writes h. */
void lif_bwd_x(const float* restrict x, const float* restrict gs, float gsc, float* restrict gx,
               const float* restrict v0, long T, long N, float a, float b, float c, float v0f, float theta, float vr,
               int hard, int strict, int detach, int sur, float p, int need_abc, float* restrict hb, double* sums,
               long c0, long c1)
{
    float kd = detach ? 0.0f : 1.0f;
    double sa = 0.0, sb = 0.0, sc = 0.0;
    float gn[LB], gconst[LB], accA[LB], accB[LB], accC[LB];
    if (!gs) for (long i = 0; i < LB; ++i) gconst[i] = gsc;
    long n_end = c1 * CH < N ? c1 * CH : N;
    for (long i0 = c0 * CH; i0 < n_end; i0 += LB) {
        long m = n_end - i0 < LB ? n_end - i0 : LB;
        lif_recompute(x, v0, T, N, a, b, c, v0f, theta, vr, hard, strict, i0, m, hb);
        for (long i = 0; i < m; ++i) gn[i] = 0.0f;
        if (need_abc) for (long i = 0; i < m; ++i) { accA[i] = 0.0f; accB[i] = 0.0f; accC[i] = 0.0f; }
        for (long t = T - 1; t >= 0; --t) {
            const float* restrict ht = hb + t * LB;
            const float* restrict gt = gs ? gs + t * N + i0 : gconst;
            float* restrict ob = gx + t * N + i0;
            if (hard) CASES(STEP_HARD) else CASES(STEP_SOFT)
            if (need_abc)
                abc_step(t > 0 ? hb + (t - 1) * LB : NULL, v0 ? v0 + i0 : NULL, v0f, x + t * N + i0, gn, m, theta, vr,
                         hard, strict, accA, accB, accC);
        }
        if (need_abc) for (long i = 0; i < m; ++i) { sa += accA[i]; sb += accB[i]; sc += accC[i]; }
    }
    sums[0] = sa; sums[1] = sb; sums[2] = sc;
}
"""

#: the parallel spiking neurons (PSN family): S = Θ(W·X + b) over time, chunk by chunk of neurons, so
#: that one chunk's [T, PC] block of X, H and dL/dH stays in cache between the T×T products
_PSN_SRC = _BWD_SRC.split("#define STEP_HARD")[0] + r"""
/* out[t][i] = sum_j a[t*T + j]·in[j*ld + i] for t < T, i < m (out rows PC apart): 2 output rows × 4 input
   rows at a time, so that each loaded vector feeds 2 FMAs and each stored one 4 (a plain row-by-row
   loop is bound by the stores); blocks of zero weights (masked / banded W) are skipped */
static void tmat(const float* restrict a, const float* restrict in, long ld, float* restrict out, long T, long m) {
    long t = 0;
    for (; t < T; t += 2) {
        int two = t + 1 < T;
        const float* a0 = a + t * T;
        const float* a1 = two ? a0 + T : a0;
        float* restrict o0 = out + t * PC;
        float* restrict o1 = two ? o0 + PC : o0;
        for (long i = 0; i < m; ++i) o0[i] = 0.0f;
        if (two) for (long i = 0; i < m; ++i) o1[i] = 0.0f;
        long j = 0;
        for (; j + 4 <= T; j += 4) {
            float w00 = a0[j], w01 = a0[j + 1], w02 = a0[j + 2], w03 = a0[j + 3];
            float w10 = two ? a1[j] : 0.0f, w11 = two ? a1[j + 1] : 0.0f, w12 = two ? a1[j + 2] : 0.0f, w13 = two ? a1[j + 3] : 0.0f;
            if (w00 == 0.0f && w01 == 0.0f && w02 == 0.0f && w03 == 0.0f &&
                w10 == 0.0f && w11 == 0.0f && w12 == 0.0f && w13 == 0.0f) continue;
            const float* restrict x0 = in + j * ld;
            const float* restrict x1 = x0 + ld;
            const float* restrict x2 = x1 + ld;
            const float* restrict x3 = x2 + ld;
            if (two) {
                for (long i = 0; i < m; ++i) {
                    float v0 = x0[i], v1 = x1[i], v2 = x2[i], v3 = x3[i];
                    o0[i] += (w00 * v0 + w01 * v1) + (w02 * v2 + w03 * v3);
                    o1[i] += (w10 * v0 + w11 * v1) + (w12 * v2 + w13 * v3);
                }
            } else {
                for (long i = 0; i < m; ++i)
                    o0[i] += (w00 * x0[i] + w01 * x1[i]) + (w02 * x2[i] + w03 * x3[i]);
            }
        }
        for (; j < T; ++j) {
            float w0 = a0[j], w1 = two ? a1[j] : 0.0f;
            if (w0 == 0.0f && w1 == 0.0f) continue;
            const float* restrict x0 = in + j * ld;
            for (long i = 0; i < m; ++i) o0[i] += w0 * x0[i];
            if (two) for (long i = 0; i < m; ++i) o1[i] += w1 * x0[i];
        }
    }
}

/* H = W X + b and S = Θ(H) (H > 0 when strict) for chunks [c0, c1) of PC neurons; X, H, S [T, N], W [T, T];
   work: T·PC floats of scratch */
void psn_fwd(const float* restrict x, const float* restrict w, const float* restrict bias, float* restrict h,
             float* restrict s, long T, long N, int strict, int nt, float* restrict work, long c0, long c1)
{
    float sb[PC];
    for (long ci = c0; ci < c1; ++ci) {
        long n0 = ci * PC, m = n0 + PC < N ? PC : N - n0;
        tmat(w, x + n0, N, work, T, m);
        for (long t = 0; t < T; ++t) {
            float* restrict hb = work + t * PC;
            float bt = bias[t];
            for (long i = 0; i < m; ++i) {
                float hv = hb[i] + bt;
                hb[i] = hv;
                sb[i] = (strict ? hv > 0.0f : hv >= 0.0f) ? 1.0f : 0.0f;
            }
            if (h) put(h + t * N + n0, hb, m, nt);  /* NULL: inference without a membrane probe */
            put(s + t * N + n0, sb, m, nt);
        }
    }
    fence(nt);
}

#define SGROWS(GV) switch (sur) { \
    case 0: for (long i = 0; i < m; ++i) g[i] = (GV) * sg_sigmoid(ht[i], p); break; \
    case 1: for (long i = 0; i < m; ++i) g[i] = (GV) * sg_atan(ht[i], p); break; \
    case 2: for (long i = 0; i < m; ++i) g[i] = (GV) * sg_triangle(ht[i], p); break; \
    case 3: for (long i = 0; i < m; ++i) g[i] = (GV) * sg_rect(ht[i], p); break; \
    default: for (long i = 0; i < m; ++i) g[i] = (GV) * sg_fastsig(ht[i], p); break; }

/* gh = dL/dS·sg(H) in a [T, PC] buffer; dL/dX = Wᵀ·gh; dL/dW[t, j] += sum gh[t]·X[j] (where gw_need[t*T+j],
   all when NULL); dL/db[t] += sum gh[t]. gs NULL: dL/dS is the constant gsc. gw, gb: this thread's sums.
   wt: Wᵀ (row-major); work: 2·T·PC floats of scratch. */
void psn_bwd(const float* restrict x, const float* restrict wt, const float* restrict h, const float* restrict gs,
             float gsc, float* restrict gx, double* restrict gw, double* restrict gb, const unsigned char* gw_need,
             long T, long N, int sur, float p, int need_x, int need_w, int need_b, int nt, float* restrict work,
             long c0, long c1)
{
    float* restrict gh = work;
    float* restrict ob = work + T * PC;
    for (long ci = c0; ci < c1; ++ci) {
        long n0 = ci * PC, m = n0 + PC < N ? PC : N - n0;
        for (long t = 0; t < T; ++t) {
            const float* restrict ht = h + t * N + n0;
            float* restrict g = gh + t * PC;
            if (gs) {
                const float* restrict gt = gs + t * N + n0;
                SGROWS(gt[i])
            } else {
                SGROWS(gsc)
            }
            if (need_b) {
                float acc = 0.0f;
                _Pragma("omp simd reduction(+:acc)")
                for (long i = 0; i < m; ++i) acc += g[i];
                gb[t] += acc;
            }
        }
        if (need_x) {
            tmat(wt, gh, PC, ob, T, m);
            for (long j = 0; j < T; ++j) put(gx + j * N + n0, ob + j * PC, m, nt);
        }
        if (need_w) {  /* 2 rows of gh × 4 rows of X at a time: 8 dot products per pass over the chunk */
            for (long t = 0; t < T; t += 2) {
                int two = t + 1 < T;
                const float* restrict g0 = gh + t * PC;
                const float* restrict g1 = two ? g0 + PC : g0;
                for (long j = 0; j < T; j += 4) {
                    long nj = T - j < 4 ? T - j : 4;
                    const float* restrict x0 = x + j * N + n0;
                    const float* restrict x1 = nj > 1 ? x0 + N : x0;
                    const float* restrict x2 = nj > 2 ? x0 + 2 * N : x0;
                    const float* restrict x3 = nj > 3 ? x0 + 3 * N : x0;
                    if (gw_need) {
                        int any = 0;
                        for (long jj = j; jj < j + nj; ++jj) any |= gw_need[t * T + jj] | (two ? gw_need[(t + 1) * T + jj] : 0);
                        if (!any) continue;
                    }
                    float s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
                    _Pragma("omp simd reduction(+:s00,s01,s02,s03,s10,s11,s12,s13)")
                    for (long i = 0; i < m; ++i) {
                        float a0 = g0[i], a1 = g1[i], v0 = x0[i], v1 = x1[i], v2 = x2[i], v3 = x3[i];
                        s00 += a0 * v0; s01 += a0 * v1; s02 += a0 * v2; s03 += a0 * v3;
                        s10 += a1 * v0; s11 += a1 * v1; s12 += a1 * v2; s13 += a1 * v3;
                    }
                    float r[2][4] = {{s00, s01, s02, s03}, {s10, s11, s12, s13}};
                    for (int u = 0; u < 1 + two; ++u)
                        for (long jj = 0; jj < nj; ++jj) {
                            long k = (t + u) * T + j + jj;
                            if (!gw_need || gw_need[k]) gw[k] += r[u][jj];
                        }
                }
            }
        }
    }
    fence(nt);
}
"""

#: one stream step's read-out of every layer in one call (the studio's read-out,
#: :mod:`snnstudio.engine.native_readout`): per layer the newest time step of one sample, its spikes per
#: channel (a rate: count / values per channel), its total and the raster's neurons, and at detail rate
#: also the window's spikes, the feature map (0/1 bytes) and the share of channels that fired at each
#: position — one pass, where numpy took a dozen calls per layer
_READOUT_SRC = r"""
#include <stdint.h>
#define NP 12
/* Layer l reads src[l]: the newest step's n float32 values (0/1 spikes); the window's older steps lie
   `stride` values apart before it. Its parameters p[NP l + ...] (int64): 0 n, 1 c channels of n / c values
   each (a flat layer: c == n), 2 k raster indices idx[l], 3 off_c into rate, 4 off_k into raster, 5 win the
   steps counted for the window (the newest included; 0: none), 6 stride, 7 fm values copied to the feature
   map from the start (0: none), 8 off_fm into fmap, 9 sp (1: the spatial share over the c channels of
   n / c positions, 0: none), 10 off_sp into spatial. Writes rate[off_c + j] (spikes / values of channel j),
   raster[off_k + q] (0/1 of neuron idx[l][q]), fmap (0/1), spatial (spikes / c per position) and out[3 l]:
   the newest step's spikes, the window's spikes (their sum), and 1 when the newest step holds a value neither
   0 nor 1 (the caller then reads the layer the slow way; its other outputs are not meaningful). */
void spike_readout(int L, const float* const* src, const int64_t* p, const int64_t* const* idx, int64_t* out,
                   float* rate, unsigned char* raster, unsigned char* fmap, float* spatial)
{
    for (int l = 0; l < L; ++l) {
        const int64_t* q = p + NP * l;
        const float* s = src[l];
        const int64_t n = q[0], c = q[1], k = q[2], per = n / c, win = q[5], stride = q[6], fm = q[7];
        float* r = rate + q[3];
        float* sp = q[9] ? spatial + q[10] : 0;
        int64_t total = 0;
        int odd = 0;
        if (sp)
            for (int64_t i = 0; i < per; ++i) sp[i] = 0.0f;
        for (int64_t j = 0; j < c; ++j) {
            const float* row = s + j * per;
            float acc = 0.0f;
            int o = 0;
            if (sp) {
                _Pragma("omp simd reduction(+:acc) reduction(|:o)")
                for (int64_t i = 0; i < per; ++i) { float v = row[i]; acc += v; o |= (v != 0.0f) & (v != 1.0f); sp[i] += v; }
            } else {
                _Pragma("omp simd reduction(+:acc) reduction(|:o)")
                for (int64_t i = 0; i < per; ++i) { float v = row[i]; acc += v; o |= (v != 0.0f) & (v != 1.0f); }
            }
            odd |= o;
            total += (int64_t)acc;
            r[j] = acc / (float)per;
        }
        if (sp) {
            const float fc = (float)c;
            for (int64_t i = 0; i < per; ++i) sp[i] = sp[i] / fc;
        }
        unsigned char* ras = raster + q[4];
        const int64_t* ix = idx[l];
        for (int64_t i = 0; i < k; ++i) ras[i] = s[ix[i]] > 0.5f;
        if (fm) {
            unsigned char* f = fmap + q[8];
            for (int64_t i = 0; i < fm; ++i) f[i] = s[i] > 0.5f;
        }
        int64_t fired = 0;  /* 0/1 spikes summed as floats: exact below 2^24 a step, and vectorised */
        for (int64_t t = 0; t < win; ++t) {
            const float* st = s - t * stride;
            float w = 0.0f;
            _Pragma("omp simd reduction(+:w)")
            for (int64_t i = 0; i < n; ++i) w += st[i];
            fired += (int64_t)w;
        }
        out[3 * l] = total;
        out[3 * l + 1] = fired;
        out[3 * l + 2] = odd;
    }
}
"""

#: the parallel entry points: the same kernels over fixed tasks of chunks, run by torch's own OpenMP
#: runtime (the one thread pool the convolutions just used; see :func:`_omp_usable`). ``bounds``: the
#: ``ntask + 1`` chunk bounds of the tasks; per-task results go to row ``k`` of their output, so sums
#: do not depend on the thread count. Compiled only with ``-fopenmp`` (else the unit is empty).
_PAR_SRC = _SIZES + r"""
#ifdef _OPENMP
void lif_fwd(const float*, float*, float*, float*, const float*, long, long, float, float, float, float, float,
             float, int, int, long, long);
void lif_bwd(const float*, const float*, float, float*, const float*, const float*, long, long, float, float, float,
             float, float, int, int, int, int, float, int, int, double*, long, long);
void psn_fwd(const float*, const float*, const float*, float*, float*, long, long, int, int, float*, long, long);
void psn_bwd(const float*, const float*, const float*, const float*, float, float*, double*, double*,
             const unsigned char*, long, long, int, float, int, int, int, int, float*, long, long);
void lif_bwd_x(const float*, const float*, float, float*, const float*, long, long, float, float, float, float, float,
               float, int, int, int, int, float, int, float*, double*, long, long);
int snn_openmp(void) { return 1; }
void lif_bwd_x_par(const float* x, const float* gs, float gsc, float* gx, const float* v0, long T, long N, float a,
                   float b, float c, float v0f, float theta, float vr, int hard, int strict, int detach, int sur, float p,
                   int need_abc, float* hb, double* sums, const long* bounds, int ntask, int nthreads)
{
    #pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
    for (int k = 0; k < ntask; ++k)
        lif_bwd_x(x, gs, gsc, gx, v0, T, N, a, b, c, v0f, theta, vr, hard, strict, detach, sur, p, need_abc,
                  hb + (long)k * T * LB, sums + 3 * k, bounds[k], bounds[k + 1]);
}
void lif_fwd_par(const float* x, float* s, float* h, float* vlast, const float* v0, long T, long N, float a, float b,
                 float c, float v0f, float theta, float vr, int hard, int strict,
                 const long* bounds, int ntask, int nthreads)
{
    #pragma omp parallel for schedule(static) num_threads(nthreads)
    for (int k = 0; k < ntask; ++k)
        lif_fwd(x, s, h, vlast, v0, T, N, a, b, c, v0f, theta, vr, hard, strict, bounds[k], bounds[k + 1]);
}
void lif_bwd_par(const float* h, const float* gs, float gsc, float* gx, const float* x, const float* v0, long T,
                 long N, float a, float b, float v0f, float theta, float vr, int hard, int strict, int detach,
                 int sur, float p, int need_abc, int nt, double* sums, const long* bounds, int ntask, int nthreads)
{
    #pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
    for (int k = 0; k < ntask; ++k)
        lif_bwd(h, gs, gsc, gx, x, v0, T, N, a, b, v0f, theta, vr, hard, strict, detach, sur, p, need_abc, nt,
                sums + 3 * k, bounds[k], bounds[k + 1]);
}
void psn_fwd_par(const float* x, const float* w, const float* bias, float* h, float* s, long T, long N, int strict,
                 int nt, float* work, const long* bounds, int ntask, int nthreads)
{
    #pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
    for (int k = 0; k < ntask; ++k)
        psn_fwd(x, w, bias, h, s, T, N, strict, nt, work + (long)k * T * PC, bounds[k], bounds[k + 1]);
}
void psn_bwd_par(const float* x, const float* wt, const float* h, const float* gs, float gsc, float* gx, double* gw,
                 double* gb, const unsigned char* gw_need, long T, long N, int sur, float p, int need_x, int need_w,
                 int need_b, int nt, float* work, const long* bounds, int ntask, int nthreads)
{
    #pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
    for (int k = 0; k < ntask; ++k)
        psn_bwd(x, wt, h, gs, gsc, gx, gw + (long)k * T * T, gb + (long)k * T, gw_need, T, N, sur, p, need_x, need_w,
                need_b, nt, work + 2L * k * T * PC, bounds[k], bounds[k + 1]);
}
#endif
"""

SURROGATE_CODES = {"sigmoid": (0, "alpha"), "atan": (1, "alpha"), "triangle": (2, "gamma"),
                   "rectangular": (3, "width"), "fastsig": (4, "scale")}

#: compiler flags of every unit. No OpenMP (see the module doc), no -ffast-math (its reassociation
#: would change the forward's rounding); -fno-trapping-math lets gcc if-convert the float selects so
#: the loops vectorise. The forward adds -ffp-contract=off (no FMA: the same rounding as the eager
#: step, identical spikes).
_BASE_FLAGS = ("-O3", "-fPIC", "-fno-trapping-math", "-fno-math-errno", "-fopenmp-simd")
#: flag sets without OpenMP, best first: tuned for this CPU, then portable
PLAIN_FLAG_SETS: tuple[tuple[str, ...], ...] = (("-march=native",), ())


def _torch_uses_openmp() -> bool:
    """Whether torch's intra-op threads are an OpenMP pool (the kernels then share it)."""
    try:
        return "parallel backend: OpenMP" in torch.__config__.parallel_info()
    except Exception:  # noqa: BLE001 - a torch without the query: do not guess
        return False


#: flag sets, best first: with ``-fopenmp`` when torch runs an OpenMP pool (the parallel entry points then
#: run in that pool), then without (threads from Python)
FLAG_SETS: tuple[tuple[str, ...], ...] = (
    tuple(f + ("-fopenmp",) for f in PLAIN_FLAG_SETS) if _torch_uses_openmp() else ()) + PLAIN_FLAG_SETS


def _bind(lib: ctypes.CDLL) -> ctypes.CDLL:
    P, L, F, I = ctypes.c_void_p, ctypes.c_long, ctypes.c_float, ctypes.c_int
    lib.lif_fwd.argtypes = [P, P, P, P, P, L, L, F, F, F, F, F, F, I, I, L, L]
    lib.lif_fwd.restype = None
    lib.lif_bwd.argtypes = [P, P, F, P, P, P, L, L, F, F, F, F, F, I, I, I, I, F, I, I, P, L, L]
    lib.lif_bwd.restype = None
    lib.lif_bwd_x.argtypes = [P, P, F, P, P, L, L, F, F, F, F, F, F, I, I, I, I, F, I, P, P, L, L]
    lib.lif_bwd_x.restype = None
    lib.spike_readout.argtypes = [I, P, P, P, P, P, P, P, P]
    lib.spike_readout.restype = None
    lib.psn_fwd.argtypes = [P, P, P, P, P, L, L, I, I, P, L, L]
    lib.psn_fwd.restype = None
    lib.psn_bwd.argtypes = [P, P, P, P, F, P, P, P, P, L, L, I, F, I, I, I, I, P, L, L]
    lib.psn_bwd.restype = None
    if hasattr(lib, "snn_openmp"):  # built with -fopenmp
        lib.lif_fwd_par.argtypes = lib.lif_fwd.argtypes[:-2] + [P, I, I]
        lib.lif_bwd_par.argtypes = lib.lif_bwd.argtypes[:-2] + [P, I, I]
        lib.psn_fwd_par.argtypes = lib.psn_fwd.argtypes[:-2] + [P, I, I]
        lib.psn_bwd_par.argtypes = lib.psn_bwd.argtypes[:-2] + [P, I, I]
        lib.lif_bwd_x_par.argtypes = lib.lif_bwd_x.argtypes[:-2] + [P, I, I]
        for f in (lib.lif_fwd_par, lib.lif_bwd_par, lib.psn_fwd_par, lib.psn_bwd_par, lib.lif_bwd_x_par):
            f.restype = None
    return lib


_KERNEL = NativeLibrary("lif_kernel", [(_FWD_SRC, ("-ffp-contract=off",)), (_BWD_SRC, ()), (_PSN_SRC, ()),
                                       (_PAR_SRC, ()), (_READOUT_SRC, ())],
                        bind=_bind, version="v10", base_flags=_BASE_FLAGS, flag_sets=FLAG_SETS)


def load() -> ctypes.CDLL | None:
    """The kernel library if it is already built (never builds)."""
    return _KERNEL.load()


def build() -> ctypes.CDLL | None:
    """Build (once per source version, flag set and CPU) and load the kernel: ``-march=native`` first,
    the portable flags when that fails; ``None`` when no compiler works."""
    return _KERNEL.build()


def supports(x: torch.Tensor, surrogate) -> bool:
    """Whether the native kernels handle ``x`` and ``surrogate`` (float32 on the CPU, a fixed surrogate they
    implement)."""
    return (x.dtype == torch.float32 and x.device.type == "cpu" and getattr(surrogate, "name", None) in SURROGATE_CODES
            and not surrogate.learnable)


_MIN_PARALLEL = 1 << 16  # below this many neurons×steps one thread is faster
_pool: ThreadPoolExecutor | None = None


#: tasks a parallel call is cut into (threads take the next one when done: a core busy with another
#: process delays one small task, not half the work); fixed, so results do not depend on the thread count
TASKS = 16


def _plan(N: int, T: int, ch: int) -> tuple[int, list[int]]:
    """``(threads, bounds)``: the chunk bounds of the tasks a call over ``N`` neurons is cut into (one task
    when one thread is faster), and the threads to run them on."""
    nch = (N + ch - 1) // ch
    nt = min(torch.get_num_threads(), nch)
    if nt <= 1 or N * T < _MIN_PARALLEL:
        return 1, [0, nch]
    ntask = min(nch, TASKS)
    return nt, [round(i * nch / ntask) for i in range(ntask + 1)]


def _openmp_runtimes() -> set[str] | None:
    """Files of the OpenMP runtimes mapped into this process (Linux), ``None`` when that cannot be read."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            paths = {ln.split()[-1] for ln in f if "/" in ln}
    except OSError:
        return None
    return {q for q in paths if q.rsplit("/", 1)[-1].startswith(("libgomp", "libiomp", "libomp"))}


_omp_checked: dict[int, bool] = {}


def _omp_usable(lib) -> bool:
    """Whether ``lib`` has the OpenMP entry points and runs them in torch's own pool: one OpenMP runtime
    in the process (a second one beside torch's would make two pools spin against each other, so then
    the Python threads of :func:`_run_chunks` run the kernels instead)."""
    key = id(lib)
    if key not in _omp_checked:
        runtimes = _openmp_runtimes() if hasattr(lib, "snn_openmp") else None
        _omp_checked[key] = runtimes is not None and len(runtimes) == 1
    return _omp_checked[key]


def _bounds(bounds: list[int]):
    return (ctypes.c_long * len(bounds))(*bounds)


def _run_chunks(call, N: int, T: int, ch: int = _CH) -> list:
    """Run ``call(c0, c1)`` over the range of chunks of ``ch`` neurons: one call on one thread, or
    :data:`TASKS` calls shared by ``torch.get_num_threads()`` threads, this one included (ctypes
    releases the GIL during the C call). Returns the calls' results in chunk order. (The fallback of
    the OpenMP entry points: a library built without ``-fopenmp``.)"""
    global _pool
    nt, bounds = _plan(N, T, ch)
    if nt <= 1:
        return [call(bounds[0], bounds[1])]
    if _pool is None or _pool._max_workers < nt - 1:
        _pool = ThreadPoolExecutor(max_workers=max(nt - 1, 1), thread_name_prefix="snn-lif")
    ntask = len(bounds) - 1
    results: list = [None] * ntask
    todo = iter(range(ntask))
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                i = next(todo, None)
            if i is None:
                return
            results[i] = call(bounds[i], bounds[i + 1])

    futures = [_pool.submit(worker) for _ in range(nt - 1)]
    worker()
    for f in futures:
        f.result()
    return results


def _ptr(t: torch.Tensor | None):
    return None if t is None else ctypes.c_void_p(t.data_ptr())


#: outputs larger than this (bytes) are written with streaming stores (they cannot stay in cache)
NT_BYTES = 8 << 20


def forward(lib, x, a, b, c, v0, cfg, want_h: bool = True, want_v: bool = True):
    """``(s, h, v_last)`` for ``x`` ``[T, ...]`` (float32, contiguous); ``want_h=False`` (inference
    without a membrane probe): ``h`` is ``None`` and never written — a third less memory traffic;
    ``want_v=False`` (no state kept for the next call): ``v_last`` is ``None`` and never written."""
    T = x.shape[0]
    N = x[0].numel()
    s = torch.empty_like(x)
    h = torch.empty_like(x) if want_h else None
    vlast = torch.empty_like(x[0]) if want_v else None
    v0t = v0.contiguous().float() if isinstance(v0, torch.Tensor) else None
    hard = cfg.v_reset is not None
    args = (_ptr(x), _ptr(s), _ptr(h), _ptr(vlast), _ptr(v0t), T, N, a, b, c,
            0.0 if v0t is not None else float(v0), cfg.v_threshold, cfg.v_reset if hard else 0.0,
            int(hard), int(cfg.strict))
    nt, bounds = _plan(N, T, _CH)
    if nt > 1 and _omp_usable(lib):
        lib.lif_fwd_par(*args, _bounds(bounds), len(bounds) - 1, nt)
    else:
        _run_chunks(lambda c0, c1: lib.lif_fwd(*args, c0, c1), N, T)
    return s, h, vlast


def _grad_input(g_s: torch.Tensor, like: torch.Tensor) -> tuple[torch.Tensor | None, float]:
    """``(dL/ds, scalar)`` as the kernels take it: an expanded scalar (the gradient of a ``.sum()``)
    as one number and no tensor, anything else as a contiguous float tensor."""
    if g_s.shape == like.shape and all(st == 0 for st in g_s.stride()):
        return None, float(g_s[(0,) * g_s.dim()])
    return g_s.expand_as(like).contiguous().float(), 0.0


def _reset_backward_sums(lib, one, par, args: tuple, N: int, T: int, scratch: int = 0) -> tuple[float, float, float]:
    """Run a reset-neuron backward entry point (``one`` over a chunk range, ``par`` over the tasks in
    torch's pool) and add up its per-task sums ``(Σ g_h·v_{t−1}, Σ g_h·x, Σ g_h)`` in task order;
    ``scratch``: floats of per-task work space it takes before the sums."""
    nt, bounds = _plan(N, T, _CH)
    if nt > 1 and _omp_usable(lib):
        ntask = len(bounds) - 1
        sums = (ctypes.c_double * (3 * ntask))()
        work = torch.empty(ntask * scratch, dtype=torch.float32) if scratch else None  # alive through the call
        par(*args, *((_ptr(work),) if scratch else ()), sums, _bounds(bounds), ntask, nt)
        parts = [tuple(sums[3 * k:3 * k + 3]) for k in range(ntask)]
    else:
        def call(c0, c1):
            sums = (ctypes.c_double * 3)()
            work = torch.empty(scratch, dtype=torch.float32) if scratch else None  # alive through the call
            one(*args, *((_ptr(work),) if scratch else ()), sums, c0, c1)
            return tuple(sums)

        parts = _run_chunks(call, N, T)
    return tuple(sum(q[i] for q in parts) for i in range(3))


def _reset_backward_args(v0, cfg, surrogate, need_abc: bool) -> tuple:
    """``(v0 tensor | None, v0 number, (θ, v_reset, hard, strict, detach, surrogate code, its parameter,
    need_abc))``: the arguments both reset-neuron backwards take after the coefficients."""
    code, attr = SURROGATE_CODES[surrogate.name]
    v0t = v0.contiguous().float() if isinstance(v0, torch.Tensor) else None
    hard = cfg.v_reset is not None
    return v0t, 0.0 if v0t is not None else float(v0), (
        cfg.v_threshold, cfg.v_reset if hard else 0.0, int(hard), int(cfg.strict), int(cfg.detach_reset), code,
        float(getattr(surrogate, attr)), int(need_abc))


def backward(lib, h, g_s, x, v0, a, b, cfg, surrogate, need_abc: bool):
    """``(dL/dx, (Σ g_h·v_{t−1}, Σ g_h·x, Σ g_h))``. ``g_s`` may be an expanded scalar (the gradient
    of a ``.sum()``): it is then passed as one number, never materialised."""
    T = h.shape[0]
    N = h[0].numel()
    gx = torch.empty_like(h)
    gs, gsc = _grad_input(g_s, h)
    v0t, v0f, rest = _reset_backward_args(v0, cfg, surrogate, need_abc)
    args = (_ptr(h), _ptr(gs), gsc, _ptr(gx), _ptr(x), _ptr(v0t), T, N, a, b, v0f, *rest,
            int(h.numel() * 4 > NT_BYTES))
    return gx, _reset_backward_sums(lib, lib.lif_bwd, getattr(lib, "lif_bwd_par", None), args, N, T)


def backward_from_x(lib, x, g_s, v0, a, b, c, cfg, surrogate, need_abc: bool):
    """:func:`backward` without a saved membrane: ``h`` is recomputed from ``x`` block by block in cache
    (the forward's arithmetic, so the same ``h`` bit for bit) — the forward then writes only the spikes,
    and this reads ``x`` once and writes ``dL/dx`` once. Returns the same ``(dL/dx, sums)``."""
    T = x.shape[0]
    N = x[0].numel()
    gx = torch.empty_like(x)
    gs, gsc = _grad_input(g_s, x)
    v0t, v0f, rest = _reset_backward_args(v0, cfg, surrogate, need_abc)
    args = (_ptr(x), _ptr(gs), gsc, _ptr(gx), _ptr(v0t), T, N, a, b, c, v0f, *rest)
    return gx, _reset_backward_sums(lib, lib.lif_bwd_x, getattr(lib, "lif_bwd_x_par", None), args, N, T, T * _LB)




def psn_forward(lib, x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor, strict: bool = False):
    """``(S, H)``: ``H = W·X + b`` over time, ``S = Θ(H)``; ``x`` ``[T, ...]`` float32 contiguous,
    ``w`` ``[T, T]``, ``bias`` ``[T]`` (float32, contiguous)."""
    T = x.shape[0]
    N = x[0].numel()
    s, h = torch.empty_like(x), torch.empty_like(x)
    args = (_ptr(x), _ptr(w), _ptr(bias), _ptr(h), _ptr(s), T, N, int(strict), int(x.numel() * 4 > NT_BYTES))

    def call(c0, c1):
        work = torch.empty(T * _PC, dtype=torch.float32)
        lib.psn_fwd(*args, _ptr(work), c0, c1)

    nt, bounds = _plan(N, T, _PC)
    if nt > 1 and _omp_usable(lib):
        work = torch.empty((len(bounds) - 1) * T * _PC, dtype=torch.float32)
        lib.psn_fwd_par(*args, _ptr(work), _bounds(bounds), len(bounds) - 1, nt)
    else:
        _run_chunks(call, N, T, _PC)
    return s, h


def psn_backward(lib, x, w, h, g_s, surrogate, need_x: bool, need_w: bool, need_b: bool,
                 gw_need: torch.Tensor | None = None):
    """``(dL/dX | None, dL/dW [T, T] | None, dL/db [T] | None)`` of :func:`psn_forward`; ``gw_need``
    (``[T, T]`` bool) limits ``dL/dW`` to the entries a mask lets through (others are 0)."""
    T = h.shape[0]
    N = h[0].numel()
    gx = torch.empty_like(h) if need_x else None
    gs, gsc = _grad_input(g_s, h)
    code, attr = SURROGATE_CODES[surrogate.name]
    need = gw_need.to(torch.uint8).contiguous() if (gw_need is not None and need_w) else None
    nt = int(h.numel() * 4 > NT_BYTES)
    wt = w.t().contiguous()

    def call(c0, c1):
        gw = torch.zeros(T * T, dtype=torch.float64)
        gb = torch.zeros(T, dtype=torch.float64)
        gh = torch.empty(2 * T * _PC, dtype=torch.float32)
        lib.psn_bwd(_ptr(x), _ptr(wt), _ptr(h), _ptr(gs), gsc, _ptr(gx), _ptr(gw), _ptr(gb), _ptr(need), T, N,
                    code, float(getattr(surrogate, attr)), int(need_x), int(need_w), int(need_b), nt, _ptr(gh), c0, c1)
        return gw, gb

    nt_, bounds = _plan(N, T, _PC)
    if nt_ > 1 and _omp_usable(lib):
        ntask = len(bounds) - 1
        gw_all = torch.zeros(ntask, T * T, dtype=torch.float64)
        gb_all = torch.zeros(ntask, T, dtype=torch.float64)
        work = torch.empty(ntask * 2 * T * _PC, dtype=torch.float32)
        lib.psn_bwd_par(_ptr(x), _ptr(wt), _ptr(h), _ptr(gs), gsc, _ptr(gx), _ptr(gw_all), _ptr(gb_all), _ptr(need),
                        T, N, code, float(getattr(surrogate, attr)), int(need_x), int(need_w), int(need_b), nt,
                        _ptr(work), _bounds(bounds), ntask, nt_)
        parts = list(zip(gw_all, gb_all))
    else:
        parts = _run_chunks(call, N, T, _PC)
    gw = torch.stack([p[0] for p in parts]).sum(0).view(T, T).float() if need_w else None
    gb = torch.stack([p[1] for p in parts]).sum(0).float() if need_b else None
    return gx, gw, gb
