"""Every real sample in ../shared/samples reads exactly as its README states, and agrees with
an independent decoder (dv-processing, faery, expelliarmus, or the README's formula by hand)."""

from __future__ import annotations

import json
import re
import struct
import subprocess
import sys

import numpy as np
import pytest

from snnstudio.cli import main
from snnstudio.events.io import iter_event_chunks, read_events, read_labels

pytestmark = pytest.mark.filterwarnings("error::snnstudio.errors.SnnStudioWarning")


def _readme_rows(samples_dir) -> dict[str, dict]:
    """Parse the README table: file -> {events, width, height, duration_s (text), format}."""
    rows = {}
    for line in (samples_dir / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 5 or not cells[0].startswith("`"):
            continue
        name = cells[0].strip("`")
        size = re.search(r"(\d+)×(\d+)", cells[2])
        count = re.match(r"([\d,]+)", cells[3])
        rows[name] = {
            "format": cells[1],
            "size": [int(size.group(1)), int(size.group(2))] if size else None,
            "events": int(count.group(1).replace(",", "")) if count and "gestures" not in cells[3] else None,
            "gestures": int(cells[3].split()[0]) if "gestures" in cells[3] else None,
            "duration": cells[4],
        }
    return rows


def _info_json(path, capsys) -> dict:
    assert main(["info", "--json", str(path)]) == 0
    return json.loads(capsys.readouterr().out)


def test_info_json_matches_readme_for_every_sample(samples_dir, capsys):
    rows = _readme_rows(samples_dir)
    assert len(rows) >= 5
    for path in sorted(samples_dir.iterdir()):
        if path.name == "README.md":
            assert main(["info", "--json", str(path)]) == 1
            err = capsys.readouterr().err.strip().splitlines()
            assert len(err) == 1 and err[0].startswith("error: ") and "README.md" in err[0]
            continue
        row = rows[path.name]
        info = _info_json(path, capsys)
        if row["gestures"] is not None:  # the DVS128 Gesture labels CSV
            assert info["format"] == "labels" and len(info["labels"]) == row["gestures"]
            lo, hi = (int(v) for v in re.findall(r"\d+", row["duration"]))
            assert round(info["t_start_us"] / 1e6) == lo and round(info["t_end_us"] / 1e6) == hi
            assert all(1 <= lab["class"] <= 11 for lab in info["labels"])
            continue
        assert info["events"] == row["events"], path.name
        assert info["sensor_size"] == row["size"], path.name
        decimals = len(row["duration"].split()[0].split(".")[1])
        assert f"{info['duration_s']:.{decimals}f}" == row["duration"].split()[0], path.name
        assert info["on"] + info["off"] == info["events"]
        assert info["duration_s"] == (info["t_end_us"] - info["t_start_us"]) / 1e6
        assert info["event_rate"] == pytest.approx(info["events"] / info["duration_s"])
        assert info["format"] in {"aedat4", "aedat2", "evt2"}


def test_info_cli_process_exit_codes(samples_dir, tmp_path):
    """The real command line: exit 0 + JSON on a sample, exit 1 + one stderr line on garbage."""
    env_cmd = [sys.executable, "-m", "snnstudio", "info", "--json"]
    ok = subprocess.run([*env_cmd, str(samples_dir / "dvs128_walking_jaer.aedat")], capture_output=True,
                        text=True, cwd=str(__import__("pathlib").Path(__file__).parents[3]))
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["events"] == 19182
    bad = tmp_path / "garbage.aedat4"
    bad.write_bytes(b"\x00\x01\x02" * 100)
    res = subprocess.run([*env_cmd, str(bad)], capture_output=True, text=True,
                         cwd=str(__import__("pathlib").Path(__file__).parents[3]))
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "garbage.aedat4" in lines[0]


@pytest.mark.parametrize("name", ["dvs128_hand_2024_06_13.aedat4", "davis346_sample.aedat4"])
def test_aedat4_sample_equals_faery_decoder(samples_dir, name):
    import faery

    rec = read_events(samples_dir / name)
    parts = [pk for track, pk in faery.aedat.Decoder(samples_dir / name) if track.data_type == "events"]
    ref = np.concatenate(parts)
    assert len(rec) == ref.shape[0]
    np.testing.assert_array_equal(rec.events["t"], ref["t"].astype(np.int64))
    np.testing.assert_array_equal(rec.events["x"], ref["x"])
    np.testing.assert_array_equal(rec.events["y"], ref["y"])
    np.testing.assert_array_equal(rec.events["p"], ref["on"].astype(np.int8))
    assert rec.format == "aedat4"
    assert "triggers" in rec.meta["other_streams"]


def test_davis346_exposes_other_streams(samples_dir):
    rec = read_events(samples_dir / "davis346_sample.aedat4")
    assert rec.sensor == "DAVIS346_00000104"
    assert set(rec.meta["other_streams"]) == {"frames", "imu", "triggers"}
    assert "left unread" in rec.meta["note"]


def test_jaer_sample_matches_readme_formula_by_hand(samples_dir):
    """Decode the first 50 events with struct and the README's formulas, one by one."""
    path = samples_dir / "dvs128_walking_jaer.aedat"
    data = path.read_bytes()
    pos = 0
    while data[pos : pos + 1] == b"#":
        pos = data.index(b"\n", pos) + 1
    expected = []
    for k in range(50):
        a, ts = struct.unpack_from(">ii", data, pos + 8 * k)
        expected.append((ts, 127 - ((a >> 1) & 0x7F), (a >> 8) & 0x7F, a & 1))
    rec = read_events(path)
    got = [(int(e["t"]), int(e["x"]), int(e["y"]), int(e["p"])) for e in rec.events[:50]]
    assert got == expected
    assert (len(data) - pos) // 8 == 19182 == len(rec)
    assert rec.sensor_size == (128, 128) and rec.format == "aedat2"


def test_evt2_sample_equals_faery_and_expelliarmus(samples_dir):
    import faery
    from expelliarmus import Wizard

    path = samples_dir / "prophesee_gen3_evt2.raw"
    rec = read_events(path)
    assert rec.sensor_size == (640, 480)  # from the Gen3 plugin name: the header has no geometry
    ref = np.concatenate(list(faery.events_stream_from_file(path)))
    np.testing.assert_array_equal(rec.events["t"], ref["t"].astype(np.int64))
    np.testing.assert_array_equal(rec.events["x"], ref["x"])
    np.testing.assert_array_equal(rec.events["y"], ref["y"])
    np.testing.assert_array_equal(rec.events["p"], ref["on"].astype(np.int8))
    ex = Wizard(encoding="evt2", fpath=str(path)).read()
    np.testing.assert_array_equal(rec.events["t"], ex["t"])
    np.testing.assert_array_equal(rec.events["x"], ex["x"])
    np.testing.assert_array_equal(rec.events["p"], ex["p"])


@pytest.mark.parametrize("name", ["dvs128_hand_2024_06_13.aedat4", "davis346_sample.aedat4",
                                  "dvs128_walking_jaer.aedat", "prophesee_gen3_evt2.raw"])
def test_streaming_equals_whole_read(samples_dir, name):
    rec = read_events(samples_dir / name)
    chunks = iter_event_chunks(samples_dir / name, chunk_events=7_000)
    assert chunks.sensor_size == rec.sensor_size and chunks.format == rec.format
    parts = list(chunks)
    assert all(p.shape[0] == 7_000 for p in parts[:-1]) and 0 < parts[-1].shape[0] <= 7_000
    np.testing.assert_array_equal(np.concatenate(parts), rec.events)


def test_gesture_labels_sample(samples_dir):
    labels = read_labels(samples_dir / "dvsgesture_user01_natural_labels.csv")
    assert len(labels) == 12
    assert (labels[0].class_id, labels[0].start_us, labels[0].end_us) == (1, 53036986, 59508469)
    assert [lab.class_id for lab in labels] == [1, 2, 3, 5, 4, 6, 7, 8, 8, 9, 10, 11]
    with pytest.raises(Exception, match="labels CSV"):
        read_events(samples_dir / "dvsgesture_user01_natural_labels.csv")
