"""A DV network event stream (a DV software ``NetworkWriter`` / dv-processing server), as a client.

Before handing the address to ``dv.io.NetworkReader`` (whose constructor blocks without
releasing Python's GIL until the server's stream header arrives) the address is probed with a
plain socket: connection refused, no route, or an unresolvable host is a
:class:`~snnstudio.errors.DeviceNotFoundError`; a server that sends nothing within
``timeout_s`` or something that is not a DV stream header (a 4-byte size then a flatbuffer
tagged ``IOHE``) is a :class:`~snnstudio.errors.SourceError`. A peer that vanishes mid-stream
ends iteration with a ``SourceError`` after everything received before it.
"""

from __future__ import annotations

import socket
from typing import Any

from snnstudio.errors import DeviceNotFoundError, SourceError
from snnstudio.events.sources.dvinput import PolledDvSource

#: flatbuffer file identifier of the DV IOHeader a server sends on connect (bytes 8–12)
_HEADER_TAG = b"IOHE"


def probe_dv_stream(host: str, port: int, timeout_s: float = 3.0) -> None:
    """Check that ``host:port`` answers with a DV stream header, or raise a typed error."""
    where = f"{host}:{port}"
    try:
        conn = socket.create_connection((host, port), timeout=timeout_s)
    except ConnectionRefusedError:
        raise DeviceNotFoundError(f"no DV event stream at {where}: connection refused") from None
    except socket.gaierror as exc:
        raise DeviceNotFoundError(f"no DV event stream at {where}: cannot resolve host ({exc.strerror})") from None
    except TimeoutError:
        raise DeviceNotFoundError(f"no DV event stream at {where}: no answer within {timeout_s:g} s") from None
    except OSError as exc:
        raise DeviceNotFoundError(f"no DV event stream at {where}: {exc.strerror or exc}") from None
    with conn:
        data = b""
        try:
            while len(data) < 12:
                chunk = conn.recv(12 - len(data))
                if not chunk:
                    break
                data += chunk
        except TimeoutError:
            if not data:
                raise SourceError(f"{where} sent no DV stream header within {timeout_s:g} s (not a DV network stream?)") from None
        except OSError as exc:
            raise SourceError(f"{where} dropped the connection before a stream header: {exc}") from None
        if len(data) < 12:
            raise SourceError(f"{where} closed the connection before sending a DV stream header")
        if data[8:12] != _HEADER_TAG:
            raise SourceError(f"{where} does not speak the DV network protocol (first bytes {data[:12]!r})")


def _check_port(port: Any) -> int:
    try:
        p = int(port)
    except (TypeError, ValueError):
        raise SourceError(f"network port must be a number, got {port!r}") from None
    if not 0 < p < 65536:
        raise SourceError(f"network port {p} is outside 1-65535")
    return p


class NetworkEventSource(PolledDvSource):
    """Events from a DV network stream at ``host:port`` (TCP)."""

    def __init__(self, host: str, port: int, *, timeout_s: float = 3.0, poll_s: float = 0.002):
        super().__init__(poll_s)
        port = _check_port(port)
        self.host, self.port = host, port
        self.name = f"DV network stream {host}:{port}"
        probe_dv_stream(host, port, timeout_s)
        import dv_processing as dv

        try:
            reader = dv.io.NetworkReader(host, port)
        except Exception as exc:  # noqa: BLE001 - dv raises RuntimeError with boost details
            msg = str(exc).split(" [")[0]
            if "refused" in msg.lower():
                raise DeviceNotFoundError(f"no DV event stream at {host}:{port}: {msg}") from exc
            raise SourceError(f"{self.name} cannot be read: {msg}") from exc
        if not reader.isEventStreamAvailable():
            raise SourceError(f"{self.name} carries no event stream")
        resolution = reader.getEventResolution()
        if resolution is None:
            raise SourceError(f"{self.name} does not say its sensor resolution")
        w, h = resolution
        self.sensor_size = (int(w), int(h))
        self.camera_name = reader.getCameraName()
        self._input = reader

    def _stopped_reason(self) -> str:
        return "the peer closed the stream (or vanished)"
