"""CSV/TXT variants (headers, separators, seconds, rpg size line) and label sidecars."""

from __future__ import annotations

import numpy as np
import pytest

from snnstudio.cli import main
from snnstudio.errors import EventFileError, SnnStudioWarning
from snnstudio.events.io import read_events, read_labels, sidecar_path, write_events, write_labels
from snnstudio.events.types import EventRecording, Label


def test_csv_variants(tmp_path):
    p = tmp_path / "a.txt"
    # rpg / e2vid: first line "width height", then t (seconds) x y p, whitespace separated
    p.write_text("240 180\n0.000001 10 20 1\n0.5 11 21 0\n1.25 239 179 1\n")
    rec = read_events(p)
    assert rec.sensor_size == (240, 180)
    assert rec.events["t"].tolist() == [1, 500_000, 1_250_000]
    assert rec.events["x"].tolist() == [10, 11, 239] and rec.events["p"].tolist() == [1, 0, 1]
    assert rec.meta["time_unit_in_file"] == "s"
    # header naming columns in another order, polarity as -1/1, no size: inferred
    p = tmp_path / "b.csv"
    p.write_text("x,y,polarity,timestamp\n3,4,-1,100\n5,6,1,100\n7,8,1,250\n")
    rec = read_events(p)
    assert [tuple(int(v) for v in e) for e in rec.events] == [(100, 3, 4, 0), (100, 5, 6, 1), (250, 7, 8, 1)]
    assert rec.sensor_size == (8, 9) and rec.meta["sensor_size_inferred"]
    # our own format keeps the sensor size and name exactly
    p = tmp_path / "c.csv"
    write_events(p, EventRecording(rec.events, (640, 480), sensor="Prophesee Gen3 #12"))
    back = read_events(p)
    assert back.sensor_size == (640, 480) and back.sensor == "Prophesee Gen3 #12"
    assert p.read_text().splitlines()[:3] == ["# sensor_size=640x480 sensor=Prophesee Gen3 #12", "t,x,y,p",
                                              "100,3,4,0"]


def test_csv_errors(tmp_path):
    p = tmp_path / "e.csv"
    p.write_text("t,x,y,p\n1,2,3,1\n2,oops,3,0\n")
    with pytest.raises(EventFileError, match="line 3: not 4 numbers"):
        read_events(p)
    p.write_text("t,x,y,p\n1,2,3,1\n2,3\n")
    with pytest.warns(SnnStudioWarning, match="truncated"):
        assert len(read_events(p)) == 1
    p.write_text("t,x,y,p,q\n1,2,3,1,5\n")
    with pytest.raises(EventFileError, match="header must name|name the columns"):
        read_events(p)
    p.write_text("t,x,y\n1,2,3\n")
    with pytest.raises(EventFileError):
        read_events(p)
    p.write_text("t,x,y,p\n1,2.5,3,1\n")
    with pytest.raises(EventFileError, match="non-integer x=2.5"):
        read_events(p)
    p.write_text("t,x,y,p\n5,2,3,1\n4,2,3,1\n")
    with pytest.raises(EventFileError, match="backwards at event 1"):
        read_events(p)
    p.write_text("t,x,y,p\n")
    with pytest.raises(EventFileError, match="no events"):
        read_events(p)


def test_labels_read_write_and_attach_to_any_format(tmp_path, labelled):
    assert labelled.labels
    for name in ("r.aedat4", "r.aedat", "r.h5", "r.npz", "r.csv", "r.raw"):
        path = tmp_path / name
        write_events(path, labelled)
        assert sidecar_path(path) == tmp_path / "r_labels.csv"
        assert read_events(path).labels == labelled.labels
    text = (tmp_path / "r_labels.csv").read_text().splitlines()
    t0 = 1_700_000_000_000_000  # the fixture's clock origin
    assert text[0] == "class,startTime_usec,endTime_usec"
    assert text[1] == f"1,{t0 + 100_000},{t0 + 600_000}"
    named = [Label(1, 10, 20, "hand_clapping"), Label(2, 20, 30)]
    write_labels(tmp_path / "n.csv", named)
    assert read_labels(tmp_path / "n.csv") == named
    assert (tmp_path / "n.csv").read_text().splitlines()[0] == "class,startTime_usec,endTime_usec,name"


def test_labels_errors(tmp_path, labelled):
    p = tmp_path / "l.csv"
    for text, problem in (
        ("start,end\n1,2\n", "must start with the header"),
        ("class,startTime_usec,endTime_usec\n1,abc,5\n", "line 2: not integers"),
        ("class,startTime_usec,endTime_usec\n1,5\n", "line 2: expected class,start_us,end_us"),
        ("class,startTime_usec,endTime_usec\n1,10,5\n", "ends at 5 µs, not after its start 10"),
        ("class,startTime_usec,endTime_usec\n1,10,50\n2,40,60\n", "labels must be ordered"),
        ("class,startTime_usec,endTime_usec\n1,10,50\n2,60,70,x\n", "expected class,start_us,end_us"),
    ):
        p.write_text(text)
        with pytest.raises(EventFileError, match=problem) as exc:
            read_labels(p)
        assert "l.csv" in str(exc.value)
    # a sidecar whose ranges lie outside the recording is refused when the recording is read
    rec_path = tmp_path / "r.npz"
    write_events(rec_path, EventRecording(labelled.events, labelled.sensor_size))
    sidecar_path(rec_path).write_text("class,startTime_usec,endTime_usec\n3,10,20\n")
    with pytest.raises(EventFileError, match="not inside the recording"):
        read_events(rec_path)
    with pytest.raises(EventFileError, match="not after its start"):
        write_events(tmp_path / "w.npz", EventRecording(labelled.events, labelled.sensor_size,
                                                        labels=[Label(1, 50, 50)]))
    assert not (tmp_path / "w.npz").exists()


def test_info_shows_sidecar_labels(tmp_path, labelled, capsys):
    import json

    path = tmp_path / "g.aedat"
    write_events(path, labelled)
    assert main(["info", "--json", str(path)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["labels"] == [{"class": lab.class_id, "name": lab.name, "start_us": lab.start_us,
                               "end_us": lab.end_us} for lab in labelled.labels]
    assert info["events"] == len(labelled) and info["on"] == labelled.n_on and info["off"] == labelled.n_off
    assert info["t_start_us"] == labelled.t_start_us and info["t_end_us"] == labelled.t_end_us
    assert main(["info", str(path)]) == 0
    text = capsys.readouterr().out
    assert "aedat3" in text and f"{len(labelled):,}" in text and "class 7" in text


def test_csv_round_trip_large_values(tmp_path):
    from snnstudio.events.types import make_events

    ev = make_events([1_718_320_899_149_165, 1_718_320_899_149_166], [0, 1279], [719, 0], [1, 0])
    rec = EventRecording(ev, (1280, 720))
    write_events(tmp_path / "big.csv", rec)
    np.testing.assert_array_equal(read_events(tmp_path / "big.csv").events, ev)
