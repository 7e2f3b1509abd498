"""Recorder and ``snnstudio record``: every file is read back by dv-processing (the oracle)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from sources_helpers import FakeCamera, ListSource, dv_store, make_recording, read_back, windows

from snnstudio.cli import main
from snnstudio.errors import SnnStudioError, SourceError
from snnstudio.events.sources import BufferedSource, FilePlayer
from snnstudio.events.sources.camera import DvsCameraSource
from snnstudio.events.sources.recorder import RecordingFailed, record
from snnstudio.events.types import Label

dv = pytest.importorskip("dv_processing")
pytest.importorskip("snnstudio.events.io")


def test_records_a_time_span_of_a_file_exactly_with_its_labels(tmp_path):
    rec = make_recording(n=3000, duration_us=300_000)
    rec.sensor = "DVS128_TEST"
    out = tmp_path / "span.aedat4"
    result = record(FilePlayer(rec, realtime=False, batch_us=7_000), out, 0.05)
    t0 = rec.t_start_us
    expected = rec.time_slice(t0, t0 + 50_000)
    ev, size, name = read_back(out)
    assert np.array_equal(ev, expected)
    assert size == rec.sensor_size and name == "DVS128_TEST"
    assert (result.events, result.stopped, result.duration_s) == (len(expected), "duration", pytest.approx(0.05))
    # the first 50 ms lie inside the "left" label (class 3): one label range, in the sidecar too
    assert result.labels == [Label(3, t0, t0 + 50_000, "left")]
    from snnstudio.events.io import read_events

    again = read_events(out)
    assert [(lab.class_id, lab.start_us, lab.end_us) for lab in again.labels] == [(3, t0, t0 + 50_000)]


def test_camera_failing_mid_recording_leaves_a_valid_file_with_everything_before(tmp_path):
    rec = make_recording(n=400, duration_us=40_000)
    chunks = [rec.events[i * 100:(i + 1) * 100] for i in range(3)]
    cam = FakeCamera([dv_store(c) for c in chunks], fail="raise")
    source = BufferedSource(DvsCameraSource(device=cam, poll_s=0.001))
    out = tmp_path / "unplugged.aedat4"
    with pytest.raises(RecordingFailed) as info:
        record(source, out, 60)
    msg = str(info.value)
    assert "\n" not in msg and "LIBUSB_ERROR_NO_DEVICE" in msg and "keeps the 300 events" in msg
    assert isinstance(info.value, SourceError) and info.value.result.stopped == "error"
    ev, size, name = read_back(out)
    assert np.array_equal(ev, np.concatenate(chunks))
    assert size == (32, 24) and name == "DVXplorer_FAKE01"
    assert not source._thread.is_alive()


def test_ctrl_c_closes_the_file_properly(tmp_path):
    rec = make_recording(n=500, duration_us=50_000)
    wins = windows(rec, 10_000)
    out = tmp_path / "interrupted.aedat4"
    with pytest.raises(KeyboardInterrupt):
        record(ListSource(wins[:3], error=KeyboardInterrupt()), out, 10)
    ev, _, _ = read_back(out)
    assert np.array_equal(ev, np.concatenate([w.events for w in wins[:3]]))
    out2 = tmp_path / "stopped.aedat4"
    result = record(ListSource(wins[:2], error=KeyboardInterrupt()), out2, 10, stop_on_interrupt=True)
    assert result.stopped == "interrupted"
    assert np.array_equal(read_back(out2)[0], np.concatenate([w.events for w in wins[:2]]))


def test_an_idle_live_source_is_stopped_by_the_wall_clock(tmp_path):
    rec = make_recording(n=100, duration_us=10_000)
    cam = FakeCamera([dv_store(rec.events)], fail=None)  # one packet, then a still scene
    t0 = time.monotonic()
    result = record(DvsCameraSource(device=cam, poll_s=0.002), tmp_path / "idle.aedat4", 0.2, wall_grace_s=0.1)
    assert 0.25 <= time.monotonic() - t0 < 1.5
    assert result.stopped == "duration" and result.events == 100
    assert np.array_equal(read_back(tmp_path / "idle.aedat4")[0], rec.events)


@pytest.mark.parametrize("seconds", [0, -1, "soon", float("nan")])
def test_bad_length_is_a_typed_error(tmp_path, seconds):
    with pytest.raises(SnnStudioError, match="recording length"):
        record(ListSource([]), tmp_path / "x.aedat4", seconds)


# -- the command ------------------------------------------------------------------------------


def test_cli_records_the_start_of_a_real_recording(tmp_path, samples_dir, capsys):
    src = samples_dir / "dvs128_hand_2024_06_13.aedat4"
    out = tmp_path / "hand_1s.aedat4"
    assert main(["record", "--source", f"file:{src}", "--seconds", "1", str(out)]) == 0
    original, size0, _ = read_back(src)
    t0 = int(original["t"][0])
    expected = original[original["t"] < t0 + 1_000_000]
    ev, size, _ = read_back(out)
    assert size == size0 == (128, 128)
    assert len(expected) > 100 and np.array_equal(ev, expected)
    assert f"recorded {len(expected)} events" in capsys.readouterr().out


def test_cli_without_a_camera_exits_1_with_one_line(tmp_path, capsys):
    if dv.io.camera.discover():
        pytest.skip("a DVS camera is attached to this machine")
    out = tmp_path / "cam.aedat4"
    assert main(["record", "--source", "camera", "--seconds", "1", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: no DVS camera found")
    assert not out.exists()


@pytest.mark.parametrize("argv, message", [
    (["--source", "network:127.0.0.1:1", "--seconds", "1", "x.aedat4"], "connection refused"),
    (["--source", "telepathy", "--seconds", "1", "x.aedat4"], "unknown source 'telepathy'"),
    (["--source", "synthetic", "--seconds", "1", "x.h5"], "record writes AEDAT4"),
    (["--source", "synthetic", "--seconds", "0", "x.aedat4"], "--seconds must be > 0"),
])
def test_cli_user_errors_are_one_line(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    assert main(["record", *argv]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]


def test_cli_failure_mid_recording_is_one_line_and_the_file_stays(tmp_path, monkeypatch, capsys):
    import snnstudio.events.sources as sources

    rec = make_recording(n=300, duration_us=30_000)
    chunks = [rec.events[:150], rec.events[150:]]
    monkeypatch.setattr(sources, "open_source",
                        lambda spec, **kw: DvsCameraSource(device=FakeCamera([dv_store(c) for c in chunks], fail="stop")))
    out = tmp_path / "cut.aedat4"
    assert main(["record", "--source", "camera", "--seconds", "5", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "stopped delivering events (unplugged?)" in err[0] and "keeps the 300 events" in err[0]
    assert np.array_equal(read_back(out)[0], rec.events)


def test_an_unpaced_source_is_not_cut_by_the_wall_clock(tmp_path):
    class SlowGenerator(ListSource):
        """Produces 50 ms of events per 100 ms of wall time (a generator slower than real time)."""

        live = False

        def batches(self):
            for b in self._batches:
                time.sleep(0.1)
                yield b

    rec = make_recording(n=400, duration_us=200_000)
    wins = windows(rec, 50_000)
    result = record(SlowGenerator(wins), tmp_path / "slow.aedat4", 0.15, wall_grace_s=0.0)
    assert result.stopped == "duration" and result.duration_s == pytest.approx(0.15)
    assert np.array_equal(read_back(tmp_path / "slow.aedat4")[0], rec.time_slice(rec.t_start_us, rec.t_start_us + 150_000))


def test_cli_records_synthetic_gestures_with_their_labels(tmp_path, capsys):
    synthetic = pytest.importorskip("snnstudio.events.sources.synthetic")
    from snnstudio.events.io import read_events

    out = tmp_path / "wave.aedat4"
    assert main(["record", "--source", "synthetic:wave", "--seconds", "0.4", str(out)]) == 0
    # oracle: the same (seeded) generator, read directly and cut at 0.4 s
    src = synthetic.SyntheticGestureSource(gesture="wave")
    parts, t0 = [], None
    for b in src.batches():
        t0 = b.t_start_us if t0 is None else t0
        parts.append(b.events[b.events["t"] < t0 + 400_000])
        if b.t_end_us >= t0 + 400_000:
            break
    src.close()
    expected = np.concatenate(parts)
    ev, size, _ = read_back(out)
    assert size == src.sensor_size and len(expected) > 1000 and np.array_equal(ev, expected)
    labels = read_events(out).labels
    wave = synthetic.SyntheticGestureSource.class_names
    assert [lab.class_id for lab in labels] and all(wave[lab.class_id] == "wave" for lab in labels)


def test_cli_unknown_gesture_is_one_line(tmp_path, capsys):
    pytest.importorskip("snnstudio.events.sources.synthetic")
    assert main(["record", "--source", "synthetic:moonwalk", "--seconds", "1", str(tmp_path / "x.aedat4")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "moonwalk" in err[0]


def test_cli_records_a_video_file_turned_into_events(tmp_path):
    video = pytest.importorskip("snnstudio.events.sources.video")
    cv2 = pytest.importorskip("cv2")
    path = tmp_path / "bar.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (64, 48))
    for k in range(20):  # a bright bar sweeping right
        frame = np.full((48, 64, 3), 30, np.uint8)
        frame[:, 3 * k: 3 * k + 6] = 230
        writer.write(frame)
    writer.release()
    out = tmp_path / "bar.aedat4"
    assert main(["record", "--source", f"video:{path}", "--seconds", "0.3", str(out)]) == 0
    src = video.VideoEventSource(str(path))
    parts, t0 = [], None
    for b in src.batches():
        t0 = b.t_start_us if t0 is None else t0
        parts.append(b.events[b.events["t"] < t0 + 300_000])
        if b.t_end_us >= t0 + 300_000:
            break
    src.close()
    ev, size, _ = read_back(out)
    expected = np.concatenate(parts)
    assert size == (64, 48) and len(expected) > 50
    assert np.array_equal(ev, expected)  # the emulator is seeded: same video, same events
