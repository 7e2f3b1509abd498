"""Composable event filters and augmentations on the one event array type (:data:`EVENT_DTYPE`).

Each filter is a pure function ``f(events, ...) -> events`` plus a thin callable class
(tonic style) so that filters compose with :class:`Compose`; the class form of a filter that
changes the sensor geometry also answers ``output_size(sensor_size)``. Coordinates are pixels
with origin top-left, ``sensor_size`` is ``(width, height)``, times are µs.

Filters that must remember the past across streaming batches — :class:`RefractoryFilter` and
:class:`BackgroundActivityFilter` — keep that state explicitly (a per-pixel last-timestamp map,
``reset()`` clears it): calling them batch by batch gives exactly what one call on the whole
stream gives. The pure functions are the stateless, one-shot versions.

Background-activity denoising follows dv-processing's ``dv.noise.BackgroundActivityNoiseFilter``
(an event is signal when one of its 8 neighbours — not its own pixel — had an event less than
``duration_us`` earlier; every event updates its pixel's timestamp, kept or not). It is
re-implemented here because dv-processing's Python API has no fast numpy → ``EventStore`` path:
per-event ``push_back`` runs at ~0.3 M events/s, which makes the dv filter (itself fast) unusable
on live streams. The numpy version is vectorised two ways — for time-sorted streams, dense
per-pixel maps updated block by block (blocks shorter than the duration, ~3 M events/s on one
loaded core); for any order, a stable sort by pixel and a sorted search per neighbour offset —
and both are tested event for event against dv's output (synthetic and real recordings);
:func:`background_activity_dv` runs dv's own filter for comparison. One deliberate difference:
dv's timestamp map starts at 0, so for ``t < duration_us`` unseen neighbours count as recent;
here a pixel that never fired supports nothing (identical on real, epoch-µs streams).

One spec for them all: :func:`parse_filters` reads ``"denoise=2ms; hot; crop=16,16,96,96"``
(``snnstudio convert/predict/eval --filter``, the session's ``set_filters`` control, the Source
panel) and :class:`FilterChain` applies it, streaming, in a fixed order (:data:`FILTER_NAMES`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from snnstudio.errors import SnnStudioError
from snnstudio.events.types import EVENT_DTYPE

__all__ = [
    "FilterError",
    "Compose",
    "polarity_select",
    "PolaritySelect",
    "flip",
    "Flip",
    "crop",
    "Crop",
    "downsample",
    "Downsample",
    "time_shift",
    "TimeShift",
    "time_jitter",
    "TimeJitter",
    "drop_events",
    "DropEvents",
    "refractory",
    "RefractoryFilter",
    "find_hot_pixels",
    "mask_pixels",
    "HotPixelFilter",
    "background_activity",
    "background_activity_dv",
    "BackgroundActivityFilter",
    "FILTER_NAMES",
    "FilterSpec",
    "parse_filters",
    "format_filters",
    "FilterChain",
]

_NEVER = np.iinfo(np.int64).min // 4  # "this pixel never fired" in last-timestamp maps


class FilterError(SnnStudioError, ValueError):
    """Bad filter parameters or events that do not fit the sensor."""


def _check(events: np.ndarray) -> np.ndarray:
    if not isinstance(events, np.ndarray) or events.dtype != EVENT_DTYPE or events.ndim != 1:
        got = getattr(events, "dtype", type(events).__name__)
        raise FilterError(f"events must be a 1-D numpy array of EVENT_DTYPE, got {got}")
    return events


def _sensor(sensor_size) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in tuple(sensor_size)[:2])
    except (TypeError, ValueError):
        raise FilterError(f"sensor_size must be (width, height), got {sensor_size!r}") from None
    if w <= 0 or h <= 0:
        raise FilterError(f"sensor_size must be positive, got {sensor_size!r}")
    return w, h


def _pixels(events: np.ndarray, sensor: tuple[int, int]) -> np.ndarray:
    """Flat pixel index ``y·W + x`` (int64); raises when an event is off the sensor."""
    w, h = sensor
    x = events["x"].astype(np.int64)
    y = events["y"].astype(np.int64)
    if len(x) and (x.min() < 0 or y.min() < 0 or x.max() >= w or y.max() >= h):
        raise FilterError(f"event coordinates x in [{x.min()}, {x.max()}], y in [{y.min()}, {y.max()}] do not fit the sensor {w}×{h}")
    y *= w
    y += x
    return y


class Compose:
    """Apply callables in order: ``Compose([Flip((128, 128), x=True), DropEvents(0.1)])(events)``.

    The last one may turn events into something else (e.g. :class:`~snnstudio.events.frames.ToFrames`)."""

    def __init__(self, transforms: Sequence[Callable]):
        self.transforms = list(transforms)

    def __call__(self, events):
        for f in self.transforms:
            events = f(events)
        return events

    def output_size(self, sensor_size: tuple[int, int]) -> tuple[int, int]:
        """Sensor size after every geometry-changing step."""
        size = _sensor(sensor_size)
        for f in self.transforms:
            size = f.output_size(size) if hasattr(f, "output_size") else size
        return size

    def reset(self) -> None:
        """Reset every stateful step (streaming filters)."""
        for f in self.transforms:
            if hasattr(f, "reset"):
                f.reset()

    def __repr__(self) -> str:
        return "Compose([" + ", ".join(repr(f) for f in self.transforms) + "])"


# --- geometry and selection ----------------------------------------------------------------------


def polarity_select(events: np.ndarray, polarity: int) -> np.ndarray:
    """Events of one polarity (0 = OFF, 1 = ON)."""
    _check(events)
    if polarity not in (0, 1):
        raise FilterError(f"polarity must be 0 (OFF) or 1 (ON), got {polarity!r}")
    return events[events["p"] == polarity]


class PolaritySelect:
    def __init__(self, polarity: int):
        if polarity not in (0, 1):
            raise FilterError(f"polarity must be 0 (OFF) or 1 (ON), got {polarity!r}")
        self.polarity = polarity

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return polarity_select(events, self.polarity)

    def __repr__(self) -> str:
        return f"PolaritySelect({self.polarity})"


def flip(events: np.ndarray, sensor_size: tuple[int, int], x: bool = False, y: bool = False) -> np.ndarray:
    """Mirror left-right (``x' = W - 1 - x``) and/or upside-down (``y' = H - 1 - y``); a copy."""
    _check(events)
    w, h = _sensor(sensor_size)
    _pixels(events, (w, h))  # bounds check: a flipped off-sensor event would land anywhere
    out = events.copy()
    if x:
        out["x"] = (w - 1) - events["x"]
    if y:
        out["y"] = (h - 1) - events["y"]
    return out


class Flip:
    def __init__(self, sensor_size: tuple[int, int], x: bool = False, y: bool = False):
        self.sensor_size, self.x, self.y = _sensor(sensor_size), bool(x), bool(y)

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return flip(events, self.sensor_size, self.x, self.y)

    def __repr__(self) -> str:
        return f"Flip({self.sensor_size}, x={self.x}, y={self.y})"


def _check_roi(roi) -> tuple[int, int, int, int]:
    try:
        x0, y0, w, h = (int(v) for v in roi)
    except (TypeError, ValueError):
        raise FilterError(f"roi must be (x0, y0, width, height), got {roi!r}") from None
    if w <= 0 or h <= 0 or x0 < 0 or y0 < 0:
        raise FilterError(f"roi must have x0, y0 >= 0 and width, height > 0, got {roi!r}")
    return x0, y0, w, h


def crop(events: np.ndarray, roi: tuple[int, int, int, int]) -> np.ndarray:
    """Events inside ``roi = (x0, y0, width, height)``, moved so that the roi's corner is (0, 0);
    the new sensor size is ``(width, height)``."""
    _check(events)
    x0, y0, w, h = _check_roi(roi)
    x, y = events["x"], events["y"]
    out = events[(x >= x0) & (x < x0 + w) & (y >= y0) & (y < y0 + h)]
    out["x"] -= x0
    out["y"] -= y0
    return out


class Crop:
    def __init__(self, roi: tuple[int, int, int, int]):
        self.roi = _check_roi(roi)

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return crop(events, self.roi)

    def output_size(self, sensor_size) -> tuple[int, int]:
        """The sensor size after cropping: ``(width, height)`` of the region."""
        return self.roi[2], self.roi[3]

    def __repr__(self) -> str:
        return f"Crop({self.roi})"


def downsample(events: np.ndarray, sensor_size: tuple[int, int], out_size: tuple[int, int]) -> np.ndarray:
    """Rescale coordinates to ``out_size = (W', H')``: ``x' = x·W' // W``, ``y' = y·H' // H``
    (every event kept; several may now share a pixel — framing then sums them, i.e. sum pooling)."""
    _check(events)
    w, h = _sensor(sensor_size)
    ow, oh = _sensor(out_size)
    _pixels(events, (w, h))  # bounds check
    out = events.copy()
    out["x"] = events["x"].astype(np.int64) * ow // w
    out["y"] = events["y"].astype(np.int64) * oh // h
    return out


class Downsample:
    def __init__(self, sensor_size: tuple[int, int], out_size: tuple[int, int]):
        self.sensor_size, self.out_size = _sensor(sensor_size), _sensor(out_size)

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return downsample(events, self.sensor_size, self.out_size)

    def output_size(self, sensor_size) -> tuple[int, int]:
        """The sensor size after downsampling: ``out_size``."""
        return self.out_size

    def __repr__(self) -> str:
        return f"Downsample({self.sensor_size} -> {self.out_size})"


# --- time and augmentation -----------------------------------------------------------------------


def time_shift(events: np.ndarray, offset_us: int) -> np.ndarray:
    """All timestamps moved by ``offset_us`` (a copy)."""
    _check(events)
    out = events.copy()
    out["t"] += int(offset_us)
    return out


class TimeShift:
    def __init__(self, offset_us: int):
        self.offset_us = int(offset_us)

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return time_shift(events, self.offset_us)

    def __repr__(self) -> str:
        return f"TimeShift({self.offset_us} µs)"


def _rng(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def time_jitter(events: np.ndarray, std_us: float, rng: np.random.Generator | int | None = None) -> np.ndarray:
    """Add Gaussian noise (σ = ``std_us``, rounded to whole µs) to every timestamp, then restore
    time order with a stable sort."""
    _check(events)
    if std_us < 0:
        raise FilterError(f"std_us must be >= 0, got {std_us}")
    out = events.copy()
    out["t"] += np.rint(_rng(rng).normal(0.0, std_us, len(events))).astype(np.int64)
    return out[np.argsort(out["t"], kind="stable")]


class TimeJitter:
    def __init__(self, std_us: float, seed: int | np.random.Generator | None = None):
        if std_us < 0:
            raise FilterError(f"std_us must be >= 0, got {std_us}")
        self.std_us, self.rng = float(std_us), _rng(seed)

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return time_jitter(events, self.std_us, self.rng)

    def __repr__(self) -> str:
        return f"TimeJitter(σ={self.std_us} µs)"


def drop_events(events: np.ndarray, p: float, rng: np.random.Generator | int | None = None) -> np.ndarray:
    """Drop each event independently with probability ``p`` (order kept)."""
    _check(events)
    if not 0.0 <= p <= 1.0:
        raise FilterError(f"drop probability must be in [0, 1], got {p}")
    return events[_rng(rng).random(len(events)) >= p]


class DropEvents:
    def __init__(self, p: float, seed: int | np.random.Generator | None = None):
        if not 0.0 <= p <= 1.0:
            raise FilterError(f"drop probability must be in [0, 1], got {p}")
        self.p, self.rng = float(p), _rng(seed)

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return drop_events(events, self.p, self.rng)

    def __repr__(self) -> str:
        return f"DropEvents(p={self.p})"


# --- hot pixels ----------------------------------------------------------------------------------


def find_hot_pixels(
    events: np.ndarray,
    sensor_size: tuple[int, int],
    max_rate_hz: float | None = None,
    n_mad: float = 10.0,
) -> np.ndarray:
    """Boolean mask ``[H, W]`` of hot pixels: those whose event rate is above ``max_rate_hz``
    (when given), otherwise above ``median + n_mad·MAD`` of the rates of the pixels that fired
    (MAD = median absolute deviation, a robust spread). The duration is the events' time span."""
    _check(events)
    w, h = _sensor(sensor_size)
    counts = np.bincount(_pixels(events, (w, h)), minlength=w * h).astype(np.float64)
    if not len(events):
        return np.zeros((h, w), bool)
    duration_s = max(int(events["t"].max()) - int(events["t"].min()), 1) * 1e-6
    rate = counts / duration_s
    if max_rate_hz is not None:
        if max_rate_hz <= 0:
            raise FilterError(f"max_rate_hz must be > 0, got {max_rate_hz}")
        hot = rate > max_rate_hz
    else:
        active = rate[counts > 0]
        med = np.median(active)
        mad = max(np.median(np.abs(active - med)), 1.0 / duration_s)  # at least one event's worth
        hot = rate > med + n_mad * mad
    return hot.reshape(h, w)


def mask_pixels(events: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Events whose pixel is not set in the boolean ``mask [H, W]``."""
    _check(events)
    mask = np.asarray(mask, bool)
    if mask.ndim != 2:
        raise FilterError(f"mask must be [H, W], got shape {mask.shape}")
    h, w = mask.shape
    return events[~mask.reshape(-1)[_pixels(events, (w, h))]]


class HotPixelFilter:
    """Drop the events of masked pixels; ``HotPixelFilter.fit(events, sensor_size)`` learns the
    mask from a calibration stretch with :func:`find_hot_pixels`."""

    def __init__(self, mask: np.ndarray):
        self.mask = np.asarray(mask, bool)
        if self.mask.ndim != 2:
            raise FilterError(f"mask must be [H, W], got shape {self.mask.shape}")

    @classmethod
    def fit(cls, events: np.ndarray, sensor_size: tuple[int, int], **kwargs) -> HotPixelFilter:
        """A filter masking the pixels :func:`find_hot_pixels` finds in ``events`` (a calibration stretch);
        ``kwargs`` go to it."""
        return cls(find_hot_pixels(events, sensor_size, **kwargs))

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return mask_pixels(events, self.mask)

    def __repr__(self) -> str:
        return f"HotPixelFilter({int(self.mask.sum())} hot pixels)"


# --- per-pixel memory: refractory period, background activity ------------------------------------


def _stable_order(pix: np.ndarray) -> np.ndarray:
    """Stable argsort of non-negative pixel indices with numpy's radix sort (16-bit keys):
    one pass for sensors up to 65536 pixels, two (low then high half) beyond."""
    if len(pix) == 0 or int(pix.max()) < (1 << 16):
        return np.argsort(pix.astype(np.uint16), kind="stable")
    if int(pix.max()) >= (1 << 32):
        return np.argsort(pix, kind="stable")
    lo = np.argsort((pix & 0xFFFF).astype(np.uint16), kind="stable")
    return lo[np.argsort((pix[lo] >> 16).astype(np.uint16), kind="stable")]


def _group_by_pixel(pix: np.ndarray):
    """Stable order by pixel; the sorted pixels; where each pixel's run starts."""
    order = _stable_order(pix)
    ps = pix[order]
    first = np.ones(len(ps), bool)
    first[1:] = ps[1:] != ps[:-1]
    return order, ps, first


def _refractory_keep(t: np.ndarray, pix: np.ndarray, last_t: np.ndarray | None, period_us: int) -> np.ndarray:
    order, ps, first = _group_by_pixel(pix)
    ts = t[order]
    prev = np.empty_like(ts)
    prev[1:] = ts[:-1]
    prev[first] = _NEVER if last_t is None else last_t[ps[first]]
    keep_sorted = (ts - prev) > period_us
    if last_t is not None and len(ts):
        last = np.ones(len(ps), bool)
        last[:-1] = first[1:]
        last_t[ps[last]] = ts[last]
    keep = np.empty(len(t), bool)
    keep[order] = keep_sorted
    return keep


def refractory(events: np.ndarray, sensor_size: tuple[int, int], period_us: int) -> np.ndarray:
    """Drop an event when its pixel had an event (kept or not, either polarity) at most
    ``period_us`` earlier: keep when ``t - t_prev > period_us`` — tonic's ``RefractoryPeriod``
    rule, except that a pixel's first event is always kept (tonic drops it when ``t <= 0``)."""
    _check(events)
    if period_us < 0:
        raise FilterError(f"period_us must be >= 0, got {period_us}")
    t = events["t"].astype(np.int64)
    return events[_refractory_keep(t, _pixels(events, _sensor(sensor_size)), None, int(period_us))]


class _PixelTimeMap:
    """Base of the streaming filters that keep each pixel's last timestamp (µs) across calls,
    so feeding a stream batch by batch equals one call on the whole stream."""

    def __init__(self, sensor_size: tuple[int, int]):
        self.sensor_size = _sensor(sensor_size)
        self.reset()

    def reset(self) -> None:
        w, h = self.sensor_size
        self.last_t = np.full(w * h, _NEVER, np.int64)


class RefractoryFilter(_PixelTimeMap):
    """Streaming :func:`refractory`: remembers each pixel's last timestamp across calls."""

    def __init__(self, sensor_size: tuple[int, int], period_us: int):
        if period_us < 0:
            raise FilterError(f"period_us must be >= 0, got {period_us}")
        self.period_us = int(period_us)
        super().__init__(sensor_size)

    def __call__(self, events: np.ndarray) -> np.ndarray:
        _check(events)
        t = events["t"].astype(np.int64)
        return events[_refractory_keep(t, _pixels(events, self.sensor_size), self.last_t, self.period_us)]

    def __repr__(self) -> str:
        return f"RefractoryFilter({self.period_us} µs)"


_NEIGHBOURS = [(dx, dy) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dx, dy) != (0, 0)]


def _ba_keep(
    events: np.ndarray, sensor: tuple[int, int], last_t: np.ndarray | None, duration_us: int, method: str = "auto"
) -> np.ndarray:
    """dv's background-activity rule, vectorised; ``method`` "blocks", "sort" or "auto"
    (blocks when the events are time-sorted and dense enough, see :func:`_ba_keep_blocks`)."""
    n = len(events)
    if n == 0:
        return np.zeros(0, bool)
    t = events["t"].astype(np.int64)
    pix = _pixels(events, sensor)
    if method != "sort":
        if bool((t[1:] >= t[:-1]).all()):
            block = (t - t[0]) // duration_us
            cuts = np.flatnonzero(block[1:] != block[:-1]) + 1
            if method == "blocks" or n >= 64 * (len(cuts) + 1):
                return _ba_keep_blocks(events, t, pix, cuts, sensor, last_t, duration_us)
        elif method == "blocks":
            raise FilterError("the block method needs events sorted by t")
    return _ba_keep_sort(events, t, pix, sensor, last_t, duration_us)


_BLOCK_MAX = 1 << 15  # events per block at most: temporaries stay in cache


def _ba_keep_blocks(events, t, pix, cuts, sensor, last_t, duration_us) -> np.ndarray:
    """Time-sorted streams: cut time into blocks shorter than ``duration_us``. For event i in a
    block, an earlier event j of the same block at a neighbour is always recent enough
    (``t_i - t_j < duration``), so support is "a neighbour fired earlier in this block" (a dense
    first-index map) or "a neighbour's last time before the block is recent" (the dense
    last-timestamp map, updated after each block). Dense gathers, a Python loop over blocks
    (never over events); ``auto`` picks this only with >= 64 events per block on average."""
    w, h = sensor
    n = len(t)
    x = events["x"].astype(np.int64)
    y = events["y"].astype(np.int64)
    surface = last_t if last_t is not None else np.full(w * h, _NEVER, np.int64)
    first_idx = np.full(w * h, n, np.int64)
    offs = np.array([dy * w + dx for dx, dy in _NEIGHBOURS], np.int64)[:, None]
    left, right, up, down = x > 0, x < w - 1, y > 0, y < h - 1
    ok = {(-1, -1): left & up, (0, -1): up, (1, -1): right & up, (-1, 0): left,
          (1, 0): right, (-1, 1): left & down, (0, 1): down, (1, 1): right & down}  # fmt: skip
    valid = np.stack([ok[o] for o in _NEIGHBOURS])  # [8, n]
    support = np.zeros(n, bool)
    bounds = np.concatenate([[0], cuts, [n]]).tolist()
    for a0, e0 in zip(bounds[:-1], bounds[1:]):
        for a in range(a0, e0, _BLOCK_MAX):  # long blocks in pieces: each still spans < duration
            e = min(e0, a + _BLOCK_MAX)
            pb, tb = pix[a:e], t[a:e]
            ib = np.arange(a, e)
            np.minimum.at(first_idx, pb, ib)
            vb = valid[:, a:e]
            q = pb + offs
            q *= vb  # off-sensor neighbours -> pixel 0, masked out below
            sup = first_idx[q] < ib
            sup |= (tb - surface[q]) < duration_us
            sup &= vb
            support[a:e] = sup.any(axis=0)
            first_idx[pb] = n
            np.maximum.at(surface, pb, tb)
    return support


def _ba_keep_sort(events, t, pix, sensor, last_t, duration_us) -> np.ndarray:
    """Any order: for every event i and neighbour offset, the neighbour's timestamp when i is
    processed is that of the latest earlier event (stream order) at that pixel, or the map
    carried from previous batches. Events are grouped by pixel with a stable sort; the
    composite key ``pixel·N + index`` is sorted, so "the last event at pixel q before index i"
    is one ``searchsorted`` per offset (the queries come out sorted too)."""
    w, h = sensor
    n = len(t)
    x = events["x"].astype(np.int64)
    y = events["y"].astype(np.int64)
    order, ps, first = _group_by_pixel(pix)
    key = ps * n + order  # sorted ascending
    ts = t[order]
    xs, ys = x[order], y[order]
    ok_x = {-1: xs > 0, 0: None, 1: xs < w - 1}
    ok_y = {-1: ys > 0, 0: None, 1: ys < h - 1}
    support = np.zeros(n, bool)  # in sorted order
    for dx, dy in _NEIGHBOURS:
        inside = ok_x[dx] if ok_y[dy] is None else (ok_y[dy] if ok_x[dx] is None else ok_x[dx] & ok_y[dy])
        off = dy * w + dx
        # last key below (q·n + i) = key + off·n: the latest earlier event at neighbour q, if any
        pos = np.searchsorted(key, key + off * n, side="left")
        found = pos > 0
        pos -= 1
        np.maximum(pos, 0, out=pos)
        q = ps + off
        found &= ps[pos] == q
        nt = ts[pos]
        if last_t is not None:
            fallback = last_t[np.clip(q, 0, w * h - 1)]
            nt = np.where(found, nt, fallback)
        else:
            nt[~found] = _NEVER
        nt -= ts
        support |= inside & (nt > -duration_us)  # ts - nt < duration
    if last_t is not None:
        last = np.ones(n, bool)
        last[:-1] = first[1:]
        last_t[ps[last]] = ts[last]
    keep = np.empty(n, bool)
    keep[order] = support
    return keep


def background_activity(events: np.ndarray, sensor_size: tuple[int, int], duration_us: int = 2000) -> np.ndarray:
    """Drop events that no 8-neighbour supported within ``duration_us`` (dv-processing's
    ``BackgroundActivityNoiseFilter`` rule; default 2 ms like dv)."""
    _check(events)
    if duration_us <= 0:
        raise FilterError(f"duration_us must be > 0, got {duration_us}")
    return events[_ba_keep(events, _sensor(sensor_size), None, int(duration_us))]


def background_activity_dv(events: np.ndarray, sensor_size: tuple[int, int], duration_us: int = 2000) -> np.ndarray:
    """The same filter run by dv-processing itself (slow: one ``push_back`` per event); the
    oracle for :func:`background_activity`."""
    import dv_processing as dv

    _check(events)
    w, h = _sensor(sensor_size)
    store = dv.EventStore()
    for t, x, y, p in zip(events["t"].tolist(), events["x"].tolist(), events["y"].tolist(), events["p"].tolist()):
        store.push_back(t, x, y, bool(p))
    filt = dv.noise.BackgroundActivityNoiseFilter((w, h), backgroundActivityDuration=timedelta(microseconds=int(duration_us)))
    filt.accept(store)
    got = filt.generateEvents().numpy()
    out = np.empty(len(got), EVENT_DTYPE)
    out["t"], out["x"], out["y"], out["p"] = got["timestamp"], got["x"], got["y"], got["polarity"]
    return out


class BackgroundActivityFilter(_PixelTimeMap):
    """Streaming :func:`background_activity` (per-pixel last-timestamp map kept across calls)."""

    def __init__(self, sensor_size: tuple[int, int], duration_us: int = 2000):
        if duration_us <= 0:
            raise FilterError(f"duration_us must be > 0, got {duration_us}")
        self.duration_us = int(duration_us)
        super().__init__(sensor_size)

    def __call__(self, events: np.ndarray) -> np.ndarray:
        _check(events)
        return events[_ba_keep(events, self.sensor_size, self.last_t, self.duration_us)]

    def __repr__(self) -> str:
        return f"BackgroundActivityFilter({self.duration_us} µs)"


# --- one filter spec: parsed once, for the CLI (--filter), the session and the Source panel -------

#: the filters a spec may name, in the order a chain applies them (whatever order they are given
#: in): pixel selections first (hot pixels, polarity), then the per-pixel memories (refractory,
#: background activity) on the sensor as it is, then the geometry (crop, then downsample)
FILTER_NAMES = ("hot", "polarity", "refractory", "denoise", "crop", "downsample")
FILTER_HELP = ("hot[=HZ] (hot pixels: rate above HZ, default a robust median + 10 MAD), polarity=on|off, "
               "refractory[=US] (default 1000 µs), denoise[=US] (background activity, default 2000 µs), "
               "crop=X0,Y0,W,H, downsample=WxH; several joined with ';'")


@dataclass(frozen=True)
class FilterSpec:
    """One filter of a spec (see :func:`parse_filters`): ``name`` in :data:`FILTER_NAMES` and its
    value — ``hot``: max rate (Hz) or ``None`` (median + 10 MAD); ``polarity``: 1 (ON) / 0 (OFF);
    ``refractory`` / ``denoise``: a period (µs); ``crop``: ``(x0, y0, w, h)``; ``downsample``:
    ``(w, h)``. ``str(spec)`` is its canonical text (``parse_filters(str(s)) == [s]``)."""

    name: str
    value: object = None

    def __str__(self) -> str:
        v = self.value
        if v is None:
            return self.name
        if self.name == "polarity":
            return f"polarity={'on' if v == 1 else 'off'}"
        if self.name == "crop":
            return "crop=" + ",".join(str(int(i)) for i in v)
        if self.name == "downsample":
            return f"downsample={v[0]}x{v[1]}"
        if self.name == "hot":
            return f"hot={v:g}"
        return f"{self.name}={int(v)}"


def _duration_us(text: str, what: str) -> int:
    t = text.strip().lower().replace("µs", "us")
    scale = 1.0
    for suffix, s in (("ms", 1e3), ("us", 1.0), ("s", 1e6)):
        if t.endswith(suffix):
            t, scale = t[: -len(suffix)], s
            break
    try:
        v = float(t) * scale
    except ValueError:
        raise FilterError(f"{what}: expected a duration (2000, 2000us, 2ms), got {text!r}") from None
    if v <= 0 or v != v:
        raise FilterError(f"{what}: the duration must be positive, got {text!r}")
    return int(round(v))


def _ints(text: str, n: int, sep: str, what: str) -> tuple[int, ...]:
    parts = [p.strip() for p in text.lower().split(sep)]
    try:
        vals = tuple(int(p) for p in parts)
    except ValueError:
        vals = ()
    if len(vals) != n:
        raise FilterError(f"{what}: expected {n} whole numbers separated by {sep!r}, got {text!r}")
    return vals


def _parse_one(text: str) -> FilterSpec:
    name, sep, value = (s.strip() for s in text.partition("="))
    name = name.lower()
    if name not in FILTER_NAMES:
        raise FilterError(f"unknown filter {name!r}; filters: {FILTER_HELP}")
    if sep and not value:
        raise FilterError(f"{name}: a value is missing after '='")
    if name in ("refractory", "denoise"):
        return FilterSpec(name, _duration_us(value, name) if value else (1000 if name == "refractory" else 2000))
    if name == "hot":
        if not value:
            return FilterSpec("hot")
        try:
            hz = float(value.lower().removesuffix("hz"))
        except ValueError:
            hz = -1.0
        if not hz > 0:
            raise FilterError(f"hot: the rate must be a positive number of Hz, got {value!r}")
        return FilterSpec("hot", hz)
    if name == "polarity":
        pol = {"on": 1, "1": 1, "+": 1, "off": 0, "0": 0, "-": 0}.get(value.lower())
        if pol is None:
            raise FilterError(f"polarity: expected on or off, got {value!r}")
        return FilterSpec("polarity", pol)
    if name == "crop":
        roi = _ints(value, 4, ",", "crop=X0,Y0,W,H")
        _check_roi(roi)
        return FilterSpec("crop", roi)
    size = _ints(value, 2, "x", "downsample=WxH") if "x" in value.lower() else _ints(value, 1, "x", "downsample=WxH") * 2
    _sensor(size)
    return FilterSpec("downsample", size)


def parse_filters(spec: str | Sequence[str] | None) -> list[FilterSpec]:
    """The filters of ``spec``: a string of ``NAME[=VALUE]`` items joined by ``;`` (or a list of
    such strings: repeated ``--filter`` options), e.g. ``"denoise=2ms; hot; crop=16,16,96,96"``.
    Names: see :data:`FILTER_HELP`. A name given twice keeps the last value; the result is in
    :data:`FILTER_NAMES` order (the order a :class:`FilterChain` applies them). ``""`` / ``None``:
    no filter. A bad item raises :class:`FilterError` naming it."""
    if spec is None:
        return []
    texts = [spec] if isinstance(spec, str) else list(spec)
    found: dict[str, FilterSpec] = {}
    for text in texts:
        for item in str(text).split(";"):
            if item.strip():
                f = _parse_one(item)
                found[f.name] = f
    return [found[n] for n in FILTER_NAMES if n in found]


def format_filters(specs: Sequence[FilterSpec]) -> str:
    """The canonical text of ``specs`` (``"; "``-joined), ``""`` for none."""
    return "; ".join(str(s) for s in specs)


class _StreamingHotPixels:
    """Hot pixels of a stream: the events of the first ``calibrate_us`` pass unchanged while their
    per-pixel counts are gathered; from then on :func:`find_hot_pixels` over that stretch is the mask."""

    def __init__(self, sensor_size, max_rate_hz: float | None, calibrate_us: int):
        self.sensor_size, self.max_rate_hz, self.calibrate_us = sensor_size, max_rate_hz, int(calibrate_us)
        self.reset()

    def reset(self) -> None:
        self._seen: list[np.ndarray] = []
        self._t0: int | None = None
        self.mask: np.ndarray | None = None

    def fit(self, events: np.ndarray) -> None:
        self.mask = find_hot_pixels(events, self.sensor_size, self.max_rate_hz)

    def __call__(self, events: np.ndarray) -> np.ndarray:
        if self.mask is not None:
            return mask_pixels(events, self.mask)
        if len(events):
            self._t0 = int(events["t"][0]) if self._t0 is None else self._t0
            self._seen.append(events)
            if int(events["t"][-1]) - self._t0 >= self.calibrate_us:
                self.fit(np.concatenate(self._seen))
                self._seen = []
        return events

    def __repr__(self) -> str:
        state = "calibrating" if self.mask is None else f"{int(self.mask.sum())} hot pixels"
        return f"HotPixels({state})"


class FilterChain(Compose):
    """The filters of a spec (:func:`parse_filters`) built for a sensor of ``sensor_size``
    ``(W, H)``, applied in :data:`FILTER_NAMES` order; streaming: call it batch by batch (stateful
    steps keep their memory, :meth:`reset` clears it — after a seek). ``output_size(sensor_size)``
    is the sensor after crop / downsample. Hot pixels: :meth:`fit` learns the mask from a whole
    recording; without it the first ``calibrate_us`` of the stream calibrate it (those events pass)."""

    def __init__(self, spec, sensor_size: tuple[int, int], calibrate_us: int = 1_000_000):
        self.specs = parse_filters(spec) if not (isinstance(spec, list) and all(isinstance(s, FilterSpec) for s in spec)) \
            else list(spec)
        self.sensor_size = _sensor(sensor_size)
        size = self.sensor_size
        steps: list[Callable] = []
        for s in self.specs:
            if s.name == "hot":
                steps.append(_StreamingHotPixels(size, s.value, calibrate_us))
            elif s.name == "polarity":
                steps.append(PolaritySelect(int(s.value)))
            elif s.name == "refractory":
                steps.append(RefractoryFilter(size, int(s.value)))
            elif s.name == "denoise":
                steps.append(BackgroundActivityFilter(size, int(s.value)))
            elif s.name == "crop":
                x0, y0, w, h = s.value
                if x0 + w > size[0] or y0 + h > size[1]:
                    raise FilterError(f"crop={x0},{y0},{w},{h} does not fit the {size[0]}×{size[1]} sensor")
                steps.append(Crop(s.value))
                size = (w, h)
            elif s.name == "downsample":
                steps.append(Downsample(size, s.value))
                size = tuple(s.value)
        super().__init__(steps)

    def fit(self, events: np.ndarray) -> FilterChain:
        """Learn the hot-pixel mask from ``events`` (on the sensor as given, before any step)."""
        for f in self.transforms:
            if isinstance(f, _StreamingHotPixels):
                f.fit(_check(events))
        return self

    def reset(self) -> None:
        """Clear the per-pixel memories (a calibrated or fitted hot-pixel mask is kept)."""
        for f in self.transforms:
            if hasattr(f, "reset") and not isinstance(f, _StreamingHotPixels):
                f.reset()

    def __str__(self) -> str:
        return format_filters(self.specs)
