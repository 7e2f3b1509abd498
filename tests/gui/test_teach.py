"""The Teach panel: examples cut from snapshots as the model would see them, the fine-tuning job
(progress, cancel, in a process), and the panel end to end on the synthetic live source."""

from __future__ import annotations

import numpy as np
import pytest

from snnstudio.engine.teach import ExampleRecorder, FinetuneJob, FinetuneRequest, pool_counts
from snnstudio.engine.windows import count_frame
from snnstudio.events.types import make_events


def _events(n, size, t_end, seed=0):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, t_end, n))
    return make_events(t, rng.integers(0, size[0], n), rng.integers(0, size[1], n), rng.integers(0, 2, n).astype(np.int8))


@pytest.mark.parametrize("box,out_hw", [((10, 6, 50, 40), (32, 32)), (None, (16, 16)), ((0, 0, 64, 48), (8, 8))])
def test_example_from_snapshots_is_what_the_runner_bins(box, out_hw):
    """Snapshot frames (10 ms count frames of the whole sensor) summed into T frames of 150 ms,
    cut to the box and pooled, equal the runner's ``bin_steps`` on the same events."""
    from snnstudio.engine.runner import ModelRunner
    from snnstudio.engine.tiny_model import TinySpikingNet

    size = (64, 48)  # (W, H)
    T, dt, step = 4, 150_000, 10_000
    t0 = 70_000
    ev = _events(40_000, size, t0 + T * dt + 50_000)
    runner = ModelRunner(TinySpikingNet(3), input_hw=out_hw, sensor_hw=(size[1], size[0]))
    runner.set_input_map(box)
    want = runner.bin_steps(ev, size, t0, T, dt)
    rec = ExampleRecorder(T, dt, box, out_hw)
    t = t0
    while not rec.done:
        win = ev[(ev["t"] >= t) & (ev["t"] < t + step)]
        rec.feed(t, t + step, count_frame(win, size))
        t += step
    assert rec.t0 == t0 and t == t0 + T * dt
    got = rec.example
    assert got.dtype == np.uint16 and got.shape == (T, 2, *out_hw)
    assert got.sum() > 1000
    np.testing.assert_array_equal(got, want)


def test_pool_counts_by_hand():
    f = np.zeros((2, 4, 6))
    f[1, 0, 0] = 1
    f[1, 1, 1] = 2  # same 2×3 block as (0, 0)
    f[0, 3, 5] = 5
    f[0, 0, 5] = 7  # outside the box (x0=0, y0=1, w=6, h=3)
    out = pool_counts(f, (0, 1, 6, 3), (1, 2))
    assert out.tolist() == [[[0, 5]], [[2, 0]]]
    assert pool_counts(f, None, (2, 2))[1].tolist() == [[3, 0], [0, 0]]


def test_recorder_restarts_when_time_goes_back():
    rec = ExampleRecorder(2, 100, None, (2, 2))
    one = np.ones((2, 2, 2))
    rec.feed(1000, 1100, one)
    rec.feed(500, 600, one)  # a seek back: start again at 500
    assert rec.restarts == 1 and rec.t0 == 500 and not rec.done
    assert rec.feed(600, 700, 2 * one)
    assert rec.example[:, 0, 0, 0].tolist() == [1, 2] and rec.gap_us == 0


def test_recorder_counts_dropped_snapshots():
    rec = ExampleRecorder(3, 100, None, (2, 2))
    one = np.ones((2, 2, 2))
    rec.feed(0, 50, one)
    rec.feed(120, 170, one)  # 50..120 missing
    assert not rec.done and rec.gap_us == 70
    assert rec.feed(250, 300, one)
    assert rec.gap_us == 150 and rec.example[:, 0, 0, 0].tolist() == [1, 1, 1]


def _synthetic_examples(per_class=3):
    """Framed synthetic gestures for the default model: ``(frames, labels)``, two classes."""
    from snnstudio.snn.checkpoints import read_checkpoint_json
    from snnstudio.engine.teach import resolve_checkpoint

    cfg, _ = read_checkpoint_json(resolve_checkpoint("default"))
    rng = np.random.default_rng(1)
    T, (c, h, w) = cfg.T, cfg.input_size
    frames, labels = [], []
    for k, name in enumerate(cfg.class_names[:2]):
        for _ in range(per_class):
            x = rng.poisson(0.3, (T, c, h, w)).astype(np.uint16)
            x[:, k % 2, :, (k * 8):(k * 8 + 8)] += 3
            frames.append(x)
            labels.append(name)
    return np.stack(frames), labels, list(cfg.class_names), cfg.dt_us


def test_finetune_job_in_a_process_reports_and_cancels(tmp_path):
    """The job as the studio runs it: a spawned process (torch there), progress relayed, cancel
    stops it with nothing saved."""
    frames, labels, classes, dt = _synthetic_examples(2)
    req = FinetuneRequest("default", frames, labels, classes, dt, out="should-not-exist", epochs=200, copies=2)
    seen = []
    ended = []
    job = FinetuneJob(req, on_progress=lambda p: (seen.append(p), job.cancel()), on_done=ended.append,
                      on_error=ended.append, on_cancelled=lambda: ended.append("cancelled"), process=True).start()
    assert job.wait(120)
    assert ended == ["cancelled"] and job.was_cancelled and job.result is None
    assert seen and seen[0]["epochs"] == 200 and 0 <= seen[0]["accuracy"] <= 1
    from snnstudio.snn.checkpoints import user_models_dir

    assert not (user_models_dir() / "should-not-exist.json").exists()


def test_finetune_job_refuses_the_tiny_model():
    frames, labels, classes, dt = _synthetic_examples(1)
    errors = []
    job = FinetuneJob(FinetuneRequest("tiny", frames, labels, classes, dt, out="x"), on_error=errors.append,
                      process=False).start()
    assert job.wait(60)
    assert errors and "not a trained checkpoint" in errors[0]


# ------------------------------------------------------------------------------------------------
# the panel, end to end


@pytest.fixture
def teach(qtbot):
    """A studio window on the live synthetic source with the default model; its Teach panel."""
    from snnstudio.engine.session import SessionConfig
    from snnstudio.gui.main_window import MainWindow
    from snnstudio.gui.session_model import SessionModel

    model = SessionModel(SessionConfig(speed=4.0))
    win = MainWindow(model, settings=None)
    qtbot.addWidget(win)
    model.start()
    model.open("synthetic")
    win.show()
    panel = win.teach
    panel.countdown_s = 0
    panel.epochs = 3
    panel.copies = 2
    model.play()
    qtbot.waitUntil(lambda: panel.framing() is not None and model.last is not None, timeout=60_000)
    yield panel
    model.close()


def _record(qtbot, panel, name):
    n = panel.count(name)
    with qtbot.waitSignal(panel.recorded, timeout=30_000):
        panel.record_button(name).click()
    assert panel.count(name) == n + 1


def test_teach_panel_records_fine_tunes_and_loads_the_taught_model(qtbot, teach):
    panel, model = teach, teach.model
    T, dt, hw = panel.framing()
    assert (T, dt, hw) == (10, 150_000, (32, 32))
    old = list(model.state.model.class_names)
    # an empty new class, and a single class with examples: said, nothing started
    assert panel.add_class("wave_hello")
    assert not panel.add_class("wave_hello")
    panel.tune_button.click()
    assert "wave_hello has no examples" in panel.status.text() and panel.job is None
    _record(qtbot, panel, "wave_hello")
    assert panel.examples["wave_hello"][0].shape == (T, 2, *hw) and panel.examples["wave_hello"][0].sum() > 0
    panel.tune_button.click()
    assert "at least 2 classes" in panel.status.text() and panel.job is None
    _record(qtbot, panel, "wave_hello")
    _record(qtbot, panel, old[0])
    _record(qtbot, panel, old[0])
    # delete one, record it again
    panel.delete_example(old[0], 1)
    assert panel.count(old[0]) == 1
    _record(qtbot, panel, old[0])
    progress = []
    panel.progress.valueChanged.connect(progress.append)
    with qtbot.waitSignal(panel.finished, timeout=120_000) as done:
        panel.tune_button.click()
        assert panel.running and not panel.tune_button.isEnabled()
    res = done.args[0]
    assert res is not None, panel.status.text()
    assert res["classes"] == old + ["wave_hello"] and res["before"] is not None
    assert progress and max(progress) >= 1 and panel.progress.format() == "done"
    assert panel.progress.value() == panel.progress.maximum() and panel.tune_button.isEnabled()
    qtbot.waitUntil(lambda: model.state.model is not None and "wave_hello" in model.state.model.class_names,
                    timeout=60_000)
    assert model.model_spec == res["json"]
    assert "held-out accuracy" in panel.status.text() and "loaded now" in panel.status.text()
    # the panel now lists the taught model's classes, the added one no longer "new"
    qtbot.waitUntil(lambda: "wave_hello" in (panel._info.class_names if panel._info else ()), timeout=10_000)
    assert panel.added == [] and panel.count("wave_hello") == 2
    # the examples were saved beside the taught checkpoint, which names them; they reopen from it
    from pathlib import Path

    from snnstudio.engine.teach_store import load_examples
    from snnstudio.snn.checkpoints import read_checkpoint_json

    assert Path(res["examples"]).parent == Path(res["json"]).parent / "examples"
    assert "examples saved as" in panel.status.text()
    assert read_checkpoint_json(res["json"])[1]["examples"] == "examples/" + Path(res["examples"]).name
    import warnings

    from snnstudio.snn.checkpoints import bundled_checkpoints

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the examples' sidecar is never read as a broken checkpoint
        assert any(c["json"] == res["json"] for c in bundled_checkpoints())
    saved = load_examples(res["json"])
    assert saved.counts() == {old[0]: 2, "wave_hello": 2} and saved.model == "default"
    for ex, want in zip(saved.examples, panel.examples[old[0]] + panel.examples["wave_hello"]):
        np.testing.assert_array_equal(ex.frames, want)


def test_teach_panel_cancel_keeps_the_old_model(qtbot, teach):
    panel, model = teach, teach.model
    old_name = model.state.model.name
    panel.epochs = 400
    _record(qtbot, panel, panel.classes[0])
    _record(qtbot, panel, panel.classes[1])
    with qtbot.waitSignal(panel.finished, timeout=120_000) as done:
        panel.tune_button.click()
        qtbot.waitUntil(lambda: "epoch" in panel.progress.format(), timeout=60_000)
        panel.cancel_button.click()
    assert done.args[0] is None
    assert "cancelled" in panel.status.text() and "old model keeps running" in panel.status.text()
    assert panel.tune_button.isEnabled() and model.model_spec is None and model.state.model.name == old_name


def test_teach_panel_says_the_tiny_model_cannot_be_taught(qtbot, teach):
    panel, model = teach, teach.model
    model.set_model("tiny")
    qtbot.waitUntil(lambda: model.state.model is not None and model.state.model.name == "tiny", timeout=30_000)
    qtbot.waitUntil(lambda: panel._info is not None and panel._info.name == "tiny", timeout=10_000)
    assert "not a trained checkpoint" in panel.header.text()
    panel.add_class("a")
    panel.add_class("b")
    panel.examples = {"a": [np.zeros((1,))], "b": [np.zeros((1,))]}
    panel.tune_button.click()
    assert "not a fine-tunable checkpoint" in panel.status.text() and panel.job is None


# ------------------------------------------------------------------------------------------------
# saved examples (issue 18): AEDAT4 + labels sidecar + teaching sidecar, reopened and extended


def test_examples_file_round_trip_and_clear_errors(tmp_path):
    """Frames → events → AEDAT4 (faery) → events → the same frames; the labels sidecar names each
    example's range; a missing or broken sidecar, or a checkpoint without examples, is one line."""
    from snnstudio.engine.teach_store import (ExampleSet, ExamplesFileError, TaughtExample, events_to_frames,
                                              frames_to_events, load_examples, save_examples)
    from snnstudio.events.io import read_events

    rng = np.random.default_rng(4)
    T, dt, hw = 5, 150_000, (12, 16)
    items = [TaughtExample(n, rng.poisson(0.7, (T, 2, *hw)).astype(np.uint16), src, rate)
             for n, src, rate in (("wave", 3_000_000, 0.25), ("push", None, 1.0), ("wave", 9_100_000, 0.5))]
    items[1].frames[2] = 0  # an empty frame
    path = save_examples(tmp_path / "session", ExampleSet(T, dt, hw, items, "default", ["push", "pull"]))
    assert path == tmp_path / "session.aedat4"
    rec = read_events(path)  # the file as any recording: the labels sidecar comes with it
    assert rec.sensor_size == (16, 12)
    assert [(lab.name, lab.class_id, lab.start_us, lab.end_us) for lab in rec.labels] == [
        ("wave", 2, 0, T * dt), ("push", 0, T * dt, 2 * T * dt), ("wave", 2, 2 * T * dt, 3 * T * dt)]
    want = np.concatenate([frames_to_events(ex.frames, i * T * dt, dt) for i, ex in enumerate(items)])
    np.testing.assert_array_equal(rec.events, want)  # the events written are the events read
    for i, ex in enumerate(items):
        np.testing.assert_array_equal(events_to_frames(rec.events, hw, i * T * dt, T, dt), ex.frames)
    back = load_examples(path)
    assert (back.T, back.dt_us, back.input_hw, back.model) == (T, dt, hw, "default")
    assert back.classes == ["push", "pull", "wave"] and back.counts() == {"wave": 2, "push": 1}
    for a, b in zip(items, back.examples):
        assert (b.name, b.source_t_start_us, b.rate_factor) == (a.name, a.source_t_start_us, a.rate_factor)
        np.testing.assert_array_equal(b.frames, a.frames)
    assert load_examples(tmp_path / "session.json").counts() == back.counts()

    side, ckpt = tmp_path / "session.json", tmp_path / "plain.json"
    for target, text, message in (  # (file written, its text or None to remove it, the one-line error)
            (side, "{not json", r"session.json: the examples' sidecar is not valid JSON"),
            (side, '{"format": "snnstudio-teach-examples", "version": 1, "T": 5, "dt_us": 150000}',
             r"not a teaching sidecar snnstudio can read \(no 'input_hw' field\)"),
            (side, None, r"session.json: the examples' sidecar is missing"),
            (ckpt, '{"format": "snnstudio-checkpoint", "meta": {}}', r"a checkpoint without saved examples"),
            (ckpt, '{"format": "snnstudio-checkpoint", "meta": {"examples": "../elsewhere/x.aedat4"}}',
             r"names examples outside its folder")):
        if text is None:
            target.unlink()
        else:
            target.write_text(text)
        with pytest.raises(ExamplesFileError, match=message):
            load_examples(path if target is side else ckpt)


def test_teach_panel_saves_and_a_fresh_panel_reopens_the_examples(qtbot, teach, tmp_path, monkeypatch):
    from snnstudio.engine.teach_store import frames_to_events
    from snnstudio.events.io import read_events
    from snnstudio.gui.panels.teach import TeachPanel

    panel, model = teach, teach.model
    T, dt, hw = panel.framing()
    a, b = panel.classes[:2]
    assert panel.add_class("thumbs_up")
    for name in (a, "thumbs_up", "thumbs_up"):
        _record(qtbot, panel, name)
    recorded = {n: [x.copy() for x in panel.examples[n]] for n in (a, "thumbs_up")}
    assert all(t0 is not None and 0 < rate <= 1 for n in recorded for t0, rate in panel.origins[n])
    monkeypatch.setattr("PySide6.QtWidgets.QFileDialog.getSaveFileName",
                        lambda *args, **kw: (str(tmp_path / "my-session.aedat4"), ""))
    panel.save_button.click()
    path = tmp_path / "my-session.aedat4"
    assert path.is_file() and "saved 3 examples" in panel.status.text()
    # the file holds exactly the recorded examples' events, one after another
    rec = read_events(path)
    order = [(a, recorded[a][0]), ("thumbs_up", recorded["thumbs_up"][0]), ("thumbs_up", recorded["thumbs_up"][1])]
    want = np.concatenate([frames_to_events(x, i * T * dt, dt) for i, (_, x) in enumerate(order)])
    np.testing.assert_array_equal(rec.events, want)
    assert [lab.name for lab in rec.labels] == [n for n, _ in order]

    fresh = TeachPanel(model)
    qtbot.addWidget(fresh)
    fresh.show_model(model.state.model)
    assert fresh.count(a) == 0 and "thumbs_up" not in fresh.classes
    monkeypatch.setattr("PySide6.QtWidgets.QFileDialog.getOpenFileName", lambda *args, **kw: (str(path), ""))
    fresh.reopen_button.click()
    assert "reopened 3 examples" in fresh.status.text(), fresh.status.text()
    assert fresh.count(a) == 1 and fresh.count("thumbs_up") == 2 and fresh.count(b) == 0
    assert fresh.added == ["thumbs_up"]  # the saved new class is back as a new class
    for n, xs in recorded.items():
        for x, y in zip(xs, fresh.examples[n]):
            np.testing.assert_array_equal(y, x)
        assert fresh.origins[n] == panel.origins[n]
    # extended: one more example of a model class, then the request carries all four
    _record(qtbot, fresh, b)
    req = fresh.request()
    assert sorted(req.labels) == sorted([a, b, "thumbs_up", "thumbs_up"]) and len(req.rate_factors) == 4
    # a missing / broken sidecar: said in one line, nothing added
    (tmp_path / "my-session.json").write_text("[]")
    assert not fresh.reopen_examples(path)
    assert "cannot reopen the examples" in fresh.status.text() and "not a teaching sidecar" in fresh.status.text()
    (tmp_path / "my-session.json").unlink()
    assert not fresh.reopen_examples(path)
    assert "sidecar is missing" in fresh.status.text() and fresh.count("thumbs_up") == 2
