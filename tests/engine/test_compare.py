import numpy as np
import pytest

from snnstudio.engine.compare import CompareTable
from snnstudio.engine.session import Session, SessionConfig
from snnstudio.events.types import Label

from engine_helpers import SmallNet, random_recording


def _run(models, steps=12, labels=()):
    s = Session(SessionConfig(dt_us=10_000, window_T=4, realtime=False))
    s.start()
    got = []
    s.on_snapshot = got.append
    try:
        s.set_model(models[0])
        s.set_compare(models[1:])
        s.open(random_recording(labels=list(labels)))
        s.step(steps)
        s.wait_for(lambda x: x is not None and x.index >= steps - 1, 20)
        return got, list(s.messages)
    finally:
        s.close()


def test_compared_models_run_in_lock_step_on_the_same_frames():
    got, msgs = _run([SmallNet(seed=0), SmallNet(seed=0), SmallNet(seed=3)])
    assert msgs == [] and len(got) == 12
    for snap in got:
        assert len(snap.compare) == 2
        twin, other = snap.compare
        assert (twin.t_start_us, twin.t_end_us) == (snap.t_start_us, snap.t_end_us) == (other.t_start_us, other.t_end_us)
        assert twin.frame is snap.frame
        # the same weights give the same spikes: an oracle for "same input, same state"
        for a, b in zip(snap.layers, twin.layers):
            np.testing.assert_array_equal(a.raster, b.raster)
            assert a.spike_count == b.spike_count
        np.testing.assert_array_equal(snap.probabilities, twin.probabilities)
    assert any(a.spike_count != b.spike_count for s in got for a, b in zip(s.layers, s.compare[1].layers))


def test_compare_table_running_figures_match_hand_sums():
    got, _ = _run([SmallNet(seed=0), SmallNet(seed=3)], labels=[Label(1, 0, 10**9)])
    table = CompareTable()
    for snap in got:
        table.add(snap)
    assert [r.steps for r in table.rows] == [12, 12]
    for k, row in enumerate(table.rows):
        snaps = [s if k == 0 else s.compare[0] for s in got]
        assert row.mean_rate == pytest.approx(np.mean([s.metrics.firing_rate for s in snaps]))
        assert row.mean_spikes == pytest.approx(np.mean([s.metrics.spike_count for s in snaps]))
        labelled = [s for s in snaps if s.predicted is not None]
        if labelled:
            assert row.accuracy == pytest.approx(np.mean([s.predicted == 1 for s in labelled]))
        assert row.agreement == pytest.approx(np.mean([s.predicted == g.predicted for s, g in zip(snaps, got)]))
    assert table.rows[0].agreement == 1.0


def test_more_than_four_models_is_a_message():
    got, msgs = _run([SmallNet(), SmallNet(), SmallNet(), SmallNet(), SmallNet()], steps=1)
    assert any("up to 4 models" in m for m in msgs)


def test_a_variant_companion_changes_only_itself():
    """``Variant(None, attention off)`` runs the loaded model with its attention switched off as a
    companion: it differs from the main model, and the main model equals itself run alone."""
    from snnstudio.engine.types import Variant

    v = Variant(None, (("attention", False),))
    assert v.label == "attention off"
    alone, _ = _run(["default"], steps=6)
    got, msgs = _run(["default", v], steps=6)
    assert msgs == [] and len(got) == 6
    assert got[0].compare[0].model_name.endswith("[attention off]")
    for a, b in zip(alone, got):
        np.testing.assert_allclose(a.probabilities, b.probabilities, atol=1e-6)
    assert any(not np.allclose(s.probabilities, s.compare[0].probabilities, atol=1e-4) for s in got)


def test_a_variant_on_a_model_without_switches_is_a_message():
    from snnstudio.engine.types import Variant

    got, msgs = _run([SmallNet(), Variant(None, (("attention", False),))], steps=1)
    assert any("attention" in m for m in msgs)


def test_a_variant_of_the_loaded_model_follows_a_model_swap_or_is_dropped():
    """``Variant(None, …)`` is rebuilt on the new model; one that does not fit it is dropped with a
    message (the swap stands) and the state says which companions run."""
    from snnstudio.engine.types import Variant

    s = Session(SessionConfig(dt_us=10_000, window_T=4, realtime=False))
    got = []
    s.on_snapshot = got.append
    s.start()
    try:
        v = Variant(None, (("attention", False),))
        s.set_model("default")
        s.set_compare([v])
        s.open(random_recording())
        s.step(2)
        s.wait_for(lambda x: x is not None and x.index >= 1, 20)
        assert s.state.compare == (v,) and s.state.compare_runs == 1
        s.set_model("gesture-lif-ta")
        s.step(1)
        s.wait_for(lambda x: x is not None and x.model_name == "gesture-lif-ta", 20)
        assert got[-1].compare[0].model_name == "gesture-lif-ta [attention off]"
        s.set_model(SmallNet())
        s.step(1)
        s.wait_for(lambda x: x is not None and x.model_name == "SmallNet", 20)
        assert got[-1].compare == () and s.state.compare == ()
        assert any("attention off dropped" in m for m in s.messages)
    finally:
        s.close()


def test_the_columns_survive_an_engine_restart_through_the_controls_table():
    """``set_compare`` (variants included) is replayed after the model, the last call winning;
    a variant crosses to the engine's process (pickled) unchanged."""
    import pickle

    from snnstudio.engine.controls import ReplayLog
    from snnstudio.engine.types import Variant

    v = Variant(None, (("ta", False),), "psn")
    assert pickle.loads(pickle.dumps(v)) == v
    log = ReplayLog()
    log.record("set_compare", (["tiny"],), {})
    log.record("set_compare", (["tiny", v],), {})
    log.record("set_model", ("default",), {})
    assert log.calls() == [("set_model", ("default",), {}), ("set_compare", (["tiny", v],), {})]
    assert log.describe() == "model default, 2 compared"
