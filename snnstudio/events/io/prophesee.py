"""Prophesee event files: EVT 2.0 and EVT 3.0 ``.raw``, and DAT (CD events).

Hand-written vectorised decoders, chosen over the packages that exist:

* faery (LGPL-3.0, already a dependency) decodes EVT2/EVT3/DAT in Rust, but guesses the sensor
  size as 1280x720 when a header has no geometry (Gen3 files from Metavision 2.x do not), and its
  EVT3 decoder loses time across long gaps (a file it writes with a 90 s gap reads back 12.6 s
  later instead of 90 s — checked in the tests);
* expelliarmus (MIT) has open EVT3 decoding bugs and returns its own dtype;
* neither reports truncation or disorder the way the rest of snnstudio does.

So here: the whole word stream is one ``np.frombuffer`` view (memory-mapped). By default the C
state machines of :mod:`._native` decode it (one pass, state in registers; whole-file reads
straight into one preallocated array). The numpy decoders below are the fallback (no compiler,
``SNNSTUDIO_NATIVE=0``) and the tests' oracle: the stream is decoded in blocks
by forward-filling the decoder state (time high/low, row, vector base) with
``np.maximum.accumulate`` over word indices — no per-event Python. The state is carried from
block to block, which makes the same code the streaming reader. faery and expelliarmus serve as
oracles in the tests and as peers in ``snnstudio bench --only decode``; faery also *writes*
these formats for us (``write_evt2``/``write_evt3``/``write_dat``).

EVT 2.0: 32-bit words, type = ``w >> 28``: 0 CD_OFF / 1 CD_ON (``ts_low = w >> 22 & 0x3F``,
``x = w >> 11 & 0x7FF``, ``y = w & 0x7FF``), 8 EVT_TIME_HIGH (``t >> 6`` in the low 28 bits),
10 EXT_TRIGGER, 14 OTHERS, 15 CONTINUED. EVT 3.0: 16-bit words, type = ``w >> 12``: 0 ADDR_Y,
2 ADDR_X (one event, polarity bit 11), 3 VECT_BASE_X, 4 VECT_12, 5 VECT_8 (one event per set
bit at ``base_x + bit``; base then advances 12/8), 6 TIME_LOW, 8 TIME_HIGH (``t = high << 12 |
low``, 24 bits, wraps unfolded; a TIME_HIGH resets low to 0 — real sensors always send a
TIME_LOW after it, faery's encoder omits a TIME_LOW of 0), 10 EXT_TRIGGER, 14 OTHERS, 7/15
CONTINUED. DAT: ``% `` header,
then bytes (event type 0x0C = CD, event size 8), then ``u32 t, u32 data`` records; version 2
packs ``x`` in 14 bits, ``y`` in the next 14, polarity in the top 4; version 1 ``x`` 9 bits,
``y`` 8 bits, polarity bit 17. A ``% t0`` / ``% T0`` header line (files written with time
zeroed) is added back to every timestamp.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from snnstudio.errors import EventFileError
from snnstudio.events.io import _native
from snnstudio.events.io._common import BlockChecker, check_sensor_size, warn_truncated
from snnstudio.events.io.detect import prophesee_header, prophesee_kind
from snnstudio.events.types import EVENT_DTYPE, EventRecording

BLOCK_WORDS = 1 << 21
#: sensor size by plugin name / sensor generation, for headers without geometry
_PLUGIN_SIZES = (("gen41", (1280, 720)), ("gen4", (1280, 720)), ("imx636", (1280, 720)),
                 ("imx_636", (1280, 720)), ("imx8", (1280, 720)), ("imx646", (1280, 720)),
                 ("imx_646", (1280, 720)), ("gen31", (640, 480)), ("gen3", (640, 480)),
                 ("imx_", (1280, 720)))
_POP = np.array([bin(i).count("1") for i in range(4096)], dtype=np.uint8)


# ------------------------------------------------------------------------------------ header
@dataclass
class _File:
    path: Path
    kind: str
    data_start: int
    fields: dict[str, str]
    size: tuple[int, int] | None
    sensor: str | None
    t0: int
    checker: BlockChecker | None = None
    block_words: int = 0

    def __post_init__(self) -> None:
        self.checker = BlockChecker(self.path, self.size)


def _sensor_size(fields: dict[str, str]) -> tuple[int, int] | None:
    fmt = fields.get("format", "")
    w = re.search(r"width=(\d+)", fmt)
    h = re.search(r"height=(\d+)", fmt)
    if w and h:
        return int(w.group(1)), int(h.group(1))
    if m := re.match(r"\s*(\d+)\s*x\s*(\d+)", fields.get("geometry", "")):
        return int(m.group(1)), int(m.group(2))
    if "width" in fields and "height" in fields:
        try:
            return int(fields["width"]), int(fields["height"])
        except ValueError:
            pass
    plugin = (fields.get("plugin_name", "") + " " + fields.get("integrator_name", "")).lower()
    for key, size in _PLUGIN_SIZES:
        if key in plugin:
            return size
    gen = fields.get("sensor_generation", "")
    if gen.startswith("3"):
        return 640, 480
    if gen.startswith("4"):
        return 1280, 720
    return None


def _open(path: Path, expect: str) -> tuple[_File, np.ndarray]:
    try:
        if path.stat().st_size == 0:
            raise EventFileError(path, "empty file")
        buf = np.memmap(path, dtype=np.uint8, mode="r")
    except OSError as exc:
        raise EventFileError(path, f"cannot read: {exc}") from None
    head = bytes(buf[: 1 << 16])
    fields, start = prophesee_header(head)
    if head[:1] == b"%":
        kind = prophesee_kind(fields, path.suffix.lower())
        if kind != expect:
            raise EventFileError(path, f"header says {kind.upper()}, not {expect.upper()}")
    elif expect == "dat":
        raise EventFileError(path, "wrong magic: a DAT file starts with '%' header lines")
    sensor = None
    if fields.get("plugin_name") or fields.get("integrator_name"):
        sensor = " ".join(v for v in (fields.get("integrator_name"), fields.get("plugin_name")) if v)
        if fields.get("serial_number"):
            sensor += f" #{fields['serial_number']}"
    try:
        t0 = int(fields.get("t0", "0") or 0)
    except ValueError:
        t0 = 0
    if not 0 <= t0 < 1 << 62:  # added to every timestamp: must not overflow int64
        raise EventFileError(path, f"header t0 {t0} is outside 0..2**62 µs")
    size = _sensor_size(fields)
    if size is not None:
        size = check_sensor_size(size, path, "header sensor size (format/geometry/width/height)")
    return _File(path, expect, start, fields, size, sensor, t0), buf


def _words(info: _File, buf: np.ndarray, width: int) -> np.ndarray:
    body = len(buf) - info.data_start
    if body % width:
        warn_truncated(info.path, f"{body % width} stray bytes after the last whole {8 * width}-bit word")
    return np.frombuffer(buf, dtype=f"<u{width}", count=body // width, offset=info.data_start)


def _unwrap(raw: np.ndarray, prev_full: int, period: int) -> np.ndarray:
    """Unfold a wrapping counter: ``raw`` values in [0, period); a drop of over half a period is a wrap."""
    if raw.shape[0] == 0:
        return raw.astype(np.int64)
    full = raw.astype(np.int64)
    prev_raw = np.empty_like(full)
    prev_raw[0] = prev_full % period if prev_full >= 0 else full[0]
    prev_raw[1:] = full[:-1]
    wraps = np.cumsum(prev_raw - full > period // 2)
    base = (prev_full // period) if prev_full >= 0 else 0
    return full + (wraps + base) * period


def _emit(info: _File, t: np.ndarray, x: np.ndarray, y: np.ndarray, p: np.ndarray,
          t0_added: bool = False) -> np.ndarray:
    """Check contiguous ``t`` (µs), ``x``, ``y`` and pack them with ``p`` into EVENT_DTYPE.

    The header's ``t0`` is added to ``t`` unless the caller did (``t0_added``)."""
    if info.t0 and not t0_added:
        t = t + info.t0
    info.checker.check(t, x, y)
    ev = np.empty(t.shape[0], dtype=EVENT_DTYPE)
    ev["t"] = t
    ev["x"] = x
    ev["y"] = y
    ev["p"] = p
    return ev


# ------------------------------------------------------------------------------------ EVT 2.0
def _evt2_blocks(info: _File, words: np.ndarray) -> Iterator[np.ndarray]:
    high = -1  # full (unwrapped) time high of the previous block, -1 = none yet
    dropped = 0
    step = info.block_words
    for k in range(0, words.shape[0], step):
        w = np.asarray(words[k : k + step])
        typ = (w >> 28).astype(np.uint8)
        is_th = typ == 8
        is_cd = typ <= 1
        th_full = _unwrap(w[is_th] & 0x0FFFFFFF, high, 1 << 28)
        # the time high in force for each CD word, by run length: the CD words between
        # consecutive TIME_HIGH words share one value (np.repeat writes sequentially)
        cd_before = np.cumsum(is_cd, dtype=np.int64)[is_th]  # CD words before each TIME_HIGH
        n_cd = int(np.count_nonzero(is_cd))
        runs = np.diff(np.concatenate(([0], cd_before, [n_cd])))
        ext = np.empty(th_full.shape[0] + 1, dtype=np.int64)
        ext[0] = high
        ext[1:] = th_full
        # t = (high << 6 | low) + t0 == ((high << 6) + t0) + low: shift and offset the few run values
        base = np.where(ext >= 0, (ext << 6) + info.t0, -1)
        hi = np.repeat(base, runs)
        if th_full.shape[0]:
            high = int(th_full[-1])
        wc = w[is_cd]
        pol = typ[is_cd]
        if hi.shape[0] and hi[0] < 0:  # CD words before any TIME_HIGH: no time known
            known = hi >= 0
            dropped += int(np.count_nonzero(~known))
            wc, hi, pol = wc[known], hi[known], pol[known]
        low = (wc >> 22) & 0x3F
        hi += low
        yield _emit(info, hi, (wc >> 11) & 0x7FF, wc & 0x7FF, pol, t0_added=True)
    info.fields["_dropped"] = str(dropped)


# ------------------------------------------------------------------------------------ EVT 3.0
@dataclass
class _Evt3State:
    y: int = -1
    low: int = -1
    high: int = -1  # unwrapped time high (units of 4096 µs)
    base_x: int = -1  # effective x of the next vector bit 0
    pol: int = 0


def _at(mask: np.ndarray, values: np.ndarray, initial: int, where: np.ndarray) -> tuple[np.ndarray, int]:
    """Value of the last ``mask`` word at or before each index in ``where`` (``initial`` if none).

    ``values`` are the values of the masked words, in order. Returns those values and the last
    value (the state carried into the next block).
    """
    ext = np.empty(values.shape[0] + 1, dtype=np.int64)
    ext[0] = initial
    ext[1:] = values
    count = np.cumsum(mask, dtype=np.int32)
    return ext[count[where]], int(ext[-1])


def _evt3_block(w: np.ndarray, s: _Evt3State) -> tuple[tuple[np.ndarray, ...], int]:
    """Decode one block of EVT3 words with the state ``s`` carried in (updated in place)."""
    typ = (w >> 12).astype(np.uint8)
    is_x = typ == 2
    is_vec = (typ == 4) | (typ == 5)
    is_th = typ == 8
    evw = np.flatnonzero(is_x | is_vec)  # words that carry events
    y_e, y_last = _at(typ == 0, w[typ == 0] & 0x7FF, s.y, evw)
    time_words = (typ == 6) | is_th  # TIME_HIGH resets the low bits to 0
    tw = w[time_words]
    low_e, low_last = _at(time_words, np.where((tw >> 12) == 6, tw & 0xFFF, 0), s.low, evw)
    th_full = _unwrap(w[is_th] & 0xFFF, s.high, 1 << 12)
    high_e, high_last = _at(is_th, th_full, s.high, evw)
    # vector words: x of bit 0 = last VECT_BASE_X + widths of the vector words since it
    vec = np.flatnonzero(is_vec)
    base_last = s.base_x
    pol_last = s.pol
    is_base = typ == 3
    if vec.shape[0] or is_base.any():
        bw = w[is_base]
        width = np.where(typ[vec] == 4, 12, 8)
        cw = np.cumsum(width)  # inclusive widths over the vector words
        cw_excl = cw - width
        nvec_before_base = np.cumsum(is_vec, dtype=np.int32)[is_base]  # vector words before each base
        cw_ext = np.concatenate(([0], cw))
        base_val = np.concatenate(([s.base_x], bw & 0x7FF)).astype(np.int64)
        base_cw = np.concatenate(([0], cw_ext[nvec_before_base]))
        base_pol = np.concatenate(([s.pol], (bw >> 11) & 1)).astype(np.int64)
        bidx = np.cumsum(is_base, dtype=np.int32)[vec]
        known_base = base_val[bidx] >= 0
        xstart = base_val[bidx] + cw_excl - base_cw[bidx]
        vpol = base_pol[bidx]
        total = int(cw[-1]) if cw.shape[0] else 0
        base_last = int(base_val[-1] + total - base_cw[-1]) if base_val[-1] >= 0 else -1
        pol_last = int(base_pol[-1])
    # events per event word: 1 for ADDR_X, popcount for vectors
    wev = w[evw]
    x_word = (wev >> 12) == 2
    counts = np.ones(evw.shape[0], dtype=np.int64)
    if vec.shape[0]:
        vmask = np.where(typ[vec] == 4, w[vec] & 0xFFF, w[vec] & 0xFF)
        counts[~x_word] = _POP[vmask]
    offsets = np.cumsum(counts) - counts
    total_ev = int(counts.sum())
    x = np.empty(total_ev, dtype=np.int64)
    p = np.empty(total_ev, dtype=np.int64)
    ox = offsets[x_word]
    x[ox] = wev[x_word] & 0x7FF
    p[ox] = (wev[x_word] >> 11) & 1
    known = np.ones(total_ev, dtype=bool)
    if vec.shape[0]:
        bits = ((vmask[:, None] >> np.arange(12, dtype=vmask.dtype)) & 1).astype(bool)
        r, c = np.nonzero(bits)  # vector word (row) and bit, in output order
        vpos = offsets[~x_word][r] + (np.arange(r.shape[0]) - (np.cumsum(counts[~x_word]) - counts[~x_word])[r])
        x[vpos] = xstart[r] + c
        p[vpos] = vpol[r]
        known[vpos] = known_base[r]
    if total_ev == evw.shape[0]:  # one event per event word: no expansion needed
        ye, lo, hi = y_e, low_e, high_e
    else:
        src = np.repeat(np.arange(evw.shape[0], dtype=np.int32), counts)  # event word of each event
        ye, lo, hi = y_e[src], low_e[src], high_e[src]
    known &= (ye >= 0) & (lo >= 0) & (hi >= 0)
    dropped = 0
    if not known.all():
        dropped = int(np.count_nonzero(~known))
        x, p, ye, lo, hi = x[known], p[known], ye[known], lo[known], hi[known]
    s.y, s.low, s.high, s.base_x, s.pol = y_last, low_last, high_last, base_last, pol_last
    return ((hi << 12) | lo, x, ye, p), dropped


def _evt3_blocks(info: _File, words: np.ndarray) -> Iterator[np.ndarray]:
    s = _Evt3State()
    dropped = 0
    step = info.block_words
    for k in range(0, words.shape[0], step):
        (t, x, y, p), d = _evt3_block(np.asarray(words[k : k + step]), s)
        dropped += d
        yield _emit(info, t, x, y, p)
    info.fields["_dropped"] = str(dropped)


# ------------------------------------------------------------------------------------ DAT
def _dat_records(info: _File, buf: np.ndarray) -> tuple[np.ndarray, bool]:
    """The ``[n, 2]`` ``u32`` (t, data) records, and whether the file is version 1."""
    start = info.data_start
    if len(buf) < start + 2:
        raise EventFileError(info.path, "DAT file ends inside its header")
    etype, esize = int(buf[start]), int(buf[start + 1])
    if etype != 0x0C or esize != 8:
        raise EventFileError(info.path, f"DAT event type {etype:#x} size {esize}: only CD events (0x0c, 8 bytes)"
                                        " are supported")
    body = len(buf) - start - 2
    if body % 8:
        warn_truncated(info.path, f"{body % 8} stray bytes after the last whole event")
    raw = np.frombuffer(buf, dtype="<u4", count=(body // 8) * 2, offset=start + 2).reshape(-1, 2)
    return raw, info.fields.get("version", "2").strip().startswith("1")


def _dat_blocks(info: _File, buf: np.ndarray) -> Iterator[np.ndarray]:
    raw, v1 = _dat_records(info, buf)
    prev = -1
    step = info.block_words
    for k in range(0, raw.shape[0], step):
        blk = np.asarray(raw[k : k + step])
        t = _unwrap(blk[:, 0], prev, 1 << 32)
        if t.shape[0]:
            prev = int(t[-1])
        d = blk[:, 1]
        if v1:
            yield _emit(info, t, d & 0x1FF, (d >> 9) & 0xFF, (d >> 17) & 1)
        else:
            yield _emit(info, t, d & 0x3FFF, (d >> 14) & 0x3FFF, (d >> 28) & 0xF > 0)


# ------------------------------------------------------------------------------------ native
def _native_blocks(lib, info: _File, data: np.ndarray | None, buf: np.ndarray, whole: bool) -> Iterator[np.ndarray]:
    """The C decoders (:mod:`._native`), block by block with the state carried; checked like
    :func:`_emit`. ``whole``: one output array for the file (sized before decoding), yielded once."""
    kind = info.kind
    v1 = False
    if kind == "dat":
        data, v1 = _dat_records(info, buf)
    n_units = data.shape[0]
    if kind == "evt2":
        st = np.array([-1, info.t0, 0], dtype=np.int64)
        decode = lib.evt2_decode
    elif kind == "evt3":
        st = np.array([-1, -1, -1, -1, 0, 0, info.t0], dtype=np.int64)
        decode = lib.evt3_decode
    else:
        st = np.array([-1, info.t0], dtype=np.int64)

        def decode(b, n, st_, out_, stats_):
            return lib.dat_decode(b, n, int(v1), st_, out_, stats_)
    unit = data.itemsize * (data.shape[1] if data.ndim == 2 else 1)

    def capacity(k: int, m: int) -> int:  # events that m units from unit k can hold at most
        return lib.evt3_count(_native.ptr(data, k * unit), m) if kind == "evt3" else m

    step = max(info.block_words, 1)
    out = _native.empty(capacity(0, n_units)) if whole else None
    pos = 0
    for k in range(0, n_units, step):
        m = min(step, n_units - k)
        dst = out[pos:] if whole else _native.empty(capacity(k, m))
        stats = _native.new_stats(info.checker)
        n = decode(_native.ptr(data, k * unit), m, _native.ptr(st), _native.ptr(dst), _native.ptr(stats))
        _native.finish(info.checker, dst[:n], stats)
        pos += n
        if not whole:
            yield dst[:n]
    if kind != "dat":
        info.fields["_dropped"] = str(int(st[2] if kind == "evt2" else st[5]))
    if whole:
        yield out[:pos]


# ------------------------------------------------------------------------------------ public
def _stream(path: Path, kind: str, chunk_events: int = 0) -> tuple[_File, Iterator[np.ndarray]]:
    """``chunk_events`` > 0 (streaming) bounds the words decoded at once, hence the memory; -1 (whole
    file) lets the native path decode into one array."""
    info, buf = _open(path, kind)
    info.block_words = min(BLOCK_WORDS, max(chunk_events, 1 << 16)) if chunk_events > 0 else BLOCK_WORDS
    if (lib := _native.lib()) is not None:
        data = _words(info, buf, 4 if kind == "evt2" else 2) if kind != "dat" else None
        return info, _native_blocks(lib, info, data, buf, whole=chunk_events < 0)
    if kind == "evt2":
        gen = _evt2_blocks(info, _words(info, buf, 4))
    elif kind == "evt3":
        gen = _evt3_blocks(info, _words(info, buf, 2))
    else:
        gen = _dat_blocks(info, buf)
    return info, gen


def _checked(info: _File, gen: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    """Drop empty blocks (checks ran in :func:`_emit` on the contiguous temporaries)."""
    return (ev for ev in gen if ev.shape[0])


def _read(path: str | Path, kind: str) -> EventRecording:
    path = Path(path)
    info, gen = _stream(path, kind, chunk_events=-1)  # -1: whole file (one array from the native path)
    parts = list(_checked(info, gen))
    if not parts:
        raise EventFileError(path, f"{kind.upper()} file holds no CD events")
    ev = np.concatenate(parts) if len(parts) > 1 else parts[0]
    meta: dict = {"header": {k: v for k, v in info.fields.items() if not k.startswith("_")}}
    if int(info.fields.get("_dropped", 0)):
        meta["dropped_before_state"] = int(info.fields["_dropped"])
    size = info.size
    if size is None:
        size = (info.checker.max_x + 1, info.checker.max_y + 1)
        meta["sensor_size_inferred"] = True
    return EventRecording(ev, size, sensor=info.sensor, path=path, format=kind, meta=meta)


def read_evt2(path: str | Path) -> EventRecording:
    """The whole Prophesee EVT 2.0 ``.raw`` file ``path`` as an :class:`~snnstudio.events.types.EventRecording`
    (µs timestamps); a damaged or unreadable file is an :class:`~snnstudio.errors.EventFileError`."""
    return _read(path, "evt2")


def read_evt3(path: str | Path) -> EventRecording:
    """The whole Prophesee EVT 3.0 ``.raw`` file ``path`` as an :class:`~snnstudio.events.types.EventRecording`
    (µs timestamps); a damaged or unreadable file is an :class:`~snnstudio.errors.EventFileError`."""
    return _read(path, "evt3")


def read_dat(path: str | Path) -> EventRecording:
    """The whole Prophesee DAT file ``path`` as an :class:`~snnstudio.events.types.EventRecording` (µs
    timestamps); a damaged or unreadable file is an :class:`~snnstudio.errors.EventFileError`."""
    return _read(path, "dat")


def iter_evt2(path: str | Path, chunk_events: int = 0) -> Iterator[np.ndarray]:
    """Stream the EVT 2.0 file ``path`` as ``EVENT_DTYPE`` arrays (``chunk_events`` per chunk, 0: the default),
    in time order."""
    info, gen = _stream(Path(path), "evt2", chunk_events)
    return _checked(info, gen)


def iter_evt3(path: str | Path, chunk_events: int = 0) -> Iterator[np.ndarray]:
    """Stream the EVT 3.0 file ``path`` as ``EVENT_DTYPE`` arrays (``chunk_events`` per chunk, 0: the default),
    in time order."""
    info, gen = _stream(Path(path), "evt3", chunk_events)
    return _checked(info, gen)


def iter_dat(path: str | Path, chunk_events: int = 0) -> Iterator[np.ndarray]:
    """Stream the DAT file ``path`` as ``EVENT_DTYPE`` arrays (``chunk_events`` per chunk, 0: the default), in
    time order."""
    info, gen = _stream(Path(path), "dat", chunk_events)
    return _checked(info, gen)


# ------------------------------------------------------------------------------------ writing
def _faery_events(events: np.ndarray) -> np.ndarray:
    import faery

    out = np.empty(events.shape[0], dtype=faery.EVENTS_DTYPE)
    out["t"] = events["t"]
    out["x"] = events["x"]
    out["y"] = events["y"]
    out["on"] = events["p"]
    return out


def _write_evt(path: str | Path, recording: EventRecording, version: str) -> None:
    import faery

    from snnstudio.events.io._common import atomic_write

    ev = recording.events
    if ev.shape[0] and int(ev["t"][0]) < 0:
        raise EventFileError(path, f"{version.upper()} cannot store negative timestamps")
    w, h = recording.sensor_size
    if w > 2048 or h > 2048:
        raise EventFileError(path, f"{version.upper()} addresses hold at most 2048x2048 pixels, not {w}x{h}")
    with atomic_write(path) as (tmp, f):
        f.close()
        with faery.evt.Encoder(path=str(tmp), version=version, zero_t0=True, dimensions=(w, h),
                               enforce_monotonic=True) as enc:
            for k in range(0, ev.shape[0], 1 << 20):
                enc.write({"events": _faery_events(ev[k : k + (1 << 20)])})


def write_evt2(path: str | Path, recording: EventRecording) -> None:
    """EVT 2.0 via faery (time zeroed, the offset stored as ``% t0``)."""
    _write_evt(path, recording, "evt2")


def write_evt3(path: str | Path, recording: EventRecording) -> None:
    """EVT 3.0 via faery (time zeroed, the offset stored as ``% t0``)."""
    _write_evt(path, recording, "evt3")


def write_dat(path: str | Path, recording: EventRecording) -> None:
    """DAT version 2 (CD events) via faery (time zeroed, the offset stored as ``% T0``)."""
    import faery

    from snnstudio.events.io._common import atomic_write

    ev = recording.events
    if ev.shape[0] and int(ev["t"][0]) < 0:
        raise EventFileError(path, "DAT cannot store negative timestamps")
    w, h = recording.sensor_size
    if w > 16384 or h > 16384:
        raise EventFileError(path, f"DAT holds at most 16384x16384 pixels, not {w}x{h}")
    dt = np.dtype([("t", "=u8"), ("x", "=u2"), ("y", "=u2"), ("payload", "u1")])
    with atomic_write(path) as (tmp, f):
        f.close()
        with faery.dat.Encoder(path=str(tmp), version="dat2", event_type="cd", zero_t0=True,
                               dimensions=(w, h)) as enc:
            for k in range(0, ev.shape[0], 1 << 20):
                part = ev[k : k + (1 << 20)]
                a = np.empty(part.shape[0], dtype=dt)
                a["t"] = part["t"]
                a["x"] = part["x"]
                a["y"] = part["y"]
                a["payload"] = part["p"]
                enc.write(a)


def header(path: str | Path, kind: str | None = None) -> tuple[tuple[int, int] | None, str | None, dict]:
    """(sensor size or None, sensor name, meta) from the ``%`` header alone; ``kind``: the format
    the file is read as (a headerless file's is named by the caller, not guessed from its name)."""
    path = Path(path)
    if kind is None:
        with open(path, "rb") as f:
            fields, _ = prophesee_header(f.read(1 << 16))
        kind = prophesee_kind(fields, path.suffix.lower())
    info, _ = _open(path, kind)
    return info.size, info.sensor, {"header": {k: v for k, v in info.fields.items() if not k.startswith("_")}}


def header_evt2(path: str | Path) -> tuple[tuple[int, int] | None, str | None, dict]:
    """``(sensor size or None, sensor name or None, meta)`` from the ``%`` header of an EVT 2.0 file."""
    return header(path, "evt2")


def header_evt3(path: str | Path) -> tuple[tuple[int, int] | None, str | None, dict]:
    """``(sensor size or None, sensor name or None, meta)`` from the ``%`` header of an EVT 3.0 file."""
    return header(path, "evt3")


def header_dat(path: str | Path) -> tuple[tuple[int, int] | None, str | None, dict]:
    """``(sensor size or None, sensor name or None, meta)`` from the ``%`` header of a DAT file."""
    return header(path, "dat")
