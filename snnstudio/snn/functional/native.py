"""Optional native (C + OpenMP) kernel for the reset neurons' multi-step forward and backward.

Why hand-written C: eager PyTorch runs the time recursion as ~15 separate tensor ops per step, each
a full pass over memory; the recursion is pointwise across neurons, so one C loop that keeps the
state in registers reads ``x`` once and writes ``s``/``h`` once (forward) and reads ``h``/``dL/ds``
once and writes ``dL/dx`` once (backward). TorchScript cannot fuse on CPU without LLVM, and
``torch.compile`` took ~50 s to build and was slower than eager here.

The source is compiled with the system C compiler (``cc``; about a second) into a cache folder
(``$SNNSTUDIO_CACHE`` or ``~/.cache/snnstudio``), keyed by the source hash, and loaded with
``ctypes`` — no torch headers, no build at import. :func:`load` returns the library when it is
already built; :func:`build` builds it (never called on a GUI start path: the neuron calls it
only when a multi-step forward needs gradients). Anything failing → ``None`` and the eager
kernel runs instead (:mod:`snnstudio.snn.functional.lif`), which stays the reference.

Same arithmetic as the eager step (``h = (x·b + c) + v·a``, no FMA contraction in the forward),
so spikes are identical; the backward is compiled with fast math (vectorised ``expf``): gradients
agree to ~1e-7 relative.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import torch

_FWD_SRC = r"""
#include <stddef.h>
#define CH 2048
void lif_fwd(const float* x, float* s, float* h, float* vlast, const float* v0, long T, long N,
             float a, float b, float c, float v0f, float theta, float vr, int hard, int strict, int nthreads)
{
    long nch = (N + CH - 1) / CH;
    #pragma omp parallel for num_threads(nthreads) schedule(static)
    for (long ci = 0; ci < nch; ++ci) {
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
/* sur: 0 sigmoid(p), 1 atan(p), 2 triangle(p), 3 rectangular(p), 4 fastsig(p) */
static inline float sgrad(float z, int sur, float p) {
    switch (sur) {
    case 0: { float y = 1.0f / (1.0f + expf(-p * z)); return p * y * (1.0f - y); }
    case 1: { float k = 1.5707963267948966f * p * z; return 0.5f * p / (1.0f + k * k); }
    case 2: { float r = 1.0f - fabsf(z) / p; return r > 0.0f ? r / p : 0.0f; }
    case 3: return fabsf(z) < p ? 0.5f / p : 0.0f;
    default: { float d = p * fabsf(z) + 1.0f; return 1.0f / (d * d); }
    }
}
void lif_bwd(const float* h, const float* gs, float* gx, const float* x, const float* v0, long T, long N,
             float a, float b, float v0f, float theta, float vr, int hard, int strict, int detach,
             int sur, float p, int need_abc, double* sums, int nthreads)
{
    long nch = (N + CH - 1) / CH;
    double sa = 0.0, sb = 0.0, sc = 0.0;
    #pragma omp parallel for num_threads(nthreads) schedule(static) reduction(+:sa,sb,sc)
    for (long ci = 0; ci < nch; ++ci) {
        long n0 = ci * CH, n1 = n0 + CH < N ? n0 + CH : N, m = n1 - n0;
        float gn[CH];
        for (long i = 0; i < m; ++i) gn[i] = 0.0f;
        for (long t = T - 1; t >= 0; --t) {
            const float* ht = h + t * N + n0;
            const float* gt = gs + t * N + n0;
            float* ot = gx + t * N + n0;
            const float* hp = t > 0 ? h + (t - 1) * N + n0 : NULL;
            const float* xt = x ? x + t * N + n0 : NULL;
            float la = 0.0f, lb = 0.0f, lc = 0.0f;
            for (long i = 0; i < m; ++i) {
                float hv = ht[i], z = hv - theta;
                float sg = sgrad(z, sur, p);
                float f = (strict ? (z > 0.0f) : (z >= 0.0f)) ? 1.0f : 0.0f;
                float A;
                if (hard) A = (1.0f - f) + (detach ? 0.0f : sg * (vr - hv));
                else A = 1.0f - (detach ? 0.0f : sg * theta);
                float g = sg * gt[i] + a * gn[i] * A;
                gn[i] = g;
                ot[i] = g * b;
                if (need_abc) {
                    float vp;
                    if (hp) {
                        float q = hp[i], fq = (strict ? (q > theta) : (q >= theta)) ? 1.0f : 0.0f;
                        vp = hard ? (fq > 0.0f ? vr : q) : q - fq * theta;
                    } else vp = v0 ? v0[n0 + i] : v0f;
                    la += g * vp; lc += g;
                    if (xt) lb += g * xt[i];
                }
            }
            sa += la; sb += lb; sc += lc;
        }
    }
    sums[0] = sa; sums[1] = sb; sums[2] = sc;
}
"""

SURROGATE_CODES = {"sigmoid": (0, "alpha"), "atan": (1, "alpha"), "triangle": (2, "gamma"),
                   "rectangular": (3, "width"), "fastsig": (4, "scale")}

_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_failed = False


def _cache_dir() -> Path:
    root = os.environ.get("SNNSTUDIO_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "snnstudio")
    return Path(root) / "native"


def _lib_path() -> Path:
    key = hashlib.sha256((_FWD_SRC + _BWD_SRC + "v2" + platform.machine()).encode()).hexdigest()[:16]
    return _cache_dir() / f"lif_kernel_{key}.so"


def _bind(lib: ctypes.CDLL) -> ctypes.CDLL:
    P, L, F, I = ctypes.c_void_p, ctypes.c_long, ctypes.c_float, ctypes.c_int
    lib.lif_fwd.argtypes = [P, P, P, P, P, L, L, F, F, F, F, F, F, I, I, I]
    lib.lif_fwd.restype = None
    lib.lif_bwd.argtypes = [P, P, P, P, P, L, L, F, F, F, F, F, I, I, I, I, F, I, P, I]
    lib.lif_bwd.restype = None
    return lib


def _load_unlocked() -> ctypes.CDLL | None:
    global _lib
    if _lib is None and _lib_path().is_file():
        try:
            _lib = _bind(ctypes.CDLL(str(_lib_path())))
        except OSError:
            return None
    return _lib


def load() -> ctypes.CDLL | None:
    """The kernel library if it is already built (never builds)."""
    if _lib is None and _lib_path().is_file():
        with _lock:
            return _load_unlocked()
    return _lib


def build() -> ctypes.CDLL | None:
    """Build (once per source version) and load the kernel; ``None`` when no compiler works."""
    global _failed
    lib = load()
    if lib is not None or _failed:
        return lib
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        _failed = True
        return None
    out = _lib_path()
    with _lock:
        if out.is_file():  # another thread built it meanwhile
            return _load_unlocked()
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory() as tmp:
                fwd, bwd = Path(tmp) / "fwd.c", Path(tmp) / "bwd.c"
                fwd.write_text(_FWD_SRC)
                bwd.write_text(_BWD_SRC)
                common = ["-O3", "-fPIC", "-fopenmp"]  # no -march=native: the cache may be shared by machines
                subprocess.run([cc, *common, "-ffp-contract=off", "-c", str(fwd), "-o", f"{tmp}/fwd.o"], check=True, capture_output=True)
                subprocess.run([cc, *common, "-ffast-math", "-c", str(bwd), "-o", f"{tmp}/bwd.o"], check=True, capture_output=True)
                tmp_so = Path(tmp) / out.name
                subprocess.run([cc, "-shared", "-fopenmp", f"{tmp}/fwd.o", f"{tmp}/bwd.o", "-o", str(tmp_so), "-lm"],
                               check=True, capture_output=True)
                shutil.move(str(tmp_so), str(out))  # atomic enough: the name is keyed by the source hash
        except (OSError, subprocess.CalledProcessError):
            _failed = True
            return None
        return _load_unlocked()


def supports(x: torch.Tensor, surrogate) -> bool:
    return (x.dtype == torch.float32 and x.device.type == "cpu" and getattr(surrogate, "name", None) in SURROGATE_CODES
            and not surrogate.learnable)


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
    lib.lif_fwd(_ptr(x), _ptr(s), _ptr(h), _ptr(vlast), _ptr(v0t), T, N, a, b, c,
                0.0 if v0t is not None else float(v0), cfg.v_threshold, cfg.v_reset if hard else 0.0,
                int(hard), int(cfg.strict), torch.get_num_threads())
    return s, h, vlast


def backward(lib, h, g_s, x, v0, a, b, cfg, surrogate, need_abc: bool):
    """``(dL/dx, (Σ g_h·v_{t−1}, Σ g_h·x, Σ g_h))``."""
    T = h.shape[0]
    N = h[0].numel()
    gx = torch.empty_like(h)
    gs = g_s.contiguous()
    code, attr = SURROGATE_CODES[surrogate.name]
    sums = (ctypes.c_double * 3)()
    v0t = v0.contiguous().float() if isinstance(v0, torch.Tensor) else None
    hard = cfg.v_reset is not None
    lib.lif_bwd(_ptr(h), _ptr(gs), _ptr(gx), _ptr(x), _ptr(v0t), T, N, a, b,
                0.0 if v0t is not None else float(v0), cfg.v_threshold, cfg.v_reset if hard else 0.0,
                int(hard), int(cfg.strict), int(cfg.detach_reset), code, float(getattr(surrogate, attr)),
                int(need_abc), sums, torch.get_num_threads())
    return gx, (sums[0], sums[1], sums[2])
