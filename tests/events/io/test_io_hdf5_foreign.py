"""HDF5 files whose data lives in other files (external storage, virtual datasets, external links)
or that declare far more events than they store are refused before any data is read."""

from __future__ import annotations

import numpy as np
import pytest

from snnstudio.errors import EventFileError
from snnstudio.events.io import iter_event_chunks, read_events, write_events

h5py = pytest.importorskip("h5py")

N = 64


@pytest.fixture
def secret(tmp_path):
    """Another file with known bytes: 64 int64 timestamps and 64 int16 coordinates."""
    path = tmp_path / "secret.bin"
    path.write_bytes(np.arange(N, dtype="<i8").tobytes() + np.zeros(N, dtype="<i2").tobytes())
    return path


def _columns(g, skip=()):
    for name, dtype in (("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("p", "i1")):
        if name not in skip:
            g.create_dataset(name, data=np.zeros(N, dtype=dtype) if name != "t" else np.arange(N, dtype=dtype))


def _refused(path, match):
    with pytest.raises(EventFileError, match=match) as exc:
        read_events(path)
    assert str(path) in str(exc.value) and "\n" not in str(exc.value)
    with pytest.raises(EventFileError, match=match):
        list(iter_event_chunks(path))


def test_external_storage_is_refused(tmp_path, secret):
    path = tmp_path / "ext.h5"
    with h5py.File(path, "w") as f:
        g = f.create_group("events")
        g.create_dataset("t", shape=(N,), dtype="<i8", external=[(str(secret), 0, 8 * N)])
        _columns(g, skip="t")
    with h5py.File(path, "r") as f:  # the file really would read the other file's bytes
        np.testing.assert_array_equal(f["events/t"][:], np.arange(N))
    _refused(path, r"/events/t keeps its data in another file .*secret\.bin")


def test_virtual_dataset_is_refused(tmp_path):
    src = tmp_path / "src.h5"
    with h5py.File(src, "w") as f:
        f["t"] = np.arange(N, dtype="<i8")
    path = tmp_path / "virtual.h5"
    with h5py.File(path, "w") as f:
        g = f.create_group("events")
        layout = h5py.VirtualLayout(shape=(N,), dtype="<i8")
        layout[:] = h5py.VirtualSource(str(src), "t", shape=(N,))
        g.create_virtual_dataset("t", layout)
        _columns(g, skip="t")
    _refused(path, "/events/t is a virtual dataset")


@pytest.mark.parametrize("where", ["group", "dataset", "elsewhere"])
def test_external_links_are_refused(tmp_path, where):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        _columns(f.create_group("events"))
    path = tmp_path / "link.h5"
    with h5py.File(path, "w") as f:
        if where == "group":
            f["events"] = h5py.ExternalLink(str(other), "/events")
        else:
            g = f.create_group("events")
            _columns(g, skip="t" if where == "dataset" else "")
            target = g if where == "dataset" else f
            target["t"] = h5py.ExternalLink(str(other), "/events/t")
    _refused(path, r"is an external link to .*other\.h5")


def test_a_file_declaring_far_more_events_than_it_stores_is_refused(tmp_path):
    path = tmp_path / "huge.h5"
    with h5py.File(path, "w") as f:
        g = f.create_group("events")
        for name, dtype in (("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("p", "i1")):
            g.create_dataset(name, shape=(10**12,), dtype=dtype, chunks=(1 << 16,))  # no chunk ever written
    assert path.stat().st_size < 20_000
    _refused(path, r"/events/\w declares 1,000,000,000,000 values")


def test_a_huge_declared_sensor_is_refused(tmp_path, rec):
    path = tmp_path / "big.h5"
    write_events(path, rec)
    with h5py.File(path, "r+") as f:
        f.attrs["sensor_size"] = np.array([65535, 65535])
    with pytest.raises(EventFileError, match="sensor_size 65535x65535 is outside"):
        read_events(path)


def test_an_ordinary_compressed_file_still_reads(tmp_path, rec):
    path = tmp_path / "gz.h5"
    with h5py.File(path, "w") as f:
        g = f.create_group("events")
        for name in "txyp":
            g.create_dataset(name, data=rec.events[name], compression="gzip", shuffle=True)
        f.attrs["sensor_size"] = np.asarray(rec.sensor_size)
    np.testing.assert_array_equal(read_events(path).events, rec.events)
