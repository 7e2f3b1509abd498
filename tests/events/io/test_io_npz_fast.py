"""The ``.npz`` fast path (an uncompressed EVENT_DTYPE member read straight from the file)
against numpy's own reader, and its CRC / fallback behaviour."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from snnstudio.errors import EventFileError
from snnstudio.events.io import numpy_files, read_events, write_events


def test_fast_path_equals_numpy_reader(tmp_path, make_recording):
    rec = make_recording(n=20_000)
    path = tmp_path / "a.npz"
    write_events(path, rec)
    with np.load(path) as z:
        fast = numpy_files._npz_events(path, z)
        oracle = z["events"]
    assert fast is not None and fast.flags.writeable  # our own fresh array
    np.testing.assert_array_equal(fast, oracle)
    back = read_events(path)
    np.testing.assert_array_equal(back.events, rec.events)
    assert back.sensor_size == rec.sensor_size and back.sensor == rec.sensor


def test_compressed_and_foreign_members_take_the_ordinary_path(tmp_path, make_recording):
    rec = make_recording(n=3000)
    compressed = tmp_path / "c.npz"
    np.savez_compressed(compressed, events=rec.events, sensor_size=np.array(rec.sensor_size))
    columns = tmp_path / "k.npz"
    np.savez(columns, events=np.stack([rec.events["t"], rec.events["x"], rec.events["y"], rec.events["p"]], 1),
             sensor_size=np.array(rec.sensor_size))
    for path in (compressed, columns):
        with np.load(path) as z:
            assert numpy_files._npz_events(path, z) is None
        np.testing.assert_array_equal(read_events(path).events, rec.events)


def test_corrupt_member_is_refused(tmp_path, make_recording):
    rec = make_recording(n=3000)
    path = tmp_path / "b.npz"
    write_events(path, rec)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("events.npy")
    data[info.header_offset + 30 + len("events.npy") + 1000] ^= 0x40  # a byte inside the events
    path.write_bytes(bytes(data))
    with pytest.raises(EventFileError, match="cannot load .npz.*CRC"):
        read_events(path)
