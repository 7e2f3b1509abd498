"""The native (C) decoders against the numpy decoders as oracle, event for event.

Every case reads one file twice — with the C loops, and with ``SNNSTUDIO_NATIVE=0`` (the numpy
path) — and compares everything a caller can see: the events, sensor size, sensor name, meta,
the warnings and the error (type and message), whole-file reads and streamed chunks, strict
and ``sort=True`` reads. Inputs: the committed fixtures, the real samples, files our writers
make (overflow, wraps, long gaps), hand-built AEDAT 3.1 packet streams (non-polarity packets,
invalid events, every truncation point), and random EVT 2.0 / EVT 3.0 / DAT word streams.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from snnstudio.errors import EventFileError, SnnStudioError
from snnstudio.events.io import _native, iter_event_chunks, prophesee, read_events, write_events
from snnstudio.events.types import EVENT_DTYPE

DATA = Path(__file__).resolve().parents[2] / "data"
HEADER31 = b"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n#!END-HEADER\r\n"


@pytest.fixture(autouse=True)
def _native_built(monkeypatch):
    monkeypatch.delenv(_native.ENV, raising=False)
    if _native.lib() is None:
        pytest.skip("no working C compiler: only the numpy decoders exist here")


def _outcome(fn):
    """(result, error as (type, message) or None, warning messages) of ``fn()``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result, error = fn(), None
        except SnnStudioError as exc:
            result, error = None, (type(exc), str(exc))
    return result, error, [str(w.message) for w in caught]


def _read(path, **kw):
    rec = read_events(path, **kw)
    return rec.events, rec.sensor_size, rec.sensor, rec.format, rec.meta


def _stream(path, chunk):
    parts = list(iter_event_chunks(path, chunk_events=chunk))
    return np.concatenate(parts) if parts else np.zeros(0)


def _same(a, b):
    """Equal outcomes; arrays compared exactly, dtype included."""
    assert type(a) is type(b)
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _same(a[k], b[k])
    else:
        assert a == b


def compare(monkeypatch, path, chunks=(1, 1000, 1 << 20)) -> tuple:
    """Read ``path`` natively and with numpy (whole, sorted, streamed); assert equal outcomes.
    Returns the native whole-read outcome."""
    calls = [lambda: _read(path), lambda: _read(path, sort=True)] + [lambda c=c: _stream(path, c) for c in chunks]
    first = None
    for call in calls:
        monkeypatch.setenv(_native.ENV, "1")
        native = _outcome(call)
        monkeypatch.setenv(_native.ENV, "0")
        oracle = _outcome(call)
        monkeypatch.delenv(_native.ENV)
        _same(native, oracle)
        first = first or native
    return first


# ------------------------------------------------------------------------------ the switch
def test_env_switch_selects_the_path(monkeypatch):
    monkeypatch.setenv(_native.ENV, "0")
    assert _native.lib() is None and not _native.enabled()
    monkeypatch.setenv(_native.ENV, "1")
    lib = _native.lib()
    assert lib is not None and lib.aedat3_decode is not None
    assert _native.lib() is lib  # built once, then cached


def test_native_path_is_the_one_running(monkeypatch, tmp_path, make_recording):
    """With the library present the C loop decodes (a broken library makes the read fail), and
    with SNNSTUDIO_NATIVE=0 it is never touched."""
    rec = make_recording(n=2000, size=(128, 128), t0=0)
    path = tmp_path / "a.aedat"
    write_events(path, rec, format="aedat2")

    class Broken:
        def __getattr__(self, name):
            raise RuntimeError(f"native {name} called")

    monkeypatch.setattr(_native, "lib", lambda: Broken() if _native.enabled() else None)
    with pytest.raises(EventFileError, match=r"damaged file \(RuntimeError: native aedat2_decode called\)"):
        read_events(path)  # any decoder exception reaches the caller as the project's error
    monkeypatch.setenv(_native.ENV, "0")
    np.testing.assert_array_equal(read_events(path).events, rec.events)


# ------------------------------------------------------------------------------ fixtures and samples
@pytest.mark.parametrize("name", ["io_gesture_like.aedat", "io_jaer_like.aedat", "io_vga_like.raw",
                                  "io_vga_like_evt2.raw", "io_vga_like.dat"])
def test_committed_fixtures(monkeypatch, name):
    events = compare(monkeypatch, DATA / name)[0][0]
    assert events.shape[0] >= 2000


@pytest.mark.parametrize("name", ["dvs128_walking_jaer.aedat", "prophesee_gen3_evt2.raw"])
def test_real_samples(monkeypatch, samples_dir, name):
    events = compare(monkeypatch, samples_dir / name, chunks=(4096, 1 << 20))[0][0]
    assert events.shape[0] == {"dvs128_walking_jaer.aedat": 19_182, "prophesee_gen3_evt2.raw": 521_252}[name]


# ------------------------------------------------------------------------------ files our writers make
@pytest.mark.parametrize("fmt,name,size,t0,span", [
    ("aedat3", "o.aedat", (240, 180), 2**31 - 1_000_000, 2**33),  # several overflow steps
    ("aedat2", "w.aedat", (128, 128), 2**32 - 3_000_000, 2**31 - 1),  # 32-bit wrap inside
    ("evt2", "e2.raw", (1280, 720), 1_600_000_000_000_000, 60_000_000),  # t0 header, time-high steps
    ("evt3", "e3.raw", (1280, 720), 1_600_000_000_000_000, 60_000_000),
    ("dat", "d.dat", (640, 480), 1_600_000_000_000_000, 2**33),  # 32-bit wraps
])
def test_written_files(monkeypatch, tmp_path, make_recording, fmt, name, size, t0, span):
    rec = make_recording(n=20_000, size=size, seed=7, t0=t0, span_us=span)
    path = tmp_path / name
    write_events(path, rec, format=fmt)
    events = compare(monkeypatch, path)[0][0]
    np.testing.assert_array_equal(events, rec.events)


def test_written_files_small_prophesee_blocks(monkeypatch, tmp_path, make_recording):
    """Decoder state carried across tiny blocks (state machines cut anywhere)."""
    rec = make_recording(n=3000, size=(640, 480), seed=9, t0=0, span_us=40_000_000)
    monkeypatch.setattr(prophesee, "BLOCK_WORDS", 7)
    for fmt, name in (("evt2", "a.raw"), ("evt3", "b.raw"), ("dat", "c.dat")):
        write_events(tmp_path / name, rec, format=fmt)
        events = compare(monkeypatch, tmp_path / name, chunks=(1,))[0][0]
        np.testing.assert_array_equal(events, rec.events)


# ------------------------------------------------------------------------------ AEDAT 3.1 packets
def _packet(etype, events, overflow=0, size=8, capacity=None):
    n = len(events)
    cap = n if capacity is None else capacity
    body = b"".join(struct.pack("<II", d, ts) for d, ts in events) + b"\x00" * (size * (cap - n))
    return struct.pack("<HHIIIIII", etype, 1, size, 4, overflow, cap, n, n) + body


def _addr(x, y, p, valid=1):
    return (x << 17) | (y << 2) | (p << 1) | valid


def _aedat3_stream(rng, n_packets=12):
    """Polarity packets (some invalid events, spare capacity, overflow steps) between special,
    frame-like and IMU-like packets."""
    data = HEADER31
    t, ovf = 0, 0
    for k in range(n_packets):
        if k % 3 == 1:
            etype, size = int(rng.choice([0, 2, 3])), int(rng.choice([8, 12, 40]))
            data += _packet(etype, [], size=size, capacity=int(rng.integers(0, 5))) if etype else _packet(0, [(1, 2)])
        m = int(rng.integers(1, 60))
        ev, packet_ovf = [], ovf
        for _ in range(m):
            t += int(rng.integers(0, 3000))
            if t >= 2**31:
                t -= 2**31
                ovf += 1
                break  # a packet never spans an overflow step
            ev.append((_addr(int(rng.integers(0, 128)), int(rng.integers(0, 128)), int(rng.integers(0, 2)),
                             int(rng.random() > 0.1)), t))
        if ev:
            data += _packet(1, ev, overflow=packet_ovf, capacity=len(ev) + int(rng.integers(0, 3)))
        if k == 5:
            t = 2**31 - 20_000
    return data


def test_aedat3_random_packet_streams(monkeypatch, tmp_path):
    rng = np.random.default_rng(1)
    path = tmp_path / "p.aedat"
    for _ in range(6):
        path.write_bytes(_aedat3_stream(rng))
        events, _, _, _, meta = compare(monkeypatch, path, chunks=(1, 17, 1 << 20))[0]
        assert events.shape[0] > 100 and meta["invalid_events"] > 0


def test_aedat3_every_truncation_point(monkeypatch, tmp_path):
    """Cut the file at every byte of its last two packets (a polarity packet after a frame packet)."""
    data = HEADER31 + _packet(1, [(_addr(1, 1, 1), 5), (_addr(2, 2, 0, 0), 6)]) + _packet(2, [], size=12, capacity=1) \
        + _packet(1, [(_addr(k, k, k & 1, int(k != 2)), 10 + k) for k in range(6)], overflow=1, capacity=8)
    path = tmp_path / "t.aedat"
    kinds = set()
    for cut in range(len(HEADER31) + 28 + 16, len(data) + 1):
        path.write_bytes(data[:cut])
        (res, err, warns) = compare(monkeypatch, path, chunks=(1, 3))
        kinds.add((err is None, len(warns)))
        assert err is None and (res[0]["t"] >= 5).all()
    assert kinds == {(True, 0), (True, 1)}  # complete files and truncated ones (one warning each)


@pytest.mark.parametrize("bad,match", [
    (_packet(1, [(_addr(1, 1, 1), 1)], size=0), "corrupt packet header"),
    (_packet(1, [(_addr(1, 1, 1), 1)], size=12), "expected 8"),
    (struct.pack("<HHIIIIII", 1, 1, 8, 4, 0, 2, 3, 3), "corrupt packet header"),  # number > capacity
    (_packet(1, [(_addr(1, 1, 1), 2), (_addr(3, 3, 1), 1)]), "backwards at event 3"),
    (_packet(1, [(_addr(200, 1, 1), 30)]), "x=200, outside the 128x128 sensor"),
])
def test_aedat3_bad_input(monkeypatch, tmp_path, bad, match):
    path = tmp_path / "b.aedat"
    path.write_bytes(HEADER31 + _packet(1, [(_addr(1, 1, 1), 1), (_addr(2, 2, 1), 2)]) + bad
                     + _packet(1, [(_addr(1, 1, 1), 40)]))
    res, err, _ = compare(monkeypatch, path, chunks=(1, 2, 1 << 20))
    assert res is None and err is not None and match in err[1], err


def test_aedat3_sorted_read_of_disordered_file(monkeypatch, tmp_path):
    path = tmp_path / "d.aedat"
    path.write_bytes(HEADER31 + _packet(1, [(_addr(1, 1, 1), 9), (_addr(2, 2, 1), 3), (_addr(3, 3, 0), 4)])
                     + _packet(1, [(_addr(4, 4, 1), 2)]))
    monkeypatch.setenv(_native.ENV, "1")
    res, err, warns = _outcome(lambda: _read(path, sort=True))
    assert err is None and res[0]["t"].tolist() == [2, 3, 4, 9] and res[4]["unsorted_steps"] == 2
    assert any("went backwards 2 times" in w for w in warns)
    compare(monkeypatch, path, chunks=())


# ------------------------------------------------------------------------------ AEDAT 2.0
def _jaer(records):
    head = b"#!AER-DAT2.0\r\n# AEChip: ch.unizh.ini.jaer.chip.retina.DVS128\r\n"
    return head + b"".join(struct.pack(">II", a, t) for a, t in records)


def test_aedat2_external_events_wraps_and_stray_bytes(monkeypatch, tmp_path):
    rng = np.random.default_rng(2)
    t = np.cumsum(rng.integers(0, 40_000_000, 600)) % 2**32  # wraps several times
    a = rng.integers(0, 1 << 15, 600)
    a[rng.random(600) < 0.1] |= 0x8000  # external events
    data = _jaer(zip(a.tolist(), t.tolist()))
    path = tmp_path / "j.aedat"
    for cut in (0, 3, 8):
        path.write_bytes(data[: len(data) - cut])
        (events, _, _, _, meta), err, warns = compare(monkeypatch, path, chunks=(1, 64))
        assert err is None and meta["external_events"] > 30 and len(warns) == (cut % 8 != 0)
        assert events["t"][-1] > 2**33


@pytest.mark.parametrize("ts,error", [
    ([10, 20, 15, 30], "backwards at event 2 (20 -> 15 µs)"),
    ([10, 2**31 + 20, 2**29, 2**29 + 1], "backwards at event 2"),  # a drop of under 2**31: disorder
    ([10, 2**31 + 20, 18, 19], None),  # a drop of over 2**31: a wrap
])
def test_aedat2_disorder_or_wrap(monkeypatch, tmp_path, ts, error):
    path = tmp_path / "j.aedat"
    path.write_bytes(_jaer([(k << 8, t) for k, t in enumerate(ts)]))
    res, err, _ = compare(monkeypatch, path)
    if error:
        assert res is None and error in err[1]
    else:
        assert err is None and res[0]["t"].tolist() == [10, 2**31 + 20, 2**32 + 18, 2**32 + 19]


# ------------------------------------------------------------------------------ random Prophesee word streams
def _evt2_words(rng, n):
    typ = rng.choice([0, 1, 8, 10, 14, 15], n, p=[0.4, 0.4, 0.08, 0.04, 0.04, 0.04])
    low = np.arange(n) * 64 // n  # non-decreasing time low: t = high << 6 | low stays sorted
    payload = (low << 22) | (rng.integers(0, 2048, n) << 11) | rng.integers(0, 2048, n)
    high = np.cumsum(rng.integers(0, 2, n)) + (1 << 28) - 40  # increasing time high that wraps
    payload = np.where(typ == 8, high % (1 << 28), payload)
    return ((typ << 28) | payload).astype("<u4")


def _evt3_words(rng, n):
    typ = rng.choice([0, 2, 3, 4, 5, 6, 8, 10, 14, 15], n, p=[0.15, 0.3, 0.08, 0.1, 0.1, 0.12, 0.05, 0.04, 0.03, 0.03])
    payload = rng.integers(0, 1 << 12, n)
    high = np.cumsum(typ == 8) + 4090  # increasing time high that wraps at 4096
    low = np.cumsum(typ == 6) % 4096  # increasing time low within a high step
    payload = np.where(typ == 8, high % 4096, payload)
    payload = np.where(typ == 6, low, payload)
    payload = np.where(typ == 3, payload & 0x8FF, payload)  # vector base below 256 (fits a 2048-wide sensor)
    return ((typ << 12) | payload).astype("<u2")


@pytest.mark.parametrize("kind", ["evt2", "evt3"])
@pytest.mark.parametrize("block", [3, 1 << 21])
def test_prophesee_random_word_streams(monkeypatch, tmp_path, kind, block):
    monkeypatch.setattr(prophesee, "BLOCK_WORDS", block)
    rng = np.random.default_rng(3 if kind == "evt2" else 4)
    path = tmp_path / "r.raw"
    seen = {"ok": 0, "error": 0}
    for k in range(8):
        words = (_evt2_words if kind == "evt2" else _evt3_words)(rng, 400)
        header = (f"% evt {kind[-1]}.0\n" + ("% geometry 2048x2048\n" if k % 2 else "")
                  + ("% t0 123456\n" if k % 4 == 1 else ""))
        path.write_bytes(header.encode() + words.tobytes() + (b"\x01" if k == 3 else b""))
        res, err, _ = compare(monkeypatch, path, chunks=(1, 4096))
        seen["ok" if err is None else "error"] += 1
        if err is None:
            assert res[0].shape[0] > 50
    assert seen["ok"] >= 4  # random streams mostly decode; the rest must fail identically


@pytest.mark.parametrize("version", [1, 2])
def test_dat_random_records(monkeypatch, tmp_path, version):
    rng = np.random.default_rng(5)
    n = 3000
    t = np.cumsum(rng.integers(0, 10_000_000, n)) % 2**32
    data = rng.integers(0, 2**32, n, dtype=np.uint64)
    if version == 1:
        data &= (1 << 18) - 1
    else:
        data = (data & ~np.uint64(0xFFFFFFF)) | (rng.integers(0, 640, n, dtype=np.uint64)
                                                 | rng.integers(0, 480, n, dtype=np.uint64) << np.uint64(14))
    rec = np.empty((n, 2), dtype="<u4")
    rec[:, 0], rec[:, 1] = t, data & np.uint64(0xFFFFFFFF)
    head = f"% Version {version}\n% Width 640\n% Height 480\n% T0 77\n".encode() + bytes([0x0C, 8])
    path = tmp_path / "r.dat"
    path.write_bytes(head + rec.tobytes() + b"\x00\x01\x02")
    (events, size, _, _, _), err, warns = compare(monkeypatch, path)
    assert err is None and size == (640, 480) and len(warns) == 1
    assert events["t"][0] == int(t[0]) + 77 and events["t"][-1] > 2**32


@pytest.mark.slow
def test_numpy_path_passes_the_decoder_tests():
    """The existing decoder tests (hand-worked files, bad input) also pass on the numpy path; the
    normal run covers the native path."""
    tests = Path(__file__).parent
    env = {**os.environ, _native.ENV: "0"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(tests / "test_io_aedat.py"), str(tests / "test_io_prophesee.py"),
                           str(tests / "test_io_validation.py")],
                          env=env, capture_output=True, text=True, cwd=tests.parents[2], timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout


def test_a_recording_with_no_events_fails_alike(monkeypatch, tmp_path):
    path = tmp_path / "e.aedat"
    path.write_bytes(HEADER31 + _packet(2, [(0, 0)]) + _packet(1, [(_addr(1, 1, 1, 0), 5)]))
    res, err, _ = compare(monkeypatch, path)
    assert res is None and "no polarity events" in err[1]


def test_reads_without_a_compiler(monkeypatch, tmp_path):
    """No compiler and nothing cached: the numpy path decodes, without a warning."""
    from snnstudio.native import NativeLibrary

    monkeypatch.setenv("SNNSTUDIO_CACHE", str(tmp_path))
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    monkeypatch.setattr(_native, "_KERNEL", NativeLibrary("event_decoders", _native._KERNEL.units, bind=_native._bind))
    assert _native.lib() is None
    res, err, warns = _outcome(lambda: _read(DATA / "io_gesture_like.aedat"))
    assert err is None and warns == [] and res[0].shape[0] == 3000


@pytest.mark.parametrize("defect", ["none", "backwards", "previous", "x", "negative y", "polarity", "no size"])
def test_check_events_pass_agrees_with_numpy_check(defect):
    """The C pass that replaces AEDAT4's numpy check: same verdict and message on each defect."""
    from snnstudio.events.io._common import check_events

    rng = np.random.default_rng(6)
    n = 70_000
    ev = np.empty(n, dtype=EVENT_DTYPE)
    ev["t"] = np.sort(rng.integers(0, 10**9, n))
    ev["x"], ev["y"], ev["p"] = rng.integers(0, 346, n), rng.integers(0, 260, n), rng.integers(0, 2, n)
    k = 66_000  # in the second 64k block of the numpy check
    previous, size = 5, (346, 260)
    if defect == "backwards":
        ev["t"][k] = ev["t"][k - 1] - 1
    elif defect == "previous":
        previous = int(ev["t"][0]) + 1
    elif defect == "x":
        ev["x"][k] = 346
    elif defect == "negative y":
        ev["y"][k] = -1
    elif defect == "polarity":
        ev["p"][k] = 2
    elif defect == "no size":
        ev["x"][k] = 5000
        size = None
    outcomes = [_outcome(lambda f=f: f(ev, size, "f.aedat4", 100, previous))[1:]
                for f in (lambda *a: _native.check_events(_native.lib(), *a), check_events)]
    assert outcomes[0] == outcomes[1]
    assert (outcomes[0][0] is None) == (defect in ("none", "no size"))


@pytest.mark.parametrize("case", ["plain", "overflow markers", "wide sensor", "disorder", "stray bytes"])
def test_nmnist_files(monkeypatch, tmp_path, case):
    rng = np.random.default_rng(8)
    n = 5000
    t = np.sort(rng.integers(0, 1 << 23, n))
    raw = np.empty((n, 5), dtype=np.uint8)
    raw[:, 0], raw[:, 1] = rng.integers(0, 34, n), rng.integers(0, 34, n)
    if case == "wide sensor":
        raw[:, 0], raw[:, 1] = rng.integers(0, 240, n), rng.integers(0, 180, n)
    if case == "overflow markers":
        t %= 1 << 13
        t.sort()
        raw[::500, 1] = 240  # a marker every 500 records: later events 2**13 µs on
    if case == "disorder":
        t[3000] = t[2999] - 1
    p = rng.integers(0, 2, n)
    raw[:, 2] = (p << 7) | (t >> 16)
    raw[:, 3], raw[:, 4] = (t >> 8) & 0xFF, t & 0xFF
    path = tmp_path / "n.bin"
    path.write_bytes(raw.tobytes() + (b"\x07\x08" if case == "stray bytes" else b""))
    (res, err, warns) = compare(monkeypatch, path, chunks=(1000,))
    if case == "disorder":
        assert res is None and "backwards at event 3000" in err[1]
        return
    assert err is None and len(warns) == (case == "stray bytes")
    events, size, _, _, meta = res
    assert size == ((240, 180) if case == "wide sensor" else (34, 34))
    if case == "overflow markers":
        assert events.shape[0] == n - 10 and events["t"][-1] >= 9 << 13


@pytest.mark.parametrize("pdtype", ["i1", "u1", "?", "i8"])
def test_pack_columns_agrees_with_numpy(monkeypatch, pdtype):
    """Columns → EVENT_DTYPE in C (strided columns of a structured array included) equals numpy's
    conversion; a p of −1 is OFF, an unsigned 200 is ON; other dtypes are left to numpy."""
    from snnstudio.events.io.numpy_files import _to_events

    rng = np.random.default_rng(10)
    n = 3000
    table = np.empty(n, dtype=[("x", "<i2"), ("t", "<i8"), ("p", pdtype), ("y", "<i2")])  # strided columns
    table["t"] = np.sort(rng.integers(-10**6, 10**12, n))
    table["x"], table["y"] = rng.integers(-32768, 32768, n), rng.integers(-32768, 32768, n)
    if pdtype == "?":
        table["p"] = rng.integers(0, 2, n)
    else:
        table["p"] = rng.choice({"i1": [-1, 0, 1, 100], "u1": [0, 1, 200], "i8": [-1, 0, 1, 200]}[pdtype], n)
    cols = {k: table[k] for k in "txyp"}
    packed = _native.pack(*(cols[k] for k in "txyp"))
    assert (packed is None) == (pdtype == "i8")
    monkeypatch.setenv(_native.ENV, "0")
    oracle = _to_events(cols, Path("c.h5"))
    if packed is not None:
        np.testing.assert_array_equal(packed, oracle)
    assert set(np.unique(oracle["p"]).tolist()) == {0, 1}


@pytest.mark.parametrize("name", ["io_table_like.h5", "io_tonic_like.npz", "io_tonic_like.npy",
                                  "io_davis_like.aedat4"])
def test_committed_container_fixtures(monkeypatch, name):
    """Formats whose events are checked (and for HDF5 packed) by the C helpers read the same."""
    events = compare(monkeypatch, DATA / name, chunks=(700, 1 << 20))[0][0]
    assert events.shape[0] >= 2000
