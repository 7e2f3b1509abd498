"""``snnstudio predict``: its timeline is the session's own, time to recognition on hand-worked
timelines, labels from a real-video labels.csv, sets of clips, and one-line errors."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from snnstudio.cli import main
from snnstudio.engine.predict import Gesture, Step, score_gesture, summarize, time_to_recognition

DATA = Path(__file__).resolve().parents[1] / "data"
CLIPS = DATA / "videos"


def _session_snapshots(target, model="default"):
    """The oracle: a Session driven by hand, flat out to the end, every snapshot it makes."""
    from snnstudio.engine.session import Session, SessionConfig

    snaps, ended = [], threading.Event()
    s = Session(SessionConfig(realtime=False, loop=False), on_snapshot=snaps.append,
                on_state=lambda st: st.ended and ended.set())
    s.start()
    try:
        s.set_model(model)
        s.open(target)
        assert s.sync(60) and not s.messages
        s.play()
        assert ended.wait(120), "the session did not reach the end"
        assert not s.messages
    finally:
        s.close()
    return snaps


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_timeline_is_the_sessions_own_snapshots_on_a_video(capsys):
    source = f"video:{CLIPS / 'left.mp4'}"
    oracle = _session_snapshots(source)
    assert main(["predict", source, "--json"]) == 0
    lines = _json_lines(capsys.readouterr().out)
    steps = [x for x in lines if x["type"] == "step"]
    assert len(steps) == len(oracle) > 100  # 1.45 s of video in 10 ms steps
    assert [s["t_end_us"] for s in steps] == [o.t_end_us for o in oracle]
    assert [s["class"] for s in steps] == [o.predicted for o in oracle]
    names = oracle[-1].class_names
    for s, o in zip(steps, oracle):
        assert np.allclose([s["probabilities"][n] for n in names], o.probabilities, atol=1e-5)
        assert s["confidence"] == pytest.approx(o.confidence, abs=1e-5)
    assert lines[-1]["type"] == "summary" and lines[-1]["steps"] == len(oracle)


def test_a_video_opened_by_its_path_plays_as_video():
    """The file dialog and drag and drop give a bare path: an .mp4 is the video source, not an
    event file (the same windows, events and predictions as ``video:PATH``)."""
    bare = _session_snapshots(str(CLIPS / "left.mp4"))
    spec = _session_snapshots(f"video:{CLIPS / 'left.mp4'}")
    assert len(bare) == len(spec) > 100
    assert [b.t_end_us for b in bare] == [s.t_end_us for s in spec]
    assert [b.n_events for b in bare] == [s.n_events for s in spec]
    assert [b.predicted for b in bare] == [s.predicted for s in spec]


def test_timeline_of_a_labelled_recording_scores_its_own_labels(capsys, tmp_path):
    import shutil

    path = tmp_path / "rec.aedat"
    shutil.copy(DATA / "io_gesture_like.aedat", path)
    (tmp_path / "rec_labels.csv").write_text("class,startTime_usec,endTime_usec,name\n"
                                             "6,2147133648,2147383648,wave\n9,2147483648,2147783648,other\n")
    oracle = _session_snapshots(str(path))
    assert main(["predict", str(path), "--json"]) == 0
    lines = _json_lines(capsys.readouterr().out)
    steps = [x for x in lines if x["type"] == "step"]
    assert [(s["t_end_us"], s["class"], s["label"]) for s in steps] == [(o.t_end_us, o.predicted, o.label) for o in oracle]
    from snnstudio.events.io import read_events

    labels = read_events(path).labels
    gestures = [x for x in lines if x["type"] == "gesture"]
    assert len(gestures) == len(labels) > 0
    # the prediction at each gesture's end is the oracle's last step ending inside it
    for g, lb in zip(gestures, labels):
        inside = [o for o in oracle if lb.start_us < o.t_end_us <= lb.end_us]
        want = inside[-1].predicted if inside else None
        assert g["predicted"] == (oracle[0].class_names[want] if want is not None else None)


def _steps(preds, dt=100, t0=0):
    return [Step(t0 + i * dt, t0 + (i + 1) * dt, p, 0.5) for i, p in enumerate(preds)]


def test_time_to_recognition_on_a_hand_made_timeline():
    # steps end at 100, 200, ... 1000 µs; the gesture is [250, 850): its steps end at 300..800
    steps = _steps([1, 1, 2, 1, 3, 2, 2, 2, 2, 0])
    # ends:       100 200 300 400 500 600 700 800 900 1000
    # within (250, 850]: 300→2, 400→1, 500→3, 600→2, 700→2, 800→2: right (2) from 600 on
    assert time_to_recognition(steps, 2, 250, 850) == 600 - 250
    r = score_gesture(steps, Gesture(2, 250, 850, "b"))
    assert (r.predicted, r.correct, r.ttr_us, r.steps) == (2, True, 350, 6)
    # wrong at the end (the step ending at 900 says 2, the one at 1000 says 0): never recognised
    assert time_to_recognition(steps, 2, 250, 1000) is None
    assert score_gesture(steps, Gesture(2, 250, 1000)).correct is False
    # right from its first step: the time of that step's end
    assert time_to_recognition(steps, 1, 0, 200) == 100
    # no step ends inside: None
    assert time_to_recognition(steps, 1, 1000, 1500) is None
    assert score_gesture(steps, Gesture(1, 1000, 1500)).predicted is None
    # a flat read-out (None) is never right
    assert time_to_recognition(_steps([None, None]), 0, 0, 200) is None


def test_summary_separates_motion_from_other():
    names = ["left", "right", "other"]
    steps = _steps([0] * 10 + [2] * 10 + [1] * 10)
    results = [score_gesture(steps, g) for g in (
        Gesture(0, 0, 1000),       # right from 100: ttr 100
        Gesture(0, 1000, 2000),    # says other: wrong
        Gesture(2, 1000, 2000),    # other, right from 1100: ttr 100
        Gesture(1, 1500, 3000),    # right from 2100: ttr 600
    )]
    s = summarize(results, names)
    assert s["accuracy"] == 0.75
    assert (s["motion_gestures"], s["motion_accuracy"]) == (3, pytest.approx(2 / 3))
    assert (s["other_gestures"], s["other_accuracy"]) == (1, 1.0)
    assert s["median_ttr_ms"] == pytest.approx((100 + 600) / 2 / 1000)  # recognised motion gestures only
    assert s["median_ttr_ms_all"] == pytest.approx(100 / 1000)
    assert s["per_class"]["left"] == {"accuracy": 0.5, "samples": 2}


def test_labels_csv_naming_the_video_gives_its_gesture_in_microseconds(capsys):
    assert main(["predict", f"video:{CLIPS / 'left.mp4'}", "--labels", str(CLIPS / "labels.csv"), "--json"]) == 0
    lines = _json_lines(capsys.readouterr().out)
    (g,) = [x for x in lines if x["type"] == "gesture"]
    assert (g["label"], g["start_us"], g["end_us"]) == ("swipe_left", 200_000, 1_250_001)  # frames 4..25 at 20 fps
    steps = [Step(x["t_start_us"], x["t_end_us"], x["class"], x["confidence"]) for x in lines if x["type"] == "step"]
    names = list(lines[0]["probabilities"])
    want = score_gesture(steps, Gesture(names.index("swipe_left"), 200_000, 1_250_001))
    assert g["correct"] == want.correct
    assert g["ttr_ms"] == (None if want.ttr_us is None else want.ttr_us / 1000)


def test_a_video_in_a_labelled_folder_is_scored_without_labels_given(capsys):
    assert main(["predict", f"video:{CLIPS / 'left.mp4'}", "--json"]) == 0
    lines = _json_lines(capsys.readouterr().out)
    (g,) = [x for x in lines if x["type"] == "gesture"]
    assert (g["label"], g["start_us"], g["end_us"]) == ("swipe_left", 200_000, 1_250_001)  # from CLIPS/labels.csv


def test_a_set_of_clips_gives_one_row_per_clip_and_a_summary(capsys, tmp_path):
    out = tmp_path / "clips.csv"
    assert main(["predict", f"videos:{CLIPS}", "--json"]) == 0
    lines = _json_lines(capsys.readouterr().out)
    rows = [x for x in lines if x["type"] == "clip"]
    assert [r["file"] for r in rows] == ["right.mp4", "left.mp4", "up.avi", "still.mp4"]
    assert [r["label"] for r in rows] == ["swipe_right", "swipe_left", "swipe_up", "other"]
    summary = lines[-1]
    assert summary["type"] == "summary" and summary["gestures"] == 4
    assert summary["accuracy"] == pytest.approx(sum(r["correct"] for r in rows) / 4)
    assert summary["other_accuracy"] == float(rows[3]["correct"])
    assert summary["motion_accuracy"] == pytest.approx(sum(r["correct"] for r in rows[:3]) / 3)
    # a clip labelled to frame 25 stops there: its last step ends at or just after the gesture's end
    assert rows[1]["end_us"] == 1_250_001
    # the same rows as a CSV (a folder with a labels.csv is a set of clips too)
    assert main(["predict", str(CLIPS), "--csv", str(out)]) == 0
    text = out.read_text().splitlines()
    assert text[0].startswith("file,label,start_us,end_us,predicted,correct") and len(text) == 5


@pytest.mark.parametrize("argv, message", [
    (["predict", "video:/no/such/clip.mp4"], "no such video file"),
    (["predict", "/no/such/recording.aedat4"], "no such file"),
    (["predict", f"video:{CLIPS / 'left.mp4'}", "--roi", "0.5,0.5"], "--roi takes CX,CY,SIDE"),
    (["predict", f"video:{CLIPS / 'left.mp4'}", "--roi", "0.5,0.5,2"], "size must be in (0, 1]"),
    (["predict", "videos:/no/such/folder"], "no such labels file"),
])
def test_bad_input_is_one_line(capsys, argv, message):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err


def test_labels_that_name_another_file_are_a_clear_error(capsys, tmp_path):
    bad = tmp_path / "labels.csv"
    bad.write_text("file,label,start_frame,end_frame,fps\nother.mp4,wave,1,5,20\n")
    assert main(["predict", f"video:{CLIPS / 'left.mp4'}", "--labels", str(bad)]) == 1
    assert "no row names left.mp4" in capsys.readouterr().err
    bad.write_text("file,label,start_frame,end_frame,fps\nleft.mp4,wave,9,5,20\n")
    assert main(["predict", f"video:{CLIPS / 'left.mp4'}", "--labels", str(bad)]) == 1
    assert "end_frame 5 is before start_frame 9" in capsys.readouterr().err


def test_roi_and_mirror_flags_reach_the_sessions_preprocessing(capsys):
    from snnstudio.commands.predict import add_arguments, preprocess_of
    import argparse

    p = argparse.ArgumentParser()
    add_arguments(p)
    pre = preprocess_of(p.parse_args(["x", "--roi", "0.25,0.5,0.5", "--no-mirror"]))
    assert pre.roi == (0.25, 0.5, 0.5) and pre.mirror is False
    assert preprocess_of(p.parse_args(["x"])).mirror is None  # the source kind decides (webcams mirrored)
    # 64×48 clip: the largest square is 48×48, half of it 24×24, centred at (16, 24)
    assert main(["predict", f"video:{CLIPS / 'left.mp4'}", "--roi", "0.25,0.5,0.5", "--seconds", "0.2", "--json"]) == 0
    lines = _json_lines(capsys.readouterr().out)
    assert "ROI 24×24 at (4, 12)" in lines[-1]["preprocess"]
    assert lines[-1]["steps"] == 20


def test_the_last_step_of_a_whole_clip_is_evals_sample_of_it():
    """Both paths frame the same events: a whole 20 fps clip ends at 1 450 001 µs, on the 10 ms step
    grid (steps end at 1 + k·10 000), so predict's last step sees the T frames eval's loader makes
    for that clip, and its probabilities are the model's read-out of eval's sample."""
    import torch

    from snnstudio.engine.predict import Predictor
    from snnstudio.engine.runner import rates_to_probabilities
    from snnstudio.snn.checkpoints import load_checkpoint
    from snnstudio.snn.layers import reset_states
    from snnstudio.train.evaluate import resolve_model
    from snnstudio.train.trainer import to_input
    from snnstudio.train.videos import load_videos

    model, cfg, _ = load_checkpoint(resolve_model("default"))
    ds = load_videos(CLIPS, cfg.T, cfg.dt_us, tuple(cfg.input_size[1:]), cfg.class_names, cache_dir=None)
    with torch.no_grad():
        reset_states(model)
        rates = model(to_input(torch.from_numpy(ds.frames.astype(np.int32)), "cpu")).numpy()
    with Predictor("default") as p:
        for i in (0, 3):  # right.mp4 and still.mp4: labelled as whole clips
            tl = p.run(f"video:{ds.info['clips'][i]}")
            last = tl.steps[-1]
            assert last.t_end_us == 1_450_001
            assert np.allclose(last.probabilities, rates_to_probabilities(rates[i]), atol=1e-5)
            assert last.predicted == int(np.argmax(rates[i]))


def test_a_live_sources_step_labels_become_gesture_ranges():
    from snnstudio.engine.predict import labels_from_steps

    steps = [Step(i * 10, (i + 1) * 10, 0, 0.5, (), lab) for i, lab in enumerate([None, 3, 3, 3, None, None, 5, 5, 3])]
    labels = labels_from_steps(steps, {3: "wave", 5: "push"})
    assert [(lb.class_id, lb.start_us, lb.end_us, lb.name) for lb in labels] == [
        (3, 10, 40, "wave"), (5, 60, 80, "push"), (3, 80, 90, "wave")]


def test_a_labelled_video_shows_its_ground_truth_in_the_studio():
    """A video named in a labels.csv (of its folder or one above) plays with its labels: the
    steps inside the gesture's frames carry it (as the model's class id), the others none."""
    snaps = _session_snapshots(f"video:{CLIPS / 'left.mp4'}")  # left.mp4: swipe_left, frames 4–25 at 20 fps
    names = snaps[-1].class_names
    inside = [s for s in snaps if s.t_start_us >= 300_000 and s.t_end_us <= 1_200_000]
    before = [s for s in snaps if s.t_end_us <= 150_000]
    after = [s for s in snaps if s.t_start_us >= 1_350_000]
    assert inside and before and after
    assert {s.label for s in inside} == {list(names).index("swipe_left")}
    assert {s.label_name for s in inside} == {"swipe_left"}
    assert {s.label for s in before + after} == {None}


def test_labels_for_video_finds_the_nearest_labels_file(tmp_path):
    from snnstudio.train.videos import labels_for_video

    (tmp_path / "sub").mkdir()
    clip = tmp_path / "sub" / "a.mp4"
    clip.write_bytes(b"")
    (tmp_path / "labels.csv").write_text("file,label,start_frame,end_frame,fps\nsub/a.mp4,wave,3,9,30\nb.mp4,push,,,30\n")
    (rows,) = labels_for_video(clip)
    assert rows.label == "wave" and (rows.start_frame, rows.end_frame, rows.fps) == (3, 9, 30.0)
    assert labels_for_video(tmp_path / "b.mp4")[0].label == "push"
    assert labels_for_video(tmp_path / "sub" / "other.mp4") == []
    (tmp_path / "sub" / "labels.csv").write_text("not,a,labels,file\n")  # unreadable: skipped, the parent's used
    assert labels_for_video(clip)[0].label == "wave"
