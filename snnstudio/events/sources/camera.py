"""A DVS / DAVIS / DVXplorer camera over USB, through dv-processing.

:func:`open_dvs_camera` finds a camera with ``dv.io.camera.discover()`` and opens it with
``dv.io.camera.open(...)``; with none attached it raises
:class:`~snnstudio.errors.DeviceNotFoundError` ("no DVS camera found ..."). The source then
polls ``getNextEventBatch()`` (see :mod:`~snnstudio.events.sources.dvinput`); a camera that
is unplugged mid-stream (``isRunning()`` false, or a read that raises) ends iteration with a
:class:`~snnstudio.errors.SourceError` after the batches read before it. Timestamps are the
camera's (Unix-epoch µs). Any object with the camera's methods (``getEventResolution``,
``isRunning``, ``getNextEventBatch`` returning something with ``.numpy()``, optionally
``getCameraName``) can be passed as ``device`` — that is how the tests drive this code.
"""

from __future__ import annotations

from typing import Any

from snnstudio.errors import DeviceNotFoundError, SourceError
from snnstudio.events.sources.dvinput import PolledDvSource

_ALTERNATIVES = "plug one in, or use another source: webcam, synthetic, file:PATH"


def _dv():
    try:
        import dv_processing as dv
    except ImportError as exc:  # pragma: no cover - dv-processing is a dependency
        raise DeviceNotFoundError(f"no DVS camera support: dv-processing is not importable ({exc})") from exc
    return dv


def list_dvs_cameras() -> list[str]:
    """Serial numbers (with model names) of the DVS cameras attached now."""
    dv = _dv()
    return [f"{d.serialNumber} ({d.cameraModel})" for d in dv.io.camera.discover()]


def open_dvs_camera(serial: str | None = None) -> Any:
    """Open the first DVS camera, or the one with ``serial``; :class:`DeviceNotFoundError` if none."""
    dv = _dv()
    found = list(dv.io.camera.discover())
    if not found:
        raise DeviceNotFoundError(f"no DVS camera found (dv-processing discovers no USB event camera); {_ALTERNATIVES}")
    if serial:
        match = [d for d in found if str(d.serialNumber) == str(serial)]
        if not match:
            have = ", ".join(str(d.serialNumber) for d in found)
            raise DeviceNotFoundError(f"no DVS camera with serial {serial!r} found; attached: {have}")
        descriptor = match[0]
    else:
        descriptor = found[0]
    try:
        camera = dv.io.camera.open(descriptor)
    except Exception as exc:  # noqa: BLE001 - e.g. busy / permission denied
        raise DeviceNotFoundError(f"DVS camera {descriptor.serialNumber} cannot be opened: {exc}") from exc
    return camera


class DvsCameraSource(PolledDvSource):
    """Events from a USB DVS camera (``serial`` picks one; ``device`` injects an opened one)."""

    def __init__(self, serial: str | None = None, *, device: Any = None, poll_s: float = 0.002):
        super().__init__(poll_s)
        if device is None:
            device = open_dvs_camera(serial)
        try:
            if hasattr(device, "isEventStreamAvailable") and not device.isEventStreamAvailable():
                raise SourceError("the DVS camera gives no event stream (a frame-only camera?)")
            w, h = device.getEventResolution()
            name = device.getCameraName() if hasattr(device, "getCameraName") else None
        except SourceError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise SourceError(f"DVS camera cannot be queried: {exc}") from exc
        self.sensor_size = (int(w), int(h))
        self.camera_name = str(name) if name else None
        self.name = f"DVS camera {name}" if name else "DVS camera"
        self._input = device

    def _stopped_reason(self) -> str:
        return "stopped delivering events (unplugged?)"
