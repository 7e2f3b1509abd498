"""Small committed files (tests/data/io_*) written by an earlier snnstudio still read back to
the same events: the on-disk formats stay stable. Regenerate with ``python
tests/events/io/test_io_fixtures.py`` only when a format change is intended."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from io_recordings import random_recording  # noqa: E402

from snnstudio.events.io import read_events, write_events  # noqa: E402
from snnstudio.events.types import Label  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "data"
T0 = 2**31 - 400_000  # the AEDAT 3.1 timestamp overflow happens inside the recording
LABELS = [Label(2, T0 + 50_000, T0 + 300_000, "right_hand_wave"), Label(11, T0 + 400_000, T0 + 700_000)]
FIXTURES = {  # file -> (format, events, sensor size, seed, labels)
    "io_gesture_like.aedat": ("aedat3", 3000, (128, 128), 11, LABELS),
    "io_jaer_like.aedat": ("aedat2", 2000, (128, 128), 12, []),
    "io_vga_like.raw": ("evt3", 3000, (640, 480), 13, []),
    "io_davis_like.aedat4": ("aedat4", 3000, (346, 260), 14, []),
    "io_vga_like_evt2.raw": ("evt2", 2000, (640, 480), 15, []),
    "io_vga_like.dat": ("dat", 2000, (640, 480), 16, []),
    "io_tonic_like.npz": ("npz", 2000, (34, 34), 17, []),
    "io_tonic_like.npy": ("npy", 2000, (34, 34), 18, []),
    "io_table_like.h5": ("hdf5", 2000, (346, 260), 19, LABELS),
    "io_text_like.csv": ("csv", 1000, (128, 128), 20, []),
}


def _expected(n, size, seed, labels):
    return random_recording(n=n, size=size, seed=seed, t0=T0, span_us=800_000, sensor=None, labels=labels)


def test_committed_fixtures_read_back_identically():
    for name, (fmt, n, size, seed, labels) in FIXTURES.items():
        path = DATA / name
        assert path.is_file(), f"missing fixture {path}"
        assert path.stat().st_size < 1_000_000
        rec = read_events(path)
        want = _expected(n, size, seed, labels)
        assert rec.format == fmt
        np.testing.assert_array_equal(rec.events, want.events)
        assert rec.sensor_size == size
        assert rec.labels == labels


if __name__ == "__main__":  # regenerate (only the named files, or all)
    for name, (fmt, n, size, seed, labels) in FIXTURES.items():
        if sys.argv[1:] and name not in sys.argv[1:]:
            continue
        write_events(DATA / name, _expected(n, size, seed, labels), format=fmt)
        print("wrote", DATA / name)
