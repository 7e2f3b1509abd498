"""Every writer round-trips exactly (events, order, sensor size, labels), files are written
atomically, the AEDAT4 we write reads back identically in dv-processing (the vendor's reader),
and ``snnstudio convert`` chains formats without loss."""

from __future__ import annotations

import os

import numpy as np
import pytest

from snnstudio.cli import main
from snnstudio.errors import EventFileError, UnknownFormatError
from snnstudio.events.io import (
    FORMATS,
    Aedat4Writer,
    format_for_extension,
    iter_event_chunks,
    read_events,
    read_labels,
    sidecar_path,
    write_events,
)
from snnstudio.events.types import EventRecording, Label

# (extension, format, sensor size the format can hold)
WRITABLE = [
    (".aedat4", "aedat4", (346, 260)),
    (".aedat", "aedat3", (346, 260)),
    (".aedat", "aedat2", (128, 128)),
    (".raw", "evt2", (640, 480)),
    (".raw", "evt3", (1280, 720)),
    (".dat", "dat", (640, 480)),
    (".npz", "npz", (346, 260)),
    (".h5", "hdf5", (346, 260)),
    (".hdf5", "hdf5", (240, 180)),
    (".csv", "csv", (346, 260)),
    (".txt", "csv", (346, 260)),
]


def test_every_writable_format_is_covered():
    assert {f for _, f, _ in WRITABLE} | {"npy"} == {n for n, f in FORMATS.items() if f.writer}


@pytest.mark.parametrize("ext,fmt,size", WRITABLE, ids=[f"{f}{e}" for e, f, _ in WRITABLE])
def test_round_trip_exact(tmp_path, make_recording, ext, fmt, size):
    t0 = 1_700_000_000_000_000 if fmt not in ("aedat2",) else 5_000_000
    labels = [Label(3, t0 + 10_000, t0 + 500_000, "right_hand_wave"), Label(11, t0 + 600_000, t0 + 900_000)]
    rec = make_recording(n=20_000, size=size, seed=hash(fmt) % 1000, t0=t0, labels=labels)
    path = tmp_path / f"rec{ext}"
    write_events(path, rec, format=fmt)
    back = read_events(path)
    assert back.format == fmt
    np.testing.assert_array_equal(back.events, rec.events)
    assert back.sensor_size == size
    assert back.labels == labels
    assert read_labels(sidecar_path(path)) == labels
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp files left
    streamed = np.concatenate(list(iter_event_chunks(path, chunk_events=3_001)))
    np.testing.assert_array_equal(streamed, rec.events)


def test_npy_round_trip_events_and_tonic_layout(tmp_path, rec):
    path = tmp_path / "rec.npy"
    write_events(path, rec)
    a = np.load(path, allow_pickle=False)
    assert set(a.dtype.names) == {"t", "x", "y", "p"}
    back = read_events(path)
    np.testing.assert_array_equal(back.events, rec.events)
    assert back.meta["sensor_size_inferred"] is True  # a bare .npy cannot store it


def test_aedat4_written_reads_back_in_dv_processing(tmp_path, rec):
    import dv_processing as dv

    path = tmp_path / "rec.aedat4"
    write_events(path, rec)
    r = dv.io.MonoCameraRecording(str(path))
    assert tuple(r.getEventResolution()) == rec.sensor_size
    assert r.getCameraName() == "TEST_CAM"
    parts = []
    while (b := r.getNextEventBatch()) is not None:
        parts.append(b.numpy())
    got = np.concatenate(parts)
    np.testing.assert_array_equal(got["timestamp"], rec.events["t"])
    np.testing.assert_array_equal(got["x"], rec.events["x"])
    np.testing.assert_array_equal(got["y"], rec.events["y"])
    np.testing.assert_array_equal(got["polarity"], rec.events["p"])


def test_aedat4_writer_incremental(tmp_path, rec):
    import dv_processing as dv

    path = tmp_path / "live.aedat4"
    with Aedat4Writer(path, rec.sensor_size, sensor="DVXplorer_X") as w:
        for k in range(0, len(rec), 777):
            w.write(rec.events[k : k + 777])
            assert not path.exists()  # only the temp file exists while recording
    assert w.events_written == len(rec)
    back = read_events(path)
    np.testing.assert_array_equal(back.events, rec.events)
    assert back.sensor == "DVXplorer_X"
    assert dv.io.MonoCameraRecording(str(path)).getCameraName() == "DVXplorer_X"
    assert [p.name for p in tmp_path.iterdir()] == ["live.aedat4"]


def test_aedat4_writer_finalises_after_exception(tmp_path, rec):
    path = tmp_path / "crash.aedat4"
    with pytest.raises(RuntimeError, match="camera unplugged"):
        with Aedat4Writer(path, rec.sensor_size, labels=[Label(2, rec.t_start_us, rec.t_start_us + 10)]) as w:
            w.write(rec.events[:1000])
            w.write(rec.events[1000:2500])
            raise RuntimeError("camera unplugged")
    back = read_events(path)  # complete and valid, with what was written
    np.testing.assert_array_equal(back.events, rec.events[:2500])
    assert back.labels == [Label(2, rec.t_start_us, rec.t_start_us + 10)]


def test_aedat4_writer_rejects_bad_events_and_abort_leaves_nothing(tmp_path, rec):
    path = tmp_path / "bad.aedat4"
    w = Aedat4Writer(path, rec.sensor_size)
    w.write(rec.events[100:200])
    with pytest.raises(EventFileError, match="backwards at event 100"):
        w.write(rec.events[:50])
    outside = rec.events[300:310].copy()
    outside["x"][4] = rec.sensor_size[0]
    with pytest.raises(EventFileError, match="outside the 346x260 sensor"):
        w.write(outside)
    with pytest.raises(EventFileError, match="EVENT_DTYPE"):
        w.write(np.zeros(3))
    w.abort()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(EventFileError, match="after close"):
        w.write(rec.events[:1])


def test_failed_write_leaves_no_file_and_keeps_old_one(tmp_path, rec):
    path = tmp_path / "rec.aedat4"
    write_events(path, rec)
    before = path.read_bytes()
    bad = EventRecording(rec.events[::-1].copy(), rec.sensor_size)  # backwards
    with pytest.raises(EventFileError, match="backwards"):
        write_events(path, bad)
    assert path.read_bytes() == before
    neg = EventRecording(rec.events.copy(), rec.sensor_size)
    neg.events["t"] -= neg.events["t"][-1] + 5
    for name in ("x.aedat4", "x.aedat", "x.raw", "x.dat"):
        with pytest.raises(EventFileError, match="negative"):
            write_events(tmp_path / name, neg)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec.aedat4"]


def test_format_limits_are_clear_errors(tmp_path, rec):
    with pytest.raises(EventFileError, match="128x128"):
        write_events(tmp_path / "a.aedat", rec, format="aedat2")
    with pytest.raises(UnknownFormatError, match="extension '.xyz'"):
        write_events(tmp_path / "a.xyz", rec)
    with pytest.raises(UnknownFormatError, match="read but not written"):
        write_events(tmp_path / "a.bin", rec)
    with pytest.raises(UnknownFormatError, match="unknown format 'foo'"):
        write_events(tmp_path / "a.npz", rec, format="foo")
    assert format_for_extension("a.HDF5") == "hdf5" and format_for_extension("a.raw") == "evt3"


def test_stale_sidecar_warns(tmp_path, labelled, rec):
    from snnstudio.errors import SnnStudioWarning

    path = tmp_path / "r.npz"
    write_events(path, labelled)
    unlabelled = EventRecording(labelled.events, labelled.sensor_size)
    with pytest.warns(SnnStudioWarning, match="will be attached"):
        write_events(path, unlabelled)


def test_convert_chain_is_exact(tmp_path, labelled, capsys):
    src = tmp_path / "a.aedat"
    write_events(src, labelled)
    chain = [src, tmp_path / "b.aedat4", tmp_path / "c.h5", tmp_path / "d.raw", tmp_path / "e.csv",
             tmp_path / "f.npz", tmp_path / "g.dat", tmp_path / "h.aedat4"]
    for a, b in zip(chain[:-1], chain[1:]):
        assert main(["convert", str(a), str(b)]) == 0
    back = read_events(chain[-1])
    np.testing.assert_array_equal(back.events, labelled.events)
    assert back.sensor_size == labelled.sensor_size
    assert back.labels == labelled.labels
    # refuses to overwrite without --force, and to convert a file onto itself
    assert main(["convert", str(src), str(chain[1])]) == 1
    assert "exists already" in capsys.readouterr().err
    assert main(["convert", str(src), str(src), "--force"]) == 1
    assert main(["convert", str(src), str(chain[1]), "--force"]) == 0


def test_convert_reports_unreadable_input(tmp_path, capsys):
    bad = tmp_path / "x.aedat4"
    bad.write_bytes(b"#!AER-DAT4.0\r\n\x05\x00")
    assert main(["convert", str(bad), str(tmp_path / "y.npz")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "x.aedat4" in err[0]
    assert not (tmp_path / "y.npz").exists()
    assert sorted(os.listdir(tmp_path)) == ["x.aedat4"]
