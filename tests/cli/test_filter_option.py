"""``--filter`` on the commands: ``convert`` writes what the filter chain makes of the input (the
streaming AEDAT4 path and the whole-file path alike), ``predict --filter X`` on a file is
``predict`` on that file converted with ``--filter X``, and a bad spec is a one-line error."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from snnstudio.cli import main
from snnstudio.events.filters import FilterChain
from snnstudio.events.io import read_events, write_events

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gui"))
from gui_helpers import bar_recording  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.mark.parametrize("out_name", ["out.aedat4", "out.npz"])
@pytest.mark.parametrize("spec", [["polarity=on", "denoise=3ms"], ["refractory=2000; crop=4,2,50,40", "downsample=25x20"],
                                  ["hot"]])
def test_convert_writes_the_chains_output(tmp_path, out_name, spec):
    src = tmp_path / "in.aedat4"
    rec = bar_recording(duration_us=1_000_000)
    rng = np.random.default_rng(0)
    hot = rng.random(len(rec.events)) < 0.05  # one pixel that fires far too often
    rec.events["x"][hot], rec.events["y"][hot] = 7, 9
    write_events(src, rec)
    args = ["convert", str(src), str(tmp_path / out_name)]
    for s in spec:
        args += ["--filter", s]
    assert main(args) == 0
    got = read_events(tmp_path / out_name)
    chain = FilterChain(spec, rec.sensor_size).fit(rec.events)
    want = chain(read_events(src).events)
    assert got.sensor_size == chain.output_size(rec.sensor_size)
    assert len(want) < len(rec.events)
    for f in ("t", "x", "y", "p"):
        assert np.array_equal(got.events[f].astype(np.int64), want[f].astype(np.int64)), f
    if spec == ["hot"]:
        assert not ((got.events["x"] == 7) & (got.events["y"] == 9)).any()


def test_predict_with_a_filter_is_predict_on_the_filtered_file(tmp_path, capsys):
    from dataclasses import replace

    from snnstudio.events.types import make_events

    src = tmp_path / "bar.aedat4"
    rec = bar_recording(duration_us=600_000, size=(128, 128))
    # the first and the last event pass the filters, so both files span the same time (the same windows)
    rec.events["p"][0] = 0
    last = make_events([int(rec.events["t"][-1]) + 10_000], [5], [5], [0])
    write_events(src, replace(rec, events=np.concatenate([rec.events, last])))
    spec = "polarity=off; refractory=3000"
    assert main(["convert", str(src), str(tmp_path / "filtered.aedat4"), "--filter", spec]) == 0
    capsys.readouterr()
    assert main(["predict", str(src), "--json", "--filter", spec]) == 0
    filtered = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert main(["predict", str(tmp_path / "filtered.aedat4"), "--json"]) == 0
    oracle = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert main(["predict", str(src), "--json"]) == 0
    plain = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    steps = [[x for x in lines if x["type"] == "step"] for lines in (filtered, oracle, plain)]
    assert len(steps[0]) > 10 and steps[0] == steps[1]
    assert steps[0] != steps[2]  # the filter changed what the model saw


def test_a_bad_filter_is_one_line(tmp_path, capsys):
    for cmd in (["convert", str(DATA / "io_tonic_like.npz"), str(tmp_path / "o.npz")],
                ["predict", str(DATA / "io_tonic_like.npz")]):
        assert main([*cmd, "--filter", "polarity=maybe"]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert err == ["error: polarity: expected on or off, got 'maybe'"]
    assert not (tmp_path / "o.npz").exists()
