"""File → Export model as NIR: the engine writes the network that runs (the same graph as
``snnstudio export``), or says what NIR cannot express — and playback goes on."""

from __future__ import annotations

import pytest


def _session(spec):
    from snnstudio.engine.demo import rotating_bar_recording
    from snnstudio.engine.session import Session, SessionConfig

    s = Session(SessionConfig(realtime=False, loop=True))
    s.start()
    s.set_model(spec)
    s.open(rotating_bar_recording(duration_us=1_000_000))
    s.sync(120)
    return s


def test_the_session_writes_the_graph_snnstudio_export_writes(tmp_path):
    nir = pytest.importorskip("nir")
    import numpy as np

    from snnstudio.cli import main

    s = _session("gesture-lif-none")
    try:
        s.export_nir(str(tmp_path / "live.nir"))
        s.sync(120)
        assert any(m.startswith(f"wrote {tmp_path / 'live.nir'}") for m in s.messages), s.messages
    finally:
        s.close()
    assert main(["export", "--model", "gesture-lif-none", "--nir", str(tmp_path / "cli.nir")]) == 0
    a, b = nir.read(str(tmp_path / "live.nir")), nir.read(str(tmp_path / "cli.nir"))
    assert set(a.nodes) == set(b.nodes) and a.edges == b.edges
    for name, node in a.nodes.items():
        for key, value in vars(node).items():
            if isinstance(value, np.ndarray):
                np.testing.assert_array_equal(value, getattr(b.nodes[name], key), err_msg=f"{name}.{key}")
    assert list(a.metadata["class_names"]) == list(b.metadata["class_names"])
    assert int(a.metadata["T"]) == 10 and list(a.metadata["sensor_size"]) == [128, 128]


def test_what_nir_cannot_express_is_said_and_playback_goes_on(tmp_path):
    pytest.importorskip("nir")
    s = _session("default")  # MA-SNN with attention: NIR has no node for it
    try:
        s.play()
        s.export_nir(str(tmp_path / "att.nir"))
        s.sync(120)
        said = [m for m in s.messages if m.startswith("export as NIR:")]
        assert said and "cannot express" in said[0] and "attention" in said[0].lower()
        assert s.state.playing and not (tmp_path / "att.nir").exists()
        s.export_nir(str(tmp_path / "no" / "such" / "dir" / "x.nir"))
        s.sync(120)
        assert len([m for m in s.messages if m.startswith("export as NIR:")]) == 2
    finally:
        s.close()
