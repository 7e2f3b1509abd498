"""AEDAT 3.1 and 2.0 decoding against hand-built files and independent decoders
(a per-event struct decoder written from iniVation's AEDAT 3.1 format description, and tonic's packet reader)."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from snnstudio.errors import EventFileError, SnnStudioWarning, UnknownFormatError
from snnstudio.events.io import aedat3, iter_event_chunks, read_events, write_events
from snnstudio.events.types import EventRecording, make_events

HEADER31 = b"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n#!END-HEADER\r\n"


def _packet(etype, events, overflow=0, valid=None, size=8, capacity=None):
    n = len(events)
    cap = n if capacity is None else capacity
    body = b"".join(struct.pack("<II", d, ts) for d, ts in events) + b"\x00" * (size * (cap - n))
    return struct.pack("<HHIIIIII", etype, 1, size, 4, overflow, cap, n, n if valid is None else valid) + body


def _addr(x, y, p, valid=1):
    return (x << 17) | (y << 2) | (p << 1) | valid


def _reference_decode(data: bytes):
    """Per-event reference decoder written from the AEDAT 3.1 format description (the slow, obvious way)."""
    pos = data.index(b"#!END-HEADER\r\n") + len(b"#!END-HEADER\r\n")
    out = []
    while pos + 28 <= len(data):
        etype, _, esize, _, ovf, cap, num, _ = struct.unpack_from("<HHIIIIII", data, pos)
        if etype == 1:
            for k in range(num):
                d, ts = struct.unpack_from("<II", data, pos + 28 + 8 * k)
                if d & 1:
                    out.append((ts | (ovf << 31), (d >> 17) & 0x1FFF, (d >> 2) & 0x1FFF, (d >> 1) & 1))
        pos += 28 + cap * esize
    return out


def test_aedat31_hand_built_packets(tmp_path):
    special = _packet(0, [(0x1234, 5)], size=8)  # type 0 (special): skipped
    p1 = _packet(1, [(_addr(3, 4, 1), 10), (_addr(127, 0, 0), 10), (_addr(5, 6, 1, valid=0), 11),
                     (_addr(0, 127, 0), 12)])
    frame = _packet(2, [(0, 0)], size=8)  # another type: skipped
    p2 = _packet(1, [(_addr(9, 9, 1), 7), (_addr(1, 2, 0), 2**31 - 1)], overflow=1, capacity=4)
    data = HEADER31 + special + p1 + frame + p2
    path = tmp_path / "g.aedat"
    path.write_bytes(data)
    rec = read_events(path)
    expected = [(10, 3, 4, 1), (10, 127, 0, 0), (12, 0, 127, 0), (2**31 + 7, 9, 9, 1), (2**32 - 1, 1, 2, 0)]
    assert [tuple(int(v) for v in e) for e in rec.events] == expected
    assert expected == _reference_decode(data)
    assert rec.sensor_size == (128, 128) and rec.sensor == "DVS128" and rec.format == "aedat3"
    assert rec.meta["invalid_events"] == 1


def test_aedat31_writer_against_reference_and_tonic(tmp_path, make_recording):
    get_aer_events_from_file = pytest.importorskip("tonic.io").get_aer_events_from_file

    rec = make_recording(n=30_000, size=(128, 128), t0=2**31 - 1_000_000)  # crosses the overflow
    path = tmp_path / "w.aedat"
    write_events(path, rec)
    data = path.read_bytes()
    ref = np.array(_reference_decode(data), dtype=np.int64)
    np.testing.assert_array_equal(ref[:, 0], rec.events["t"])
    np.testing.assert_array_equal(ref[:, 1], rec.events["x"])
    np.testing.assert_array_equal(ref[:, 3], rec.events["p"])
    raw = get_aer_events_from_file(str(path), 3.1, data.index(b"#!END-HEADER\r\n") + 14)
    np.testing.assert_array_equal((raw["address"] >> 2) & 0x1FFF, rec.events["y"])
    np.testing.assert_array_equal(raw["timeStamp"], rec.events["t"] & 0x7FFFFFFF)


def test_aedat31_streaming_across_many_groups(tmp_path, make_recording, monkeypatch):
    monkeypatch.setattr(aedat3, "_BLOCK", 64)  # groups of 1024 events, blocks of 64
    rec = make_recording(n=10_000, size=(240, 180), t0=0)
    path = tmp_path / "s.aedat"
    write_events(path, rec)
    np.testing.assert_array_equal(read_events(path).events, rec.events)
    np.testing.assert_array_equal(np.concatenate(list(iter_event_chunks(path, chunk_events=999))), rec.events)


def test_aedat31_truncated_packet_gives_good_part(tmp_path):
    p1 = _packet(1, [(_addr(1, 1, 1), 1), (_addr(2, 2, 0), 2)])
    p2 = _packet(1, [(_addr(3, 3, 1), 3), (_addr(4, 4, 1), 4), (_addr(5, 5, 1), 5)])
    path = tmp_path / "t.aedat"
    path.write_bytes(HEADER31 + p1 + p2[: 28 + 8 * 2 + 3])
    with pytest.warns(SnnStudioWarning, match="truncated.*holds 2 of 3 events"):
        rec = read_events(path)
    assert rec.events["t"].tolist() == [1, 2, 3, 4]
    path.write_bytes(HEADER31 + p1 + p2[:20])
    with pytest.warns(SnnStudioWarning, match="packet header"):
        assert len(read_events(path)) == 2


def test_aedat31_errors(tmp_path):
    path = tmp_path / "e.aedat"
    path.write_bytes(HEADER31)
    with pytest.raises(EventFileError, match="no polarity events"):
        read_events(path)
    path.write_bytes(b"#!AER-DAT3.1\r\n#Format: RAW\r\n")
    with pytest.raises(EventFileError, match="END-HEADER"):
        read_events(path)
    path.write_bytes(HEADER31 + _packet(1, [(_addr(1, 1, 1), 10), (_addr(2, 2, 0), 9)]))
    with pytest.raises(EventFileError, match="backwards at event 1 .10 -> 9"):
        read_events(path)
    path.write_bytes(HEADER31 + _packet(1, [(_addr(1, 1, 1), 10), (_addr(200, 2, 0), 11)]))
    with pytest.raises(EventFileError, match="event 1 has x=200, outside the 128x128 sensor"):
        read_events(path)
    path.write_bytes(HEADER31 + _packet(1, [(_addr(1, 1, 1), 10)], size=0))
    with pytest.raises(EventFileError, match="corrupt packet header"):
        read_events(path)
    with pytest.raises(EventFileError, match="wrong magic"):
        read_events(path, format="aedat2")


# ---------------------------------------------------------------------------------- AEDAT 2.0
def _jaer(events, chip=b"ch.unizh.ini.jaer.chip.retina.DVS128"):
    head = b"#!AER-DAT2.0\r\n# comment\r\n# AEChip: " + chip + b"\r\n"
    return head + b"".join(struct.pack(">II", a, t) for a, t in events)


def test_aedat2_hand_built(tmp_path):
    # address = y << 8 | (127 - x) << 1 | p ; bit 15 = external event
    events = [((5 << 8) | ((127 - 3) << 1) | 1, 100), ((0 << 8) | (127 << 1) | 0, 101), (0x8000, 102),
              ((127 << 8) | (0 << 1) | 1, 2**32 - 1), ((1 << 8) | (1 << 1), 5)]  # wraps to 2**32 + 5
    path = tmp_path / "j.aedat"
    path.write_bytes(_jaer(events))
    rec = read_events(path)
    assert [tuple(int(v) for v in e) for e in rec.events] == [
        (100, 3, 5, 1), (101, 0, 0, 0), (2**32 - 1, 127, 127, 1), (2**32 + 5, 126, 1, 0)]
    assert rec.meta["external_events"] == 1
    chunks = np.concatenate(list(iter_event_chunks(path, chunk_events=1)))
    np.testing.assert_array_equal(chunks, rec.events)


def test_aedat2_round_trip_and_errors(tmp_path, make_recording):
    rec = make_recording(n=4000, size=(128, 128), t0=0)
    path = tmp_path / "r.aedat"
    write_events(path, rec, format="aedat2")
    np.testing.assert_array_equal(read_events(path).events, rec.events)
    data = path.read_bytes()
    path.write_bytes(data[:-5])
    with pytest.warns(SnnStudioWarning, match="3 stray bytes"):
        assert len(read_events(path)) == 3999
    path.write_bytes(_jaer([(0, 10), (0, 9)]))
    with pytest.raises(EventFileError, match="backwards at event 1"):
        read_events(path)
    path.write_bytes(_jaer([], chip=b"eu.seebetter.ini.chips.davis.DAVIS240C"))
    with pytest.raises(UnknownFormatError, match="DAVIS240C is not supported"):
        read_events(path)
    path.write_bytes(_jaer([]))
    with pytest.raises(EventFileError, match="no events"):
        read_events(path)
    big = EventRecording(make_events([0, 2**31 + 5], [0, 0], [0, 0], [0, 1]), (128, 128))
    with pytest.raises(EventFileError, match="gap"):
        write_events(tmp_path / "gap.aedat", big, format="aedat2")
