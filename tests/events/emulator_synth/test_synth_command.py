"""``snnstudio synth`` end to end: the written file reads back as the generated recording."""

from __future__ import annotations

import numpy as np
import pytest

from snnstudio.cli import main
from snnstudio.events.synthetic import GESTURES, generate_gesture, generate_sequence

io = pytest.importorskip("snnstudio.events.io", reason="the I/O layer (feat/events-io) is not merged here")


def test_synth_writes_a_gesture_that_reads_back_identically(tmp_path, capsys):
    out = tmp_path / "swipe.aedat4"
    assert main(["synth", "--gesture", "swipe_up", "--out", str(out), "--seed", "3", "--duration", "0.4"]) == 0
    assert "swipe_up" in capsys.readouterr().out
    rec = io.read_events(out)
    expected = generate_gesture("swipe_up", seed=3, duration_us=400_000)
    assert np.array_equal(rec.events, expected.events)
    assert rec.sensor_size == (128, 128)
    assert [(lab.class_id, lab.start_us, lab.end_us) for lab in rec.labels] == [(2, 0, 400_000)]
    assert (tmp_path / "swipe_labels.csv").is_file()


def test_synth_sequence_and_all(tmp_path):
    out = tmp_path / "seq.npz"
    assert main(["synth", "--gesture", "random", "--count", "3", "--duration", "0.3", "--gap", "0.1", "0.2",
                 "--seed", "5", "--out", str(out), "--sensor", "64x48"]) == 0
    rec = io.read_events(out)
    expected = generate_sequence(3, 5, duration_us=300_000, gap_us=(100_000, 200_000), sensor_size=(64, 48))
    assert rec.sensor_size == (64, 48) and np.array_equal(rec.events, expected.events)
    assert [lab.class_id for lab in rec.labels] == [lab.class_id for lab in expected.labels]
    out_all = tmp_path / "all.npz"
    assert main(["synth", "--gesture", "all", "--duration", "0.1", "--gap", "0.05", "0.05", "--clean",
                 "--out", str(out_all)]) == 0
    assert [lab.name for lab in io.read_events(out_all).labels] == list(GESTURES)


@pytest.mark.parametrize("argv, message", [
    (["--gesture", "juggle", "--out", "x.aedat4"], "unknown gesture 'juggle'"),
    (["--gesture", "wave"], "needs --out"),
    (["--count", "0", "--out", "x.aedat4"], "--count"),
    (["--sensor", "big", "--out", "x.aedat4"], "--sensor"),
    (["--duration", "0", "--out", "x.aedat4"], "--duration"),
])
def test_synth_user_errors_are_one_line(tmp_path, capsys, argv, message):
    assert main(["synth", *argv]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err


def test_synth_list_prints_the_class_table(capsys):
    assert main(["synth", "--list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines == [f"{i}\t{n}" for i, n in enumerate(GESTURES)]
