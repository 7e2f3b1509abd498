"""Bad input gets a typed, one-line error naming the file and the problem (or a warning and the
good part): detection, empty files, wrong magic, truncation, disorder, coordinates, pickles."""

from __future__ import annotations

import numpy as np
import pytest

from snnstudio.errors import EventFileError, SnnStudioWarning, UnknownFormatError
from snnstudio.events.io import detect_format, read_events, write_events
from snnstudio.events.io.numpy_files import MAX_HEADER
from snnstudio.events.types import EVENT_DTYPE, EventRecording


@pytest.mark.parametrize("name", ["e.aedat4", "e.aedat", "e.raw", "e.dat", "e.bin", "e.npz", "e.npy", "e.h5",
                                  "e.csv", "e.txt"])
def test_empty_file(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(EventFileError, match="empty file") as exc:
        read_events(path)
    assert str(path) in str(exc.value) and "\n" not in str(exc.value)

def test_missing_file_and_folder(tmp_path):
    with pytest.raises(EventFileError, match="no such file"):
        read_events(tmp_path / "nope.aedat4")
    with pytest.raises(EventFileError, match="is a folder"):
        read_events(tmp_path)

def test_detection_is_by_content_not_extension(tmp_path, rec):
    write_events(tmp_path / "a.aedat4", rec)
    write_events(tmp_path / "b.h5", rec)
    write_events(tmp_path / "c.npz", rec)
    write_events(tmp_path / "d.raw", rec, format="evt2")
    write_events(tmp_path / "e.csv", rec)
    for src, fmt in (("a.aedat4", "aedat4"), ("b.h5", "hdf5"), ("c.npz", "npz"), ("d.raw", "evt2"),
                     ("e.csv", "csv")):
        renamed = tmp_path / f"renamed_{fmt}.dat"
        renamed.write_bytes((tmp_path / src).read_bytes())
        assert detect_format(renamed) == fmt
        np.testing.assert_array_equal(read_events(renamed).events, rec.events)

def test_unknown_format(tmp_path):
    path = tmp_path / "x.aedat4"
    path.write_bytes(b"\x00\x01binary junk" * 10)
    with pytest.raises(UnknownFormatError, match="unknown event file format"):
        read_events(path)
    path.write_bytes(b"#!AER-DAT1.0\r\n")
    with pytest.raises(UnknownFormatError, match="AEDAT version 1.0 is not supported"):
        read_events(path)
    with pytest.raises(UnknownFormatError, match="unknown format 'mp4'"):
        read_events(path, format="mp4")

def test_aedat4_wrong_magic_truncated_header_and_truncated_packets(tmp_path, rec):
    from snnstudio.events.io import Aedat4Writer

    path = tmp_path / "a.aedat4"
    with Aedat4Writer(path, rec.sensor_size) as w:  # many small packets, like a live recording
        for k in range(0, len(rec), 500):
            w.write(rec.events[k : k + 500])
    data = path.read_bytes()
    bad = tmp_path / "magic.aedat4"
    bad.write_bytes(b"#!AER-DAT4.1\r\n" + data[14:])
    with pytest.raises(EventFileError, match="wrong magic"):
        read_events(bad, format="aedat4")
    head = tmp_path / "head.aedat4"
    head.write_bytes(data[:40])
    with pytest.raises(EventFileError, match="truncated or corrupt AEDAT4 header"):
        read_events(head)
    for size in (-5, 0, 2**31 - 1):  # a negative, empty or absurd header size (random bytes after the magic)
        odd = tmp_path / f"size{size}.aedat4"
        odd.write_bytes(data[:14] + size.to_bytes(4, "little", signed=True) + data[18:200])
        with pytest.raises(EventFileError, match="corrupt AEDAT4 header"):
            read_events(odd)
    for cut in (len(data) - 30, len(data) * 3 // 4, len(data) // 3):
        part = tmp_path / f"cut{cut}.aedat4"
        part.write_bytes(data[:cut])
        with pytest.warns(SnnStudioWarning, match="truncated file"):
            got = read_events(part)
        assert 0 < len(got) <= len(rec)
        np.testing.assert_array_equal(got.events, rec.events[: len(got)])
    only_header = tmp_path / "h.aedat4"
    only_header.write_bytes(data[: 14 + 4 + int.from_bytes(data[14:18], "little") + 4])
    with pytest.warns(SnnStudioWarning, match="truncated"), pytest.raises(EventFileError, match="no events"):
        read_events(only_header)
    corrupt = bytearray(data)
    corrupt[len(data) // 2 : len(data) // 2 + 64] = b"\xff" * 64  # a damaged LZ4 block mid-file
    (tmp_path / "c.aedat4").write_bytes(bytes(corrupt))
    with pytest.warns(SnnStudioWarning, match="corrupt AEDAT4 packet"):
        got = read_events(tmp_path / "c.aedat4")
    assert 0 < len(got) < len(rec)
    np.testing.assert_array_equal(got.events, rec.events[: len(got)])

def test_backwards_and_outside_in_every_readable_container(tmp_path, rec):
    from snnstudio.events.io import FORMATS

    backwards = rec.events.copy()
    backwards["t"][1234] = backwards["t"][1233] - 1
    outside = rec.events.copy()
    outside["y"][77] = 400
    for fmt in ("npz", "hdf5", "csv", "aedat3"):
        for events, problem in ((backwards, "backwards at event 1234"), (outside, "event 77 has y=400")):
            path = tmp_path / f"bad_{fmt}"
            FORMATS[fmt].write(path, EventRecording(events, rec.sensor_size))  # the raw writer: no checks
            with pytest.raises(EventFileError, match=problem) as exc:
                read_events(path)
            assert path.name in str(exc.value) and "\n" not in str(exc.value)
    p = tmp_path / "o.csv"
    p.write_text("# sensor_size=10x10\nt,x,y,p\n1,2,3,1\n2,10,3,0\n")
    with pytest.raises(EventFileError, match="event 1 has x=10, outside the 10x10 sensor"):
        read_events(p)


def test_npy_refuses_pickles_and_huge_headers(tmp_path, rec):
    obj = tmp_path / "obj.npy"
    np.save(obj, np.array([{"t": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(EventFileError, match="pickled object arrays are refused"):
        read_events(obj)
    npz = tmp_path / "obj.npz"
    np.savez(npz, events=np.array([{"t": 1}], dtype=object))
    with pytest.raises(EventFileError, match="pickled"):
        read_events(npz)
    big = tmp_path / "big.npy"
    header = "{'descr': '<i8', 'fortran_order': False, 'shape': (0,), " + " " * (MAX_HEADER + 10) + "}"
    header += " " * (-(len(header) + 12 + 1) % 64) + "\n"
    big.write_bytes(b"\x93NUMPY\x02\x00" + len(header).to_bytes(4, "little") + header.encode())
    with pytest.raises(EventFileError, match="header of .* bytes is larger"):
        read_events(big)
    plain = tmp_path / "plain.npy"
    np.save(plain, np.zeros((5, 3)))
    with pytest.raises(EventFileError, match="expected a structured array"):
        read_events(plain)
    missing = tmp_path / "missing.npy"
    np.save(missing, np.zeros(3, dtype=[("t", "<i8"), ("x", "<i2")]))
    with pytest.raises(EventFileError, match="no 'y' field"):
        read_events(missing)

def test_npz_and_npy_alternative_layouts(tmp_path, rec):
    tonic_like = np.zeros(len(rec), dtype=[("x", "<i8"), ("y", "<i8"), ("t", "<f8"), ("p", "<i8")])
    for k in "xytp":
        tonic_like[k] = rec.events[k]
    tonic_like["p"] = np.where(rec.events["p"] > 0, 1, -1)  # ±1 polarities
    np.save(tmp_path / "tonic.npy", tonic_like)
    np.testing.assert_array_equal(read_events(tmp_path / "tonic.npy").events, rec.events)
    np.savez(tmp_path / "cols.npz", timestamp=rec.events["t"], x=rec.events["x"], y=rec.events["y"],
             polarity=rec.events["p"], sensor_size=np.array([346, 260]))
    back = read_events(tmp_path / "cols.npz")
    np.testing.assert_array_equal(back.events, rec.events)
    assert back.sensor_size == (346, 260)

def test_hdf5_layouts_and_errors(tmp_path, rec):
    import h5py

    with h5py.File(tmp_path / "compound.h5", "w") as f:
        f["events"] = rec.events
        f.attrs["width"], f.attrs["height"] = 346, 260
    back = read_events(tmp_path / "compound.h5")
    np.testing.assert_array_equal(back.events, rec.events)
    assert back.sensor_size == (346, 260)
    with h5py.File(tmp_path / "none.h5", "w") as f:
        f["other"] = np.zeros(3)
    with pytest.raises(EventFileError, match="no 'events' group"):
        read_events(tmp_path / "none.h5")
    with h5py.File(tmp_path / "proph.h5", "w") as f:
        f.create_group("CD")["events"] = np.zeros(3)
    with pytest.raises(EventFileError, match="Prophesee HDF5"):
        read_events(tmp_path / "proph.h5")
    with h5py.File(tmp_path / "short.h5", "w") as f:
        g = f.create_group("events")
        g["t"], g["x"], g["y"], g["p"] = np.arange(3), np.zeros(3), np.zeros(2), np.zeros(3)
    with pytest.raises(EventFileError, match="different lengths"):
        read_events(tmp_path / "short.h5")
    trunc = tmp_path / "trunc.h5"
    write_events(trunc, rec)
    trunc.write_bytes(trunc.read_bytes()[:2000])
    with pytest.raises(EventFileError, match="trunc.h5"):
        read_events(trunc)

def test_nmnist_against_tonic_and_overflow_markers(tmp_path, make_recording):
    read_mnist_file = pytest.importorskip("tonic.io").read_mnist_file

    from snnstudio.events.io.nmnist import encode

    rec = make_recording(n=4000, size=(34, 34), t0=0, span_us=300_000)
    path = tmp_path / "00001.bin"
    path.write_bytes(encode(rec.events))
    back = read_events(path)
    np.testing.assert_array_equal(back.events, rec.events)
    assert back.sensor_size == (34, 34) and back.format == "nmnist"
    ref = read_mnist_file(str(path), dtype=np.dtype([("x", int), ("y", int), ("t", int), ("p", int)]))
    for k in "xytp":
        np.testing.assert_array_equal(ref[k], back.events[k])
    # an overflow marker (y == 240) adds 2**13 µs to everything after it
    raw = bytearray(encode(rec.events[:3]))
    marker = bytes([0, 240, 0, 0, 0])
    path.write_bytes(bytes(raw[:5]) + marker + bytes(raw[5:]))
    got = read_events(path)
    assert got.events["t"].tolist() == [int(rec.events["t"][0])] + [int(t) + 8192 for t in rec.events["t"][1:3]]
    path.write_bytes(bytes(raw) + b"\x01\x02")
    with pytest.warns(SnnStudioWarning, match="2 stray bytes"):
        assert len(read_events(path)) == 3
    big = np.zeros(2, dtype=EVENT_DTYPE)
    big["x"] = [100, 200]
    big["t"] = [1, 2]
    path.write_bytes(encode(big))
    r = read_events(path)
    assert r.sensor_size == (201, 1) and r.meta["sensor_size_inferred"]


@pytest.mark.parametrize("fmt", ["aedat3", "aedat2", "npz", "hdf5", "csv"])  # faery's writers refuse disorder
def test_sort_option_repairs_out_of_order_packets(tmp_path, make_recording, fmt, capsys):
    """Packets that arrive out of order (common from live cameras) are an error by default and
    are repaired by ``sort=True`` with a warning; the result equals the sorted events exactly."""
    from snnstudio.events.io import FORMATS

    size = (128, 128)
    rec = make_recording(n=6000, size=size, t0=1_000_000)
    shuffled = rec.events.copy()
    shuffled[2000:2500], shuffled[2500:3000] = rec.events[2500:3000].copy(), rec.events[2000:2500].copy()
    path = tmp_path / f"s_{fmt}"
    FORMATS[fmt].write(path, EventRecording(shuffled, size))
    with pytest.raises(EventFileError, match="backwards at event 2500"):
        read_events(path)
    with pytest.warns(SnnStudioWarning, match="went backwards 1 times; events sorted"):
        fixed = read_events(path, sort=True)
    np.testing.assert_array_equal(fixed.events, rec.events)
    assert fixed.meta["unsorted_steps"] == 1
    write_events(tmp_path / "ok.npz", rec)
    assert "unsorted_steps" not in read_events(tmp_path / "ok.npz", sort=True).meta  # sorted input: untouched
    from snnstudio.cli import main

    assert main(["convert", str(path), str(tmp_path / "fixed.aedat4"), "--in-format", fmt]) == 1
    assert "backwards" in capsys.readouterr().err
    assert main(["convert", str(path), str(tmp_path / "fixed.aedat4"), "--in-format", fmt, "--sort"]) == 0
    assert "warning: " in capsys.readouterr().err  # the CLI prints warnings as "warning: ..." lines
    np.testing.assert_array_equal(read_events(tmp_path / "fixed.aedat4").events, rec.events)
