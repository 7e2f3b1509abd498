"""Declared sizes are checked against the file and sane ceilings before anything is allocated."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from snnstudio.errors import EventFileError
from snnstudio.events.io import iter_event_chunks, read_events
from snnstudio.events.types import EVENT_DTYPE


def _npy_header(shape, dtype=EVENT_DTYPE) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                                               "fortran_order": False, "shape": shape})
    return buf.getvalue()


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_npz_member_claiming_134m_events_is_refused(tmp_path, method):
    path = tmp_path / "claim.npz"
    with zipfile.ZipFile(path, "w", method) as z:
        z.writestr("events.npy", _npy_header((134_000_000,)) + bytes(1600))
    with pytest.raises(EventFileError, match=r"events\.npy header declares shape \(134000000,\)"):
        read_events(path)


def test_npz_member_expanding_beyond_deflate_is_refused(tmp_path):
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("t.npy", _npy_header((50_000_000,), "<i8") + bytes(4000))
    data = bytearray(path.read_bytes())  # the zip's size fields now claim 400 MB from ~30 bytes
    for sig, at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        k = data.find(sig)
        data[k + at : k + at + 4] = (400_000_000).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(EventFileError, match=r"t\.npy claims 400,000,000 bytes from \d+ stored"):
        read_events(path)


def test_npy_declaring_more_than_the_file_holds_is_refused(tmp_path):
    path = tmp_path / "claim.npy"
    path.write_bytes(_npy_header((10**9,)) + bytes(160))
    with pytest.raises(EventFileError, match=r"declares shape \(1000000000,\)"):
        read_events(path)
    with pytest.raises(EventFileError, match=r"declares shape"):
        list(iter_event_chunks(path))


@pytest.mark.parametrize("body,match", [
    ("1,2,3,7\n2,2,3,9\n", r"event 0 has polarity 7 \(2 events"),
    ("1,2,3,1\n2,-2,3,0\n", r"event 1 has x=-2 \(negative"),
    ("1,2,3,1\n2,2,-5,-1\n", r"event 1 has y=-5"),
])
def test_csv_bad_polarity_and_negative_coordinates(tmp_path, body, match):
    path = tmp_path / "e.csv"
    path.write_text("t,x,y,p\n" + body)
    with pytest.raises(EventFileError, match=match):
        read_events(path)


def test_csv_minus_one_is_off(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("t,x,y,p\n1,2,3,1\n2,2,3,-1\n")
    assert read_events(path).events["p"].tolist() == [1, 0]


@pytest.mark.parametrize("head", [b"% evt 2.0\n% format EVT2;width=65535;height=65535\n% end\n",
                                  b"% evt 2.0\n% geometry 65535x65535\n% end\n"])
def test_evt2_header_with_a_huge_sensor_is_refused(tmp_path, head):
    path = tmp_path / "big.raw"
    path.write_bytes(head + bytes(200_000))
    with pytest.raises(EventFileError, match="65535x65535 is outside 1..8192"):
        iter_event_chunks(path)
    with pytest.raises(EventFileError, match="65535x65535"):
        read_events(path)


def test_csv_huge_sensor_comment_is_refused(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("# sensor_size=100000x3\nt,x,y,p\n1,2,3,1\n")
    with pytest.raises(EventFileError, match="line 1: sensor_size 100000x3"):
        read_events(path)
