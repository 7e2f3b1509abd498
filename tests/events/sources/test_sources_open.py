"""open_source / parse_source_spec: every spec kind reaches the right source with the right arguments."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
from sources_helpers import make_recording

from snnstudio.errors import EventFileError, SnnStudioError, SourceError
from snnstudio.events.sources import FilePlayer, SourceSpecError, open_source, parse_source_spec


@pytest.mark.parametrize("spec, parsed", [
    ("file:rec.aedat4", ("file", "rec.aedat4")),
    ("rec.aedat4", ("file", "rec.aedat4")),
    ("camera", ("camera", None)),
    ("camera:DXA00093", ("camera", "DXA00093")),
    ("CAMERA:", ("camera", None)),
    ("network:10.0.0.2:7777", ("network", "10.0.0.2:7777")),
    ("webcam", ("webcam", None)),
    ("webcam:1", ("webcam", "1")),
    ("video:clip.mp4", ("video", "clip.mp4")),
    ("clip.mp4", ("video", "clip.mp4")),
    ("/data/People Waving.MOV", ("video", "/data/People Waving.MOV")),
    ("C:/clips/wave.avi", ("video", "C:/clips/wave.avi")),
    ("synthetic", ("synthetic", None)),
    ("synthetic:wave", ("synthetic", "wave")),
])
def test_specs_parse(spec, parsed):
    assert parse_source_spec(spec) == parsed


@pytest.mark.parametrize("spec", ["", "   ", "telepathy", "webcam:front", "file:", "video:"])
def test_bad_specs_are_one_line_typed_errors(spec):
    with pytest.raises(SourceSpecError) as info:
        open_source(spec)
    assert isinstance(info.value, SnnStudioError) and "\n" not in str(info.value)


def test_file_spec_plays_the_file_with_options(tmp_path):
    from snnstudio.events.io import write_events

    rec = make_recording()
    path = tmp_path / "rec.aedat4"
    write_events(path, rec)  # labels go to the sidecar
    for spec in (f"file:{path}", str(path)):
        player = open_source(spec, realtime=False, batch_us=20_000)
        assert isinstance(player, FilePlayer) and player.sensor_size == rec.sensor_size
        got = list(player.batches())
        assert np.array_equal(np.concatenate([b.events for b in got]), rec.events)
        assert {b.label for b in got} == {3, 7}


def test_missing_file_is_an_event_file_error(tmp_path):
    with pytest.raises(EventFileError):
        open_source(f"file:{tmp_path / 'nope.aedat4'}")


@pytest.fixture
def fake_modules(monkeypatch):
    """Stand-ins for the video and synthetic modules that record how they were called."""
    calls = []

    def make(name):
        class Source:
            def __init__(self, *args, **kwargs):
                calls.append((name, args, kwargs))

        return Source

    video = types.ModuleType("snnstudio.events.sources.video")
    video.VideoEventSource = make("video")
    synth = types.ModuleType("snnstudio.events.sources.synthetic")
    synth.SyntheticGestureSource = make("synthetic")
    monkeypatch.setitem(sys.modules, "snnstudio.events.sources.video", video)
    monkeypatch.setitem(sys.modules, "snnstudio.events.sources.synthetic", synth)
    return calls


def test_webcam_video_and_synthetic_specs_reach_their_classes(fake_modules):
    open_source("webcam")
    open_source("webcam:2", fps=30)
    open_source("video:clip.mp4")
    open_source("synthetic")
    open_source("synthetic:wave", seed=1)
    assert fake_modules == [
        ("video", (0,), {}),
        ("video", (2,), {"fps": 30}),
        ("video", ("clip.mp4",), {}),
        ("synthetic", (), {}),
        ("synthetic", (), {"gesture": "wave", "seed": 1}),
    ]


def test_a_build_without_a_source_module_gives_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "snnstudio.events.sources.video", None)  # import → ModuleNotFoundError
    with pytest.raises(SourceError, match="webcam sources are not available in this build"):
        open_source("webcam")


def test_buffered_option_wraps_and_forwards_controls(tmp_path):
    from snnstudio.events.io import write_events
    from snnstudio.events.sources import BufferedSource

    rec = make_recording()
    path = tmp_path / "rec.aedat4"
    write_events(path, rec)
    src = open_source(f"file:{path}", buffered=5, realtime=False, paused=True)
    assert isinstance(src, BufferedSource) and src.max_batches == 5
    assert src.position_us == rec.t_start_us  # forwarded to the FilePlayer
    src.seek(rec.t_start_us + 100_000)
    src.play()
    got = list(src.batches())
    delivered = np.concatenate([b.events for b in got])
    assert delivered["t"].min() >= rec.t_start_us + 100_000  # the seek reached the player
    # the un-paced player outruns the consumer: the 5-batch queue drops, and counts it
    assert sum(len(b.events) + b.dropped for b in got) == len(rec.time_slice(rec.t_start_us + 100_000, 2**62))
