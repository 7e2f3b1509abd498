"""Prophesee EVT2 / EVT3 / DAT decoding: hand-worked word streams, files written by faery's
encoders, and expelliarmus/faery decoders as oracles; block boundaries carry decoder state."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from snnstudio.errors import EventFileError, SnnStudioWarning, UnknownFormatError
from snnstudio.events.io import detect_format, iter_event_chunks, prophesee, read_events, write_events
from snnstudio.events.types import EventRecording, make_events

# --- EVT 3.0, worked by hand -----------------------------------------------------------------
EVT3_WORDS = [
    0x2805,  # ADDR_X before any time/row: no state yet -> dropped
    0x8001,  # TIME_HIGH 1
    0x6005,  # TIME_LOW 5             -> t = 1 << 12 | 5 = 4101
    0x000A,  # ADDR_Y 10
    0x2807,  # ADDR_X x=7, ON         -> (4101, 7, 10, 1)
    0x3064,  # VECT_BASE_X 100, OFF
    0x4005,  # VECT_12 bits 0, 2      -> x 100, 102 ; base -> 112
    0x5080,  # VECT_8 bit 7           -> x 119 ; base -> 120
    0x6006,  # TIME_LOW 6             -> t = 4102
    0x4800,  # VECT_12 bit 11         -> x 131
    0x000B,  # ADDR_Y 11
    0xA001, 0xE123, 0xF456, 0x7001,  # trigger, others, continued: no CD events
    0x8FFF, 0x6000,  # t = 0xFFF << 12 = 16773120
    0x2001,  # ADDR_X x=1 OFF         -> (16773120, 1, 11, 0)
    0x8000, 0x6003,  # time high wraps: t = 2**24 + 3
    0x2802,  # ADDR_X x=2 ON          -> (16777219, 2, 11, 1)
]
EVT3_EXPECTED = [(4101, 7, 10, 1), (4101, 100, 10, 0), (4101, 102, 10, 0), (4101, 119, 10, 0),
                 (4102, 131, 10, 0), (16773120, 1, 11, 0), (16777219, 2, 11, 1)]


def _evt3_file(path, words, header=b"% evt 3.0\n% format EVT3;width=320;height=320\n% end\n"):
    path.write_bytes(header + struct.pack(f"<{len(words)}H", *words))
    return path


@pytest.mark.parametrize("block", [1, 2, 3, 7, 1 << 21])
def test_evt3_hand_worked(tmp_path, monkeypatch, block):
    monkeypatch.setattr(prophesee, "BLOCK_WORDS", block)
    path = _evt3_file(tmp_path / "h.raw", EVT3_WORDS)
    rec = read_events(path)
    assert [tuple(int(v) for v in e) for e in rec.events] == EVT3_EXPECTED
    assert rec.sensor_size == (320, 320) and rec.format == "evt3"
    assert rec.meta["dropped_before_state"] == 1
    np.testing.assert_array_equal(np.concatenate(list(iter_event_chunks(path, chunk_events=2))), rec.events)


def _evt2_word(typ, payload):
    return (typ << 28) | payload


def test_evt2_hand_worked(tmp_path, monkeypatch):
    monkeypatch.setattr(prophesee, "BLOCK_WORDS", 2)
    cd = lambda p, lo, x, y: _evt2_word(p, (lo << 22) | (x << 11) | y)  # noqa: E731
    words = [cd(1, 0, 5, 5),  # before any TIME_HIGH: dropped
             _evt2_word(8, 3), cd(1, 10, 639, 0), cd(0, 63, 0, 479), _evt2_word(10, 0x123),
             _evt2_word(8, 0x0FFFFFFF), cd(0, 1, 2, 3), _evt2_word(8, 0), cd(1, 2, 4, 5)]
    path = tmp_path / "h.raw"
    path.write_bytes(b"% evt 2.0\n% geometry 640x480\n% t0 1000\n" + struct.pack(f"<{len(words)}I", *words))
    rec = read_events(path)
    assert [tuple(int(v) for v in e) for e in rec.events] == [
        (1000 + (3 << 6 | 10), 639, 0, 1), (1000 + (3 << 6 | 63), 0, 479, 0),
        (1000 + (0x0FFFFFFF << 6 | 1), 2, 3, 0), (1000 + (1 << 34) + 2, 4, 5, 1)]
    assert rec.sensor_size == (640, 480)


def _faery_write(path, rec, version):
    write_events(path, rec, format=version)  # our writers are faery's encoders
    return read_events(path)


@pytest.mark.parametrize("version", ["evt2", "evt3", "dat"])
def test_faery_encoded_files_against_expelliarmus(tmp_path, make_recording, version):
    Wizard = pytest.importorskip("expelliarmus").Wizard

    rec = make_recording(n=50_000, size=(1280, 720) if version != "dat" else (640, 480), seed=3,
                         t0=1_600_000_000_000_000, span_us=60_000_000)
    path = tmp_path / f"f.{'dat' if version == 'dat' else 'raw'}"
    back = _faery_write(path, rec, version)
    np.testing.assert_array_equal(back.events, rec.events)
    ex = Wizard(encoding=version, fpath=str(path)).read()  # expelliarmus ignores the t0 header line
    t0 = int(rec.events["t"][0])
    if version == "evt3":  # expelliarmus's EVT3 time decoding drifts by 4096 µs steps (its open bug)
        assert not np.array_equal(ex["t"] + t0, back.events["t"])
    else:
        np.testing.assert_array_equal(ex["t"] + t0, back.events["t"])
    np.testing.assert_array_equal(ex["x"], back.events["x"])
    np.testing.assert_array_equal(ex["y"], back.events["y"])
    np.testing.assert_array_equal(ex["p"], back.events["p"])


def test_evt3_long_gap_where_faery_decoder_fails(tmp_path):
    """faery's own EVT3 decoder reads a 90 s gap back as 12.6 s; ours follows the TIME_HIGH steps."""
    import faery

    ev = make_events(np.array([0, 1000, 90_000_000]) + 1_718_320_899_149_165, [1, 2, 3], [5, 6, 7], [1, 0, 1])
    rec = EventRecording(ev, (640, 480))
    path = tmp_path / "gap.raw"
    back = _faery_write(path, rec, "evt3")
    np.testing.assert_array_equal(back.events, ev)
    theirs = np.concatenate([d["events"] for d in faery.evt.Decoder(path, None, None)])
    assert int(theirs["t"][-1]) != int(ev["t"][-1])  # documents why we decode ourselves


def test_streaming_small_blocks_equals_whole(tmp_path, make_recording, monkeypatch):
    rec = make_recording(n=20_000, size=(640, 480), seed=5, t0=0, span_us=40_000_000)
    for fmt, name in (("evt2", "a.raw"), ("evt3", "b.raw"), ("dat", "c.dat")):
        write_events(tmp_path / name, rec, format=fmt)
    monkeypatch.setattr(prophesee, "BLOCK_WORDS", 1000)
    for name in ("a.raw", "b.raw", "c.dat"):
        np.testing.assert_array_equal(read_events(tmp_path / name).events, rec.events)
        parts = list(iter_event_chunks(tmp_path / name, chunk_events=4096))
        np.testing.assert_array_equal(np.concatenate(parts), rec.events)


def test_dat_version1_hand_worked(tmp_path):
    data = (3 << 9 | 2) | (1 << 17), (200 << 9 | 303)
    body = struct.pack("<IIII", 10, data[0], 4_294_967_295, data[1]) + struct.pack("<II", 5, 1)  # t wraps
    path = tmp_path / "v1.dat"
    path.write_bytes(b"% Version 1\n% Width 304\n% Height 240\n" + bytes([0x0C, 8]) + body)
    rec = read_events(path)
    assert [tuple(int(v) for v in e) for e in rec.events] == [(10, 2, 3, 1), (4_294_967_295, 303, 200, 0),
                                                            (2**32 + 5, 1, 0, 0)]
    assert rec.sensor_size == (304, 240)


def test_prophesee_errors_and_truncation(tmp_path, make_recording):
    rec = make_recording(n=3000, size=(640, 480), t0=0)
    write_events(tmp_path / "a.raw", rec, format="evt2")
    data = (tmp_path / "a.raw").read_bytes()
    (tmp_path / "t.raw").write_bytes(data[:-2])
    with pytest.warns(SnnStudioWarning, match="2 stray bytes"):
        t = read_events(tmp_path / "t.raw")
    np.testing.assert_array_equal(t.events, rec.events[: len(t)])
    assert len(t) >= len(rec) - 1
    (tmp_path / "d.dat").write_bytes(b"% Version 2\n" + bytes([0x00, 8]) + b"\x00" * 16)
    with pytest.raises(EventFileError, match="only CD events"):
        read_events(tmp_path / "d.dat")
    (tmp_path / "e.raw").write_bytes(b"% evt 3.0\n% geometry 16x16\n")
    with pytest.raises(EventFileError, match="no CD events"):
        read_events(tmp_path / "e.raw")
    _evt3_file(tmp_path / "o.raw", [0x8001, 0x6000, 0x0005, 0x2811], b"% evt 3.0\n% geometry 16x16\n")
    with pytest.raises(EventFileError, match="x=17, outside the 16x16 sensor"):
        read_events(tmp_path / "o.raw")
    _evt3_file(tmp_path / "b.raw", [0x8002, 0x6000, 0x0005, 0x2801, 0x8001, 0x2801],
               b"% evt 3.0\n% geometry 16x16\n")
    with pytest.raises(EventFileError, match="backwards at event 1"):
        read_events(tmp_path / "b.raw")
    (tmp_path / "n.raw").write_bytes(b"\x01\x02\x03\x04" * 4)
    with pytest.raises(UnknownFormatError, match="without a '%' header"):
        detect_format(tmp_path / "n.raw")
    (tmp_path / "v.raw").write_bytes(b"% format EVT21;width=10;height=10\n" + b"\x00" * 8)
    with pytest.raises(UnknownFormatError, match="EVT 2.1 is not supported"):
        read_events(tmp_path / "v.raw")
    with pytest.raises(EventFileError, match="header says EVT2"):
        read_events(tmp_path / "a.raw", format="evt3")


def test_sensor_size_from_header_or_plugin(tmp_path):
    words = struct.pack("<3H", 0x8001, 0x0005, 0x2807)
    for header, size in ((b"% geometry 1280x720\n", (1280, 720)),
                         (b"% plugin_name hal_plugin_imx636_evk4\n", (1280, 720)),
                         (b"% plugin_name hal_plugin_gen31_fx3\n", (640, 480)),
                         (b"% sensor_generation 4.1\n", (1280, 720)),
                         (b"% integrator_name Someone\n", (8, 6))):
        path = tmp_path / "s.raw"
        path.write_bytes(b"% evt 3.0\n" + header + words)
        rec = read_events(path)
        assert rec.sensor_size == size, header
        assert rec.meta.get("sensor_size_inferred", False) == (size == (8, 6))
