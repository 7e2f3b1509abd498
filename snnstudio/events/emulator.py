"""Frames → events: the DVS pixel model of v2e / ESIM, vectorised in numpy.

Why hand-written: v2e (Hu, Liu & Delbruck 2021) is the reference model but it is a torch
application, not a library, and is far from real time on a CPU; ESIM (Rebecq et al. 2018) is
C++/ROS. This module keeps their pixel model and makes it fast enough to turn a
640×480, 30 fps webcam into events live on a small CPU: every step is a whole-frame numpy
operation, and the per-event work (threshold crossings, refractory period) is in closed form,
so no Python loop runs per pixel or per threshold crossing.

The model, per pixel, for a frame at time ``t1`` after the previous frame at ``t0`` (µs):

1. **lin-log** — ``L = ln(I)`` for luma ``I`` (0–255 scale) above ``lin_log_threshold`` (20),
   linear below it (continuous at the knee), as in v2e.
2. **photoreceptor low-pass** — first order, its cutoff proportional to intensity:
   ``f = cutoff_hz · (I + 20) / 275``; discretised exactly,
   ``lp += (1 − exp(−2π f Δt)) (L − lp)``. Dark pixels respond slowly. ``cutoff_hz = 0`` turns
   it off (``lp = L``).
3. **leak** — the memorised reference drifts down by ``leak_rate_hz · C_on`` per second
   (per-pixel rate jittered by ``leak_jitter``, random initial phase), so a still pixel emits
   ON events at about ``leak_rate_hz``.
4. **change detection** — ``d = lp − ref``; each crossing of ``+k·C_on`` emits an ON event,
   of ``−k·C_off`` an OFF event, and moves the reference by that many thresholds. ``C_on`` and
   ``C_off`` are per pixel: nominal ``+ threshold_sigma · N(0, 1)`` (seeded), at least 0.01.
   ``d`` changes linearly between frames, so crossing ``k`` happens at
   ``t0 + Δt (k·C − d0) / (d1 − d0)``: a pixel crossing several thresholds emits several
   events at interpolated times (equally spaced within one frame interval).
5. **refractory period** — an event less than ``refractory_us`` after the pixel's previous
   event is not emitted (its crossing still moves the reference: the pixel was held in reset).
6. **shot noise** — Poisson events at ``shot_noise_rate_hz`` per pixel (ON and OFF equally
   likely), uniform in time; each resets the pixel's reference to its current level.

uint8 frames are looked up in 256-entry tables; float frames in [0, 1] are quantised to 12 bits
for the same look-ups (at most 0.01 log units, far below a threshold).

The first frame only initialises the state. :meth:`EventEmulator.feed` returns the events of
the interval ``(t0, t1]``, sorted by time. Timestamps are integers: the float crossing time
rounded up, which keeps both the ``(t0, t1]`` bound and the refractory gap exact.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from snnstudio.events.types import EVENT_DTYPE, EventRecording

_TWO_PI = 2.0 * np.pi
_TIE = 1e-5  # relative tolerance of a threshold crossing (float32 rounding)
_FLOAT_LEVELS = 4096  # quantisation of float frames for the table look-ups


@dataclass(frozen=True)
class EmulatorConfig:
    """Pixel model parameters (see the module docstring). Thresholds are in log-intensity units."""

    on_threshold: float = 0.2
    off_threshold: float = 0.2
    #: std of the per-pixel threshold mismatch (log units, absolute, like v2e's sigma_thres)
    threshold_sigma: float = 0.03
    #: photoreceptor cutoff at full intensity (Hz); 0 disables the low-pass
    cutoff_hz: float = 200.0
    refractory_us: int = 100
    #: mean rate of leak (ON) events of a still pixel (Hz); 0 disables
    leak_rate_hz: float = 0.1
    #: relative per-pixel spread of the leak rate
    leak_jitter: float = 0.1
    #: rate of shot-noise events per pixel, ON and OFF together (Hz)
    shot_noise_rate_hz: float = 0.1
    #: luma (0–255 scale) below which the log response becomes linear
    lin_log_threshold: float = 20.0
    #: seed of the threshold mismatch, leak jitter and noise (None: fresh entropy)
    seed: int | None = 0

    @classmethod
    def ideal(cls, threshold: float = 0.2, **overrides) -> EmulatorConfig:
        """A noiseless, mismatch-free, instantaneous sensor (no low-pass, leak, noise or refractory period)."""
        base = cls(
            on_threshold=threshold,
            off_threshold=threshold,
            threshold_sigma=0.0,
            cutoff_hz=0.0,
            refractory_us=0,
            leak_rate_hz=0.0,
            leak_jitter=0.0,
            shot_noise_rate_hz=0.0,
        )
        return replace(base, **overrides)

    def __post_init__(self) -> None:
        if not (self.on_threshold > 0 and self.off_threshold > 0):
            raise ValueError(f"thresholds must be > 0, got on={self.on_threshold}, off={self.off_threshold}")
        for name in ("threshold_sigma", "cutoff_hz", "refractory_us", "leak_rate_hz", "leak_jitter", "shot_noise_rate_hz"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.lin_log_threshold <= 0:
            raise ValueError(f"lin_log_threshold must be > 0, got {self.lin_log_threshold}")


def lin_log(luma: np.ndarray, threshold: float = 20.0) -> np.ndarray:
    """v2e's lin-log response of luma on the 0–255 scale: ``ln(I)`` above ``threshold``, linear below."""
    x = np.asarray(luma, dtype=np.float64)
    slope = np.log(threshold) / threshold
    return np.where(x <= threshold, x * slope, np.log(np.maximum(x, threshold)))


class EventEmulator:
    """A DVS pixel array of ``width × height`` turning luma frames into events.

    ``feed(frame, t_us)`` takes a ``[H, W]`` luma frame: ``uint8`` (0–255) or float in ``[0, 1]``.
    The first frame (after construction or :meth:`reset`) initialises the pixels and returns no
    events; later frames return the events of ``(t_prev, t_us]`` as an :data:`EVENT_DTYPE` array.
    """

    def __init__(self, width: int, height: int, config: EmulatorConfig | None = None):
        if int(width) <= 0 or int(height) <= 0:
            raise ValueError(f"sensor size must be positive, got {width}x{height}")
        self.width = int(width)
        self.height = int(height)
        self.config = config if config is not None else EmulatorConfig()
        self.reset()

    @property
    def sensor_size(self) -> tuple[int, int]:
        """``(width, height)`` of the emulated sensor, pixels."""
        return (self.width, self.height)

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget the frames seen; re-draw the (seeded, hence identical) mismatch and noise stream."""
        cfg = self.config
        n = self.width * self.height
        self._rng = np.random.default_rng(cfg.seed)
        c_on = np.full(n, cfg.on_threshold, np.float32)
        c_off = np.full(n, cfg.off_threshold, np.float32)
        if cfg.threshold_sigma > 0:
            c_on += self._rng.normal(0.0, cfg.threshold_sigma, n).astype(np.float32)
            c_off += self._rng.normal(0.0, cfg.threshold_sigma, n).astype(np.float32)
            np.maximum(c_on, 0.01, out=c_on)
            np.maximum(c_off, 0.01, out=c_off)
        self.on_thresholds = c_on.reshape(self.height, self.width)
        self.off_thresholds = c_off.reshape(self.height, self.width)
        self._c_on = c_on
        self._c_off = c_off
        # detection thresholds a hair (1e-5 relative) below the nominal ones, so that returning to a
        # level exactly k thresholds away still counts k crossings despite float32 rounding
        self._on_test = c_on * np.float32(1.0 - _TIE)
        self._neg_off_test = -c_off * np.float32(1.0 - _TIE)
        if cfg.leak_rate_hz > 0:
            rate = cfg.leak_rate_hz * (1.0 + cfg.leak_jitter * self._rng.standard_normal(n))
            # reference drop per µs, in log units
            self._leak_per_us = (np.maximum(rate, 0.0) * 1e-6 * c_on).astype(np.float32)
        else:
            self._leak_per_us = None
        self._lp: np.ndarray | None = None  # low-passed log intensity, flat float32
        self._ref: np.ndarray | None = None  # memorised reference, flat float32
        self._last_us = np.full(n, -np.inf)  # each pixel's last event, µs after the first frame
        self._t_prev: int | None = None
        self._t_origin = 0
        # shot noise drawn ahead: times (µs after the first frame), pixels, polarities
        self._noise_t = np.empty(0)
        self._noise_idx = np.empty(0, np.int64)
        self._noise_pol = np.empty(0, np.int8)
        self._noise_pos = 0
        self._delta = np.empty(n, np.float32)
        self._on_buf = np.empty(n, bool)
        self._off_buf = np.empty(n, bool)
        self._d = np.empty(n, np.float32)
        self._eps_key: tuple[int, int] | None = None
        self._eps_lut: np.ndarray | None = None
        self._log_lut_f: np.ndarray | None = None
        self._scaled = np.empty(n, np.float32)
        self._leak_key: int | None = None
        self._leak_dt: np.ndarray | None = None
        self._log_lut = lin_log(np.arange(256), cfg.lin_log_threshold).astype(np.float32)

    @property
    def initialised(self) -> bool:
        """Has a first frame been seen since construction / :meth:`reset`?"""
        return self._t_prev is not None

    # ------------------------------------------------------------------ input
    def _check(self, frame: np.ndarray) -> np.ndarray:
        frame = np.asarray(frame)
        if frame.shape != (self.height, self.width):
            raise ValueError(f"frame must be [H, W] = [{self.height}, {self.width}] luma, got shape {frame.shape}")
        if frame.dtype != np.uint8 and not np.issubdtype(frame.dtype, np.floating):
            raise ValueError(f"frame must be uint8 (0-255) or float (0-1), got dtype {frame.dtype}")
        if frame.dtype != np.uint8:
            lo, hi = float(frame.min()), float(frame.max())
            if not (lo >= 0.0 and hi <= 1.0):  # also catches NaN
                raise ValueError(f"float frames must lie in [0, 1], got values in [{lo}, {hi}]")
        return frame

    def _log_and_eps(self, frame: np.ndarray, dt_us: int | None) -> tuple[np.ndarray, np.ndarray | None]:
        """Flat lin-log frame and (dt_us given, low-pass on) the per-pixel low-pass gain, by table look-up.

        uint8 frames index 256-entry tables (``cv2.LUT``, twice as fast as numpy's take); float
        frames are quantised to 12 bits (steps of 1/4095: at most 0.01 log units in the dark,
        0.003 above the knee, far below any threshold) and index 4096-entry tables, which is
        several times faster than computing ``log`` and ``expm1`` per pixel.
        """
        cfg = self.config
        want_eps = dt_us is not None and cfg.cutoff_hz > 0
        if frame.dtype == np.uint8:
            levels = 256
            log = cv2.LUT(frame, self._log_lut).reshape(-1)
            index = frame
        else:
            levels = _FLOAT_LEVELS
            if self._log_lut_f is None:
                self._log_lut_f = lin_log(np.arange(levels) * (255.0 / (levels - 1)), cfg.lin_log_threshold).astype(np.float32)
            index = np.multiply(frame.reshape(-1), np.float32(levels - 1), out=self._scaled)
            index += np.float32(0.5)
            index = index.astype(np.intp)
            log = self._log_lut_f.take(index, mode="clip")
        if not want_eps:
            return log, None
        key = (levels, dt_us)
        if self._eps_key != key:
            inten = (np.arange(levels, dtype=np.float64) * (255.0 / (levels - 1)) + 20.0) / 275.0
            self._eps_lut = (-np.expm1(-_TWO_PI * cfg.cutoff_hz * inten * dt_us * 1e-6)).astype(np.float32)
            self._eps_key = key
        if levels == 256:
            return log, cv2.LUT(frame, self._eps_lut).reshape(-1)
        return log, self._eps_lut.take(index, mode="clip")

    # ------------------------------------------------------------------ step
    def feed(self, frame: np.ndarray, t_us: int) -> np.ndarray:
        """Feed one luma frame taken at ``t_us`` (µs); return the events of ``(t_prev, t_us]`` sorted by ``t``."""
        t0 = self._t_prev
        raw = self.step(self._check(frame), t_us)
        if raw is None:
            return np.empty(0, EVENT_DTYPE)
        t, idx, pol = raw
        key = t - (t0 + 1)  # in [0, dt)
        order = _stable_argsort_small(key, int(t_us) - t0)
        return assemble_events(t[order], idx[order], pol[order], self.width)

    def step(self, frame: np.ndarray, t_us: int):
        """:meth:`feed` without input checks or sorting, for callers that emulate many frames and
        sort once: returns ``(t, pixel, p)`` — int64 µs, flat pixel index ``y·W + x``, int8
        polarity — in no particular order, or ``None`` when there are no events. ``frame`` must be
        a valid ``[H, W]`` uint8 or float32 frame in [0, 1] (not checked)."""
        t_us = int(t_us)
        if self._t_prev is None:
            log, _ = self._log_and_eps(frame, None)
            self._lp = np.array(log, dtype=np.float32, copy=True)
            self._ref = self._lp.copy()
            if self._leak_per_us is not None:
                # random leak phase, as in v2e: still pixels must not all leak in step
                self._ref -= self._rng.random(self._ref.size, np.float32) * self._c_on
            self._t_prev = self._t_origin = t_us
            return None
        t0 = self._t_prev
        dt = t_us - t0
        if dt <= 0:
            raise ValueError(f"frame timestamps must increase: got {t_us} µs after {t0} µs")
        t0_rel = t0 - self._t_origin  # per-pixel times are kept relative: float64 stays exact
        lp, ref, delta, d = self._lp, self._ref, self._delta, self._d

        log, eps = self._log_and_eps(frame, dt)
        # delta = change of the low-passed log intensity over this interval
        np.subtract(log, lp, out=delta)
        if eps is not None:
            delta *= eps
        lp += delta
        leak = None
        if self._leak_per_us is not None:
            if self._leak_key != dt:
                self._leak_dt = self._leak_per_us * np.float32(dt)
                self._leak_key = dt
            leak = self._leak_dt
            ref -= leak
        np.subtract(lp, ref, out=d)

        on, off = self._on_buf, self._off_buf
        np.greater_equal(d, self._on_test, out=on)
        np.less_equal(d, self._neg_off_test, out=off)
        np.logical_or(on, off, out=on)
        cand = on.nonzero()[0]
        parts = []
        if cand.size:
            parts.append(self._crossings(cand, t0_rel, dt, leak))
        if self.config.shot_noise_rate_hz > 0:
            noise = self._shot_noise(t0_rel, dt)
            if noise is not None:
                parts.append(noise)
        self._t_prev = t_us
        if not parts:
            return None
        if len(parts) == 1:
            rel, idx, pol = parts[0]
        else:
            rel, idx, pol = (np.concatenate(z) for z in zip(*parts))
        # integer µs, rounded up: times lie in (t0, t1] and integer gaps keep the refractory bound
        t = np.ceil(rel - 1e-6).astype(np.int64)
        np.maximum(t, 1, out=t)
        np.minimum(t, dt, out=t)
        t += t0
        return t, idx, pol

    def _crossings(self, idx, t0: int, dt: int, leak):
        """Threshold crossings of pixels ``idx`` in closed form; returns (times rel. to ``t0``, pixels, polarities).

        Oriented by each pixel's polarity and in units of its threshold ``c``, ``d`` moves linearly
        from ``d0`` to ``d1`` over the interval. Crossing ``k = 0..n−1`` happens at
        ``τ_k = τ_0 + k·Δ``. With refractory period ``R`` and last event ``τ_last`` the emitted
        crossings are ``k0, k0 + m, k0 + 2m, …`` with ``k0`` the first ``τ_k ≥ τ_last + R`` and
        ``m = ⌈R / Δ⌉``. Times here are relative to ``t0`` (float64 µs).
        """
        d1 = self._d[idx].astype(np.float64)
        # d before this interval: previous lp minus previous (pre-leak) reference
        d0 = d1 - self._delta[idx]
        if leak is not None:
            d0 += leak[idx]
        is_on = d1 > 0
        sgn = np.where(is_on, 1.0, -1.0)
        c = np.where(is_on, self._c_on[idx], self._c_off[idx]).astype(np.float64)
        d0 *= sgn
        d1 *= sgn
        n = np.maximum(np.floor(d1 / c + _TIE).astype(np.int64), 1)
        # the reference moves by every crossing, emitted or not
        self._ref[idx] += (sgn * n * c).astype(np.float32)

        scale = dt / np.maximum(d1 - d0, 1e-12)  # d0 < c <= d1
        step = c * scale  # Δ, µs between consecutive crossings
        first = np.minimum(np.maximum((c - d0) * scale, 0.0), float(dt))  # τ_0 (ufuncs: np.clip is slow on small arrays)
        R = float(self.config.refractory_us)
        if R > 0 and int(np.maximum.reduce(n)) == 1:  # one crossing per pixel: the common case at high frame rates
            ok = (first - (self._last_us[idx] - t0)) >= R
            idx, first = idx[ok], first[ok]
            self._last_us[idx] = t0 + first
            return first, idx, is_on[ok].astype(np.int8)
        if R > 0:
            last = self._last_us[idx] - t0
            k0 = np.maximum(np.ceil((last + R - first) / step), 0.0)
            k0 += (first + k0 * step - last) < R  # guard float rounding
            m = np.maximum(np.ceil(R / step), 1.0)
            m += (m * step) < R
            k0 = np.minimum(k0, n).astype(np.int64)  # k0 == n: nothing left to emit
            m = m.astype(np.int64)
            count = np.where(k0 < n, 1 + (n - 1 - k0) // m, 0)
            has = count > 0
            self._last_us[idx[has]] = t0 + (first + (k0 + (count - 1) * m) * step)[has]
            first = first + k0 * step
            step = step * m
        else:
            count = n
            self._last_us[idx] = t0 + first + (n - 1) * step
        total = int(np.add.reduce(count))
        if total == idx.size and R == 0:  # one crossing per pixel: the common case at high frame rates
            return first, idx, is_on.astype(np.int8)
        # the j-th emitted event of a pixel is at first + j*step (after the refractory rewrite)
        starts = np.cumsum(count) - count
        j = np.arange(total, dtype=np.float64) - starts.repeat(count)
        rel = first.repeat(count) + j * step.repeat(count)
        return rel, idx.repeat(count), is_on.repeat(count).astype(np.int8)

    def _shot_noise(self, t0_rel: int, dt: int):
        """Shot-noise events of ``(t0, t0 + dt]``: one Poisson process of rate ``rate · pixels``,
        each event on a uniformly drawn pixel (= independent per-pixel Poisson processes).

        The process is drawn ahead in chunks (cheap per frame, and independent of frame timing);
        a noise event within a pixel's refractory period of its previous event is dropped.
        """
        t1_rel = t0_rel + dt
        if self._noise_t.size == 0 or self._noise_t[-1] <= t1_rel:
            self._refill_noise(t1_rel)
        i = self._noise_pos
        j = int(self._noise_t.searchsorted(t1_rel, side="right"))
        if j <= i:
            return None
        self._noise_pos = j
        rel = self._noise_t[i:j] - t0_rel
        idx = self._noise_idx[i:j]
        pol = self._noise_pol[i:j]
        R = float(self.config.refractory_us)
        if R > 0:  # (noise events closer than R in one pixel were already thinned when drawn)
            ok = np.abs(rel - (self._last_us[idx] - t0_rel)) >= R
            idx, rel, pol = idx[ok], rel[ok], pol[ok]
        self._last_us[idx] = np.maximum(self._last_us[idx], rel + t0_rel)
        self._ref[idx] = self._lp[idx]  # a noise event resets the pixel
        return rel, idx, pol

    def _refill_noise(self, t_until: float) -> None:
        """Extend the drawn noise process past ``t_until`` (µs after the first frame)."""
        npix = self.width * self.height
        rate_per_us = self.config.shot_noise_rate_hz * npix * 1e-6
        keep = slice(self._noise_pos, None)
        t, idx, pol = [self._noise_t[keep]], [self._noise_idx[keep]], [self._noise_pol[keep]]
        last = float(self._noise_t[-1]) if self._noise_t.size else 0.0
        while last <= t_until:
            n = int(rate_per_us * (t_until - last) * 1.2 + rate_per_us * 200_000) + 64
            chunk = last + np.cumsum(self._rng.exponential(1.0 / rate_per_us, n))
            t.append(chunk)
            idx.append(self._rng.integers(0, npix, n))
            pol.append(self._rng.integers(0, 2, n).astype(np.int8))
            last = float(chunk[-1])
        t, idx, pol = np.concatenate(t), np.concatenate(idx), np.concatenate(pol)
        R = float(self.config.refractory_us)
        if R > 0:  # thin events closer than R to the previous one of the same pixel
            order = np.lexsort((t, idx))
            close = np.zeros(t.size, bool)
            close[order[1:]] = (idx[order[1:]] == idx[order[:-1]]) & (t[order[1:]] - t[order[:-1]] < R)
            t, idx, pol = t[~close], idx[~close], pol[~close]
        self._noise_t, self._noise_idx, self._noise_pol = t, idx, pol
        self._noise_pos = 0


def assemble_events(t: np.ndarray, pixel: np.ndarray, p: np.ndarray, width: int) -> np.ndarray:
    """An :data:`EVENT_DTYPE` array from times, flat pixel indices ``y·width + x`` and polarities (kept in order)."""
    out = np.empty(t.size, EVENT_DTYPE)
    out["t"] = t
    out["x"] = pixel % width
    out["y"] = pixel // width
    out["p"] = p
    return out


def _stable_argsort_small(key: np.ndarray, bound: int) -> np.ndarray:
    """Stable argsort of non-negative int keys ``< bound``: numpy's radix sort on 16-bit keys (LSD, two passes above 2^16)."""
    if bound <= 1 << 16:
        return np.argsort(key.astype(np.uint16), kind="stable")
    if bound <= 1 << 32:
        lo = np.argsort((key & 0xFFFF).astype(np.uint16), kind="stable")
        hi = np.argsort((key[lo] >> 16).astype(np.uint16), kind="stable")
        return lo[hi]
    return np.argsort(key, kind="stable")


def emulate_frames(
    frames, timestamps_us, config: EmulatorConfig | None = None, *, sensor: str | None = "emulated"
) -> EventRecording:
    """Run a fresh :class:`EventEmulator` over ``frames`` ([N, H, W]) taken at ``timestamps_us``."""
    frames = np.asarray(frames)
    if frames.ndim != 3:
        raise ValueError(f"frames must be [N, H, W], got shape {frames.shape}")
    ts = np.asarray(timestamps_us, dtype=np.int64)
    if ts.shape != (frames.shape[0],):
        raise ValueError(f"need one timestamp per frame: {frames.shape[0]} frames, {ts.shape} timestamps")
    emu = EventEmulator(frames.shape[2], frames.shape[1], config)
    chunks = [emu.feed(f, t) for f, t in zip(frames, ts)]
    events = np.concatenate(chunks) if chunks else np.empty(0, EVENT_DTYPE)
    return EventRecording(events, (frames.shape[2], frames.shape[1]), sensor=sensor)
