"""Background evaluation (engine.evaluation), the metrics history and the stream recorder, each
against an oracle: ``snnstudio.train.evaluate`` called directly, the snapshots themselves, and
the events of the recording that was played."""

from __future__ import annotations

import csv
import io
import json
import threading
from types import SimpleNamespace

import numpy as np
import pytest

from snnstudio.engine.evaluation import EvalRequest, EvaluationJob, write_result
from snnstudio.train.evaluate import data_for

CHEAP = {"sensor": 64, "fps": 200.0, "duration_us": 600_000, "base_bins": 60, "out_size": 16, "per_class": {"test": 3}}


def test_limited_synthetic_split_equals_the_whole_split_limited(tmp_path):
    """``data_for`` with a limit generates only what the limit keeps, and those are exactly the
    whole split's samples, limited; with the whole split cached it reads the cache instead."""
    from snnstudio.train.data import load_dataset, parse_spec

    cfg = SimpleNamespace(T=10, dt_us=60_000, input_size=(2, 16, 16), num_classes=10)
    meta = {"data": "synthetic", "data_options": CHEAP}
    fast = data_for("synthetic:test", cfg, meta, 12, tmp_path / "fast")
    (made,) = (tmp_path / "fast" / "synthetic").glob("*.npz")
    with np.load(made) as z:
        assert len(z["labels"]) == 20  # 2 per class: what a class-balanced 12 needs, not the split's 30
    oracle = load_dataset(parse_spec("synthetic:test"), cfg, options=CHEAP, cache_dir=tmp_path / "full").limit(12)
    np.testing.assert_array_equal(fast.labels, oracle.labels)
    np.testing.assert_array_equal(fast.frames, oracle.frames)
    assert fast.class_names == oracle.class_names and fast.frames.sum() > 0
    again = data_for("synthetic:test", cfg, meta, 12, tmp_path / "full")  # the whole split is cached: read it
    assert len(list((tmp_path / "full" / "synthetic").glob("*.npz"))) == 1
    np.testing.assert_array_equal(again.frames, oracle.frames)


def _run(req: EvalRequest, **callbacks) -> EvaluationJob:
    job = EvaluationJob(req, **callbacks).start()
    assert job.wait(300)
    return job


def test_rows_equal_train_evaluate_called_directly():
    from snnstudio.snn.checkpoints import load_checkpoint
    from snnstudio.train.evaluate import Variant, evaluate_model, parse_variant, resolve_model, variant_model

    rows, progress = [], []
    req = EvalRequest(["default"], "synthetic:test", ["attention=off", "ta=off"], limit=10)
    job = _run(req, on_row=rows.append, on_progress=lambda *a: progress.append(a))
    assert job.error is None and not job.result["cancelled"]
    assert [r["variant"] for r in rows] == ["as trained", "attention=off", "ta=off"] == [r["variant"] for r in job.result["rows"]]
    assert progress[-1] == (3, 3, "eval") and ("data" in {p[2] for p in progress} or len(progress) == 3)
    # the oracle: the same checkpoint, variant and samples through train.evaluate
    model, cfg, meta = load_checkpoint(resolve_model("default"))
    ds = data_for("synthetic:test", cfg, meta, 10, req.cache_dir)
    assert len(ds) == 10 and sorted(ds.labels.tolist()) == list(range(10))
    for row, text in zip(rows, (None, "attention=off", "ta=off")):
        vm, vcfg, _ = variant_model(model, cfg, parse_variant(text) if text else Variant())
        ref = evaluate_model(vm, vcfg, ds)
        for key in ("accuracy", "samples", "spike_count", "firing_rate", "sops", "macs", "energy_uj"):
            assert row[key] == pytest.approx(ref[key]), key
        assert row["confusion"] == ref["confusion"]
        assert row["latency_ms_per_step"] > 0 and row["model"] == "gesture-lif-tcsa"
    # switching attention off changes the figures (the variant reached the model)
    assert rows[1]["spike_count"] != rows[0]["spike_count"]
    # the Source panel's event filters (EvalRequest.filters): the frames of the filtered events
    job = _run(EvalRequest(["default"], "synthetic:test", limit=10, filters="polarity=off"))
    assert job.error is None and job.result["filters"] == "polarity=off"
    ref = evaluate_model(model, cfg, data_for("synthetic:test", cfg, meta, 10, req.cache_dir, filters="polarity=off"))
    (row,) = job.result["rows"]
    assert row["spike_count"] == pytest.approx(ref["spike_count"]) and row["accuracy"] == ref["accuracy"]
    assert row["spike_count"] != rows[0]["spike_count"]


def test_a_job_in_its_own_process_gives_the_same_rows_reports_and_cancels():
    """``process=True`` (the studio's): the rows, progress and notes of the thread job, from a
    spawned process; a cancel reaches it; a bad request is the same one-line error."""
    req = EvalRequest(["default", "gesture-lif-none"], "synthetic:test", ["ta=off"], limit=10)
    got = {kind: {"rows": [], "progress": [], "notes": []} for kind in ("thread", "process")}
    for kind, aside in (("thread", False), ("process", True)):
        g = got[kind]
        job = EvaluationJob(req, on_row=g["rows"].append, on_progress=lambda *a, g=g: g["progress"].append(a),
                            on_error=g["notes"].append, process=aside).start()
        assert job.wait(300) and job.error is None
        g["result"] = job.result
    a, b = got["thread"], got["process"]
    assert len(a["rows"]) >= 3 and [(r["model"], r["variant"]) for r in b["rows"]] == [(r["model"], r["variant"]) for r in a["rows"]]
    for ra, rb in zip(a["rows"], b["rows"]):
        for key in ("accuracy", "samples", "spike_count", "sops", "energy_uj", "confusion"):
            assert ra[key] == rb[key], key
    assert b["progress"][-1] == a["progress"][-1] and b["progress"][-1][2] == "eval"
    assert b["notes"] == a["notes"] and len(a["notes"]) == 1  # ta=off on a model without attention: a note, not the end
    assert [r["variant"] for r in b["result"]["rows"]] == [r["variant"] for r in a["result"]["rows"]]

    started = threading.Event()
    job = EvaluationJob(EvalRequest(["default"], variants=["attention=off"], limit=10, batch_size=1),
                        on_progress=lambda d, t, phase: started.set() if phase == "eval" else None, process=True).start()
    assert started.wait(120)
    job.cancel()
    assert job.wait(60) and job.cancelled
    assert job.result["cancelled"] and len(job.result["rows"]) < 2

    errors = []
    job = EvaluationJob(EvalRequest([], limit=5), on_error=errors.append, process=True).start()
    assert job.wait(60) and job.result is None and errors == [job.error] and "no model to evaluate" in job.error


def test_saved_csv_and_json_read_back(tmp_path):
    from snnstudio.train.evaluate import COLUMNS

    job = _run(EvalRequest(["default"], limit=10))
    write_result(job.result, tmp_path / "t.csv")
    write_result(job.result, tmp_path / "t.json")
    got = list(csv.DictReader(open(tmp_path / "t.csv")))
    assert tuple(got[0]) == COLUMNS and len(got) == 1
    assert float(got[0]["accuracy"]) == job.result["rows"][0]["accuracy"]
    assert float(got[0]["sops"]) == pytest.approx(job.result["rows"][0]["sops"])
    assert json.load(open(tmp_path / "t.json"))["rows"][0]["confusion"] == job.result["rows"][0]["confusion"]
    with pytest.raises(Exception, match="csv or .json"):
        write_result(job.result, tmp_path / "t.xlsx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv", "t.json"]  # no temp files left


def test_cancel_stops_between_batches():
    started = threading.Event()
    job = EvaluationJob(EvalRequest(["default"], variants=["attention=off"], limit=10, batch_size=1),
                        on_progress=lambda d, t, phase: started.set() if phase == "eval" else None).start()
    assert started.wait(120)
    job.cancel()
    assert job.wait(30)
    assert job.result["cancelled"] and len(job.result["rows"]) < 2


def test_bad_requests_are_one_line_errors():
    errors = []
    for req in (EvalRequest(["no-such-model"], limit=5), EvalRequest(["default"], limit=0),
                EvalRequest(["default"], variants=["nosuchmodule=off"], limit=5), EvalRequest([], limit=5),
                EvalRequest(["default"], data="dvsgesture", limit=5)):
        job = _run(req, on_error=errors.append)
        assert job.result is None and job.error
    assert "no model 'no-such-model'" in errors[0]
    assert "at least 1" in errors[1]
    assert "no switchable module matches 'nosuchmodule'" in errors[2]
    assert "no model to evaluate" in errors[3]
    assert "dvsgesture needs a folder" in errors[4]
    assert all("\n" not in e for e in errors)


# ------------------------------------------------------------------ history and stream recording


def _session_on(rec, engine="thread"):
    from snnstudio.engine.process_session import ProcessSession
    from snnstudio.engine.session import Session, SessionConfig

    kind = ProcessSession if engine == "process" else Session
    s = kind(SessionConfig(dt_us=10_000, realtime=False)).start()
    s.set_model("tiny")
    s.open(rec)
    assert s.sync()
    return s


def _bar(duration_us=2_000_000, size=(32, 24)):
    from snnstudio.events.types import EventRecording, Label, make_events

    rng = np.random.default_rng(1)
    n = duration_us // 50
    t = np.sort(rng.integers(0, duration_us, n))
    x = ((t % 1_000_000) / 1_000_000 * size[0]).astype(int)
    y = rng.integers(0, size[1], n)
    return EventRecording(make_events(t, x, y, (rng.random(n) < 0.5).astype(np.int8)), size,
                          labels=[Label(3, 0, duration_us, "bar")])


def test_metrics_history_holds_every_step_and_round_trips():
    from snnstudio.engine.history import HISTORY_COLUMNS, MetricsHistory

    rec = _bar()
    s = _session_on(rec)
    snaps = []
    s.on_snapshot = snaps.append
    s.step(15)
    assert s.sync() and s.wait_for(lambda x: x is not None and x.index >= 14)
    s.close()
    h = MetricsHistory()
    h.add(snaps)
    rows = list(csv.DictReader(io.StringIO(h.to_csv())))
    assert len(rows) == 15 and tuple(rows[0]) == HISTORY_COLUMNS
    for r, snap in zip(rows, snaps):
        assert int(r["index"]) == snap.index and int(r["t_end_us"]) == snap.t_end_us
        assert float(r["firing_rate"]) == pytest.approx(snap.metrics.firing_rate)
        assert int(r["spike_count"]) == snap.metrics.spike_count and int(r["label"]) == 3
        assert float(r["confidence"]) == pytest.approx(snap.confidence)
    assert json.loads(h.to_json())["rows"][-1]["index"] == snaps[-1].index
    from snnstudio.engine.history import history_row

    assert h.rows == [history_row(s) for s in snaps]  # the compact columns give back every value and None
    small = MetricsHistory(capacity=6)  # a full ring keeps the newest rows, oldest first
    small.add(snaps[:4])
    small.add(snaps[4:])
    assert len(small) == 6 and small.rows == [history_row(s) for s in snaps[-6:]]
    h.add([snaps[0]])  # index 0: a new source starts a new history
    assert len(h) == 1 and h.rows == [history_row(snaps[0])]


@pytest.mark.parametrize("engine", ["thread", "process"])
def test_stream_recording_writes_the_played_events(tmp_path, engine):
    from snnstudio.engine.stream_record import StreamRecording
    from snnstudio.events.io import read_events

    rec = _bar()
    s = _session_on(rec, engine)
    seen = []
    s.add_window_tap(seen.append)
    r = StreamRecording(s, tmp_path / "out.aedat4").start()
    s.step(30)
    assert s.sync() and s.wait_for(lambda x: x is not None and x.index >= 29)
    result = r.stop()
    assert s._taps == (seen.append,)  # the recorder's tap is gone, ours stays
    s.close()
    assert result.stopped == "end" and result.events > 0
    back = read_events(tmp_path / "out.aedat4")
    t0, t1 = seen[0].t_start_us, seen[-1].t_end_us
    assert t0 == rec.t_start_us and t1 - t0 == 300_000 and len(seen) == 30
    expected = rec.time_slice(t0, t1)
    assert len(back) == len(expected) == result.events
    for f in ("t", "x", "y", "p"):
        np.testing.assert_array_equal(back.events[f], expected[f])
    assert back.sensor_size == rec.sensor_size
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".csv")) == ["out.aedat4"]


def test_stream_recording_of_n_seconds_and_across_a_loop(tmp_path):
    from snnstudio.engine.stream_record import StreamRecording
    from snnstudio.events.io import read_events

    rec = _bar(duration_us=200_000)
    s = _session_on(rec)
    r = StreamRecording(s, tmp_path / "loop.aedat4", seconds=0.35).start()
    s.play()  # loops: 0.35 s of stream crosses the end of the 0.2 s recording once
    assert r.wait(60)
    s.close()
    res = r.result
    assert res.stopped == "duration" and res.duration_s == pytest.approx(0.35, abs=0.011)
    back = read_events(tmp_path / "loop.aedat4")
    t = back.events["t"]
    assert np.all(np.diff(t.astype(np.int64)) >= 0) and t[-1] < 350_000
    first = rec.events[rec.events["t"] < 200_000]
    np.testing.assert_array_equal(t[: len(first)], first["t"])  # the first pass as played
