"""DVS camera source: absence is a clear DeviceNotFoundError; a fake dv camera drives the real code path."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from sources_helpers import FakeCamera, dv_store, make_recording

from snnstudio.errors import DeviceNotFoundError, SourceError
from snnstudio.events.sources import BufferedSource, open_source
from snnstudio.events.sources.camera import DvsCameraSource, list_dvs_cameras
from snnstudio.events.sources.dvinput import events_from_dv
from snnstudio.events.types import EVENT_DTYPE

dv = pytest.importorskip("dv_processing")


def _chunks(n_chunks=4, per=50):
    rec = make_recording(n=n_chunks * per, duration_us=40_000)
    return rec, [rec.events[i * per:(i + 1) * per] for i in range(n_chunks)]


def test_no_camera_attached_is_device_not_found():
    if dv.io.camera.discover():
        pytest.skip("a DVS camera is attached to this machine")
    assert list_dvs_cameras() == []
    with pytest.raises(DeviceNotFoundError, match="^no DVS camera found") as info:
        DvsCameraSource()
    assert "\n" not in str(info.value)
    with pytest.raises(DeviceNotFoundError, match="no DVS camera found"):
        open_source("camera")


def test_unknown_serial_lists_the_attached_ones(monkeypatch):
    class Desc:
        serialNumber = "DXA00093"
        cameraModel = "DVXplorer"

    monkeypatch.setattr(dv.io.camera, "discover", lambda: [Desc()])
    with pytest.raises(DeviceNotFoundError, match=r"serial 'NOPE'.*attached: DXA00093"):
        open_source("camera:NOPE")


def test_events_from_a_real_dv_store_convert_exactly():
    rec, (chunk, *_) = _chunks()
    ev = events_from_dv(dv_store(chunk))
    assert ev.dtype == EVENT_DTYPE
    assert np.array_equal(ev, chunk)


def test_fake_camera_streams_batches_then_unplug_is_a_source_error_with_data_kept():
    rec, chunks = _chunks()
    cam = FakeCamera([dv_store(c) for c in chunks], resolution=(32, 24), fail="stop")
    src = DvsCameraSource(device=cam, poll_s=0.001)
    assert src.sensor_size == (32, 24) and "DVXplorer_FAKE01" in src.name
    got = []
    with pytest.raises(SourceError, match="DVS camera DVXplorer_FAKE01: stopped delivering events"):
        for b in src.batches():
            got.append(b)
    assert len(got) == 4
    assert np.array_equal(np.concatenate([b.events for b in got]), rec.events)
    assert all(a.t_end_us == b.t_start_us for a, b in zip(got, got[1:]))  # contiguous windows
    assert all(b.t_start_us <= b.events["t"][0] and b.events["t"][-1] < b.t_end_us for b in got)


def test_fake_camera_raising_mid_stream_is_a_source_error_after_the_earlier_batches():
    rec, chunks = _chunks()
    cam = FakeCamera([dv_store(c) for c in chunks[:2]], fail="raise")
    buffered = BufferedSource(DvsCameraSource(device=cam, poll_s=0.001))
    got = []
    with pytest.raises(SourceError, match="failed while reading: libusb: LIBUSB_ERROR_NO_DEVICE"):
        for b in buffered.batches():
            got.append(b)
    assert np.array_equal(np.concatenate([b.events for b in got]), np.concatenate(chunks[:2]))
    assert not buffered._thread.is_alive()


def test_close_while_the_camera_is_idle_stops_promptly_and_releases_it():
    cam = FakeCamera([], fail=None)  # a camera looking at a still scene: polls come back empty
    src = DvsCameraSource(device=cam, poll_s=0.005)
    got = []
    th = threading.Thread(target=lambda: got.extend(src.batches()))
    th.start()
    time.sleep(0.1)
    polls = cam.calls
    assert 5 < polls < 200  # polling sleeps between empty reads (no busy loop)
    t0 = time.monotonic()
    src.close()
    th.join(1.0)
    assert not th.is_alive() and time.monotonic() - t0 < 0.2
    assert got == [] and src._input is None


def test_a_device_without_events_is_refused():
    cam = FakeCamera([])
    cam.isEventStreamAvailable = lambda: False
    with pytest.raises(SourceError, match="no event stream"):
        DvsCameraSource(device=cam)


def test_bad_event_fields_are_a_clear_error():
    class Weird:
        def numpy(self):
            return np.zeros(3, dtype=[("a", "i8")])

    with pytest.raises(SourceError, match="expected timestamp, x, y, polarity"):
        events_from_dv(Weird())


def test_camera_spec_opens_the_camera_with_that_serial(monkeypatch):
    class Desc:
        def __init__(self, serial):
            self.serialNumber = serial
            self.cameraModel = "DAVIS346"

    opened = []
    rec, chunks = _chunks(n_chunks=2)

    def fake_open(descriptor):
        opened.append(descriptor.serialNumber)
        return FakeCamera([dv_store(c) for c in chunks], resolution=(346, 260), name=f"DAVIS346_{descriptor.serialNumber}")

    monkeypatch.setattr(dv.io.camera, "discover", lambda: [Desc("00000499"), Desc("00000500")])
    monkeypatch.setattr(dv.io.camera, "open", fake_open)
    assert list_dvs_cameras() == ["00000499 (DAVIS346)", "00000500 (DAVIS346)"]
    src = open_source("camera:00000500")
    assert opened == ["00000500"] and src.sensor_size == (346, 260) and src.camera_name == "DAVIS346_00000500"
    open_source("camera")
    assert opened == ["00000500", "00000499"]  # no serial: the first one found
    got = []
    with pytest.raises(SourceError):
        got.extend(src.batches())
    assert np.array_equal(np.concatenate([b.events for b in got]), rec.events)


def test_a_camera_that_cannot_be_opened_is_device_not_found(monkeypatch):
    class Desc:
        serialNumber = "DXA00093"
        cameraModel = "DVXplorer"

    def busy(descriptor):
        raise RuntimeError("device busy: claimed by another process")

    monkeypatch.setattr(dv.io.camera, "discover", lambda: [Desc()])
    monkeypatch.setattr(dv.io.camera, "open", busy)
    with pytest.raises(DeviceNotFoundError, match="DVS camera DXA00093 cannot be opened: device busy"):
        open_source("camera")
