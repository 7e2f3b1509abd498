"""The event file formats, declared once: name, module and functions, extensions and magic bytes.
Content detection (:mod:`.detect`), the readers and writers, the file dialogs, CLI help and the
README's table all read :data:`FORMATS`."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class EventFormat:
    """One file format: its module and the names of its functions there (imported lazily)."""

    name: str
    description: str
    module: str
    reader: str = "read"
    writer: str | None = None
    streamer: str | None = None
    extensions: tuple[str, ...] = ()
    header_reader: str | None = "header"
    #: byte prefixes a file of this format starts with (content detection, :mod:`.detect`); formats
    #: sharing one (Prophesee's ``% `` header) are told apart by their header
    magic: tuple[bytes, ...] = ()

    def _fn(self, attr: str | None) -> Callable | None:
        if attr is None:
            return None
        return getattr(importlib.import_module(f"snnstudio.events.io.{self.module}"), attr)

    @property
    def read(self) -> Callable:
        """The reader ``read(path) -> EventRecording`` (its module imported now)."""
        return self._fn(self.reader)

    @property
    def write(self) -> Callable | None:
        """The writer ``write(path, recording)``, or ``None`` for a read-only format."""
        return self._fn(self.writer)

    @property
    def iter_chunks(self) -> Callable | None:
        """The streaming reader ``iter_chunks(path, chunk_events)`` yielding ``EVENT_DTYPE`` arrays in
        time order, or ``None`` (read whole only)."""
        return self._fn(self.streamer)

    @property
    def header(self) -> Callable | None:
        """``header(path) -> (sensor_size or None, sensor, meta)`` for streaming formats."""
        return self._fn(self.header_reader if self.streamer else None)


FORMATS: dict[str, EventFormat] = {f.name: f for f in (
    EventFormat("aedat4", "iniVation AEDAT 4.0", "aedat4", "read", "write", "iter_chunks", (".aedat4",),
                magic=(b"#!AER-DAT4",)),
    EventFormat("aedat3", "AEDAT 3.1 (DVS128 Gesture)", "aedat3", "read", "write", "iter_chunks", (".aedat",),
                magic=(b"#!AER-DAT3",)),
    EventFormat("aedat2", "jAER AEDAT 2.0 (DVS128)", "aedat2", "read", "write", "iter_chunks", (),
                magic=(b"#!AER-DAT2",)),
    EventFormat("evt2", "Prophesee EVT 2.0 .raw", "prophesee", "read_evt2", "write_evt2", "iter_evt2", (),
                "header_evt2", magic=(b"% ",)),
    EventFormat("evt3", "Prophesee EVT 3.0 .raw", "prophesee", "read_evt3", "write_evt3", "iter_evt3", (".raw",),
                "header_evt3", magic=(b"% ",)),
    EventFormat("dat", "Prophesee DAT (CD events)", "prophesee", "read_dat", "write_dat", "iter_dat", (".dat",), "header_dat",
                magic=(b"% ",)),
    EventFormat("nmnist", "N-MNIST / ATIS .bin", "nmnist", "read", None, None, (".bin",)),
    EventFormat("npz", "numpy .npz (events + sensor_size)", "numpy_files", "read_npz", "write_npz", None, (".npz",),
                magic=(b"PK\x03\x04", b"PK\x05\x06")),
    EventFormat("npy", "numpy .npy structured array", "numpy_files", "read_npy", "write_npy", "iter_npy_chunks",
                (".npy",), "npy_header", magic=(b"\x93NUMPY",)),
    EventFormat("hdf5", "HDF5 events/{t,x,y,p}", "hdf5", "read", "write", "iter_chunks", (".h5", ".hdf5"),
                magic=(b"\x89HDF\r\n\x1a\n",)),
    EventFormat("csv", "text t,x,y,p per line", "text", "read", "write", None, (".csv", ".txt")),
)}
