"""Saying what a headerless file is: ``--format NAME --sensor WxH`` on info / convert (``--in-format``)
/ predict / gui, ``file[format=…,sensor=…]:PATH`` specs, content detection still the default."""

from __future__ import annotations

import json

import numpy as np
import pytest

from snnstudio.cli import main
from snnstudio.errors import EventFileError, SnnStudioError, UnknownFormatError
from snnstudio.events.io import iter_event_chunks, read_events, write_events
from snnstudio.events.io.detect import prophesee_header
from snnstudio.events.sources import file_spec, open_source, parse_file_spec, parse_source_spec
from snnstudio.events.types import EVENT_DTYPE, EventRecording

SIZE = (320, 320)  # a GenX320


def _events(n: int = 4000) -> np.ndarray:
    rng = np.random.default_rng(7)
    ev = np.zeros(n, EVENT_DTYPE)
    ev["t"] = np.sort(rng.integers(0, 1_500_000, n))
    ev["t"][0] = 0  # the writer stores the first time as "% t0": a headerless copy starts at 0
    ev["x"] = rng.integers(0, SIZE[0], n)
    ev["y"] = rng.integers(0, SIZE[1], n)
    ev["p"] = rng.integers(0, 2, n)
    ev["x"][11], ev["y"][12] = SIZE[0] - 1, SIZE[1] - 1
    return ev


@pytest.fixture()
def headerless(tmp_path):
    """The events and a headerless EVT2 file of them (the project's writer, its '%' header cut off),
    once as ``.raw`` and once as an N-MNIST-looking ``.bin``."""
    ev = _events()
    full = tmp_path / "genx320_full.raw"
    write_events(full, EventRecording(ev, SIZE), format="evt2")
    data = full.read_bytes()
    fields, start = prophesee_header(data)
    assert fields["geometry"] == "320x320" and start > 0
    raw, bin_ = tmp_path / "genx320.raw", tmp_path / "genx320.bin"
    raw.write_bytes(data[start:])
    bin_.write_bytes(data[start:])
    return ev, raw, bin_


def _same_events(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape
    for f in ("t", "x", "y", "p"):
        np.testing.assert_array_equal(a[f], b[f])


def test_named_format_and_sensor_read_exactly_what_was_written(headerless):
    ev, raw, bin_ = headerless
    for path in (raw, bin_):
        rec = read_events(path, format="evt2", sensor_size="320x320")
        _same_events(rec.events, ev)
        assert rec.sensor_size == SIZE and rec.meta["sensor_size_given"]
        chunks = iter_event_chunks(path, format="evt2", sensor_size=SIZE, chunk_events=1000)
        assert chunks.sensor_size == SIZE
        _same_events(np.concatenate(list(chunks)), ev)
    # without the sensor the size is the events' extent, said to be inferred
    assert read_events(raw, format="evt2").meta["sensor_size_inferred"]


def test_without_a_name_the_error_says_how_to_give_one(headerless):
    _, raw, bin_ = headerless
    with pytest.raises(UnknownFormatError, match=r"--format NAME --sensor WxH.*Open as"):
        read_events(raw)
    # a .bin is guessed N-MNIST by its extension: it does not read as one, and the error says so
    with pytest.raises(EventFileError, match=r"read as nmnist because of its extension.*--format NAME"):
        read_events(bin_)


def test_a_sensor_smaller_than_the_events_is_a_clear_error(headerless):
    _, raw, _ = headerless
    with pytest.raises(EventFileError, match=r"x=319, y=319, outside the sensor size given \(100x100\).*at least 320x320"):
        read_events(raw, format="evt2", sensor_size=(100, 100))
    with pytest.raises(EventFileError, match="outside the sensor size given"):
        list(iter_event_chunks(raw, format="evt2", sensor_size="320x100"))
    for bad in ("320", "axb", "0x320", "320x99999"):
        with pytest.raises(SnnStudioError):
            read_events(raw, format="evt2", sensor_size=bad)


def test_cli_info_and_convert_round_trip(headerless, tmp_path, capsys):
    ev, raw, bin_ = headerless
    assert main(["info", str(bin_), "--format", "evt2", "--sensor", "320x320", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format"] == "evt2" and info["sensor_size"] == [320, 320] and info["events"] == len(ev)
    assert info["t_end_us"] == int(ev["t"][-1])

    assert main(["info", str(raw)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "--format NAME --sensor WxH" in err and len(err.strip().splitlines()) == 1

    assert main(["info", str(raw), "--format", "evt2", "--sensor", "64x64"]) == 1
    assert "outside the sensor size given (64x64)" in capsys.readouterr().err

    for out in (tmp_path / "out.aedat4", tmp_path / "out.npz"):  # the streaming writer and the whole-file one
        assert main(["convert", str(raw), str(out), "--in-format", "evt2", "--sensor", "320x320"]) == 0
        back = read_events(out)
        _same_events(back.events, ev)
        assert back.sensor_size == SIZE
    assert main(["convert", str(raw), str(tmp_path / "x.npz"), "--in-format", "evt2", "--sensor", "10x10"]) == 1
    assert "outside the sensor size given (10x10)" in capsys.readouterr().err


def test_source_spec_carries_format_and_sensor(headerless):
    ev, raw, _ = headerless
    spec = file_spec(raw, "EVT2", "320×320")
    assert spec == f"file[format=evt2,sensor=320x320]:{raw}"
    assert parse_file_spec(spec) == (str(raw), "evt2", SIZE)
    assert parse_source_spec(spec) == ("file", str(raw))
    assert file_spec(raw) == str(raw) and parse_file_spec(str(raw)) == (str(raw), None, None)
    player = open_source(spec, realtime=False)
    assert player.sensor_size == SIZE
    _same_events(player.recording.events, ev)
    with pytest.raises(SnnStudioError, match="unknown format 'evt9'"):
        file_spec(raw, "evt9")
    with pytest.raises(SnnStudioError, match="unknown option"):
        parse_file_spec(f"file[colour=red]:{raw}")


def test_gui_and_predict_take_the_options(headerless, capsys, monkeypatch):
    _, raw, _ = headerless
    import snnstudio.gui.app as app

    seen = {}
    monkeypatch.setattr(app, "run_gui", lambda opts: seen.setdefault("path", opts.path) and 0)
    monkeypatch.setattr("snnstudio.gui.platform_check.platform_problem", lambda: None)
    assert main(["gui", str(raw), "--format", "evt2", "--sensor", "320x320"]) == 0
    assert seen["path"] == f"file[format=evt2,sensor=320x320]:{raw}"
    assert main(["gui", "--sensor", "320x320"]) == 1
    assert "describe the recording PATH" in capsys.readouterr().err
    # predict reads the file itself: a wrong sensor fails before any model runs
    assert main(["predict", str(raw), "--model", "tiny", "--format", "evt2", "--sensor", "32x32"]) == 1
    assert "outside the sensor size given (32x32)" in capsys.readouterr().err
    assert main(["predict", f"file[format=evt2,sensor=40x40]:{raw}", "--model", "tiny"]) == 1  # the spec says it too
    assert "outside the sensor size given (40x40)" in capsys.readouterr().err
