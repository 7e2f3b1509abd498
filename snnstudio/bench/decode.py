"""Event-file decoding throughput (events/s), ours beside the peer readers that are installed.

Files of a few million random events are generated in a temp folder with our writers (the
same events for every format), then each is read whole by ``read_events`` and by the peers:
tonic (AEDAT 3.1 / 2.0 packet readers, N-MNIST), faery and expelliarmus (Prophesee EVT2 /
EVT3 / DAT), dv-processing and faery (AEDAT4), numpy/h5py baselines. ``ceiling`` is the rate
at which the file's bytes alone are read into memory (``np.fromfile``): the I/O bound.
Peers return their own dtypes without validation; ours return checked ``EVENT_DTYPE`` arrays.
Ratios > 1 mean snnstudio is faster. Run single-threaded (``OMP_NUM_THREADS=1``).

For the formats with native (C) code (:mod:`snnstudio.events.io._native`: the AEDAT 3.1, AEDAT
2.0, EVT 2.0, EVT 3.0, DAT and N-MNIST decoders; the event check and column packing of AEDAT4,
.npz and HDF5) ``snnstudio_events_per_s`` is the default path (native when it is built) and
``snnstudio_numpy_events_per_s`` the numpy path (``SNNSTUDIO_NATIVE=0``) measured beside it;
``native_speedup`` is their ratio.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from snnstudio.bench import best_time


def _events(n: int, size: tuple[int, int], seed: int = 0):
    from snnstudio.events.types import EventRecording, make_events

    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, 60_000_000, n))
    return EventRecording(make_events(t, rng.integers(0, size[0], n), rng.integers(0, size[1], n),
                                      rng.integers(0, 2, n)), size, sensor="BENCH")


def _peers(fmt: str, path: Path) -> dict[str, Callable[[], object]]:
    peers: dict[str, Callable[[], object]] = {}
    p = str(path)
    if fmt in ("aedat3", "aedat2", "nmnist"):
        try:
            import tonic.io as tio
        except ImportError:
            tio = None
        if tio is not None and fmt == "aedat3":
            def tonic_aedat31():
                version, start, _ = tio.read_aedat_header_from_file(p)
                ev = tio.get_aer_events_from_file(p, version, start)
                a = ev["address"]
                return tio.make_structured_array((a >> 17) & 0x1FFF, (a >> 2) & 0x1FFF, ev["timeStamp"], (a >> 1) & 1)
            peers["tonic"] = tonic_aedat31
        if tio is not None and fmt == "aedat2":
            def tonic_aedat2():
                version, start, _ = tio.read_aedat_header_from_file(p)
                ev = tio.get_aer_events_from_file(p, version, start)
                a = ev["address"]
                return tio.make_structured_array(127 - ((a >> 1) & 0x7F), (a >> 8) & 0x7F, ev["timeStamp"], a & 1)
            peers["tonic"] = tonic_aedat2
        if tio is not None and fmt == "nmnist":
            dtype = np.dtype([("x", int), ("y", int), ("t", int), ("p", int)])
            peers["tonic"] = lambda: tio.read_mnist_file(p, dtype=dtype)
    if fmt in ("evt2", "evt3", "dat"):
        try:
            import faery

            if fmt == "dat":
                peers["faery"] = lambda: np.concatenate(list(faery.dat.Decoder(p, None, None)))
            else:
                peers["faery"] = lambda: np.concatenate([d["events"] for d in faery.evt.Decoder(p, None, None)])
        except ImportError:
            pass
        try:
            from expelliarmus import Wizard

            peers["expelliarmus" + (" (EVT3 timestamps wrong)" if fmt == "evt3" else "")] = (
                lambda: Wizard(encoding=fmt, fpath=p).read())
        except ImportError:
            pass
    if fmt == "aedat4":
        try:
            import dv_processing as dv

            def dv_read():
                r = dv.io.MonoCameraRecording(p)
                parts = []
                while (b := r.getNextEventBatch()) is not None:
                    parts.append(b.numpy())
                return np.concatenate(parts)
            peers["dv-processing"] = dv_read
        except ImportError:
            pass
        try:
            import faery

            peers["faery (raw packets)"] = lambda: np.concatenate(
                [pk for tr, pk in faery.aedat.Decoder(p) if tr.data_type == "events"])
        except ImportError:
            pass
    if fmt == "hdf5":
        import h5py

        def h5_raw():
            with h5py.File(p, "r") as f:
                return [f["events"][k][:] for k in "txyp"]
        peers["h5py (raw datasets)"] = h5_raw
    if fmt == "csv":
        peers["np.loadtxt"] = lambda: np.loadtxt(p, delimiter=",", comments="#", skiprows=2, dtype=np.int64)
    return peers


#: formats whose reader runs native (C) code (a decoder, or for AEDAT4/.npz/HDF5 the event check and
#: column packing) beside the numpy one
NATIVE_FORMATS = ("aedat3", "aedat2", "evt2", "evt3", "dat", "nmnist", "aedat4", "npz", "hdf5")


@contextlib.contextmanager
def _numpy_path() -> Iterator[None]:
    """Force the numpy decoders (``SNNSTUDIO_NATIVE=0``) inside the block."""
    from snnstudio.events.io import _native

    old = os.environ.get(_native.ENV)
    os.environ[_native.ENV] = "0"
    try:
        yield
    finally:
        if old is None:
            del os.environ[_native.ENV]
        else:
            os.environ[_native.ENV] = old


def run(quick: bool) -> dict:
    from snnstudio.events.io import _native, read_events, write_events
    from snnstudio.events.io.nmnist import encode as encode_nmnist

    n = 400_000 if quick else 4_000_000
    repeat = 2 if quick else 3
    cases = [  # format, file name, sensor size, fraction of n
        ("aedat3", "b.aedat", (128, 128), 1.0), ("aedat2", "b2.aedat", (128, 128), 1.0),
        ("evt2", "b.raw", (640, 480), 1.0), ("evt3", "b3.raw", (640, 480), 1.0),
        ("dat", "b.dat", (640, 480), 1.0), ("aedat4", "b.aedat4", (346, 260), 1.0),
        ("nmnist", "b.bin", (34, 34), 1.0), ("npz", "b.npz", (346, 260), 1.0),
        ("hdf5", "b.h5", (346, 260), 1.0), ("csv", "b.csv", (346, 260), 0.1),
    ]
    results: dict = {"events": n, "threads": os.environ.get("OMP_NUM_THREADS", "unset"),
                     "load_average_1min": round(os.getloadavg()[0], 2),
                     "native_decoders": _native.lib() is not None}
    with tempfile.TemporaryDirectory(prefix="snnstudio-bench-decode-") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fmt, name, size, frac in cases:
            m = int(n * frac)
            rec = _events(m, size)
            if fmt == "nmnist":
                rec.events["t"] %= 1 << 23
                rec.events.sort(order="t")
            path = Path(tmp) / name
            if fmt == "nmnist":
                path.write_bytes(encode_nmnist(rec.events))
                t_write = None
            else:
                t_write = best_time(lambda: write_events(path, rec, format=fmt), repeat=1)
            back = read_events(path)
            assert len(back) == m, (fmt, len(back), m)
            t_read = best_time(lambda: read_events(path), repeat=repeat)
            t_ceiling = best_time(lambda: np.fromfile(path, dtype=np.uint8), repeat=repeat)
            entry = {
                "events": m,
                "file_mb": round(path.stat().st_size / 1e6, 2),
                "snnstudio_events_per_s": m / t_read,
                "ceiling_events_per_s": m / t_ceiling,
                "write_events_per_s": m / t_write if t_write else None,
                "peers": {},
                "ratio_vs": {},
            }
            if fmt in NATIVE_FORMATS and results["native_decoders"]:
                with _numpy_path():
                    np.testing.assert_array_equal(read_events(path).events, back.events)
                    t_numpy = best_time(lambda: read_events(path), repeat=repeat)
                entry["snnstudio_numpy_events_per_s"] = m / t_numpy
                entry["native_speedup"] = t_numpy / t_read
            for peer, fn in _peers(fmt, path).items():
                try:
                    t_peer = best_time(fn, repeat=repeat)
                except Exception as exc:  # a peer failing is a finding, not a crash
                    entry["peers"][peer] = f"failed: {str(exc).splitlines()[0][:80]}"
                    continue
                entry["peers"][peer] = m / t_peer
                entry["ratio_vs"][peer] = t_peer / t_read
            results[fmt] = entry
    return results
