"""Native (C) inner loops of the AEDAT 3.1, AEDAT 2.0, EVT 2.0, EVT 3.0, DAT and N-MNIST decoders.

Why hand-written C: the numpy decoders make several full passes over temporaries per field
(shift, mask, cast, scatter into the packed ``EVENT_DTYPE`` record), and EVT 2.0/3.0 are
sequential state machines that numpy can only emulate with cumulative sums and gathers. One C
loop reads each input word once and writes each 13-byte output record once, keeping the decoder
state in registers (``snnstudio bench --only decode`` has the figures). The C source lives here as text; :mod:`snnstudio.native`
compiles it with the system ``cc`` on first use, caches it by source hash and loads it with ctypes.

The numpy decoders stay, as the fallback (no compiler, ``SNNSTUDIO_NATIVE=0``) and as the oracle
the tests compare against event for event. The C loops decode only the well-formed stream: they
stop at anything irregular (a truncated or corrupt AEDAT 3.1 packet header, ...) and the Python
code takes over from there, so warnings and errors are produced by one code path. Validation is
split the same way: the C loop counts backward steps and tracks the largest x/y (the
``stats`` array), and only when that shows a problem does :class:`~._common.BlockChecker` re-scan
the decoded events to name the bad one (same messages as the numpy path).

Layouts (all little-endian, ``int64`` arrays as in/out state):

* ``stats``: ``[last_t, has_last, backward_steps, max_x, max_y]``.
* AEDAT 3.1 ``state``: ``[byte offset of the next packet, events of it already decoded, invalid events]``;
  status 0 = end of data, 1 = irregular packet at the offset (Python re-walks it), 2 = output full.
* AEDAT 2.0 ``state``: ``[wraps, last raw timestamp, has_last, external events]``.
* EVT 2.0 ``state``: ``[time high (unwrapped, -1 = none), t0, dropped]``.
* EVT 3.0 ``state``: ``[y, time low, time high (unwrapped), vector base x, vector polarity, dropped,
  t0]`` (-1 = unknown).
* DAT ``state``: ``[previous timestamp (unwrapped, -1 = none), t0]``.

:func:`check` serves the readers that do not decode themselves (AEDAT4 via faery, ``.npy``/``.npz``):
one C pass replaces the numpy check, which then only runs to name a problem the pass found.
"""

from __future__ import annotations

import ctypes
import logging
import os

import numpy as np

from snnstudio.events.types import EVENT_DTYPE
from snnstudio.native import NativeLibrary

log = logging.getLogger(__name__)

#: environment variable: ``0`` forces the numpy decoders
ENV = "SNNSTUDIO_NATIVE"

_SRC = r"""
#include <stdint.h>
#include <string.h>

#pragma pack(push, 1)
typedef struct { int64_t t; int16_t x, y; int8_t p; } ev_t;   /* EVENT_DTYPE, 13 bytes */
#pragma pack(pop)

/* stats: last_t, has_last, backward steps, max_x, max_y */
typedef struct { int64_t last, has, back, mx, my; } stats_t;

#define EMIT(o, T, X, Y, P) do { int64_t t_ = (T); int64_t x_ = (X), y_ = (Y); \
    (o)->t = t_; (o)->x = (int16_t)x_; (o)->y = (int16_t)y_; (o)->p = (int8_t)(P); \
    back += t_ < last; last = t_; mx = x_ > mx ? x_ : mx; my = y_ > my ? y_ : my; ++(o); } while (0)
#define STATS_IN(s) int64_t last = (s)->has ? (s)->last : INT64_MIN, back = 0, mx = (s)->mx, my = (s)->my
#define STATS_OUT(s, o, o0) do { if ((o) != (o0)) { (s)->last = last; (s)->has = 1; } \
    (s)->back += back; (s)->mx = mx; (s)->my = my; } while (0)

static inline uint32_t rd32(const uint8_t* p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint16_t rd16(const uint8_t* p) { uint16_t v; memcpy(&v, p, 2); return v; }

/* ---------------------------------------------------------------- AEDAT 3.1 polarity packets */
int64_t aedat3_decode(const uint8_t* buf, int64_t nbytes, int64_t* st, ev_t* out, int64_t cap, stats_t* s, int* status)
{
    ev_t* o = out; ev_t* end_out = out + cap;
    int64_t pos = st[0], done = st[1];
    int64_t invalid = st[2];
    STATS_IN(s);
    *status = 0;
    while (pos < nbytes) {
        if (pos + 28 > nbytes) { *status = 1; break; }
        const uint8_t* h = buf + pos;
        uint32_t etype = rd16(h), esize = rd32(h + 4), ovf = rd32(h + 12), pcap = rd32(h + 16), num = rd32(h + 20);
        if (esize == 0 || num > pcap) { *status = 1; break; }
        int64_t end = pos + 28 + (int64_t)((uint64_t)pcap * esize);
        if (end > nbytes || end < pos) { *status = 1; break; }
        if (etype == 1) {
            if (esize != 8) { *status = 1; break; }
            const uint8_t* e = h + 28;
            int64_t hi = (int64_t)((uint64_t)ovf << 31);
            int64_t room = end_out - o, k = done;
            int64_t lim = (int64_t)num - done <= room ? (int64_t)num : done + room;  /* one output per event at most */
            for (; k < lim; ++k) {
                uint32_t d = rd32(e + 8 * k), ts = rd32(e + 8 * k + 4);
                if (!(d & 1)) { ++invalid; continue; }
                EMIT(o, (int64_t)ts | hi, (d >> 17) & 0x1FFF, (d >> 2) & 0x1FFF, (d >> 1) & 1);
            }
            if (k < (int64_t)num) { done = k; *status = 2; break; }
            done = 0;
        }
        pos = end;
    }
    st[0] = pos; st[1] = done; st[2] = invalid;
    STATS_OUT(s, o, out);
    return o - out;
}

/* polarity events (valid or not) from pos on, as decode + the numpy walker would find them: whole
   packets up to the first irregular one, plus the complete events of a truncated last polarity packet */
int64_t aedat3_count(const uint8_t* buf, int64_t nbytes, int64_t pos)
{
    int64_t c = 0;
    while (pos + 28 <= nbytes) {
        const uint8_t* h = buf + pos;
        uint32_t etype = rd16(h), esize = rd32(h + 4), pcap = rd32(h + 16), num = rd32(h + 20);
        if (esize == 0 || num > pcap) break;
        int64_t end = pos + 28 + (int64_t)((uint64_t)pcap * esize);
        if (etype == 1) {
            if (esize != 8) break;
            if (end > nbytes || end < pos) {
                int64_t whole = (nbytes - pos - 28) / 8;
                c += whole < (int64_t)num ? whole : (int64_t)num;
                break;
            }
            c += num;
        } else if (end > nbytes || end < pos) break;
        pos = end;
    }
    return c;
}

/* events of one (possibly partial) polarity packet: n little-endian (data, timestamp) pairs */
int64_t aedat3_events(const uint8_t* e, int64_t n, int64_t ovf, ev_t* out, int64_t* invalid, stats_t* s)
{
    ev_t* o = out;
    int64_t hi = (int64_t)((uint64_t)ovf << 31);
    STATS_IN(s);
    for (int64_t k = 0; k < n; ++k) {
        uint32_t d = rd32(e + 8 * k), ts = rd32(e + 8 * k + 4);
        if (!(d & 1)) { ++*invalid; continue; }
        EMIT(o, (int64_t)ts | hi, (d >> 17) & 0x1FFF, (d >> 2) & 0x1FFF, (d >> 1) & 1);
    }
    STATS_OUT(s, o, out);
    return o - out;
}

/* ---------------------------------------------------------------- AEDAT 2.0 (jAER DVS128) */
int64_t aedat2_decode(const uint8_t* b, int64_t n, int64_t* st, ev_t* out, stats_t* s)
{
    ev_t* o = out;
    int64_t wraps = st[0], prev = st[1], has = st[2], ext = st[3];
    STATS_IN(s);
    for (int64_t i = 0; i < n; ++i) {
        uint32_t a = __builtin_bswap32(rd32(b + 8 * i)), r = __builtin_bswap32(rd32(b + 8 * i + 4));
        if (a & 0x8000) { ++ext; continue; }
        int64_t ts = r;
        if (has && ts - prev < -((int64_t)1 << 31)) ++wraps;
        prev = ts; has = 1;
        EMIT(o, ts + (wraps << 32), 127 - ((a >> 1) & 0x7F), (a >> 8) & 0x7F, a & 1);
    }
    st[0] = wraps; st[1] = prev; st[2] = has; st[3] = ext;
    STATS_OUT(s, o, out);
    return o - out;
}

/* unfold a wrapping counter: a drop of more than half the period is a wrap (prev < 0: none yet) */
static inline int64_t unwrap(int64_t prev, int64_t raw, int64_t period)
{
    if (prev < 0) return raw;
    int64_t pr = prev % period, base = prev - pr;
    if (pr - raw > period / 2) base += period;
    return base + raw;
}

/* ---------------------------------------------------------------- Prophesee EVT 2.0 */
int64_t evt2_decode(const uint8_t* b, int64_t n, int64_t* st, ev_t* out, stats_t* s)
{
    ev_t* o = out;
    int64_t high = st[0], t0 = st[1], dropped = st[2];
    int64_t base = high >= 0 ? (high << 6) + t0 : -1;
    STATS_IN(s);
    for (int64_t i = 0; i < n; ++i) {
        uint32_t w = rd32(b + 4 * i), typ = w >> 28;
        if (typ <= 1) {
            if (high < 0) { ++dropped; continue; }
            EMIT(o, base + ((w >> 22) & 0x3F), (w >> 11) & 0x7FF, w & 0x7FF, typ);
        } else if (typ == 8) {
            high = unwrap(high, w & 0x0FFFFFFF, (int64_t)1 << 28);
            base = (high << 6) + t0;
        }
    }
    st[0] = high; st[2] = dropped;
    STATS_OUT(s, o, out);
    return o - out;
}

/* ---------------------------------------------------------------- Prophesee EVT 3.0 */
/* upper bound of the events in n words (every ADDR_X and vector bit, known state or not) */
int64_t evt3_count(const uint8_t* b, int64_t n)
{
    int64_t c = 0;
    for (int64_t i = 0; i < n; ++i) {
        uint32_t w = rd16(b + 2 * i), typ = w >> 12;
        c += typ == 2 ? 1 : typ == 4 ? __builtin_popcount(w & 0xFFF) : typ == 5 ? __builtin_popcount(w & 0xFF) : 0;
    }
    return c;
}

int64_t evt3_decode(const uint8_t* b, int64_t n, int64_t* st, ev_t* out, stats_t* s)
{
    ev_t* o = out;
    int64_t y = st[0], low = st[1], high = st[2], bx = st[3], pol = st[4], dropped = st[5], t0 = st[6];
    STATS_IN(s);
    for (int64_t i = 0; i < n; ++i) {
        uint32_t w = rd16(b + 2 * i);
        switch (w >> 12) {
        case 0: y = w & 0x7FF; break;
        case 2:
            if (y < 0 || low < 0 || high < 0) { ++dropped; break; }
            EMIT(o, ((high << 12) | low) + t0, w & 0x7FF, y, (w >> 11) & 1);
            break;
        case 3: bx = w & 0x7FF; pol = (w >> 11) & 1; break;
        case 4: case 5: {
            uint32_t m = (w >> 12) == 4 ? (w & 0xFFF) : (w & 0xFF);
            int64_t width = (w >> 12) == 4 ? 12 : 8;
            if (bx < 0 || y < 0 || low < 0 || high < 0) { dropped += __builtin_popcount(m); }
            else {
                int64_t t = ((high << 12) | low) + t0;
                while (m) { int k = __builtin_ctz(m); m &= m - 1; EMIT(o, t, bx + k, y, pol); }
            }
            if (bx >= 0) bx += width;
            break;
        }
        case 6: low = w & 0xFFF; break;
        case 8: high = unwrap(high, w & 0xFFF, 4096); low = 0; break;
        default: break;
        }
    }
    st[0] = y; st[1] = low; st[2] = high; st[3] = bx; st[4] = pol; st[5] = dropped;
    STATS_OUT(s, o, out);
    return o - out;
}

/* ---------------------------------------------------------------- N-MNIST / N-Caltech101 (5-byte ATIS events) */
/* y == 240 marks a timestamp overflow: 2**13 µs more for every later event; the marker is dropped */
int64_t nmnist_decode(const uint8_t* b, int64_t n, ev_t* out, stats_t* s)
{
    ev_t* o = out;
    int64_t hi = 0;
    STATS_IN(s);
    for (int64_t i = 0; i < n; ++i) {
        const uint8_t* r = b + 5 * i;
        if (r[1] == 240) { hi += (int64_t)1 << 13; continue; }
        EMIT(o, hi + ((int64_t)(r[2] & 0x7F) << 16 | (int64_t)r[3] << 8 | r[4]), r[0], r[1], r[2] >> 7);
    }
    STATS_OUT(s, o, out);
    return o - out;
}

/* ---------------------------------------------------------------- columns -> packed events
   t int64, x/y int16, p int8 (psigned) or uint8/bool, each with its own byte stride; p > 0 is ON */
void pack_events(const uint8_t* t, int64_t st, const uint8_t* x, int64_t sx, const uint8_t* y, int64_t sy,
                 const uint8_t* p, int64_t sp, int psigned, int64_t n, ev_t* out)
{
    for (int64_t i = 0; i < n; ++i) {
        int64_t tv; int16_t xv, yv;
        memcpy(&tv, t + i * st, 8); memcpy(&xv, x + i * sx, 2); memcpy(&yv, y + i * sy, 2);
        uint8_t pv = p[i * sp];
        out[i].t = tv; out[i].x = xv; out[i].y = yv;
        out[i].p = psigned ? (int8_t)pv > 0 : pv > 0;
    }
}

/* ---------------------------------------------------------------- checks of decoded events
   backward steps and max x/y into stats; lo = [min x, min y, events with p outside {0, 1}] */
void events_check(const ev_t* e, int64_t n, stats_t* s, int64_t* lo)
{
    STATS_IN(s);
    int64_t nx = lo[0], ny = lo[1], badp = lo[2];
    for (int64_t i = 0; i < n; ++i) {
        int64_t t = e[i].t, x = e[i].x, y = e[i].y, p = e[i].p;
        back += t < last; last = t;
        mx = x > mx ? x : mx; my = y > my ? y : my; nx = x < nx ? x : nx; ny = y < ny ? y : ny;
        badp += (uint64_t)p > 1;
    }
    if (n) { s->last = last; s->has = 1; }
    s->back += back; s->mx = mx; s->my = my;
    lo[0] = nx; lo[1] = ny; lo[2] = badp;
}

/* ---------------------------------------------------------------- Prophesee DAT (CD, 8-byte records) */
int64_t dat_decode(const uint8_t* b, int64_t n, int v1, int64_t* st, ev_t* out, stats_t* s)
{
    ev_t* o = out;
    int64_t prev = st[0], t0 = st[1];
    STATS_IN(s);
    for (int64_t i = 0; i < n; ++i) {
        uint32_t r = rd32(b + 8 * i), d = rd32(b + 8 * i + 4);
        prev = unwrap(prev, r, (int64_t)1 << 32);
        if (v1) EMIT(o, prev + t0, d & 0x1FF, (d >> 9) & 0xFF, (d >> 17) & 1);
        else EMIT(o, prev + t0, d & 0x3FFF, (d >> 14) & 0x3FFF, ((d >> 28) & 0xF) != 0);
    }
    st[0] = prev;
    STATS_OUT(s, o, out);
    return o - out;
}
"""


def _bind(lib: ctypes.CDLL) -> ctypes.CDLL:
    P, L, I = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int  # int64_t sizes (long is 32-bit on Windows)
    sigs = {
        "aedat3_decode": [P, L, P, P, L, P, P],
        "aedat3_events": [P, L, L, P, P, P],
        "aedat3_count": [P, L, L],
        "aedat2_decode": [P, L, P, P, P],
        "evt2_decode": [P, L, P, P, P],
        "evt3_count": [P, L],
        "evt3_decode": [P, L, P, P, P],
        "dat_decode": [P, L, I, P, P, P],
        "events_check": [P, L, P, P],
        "nmnist_decode": [P, L, P, P],
        "pack_events": [P, L, P, L, P, L, P, L, I, L, P],
    }
    for name, args in sigs.items():
        f = getattr(lib, name)
        f.argtypes = args
        f.restype = L
    lib.events_check.restype = None
    lib.pack_events.restype = None
    return lib


_KERNEL = NativeLibrary("event_decoders", [(_SRC, ["-std=c99"])], bind=_bind, version="1")


def enabled() -> bool:
    """Whether the native path may be used (``SNNSTUDIO_NATIVE`` is not ``0``/``false``/``off``)."""
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def lib() -> ctypes.CDLL | None:
    """The decoder library (built on first use), or ``None``: disabled, or no working compiler."""
    if not enabled():
        return None
    return _KERNEL.build()


def ptr(a: np.ndarray, offset: int = 0) -> ctypes.c_void_p:
    """Address of ``a``'s first byte plus ``offset`` bytes (``a`` must stay alive during the call)."""
    return ctypes.c_void_p(a.ctypes.data + offset)


def new_stats(checker) -> np.ndarray:
    """A ``stats`` array seeded from a :class:`~._common.BlockChecker` (last timestamp and maxima)."""
    last = checker.last_t
    return np.array([0 if last is None else last, last is not None, 0, checker.max_x, checker.max_y],
                    dtype=np.int64)


def finish(checker, events: np.ndarray, stats: np.ndarray, block: int = 1 << 16) -> None:
    """Account the natively decoded ``events`` in ``checker``: when ``stats`` saw a backward step
    or a coordinate outside the sensor, re-check them with the checker itself (which names the
    bad event, or counts the steps under ``tolerate_disorder``); else only update its state."""
    n = events.shape[0]
    if n == 0:
        return
    size = checker.size
    if stats[2] or (size is not None and (stats[3] >= size[0] or stats[4] >= size[1])):
        for k in range(0, n, block):
            e = events[k : k + block]
            checker.check(np.ascontiguousarray(e["t"]), np.ascontiguousarray(e["x"]), np.ascontiguousarray(e["y"]))
        return
    checker.max_x, checker.max_y = int(stats[3]), int(stats[4])
    checker.done += n
    checker.last_t = int(stats[0])


def check_events(lib, events: np.ndarray, sensor_size: tuple[int, int] | None, path,
                 offset: int = 0, previous: int | None = None) -> None:
    """:func:`~._common.check_events` with one C pass over the packed events (contiguous
    ``EVENT_DTYPE``); only when that pass finds a problem does the numpy check run, to name it."""
    from snnstudio.events.io._common import check_events as numpy_check

    n = events.shape[0]
    if n == 0:
        return
    stats = np.array([0 if previous is None else previous, previous is not None, 0, -1, -1], dtype=np.int64)
    lo = np.array([1 << 15, 1 << 15, 0], dtype=np.int64)
    lib.events_check(ptr(events), n, ptr(stats), ptr(lo))
    out = sensor_size is not None and (stats[3] >= sensor_size[0] or stats[4] >= sensor_size[1])
    if stats[2] or out or lo[0] < 0 or lo[1] < 0 or lo[2]:
        numpy_check(events, sensor_size, path, offset, previous)


def check(events: np.ndarray, sensor_size: tuple[int, int] | None, path, offset: int = 0,
          previous: int | None = None) -> None:
    """:func:`~._common.check_events` by :func:`check_events` when the library is built (and the
    events are a contiguous ``EVENT_DTYPE`` array), else by numpy."""
    from snnstudio.events.io._common import check_events as numpy_check

    kernel = lib()
    if kernel is not None and events.dtype == EVENT_DTYPE and events.flags.c_contiguous:
        check_events(kernel, events, sensor_size, path, offset, previous)
    else:
        numpy_check(events, sensor_size, path, offset, previous)


_T, _XY = np.dtype("<i8"), np.dtype("<i2")


def pack(t: np.ndarray, x: np.ndarray, y: np.ndarray, p: np.ndarray) -> np.ndarray | None:
    """``EVENT_DTYPE`` events from four equally long 1-D columns in one C pass (``p > 0`` is ON),
    or ``None`` when the library is missing or the dtypes are not t int64, x/y int16, p
    int8/uint8/bool (the caller converts with numpy then)."""
    kernel = lib()
    if (kernel is None or t.dtype != _T or x.dtype != _XY or y.dtype != _XY
            or p.dtype not in (np.dtype("i1"), np.dtype("u1"), np.dtype("?"))):
        return None
    out = empty(t.shape[0])
    kernel.pack_events(ptr(t), t.strides[0], ptr(x), x.strides[0], ptr(y), y.strides[0], ptr(p), p.strides[0],
                       int(p.dtype == np.dtype("i1")), t.shape[0], ptr(out))
    return out


def empty(n: int) -> np.ndarray:
    return np.empty(n, dtype=EVENT_DTYPE)
