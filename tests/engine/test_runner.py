import numpy as np
import pytest
import torch

from snnstudio.engine.runner import ModelRunner, rates_to_probabilities
from snnstudio.errors import ModelError

from engine_helpers import AttentionNet, SmallNet, frames_of, random_recording

DT = 10_000


def _multistep(model, frames):
    """Oracle: the model's own multi-step forward on the whole sequence [T, 1, 2, H, W]."""
    for m in model.modules():
        if hasattr(m, "step_mode"):
            m.step_mode = "m"
            m.reset()
    with torch.no_grad():
        out = model(torch.from_numpy(np.stack(frames))[:, None])
    return out, model.sn1.last_spikes.clone(), model.sn1.last_v.clone()


def test_stateful_streaming_equals_multistep_forward():
    rec = random_recording()
    frames = frames_of(rec, DT, 20)
    net = SmallNet()
    runner = ModelRunner(net, window_T=5, sensor_hw=(24, 32))
    assert runner.mode == "stateful"
    runner.follow("sn1", 7)
    runner.follow("sn1", 1000)
    steps = [runner.step(f) for f in frames]
    out, s1, v1 = _multistep(SmallNet(), frames)
    for t, (layers, _, readout, _) in enumerate(steps):
        sn1 = layers[0]
        flat = (s1[t, 0].flatten() > 0.5).float().numpy()  # spikes are 1 - 6e-8 at times (surrogate trick)
        assert sn1.shape == (4, 24, 32)
        np.testing.assert_array_equal(sn1.raster, flat[sn1.raster_index])
        assert sn1.rate == pytest.approx(flat.mean()) and sn1.window_rate == sn1.rate and sn1.window_steps == 1
        np.testing.assert_allclose(sn1.channel_rates, (s1[t, 0] > 0.5).float().flatten(1).mean(1).numpy(), rtol=1e-6)
        vflat = v1[t, 0].flatten().numpy()
        assert sn1.membrane[7] == pytest.approx(vflat[7], abs=1e-5)
        assert sn1.membrane[1000] == pytest.approx(vflat[1000], abs=1e-5)
        assert sn1.spiked[1000] == bool(flat[1000])
        lo = max(0, t - 4)
        np.testing.assert_allclose(readout, out[lo : t + 1, 0].mean(0).numpy(), rtol=1e-6)
    assert any(layers[0].spike_count > 0 for layers, _, _, _ in steps)


def test_window_mode_reevaluates_last_T_frames():
    rec = random_recording()
    frames = frames_of(rec, DT, 9)
    T = 4
    runner = ModelRunner(AttentionNet(T=T), sensor_hw=(24, 32))
    assert runner.mode == "window" and runner.window_T == T
    zero = np.zeros_like(frames[0])
    for k, f in enumerate(frames):
        layers, attention, readout, _ = runner.step(f)
        window = ([zero] * T + frames[: k + 1])[-T:]
        out, s1, _ = _multistep(AttentionNet(T=T), window)
        np.testing.assert_allclose(readout, out[:, 0].mean(0).numpy(), rtol=1e-6)
        np.testing.assert_array_equal(layers[0].raster, (s1[-1, 0].flatten() > 0.5).numpy()[layers[0].raster_index])
        # the rate over every step the window ran (eval's spikes / neuron-steps) and the newest step's
        assert layers[0].window_steps == T
        assert layers[0].window_rate == pytest.approx(float((s1[:, 0] > 0.5).float().mean()))
        assert layers[0].rate == pytest.approx(float((s1[-1, 0] > 0.5).float().mean()))
        assert attention[0].name == "ta"
        np.testing.assert_allclose(attention[0].ta, np.linspace(0.1, 1.0, T), rtol=1e-6)


@pytest.fixture(params=["native", "numpy"])
def read_out(request, monkeypatch):
    """The per-step read-out between detail read-outs: the C one (kernels built) or numpy's."""
    from snnstudio.snn.functional import native

    if request.param == "native":
        if native.build() is None:
            pytest.skip("no C compiler: the numpy read-out runs")
    else:
        monkeypatch.setattr(ModelRunner, "_readout_lib", lambda self: None)
    return request.param


def test_between_detail_read_outs_a_playing_runner_shows_the_last_maps_and_fresh_per_step_series(read_out):
    """``detail_interval_s``: feature maps, window rates and attention are read at most that often
    (the rest of the steps show the last ones: the very same arrays); rasters, channel rates,
    counts, rates, followed membranes and the prediction are this step's, equal to a runner reading
    everything every step."""
    rec = random_recording()
    frames = frames_of(rec, DT, 8)
    every = ModelRunner(AttentionNet(T=4), sensor_hw=(24, 32))
    sparse = ModelRunner(AttentionNet(T=4), sensor_hw=(24, 32), detail_interval_s=3600.0)
    name = every.neurons[0][0]
    for r in (every, sparse):
        for i in (0, 3, 5):
            r.follow(name, i)
    first_e, first_s = every.step(frames[0]), sparse.step(frames[0])
    assert first_s[1][0].ta is not None  # the first step is read in detail
    for f in frames[1:]:
        (le, _, re, ce), (ls, as_, rs, cs) = every.step(f), sparse.step(f)
        np.testing.assert_allclose(rs, re, rtol=1e-6)
        assert cs == ce
        for a, b in zip(le, ls):
            assert (b.spike_count, b.rate, b.membrane, b.spiked) == (a.spike_count, a.rate, a.membrane, a.spiked)
            assert (b.name, b.shape, b.kind, b.threshold) == (a.name, a.shape, a.kind, a.threshold)
            np.testing.assert_array_equal(b.raster, a.raster)
            np.testing.assert_array_equal(b.raster_index, a.raster_index)
            np.testing.assert_allclose(b.channel_rates, a.channel_rates, rtol=1e-6)
            assert b.raster.dtype == a.raster.dtype and not b.raster.flags.writeable
            stale = next(x for x in first_s[0] if x.name == b.name)
            assert b.window_rate == stale.window_rate and b.feature_map is stale.feature_map
        assert ls[0].membrane and set(ls[0].membrane) == {0, 3, 5}
        assert as_ is first_s[1]  # the same attention read-out
    assert any(a.spike_count != b.spike_count for a, b in zip(le, first_e[0]))  # the counts did move
    assert (sparse._readout is not None) == (read_out == "native")  # the path under test ran
    assert any(a.window_rate != b.window_rate for a, b in zip(le, first_e[0]))  # the series did move
    sparse.set_enabled("ta", False)  # a switch is shown at once
    assert sparse.step(frames[0])[1][0].ta is None


def test_switching_attention_off_changes_the_output_and_the_snapshot():
    frames = frames_of(random_recording(), DT, 6)
    runner = ModelRunner(AttentionNet(T=4), sensor_hw=(24, 32))
    on = [runner.step(f) for f in frames][-1]
    runner.set_enabled("ta", False)
    runner.reset()
    off = [runner.step(f) for f in frames][-1]
    assert on[1][0].enabled and not off[1][0].enabled
    assert off[1][0].ta is None
    assert on[0][0].spike_count != off[0][0].spike_count
    with pytest.raises(ModelError):
        runner.set_enabled("conv", False)


def test_fixed_T_model_rejects_another_window():
    runner = ModelRunner(AttentionNet(T=4), sensor_hw=(24, 32))
    with pytest.raises(ModelError):
        runner.set_window(8)


def test_follow_rejects_unknown_layer_and_index():
    runner = ModelRunner(SmallNet(), sensor_hw=(24, 32))
    with pytest.raises(ModelError):
        runner.follow("nope", 0)
    with pytest.raises(ModelError):
        runner.follow("sn1", 4 * 24 * 32)


def test_model_that_does_not_fit_the_sensor_is_a_model_error():
    class Flat(SmallNet):
        input_hw = None

    net = Flat()
    net.input_hw = None
    with pytest.raises(ModelError, match="does not run on 64x64"):
        ModelRunner(net, sensor_hw=(64, 64))


def test_model_without_neurons_is_a_model_error():
    with pytest.raises(ModelError, match="no spiking neurons"):
        ModelRunner(torch.nn.Conv2d(2, 2, 1))


def test_input_is_sum_pooled_to_the_model_size():
    runner = ModelRunner(SmallNet(hw=(12, 16)), sensor_hw=(24, 32))
    f = np.zeros((2, 24, 32), np.float32)
    f[1, 0:2, 0:2] = 1.0
    x = runner._prepare(f)
    assert x.shape == (2, 12, 16) and float(x[1, 0, 0]) == 4.0 and float(x.sum()) == 4.0


def test_rates_to_probabilities():
    np.testing.assert_allclose(rates_to_probabilities(np.array([0.2, 0.6, 0.2])), [0.2, 0.6, 0.2], rtol=1e-6)
    np.testing.assert_allclose(rates_to_probabilities(np.zeros(4)), [0.25] * 4)
    logits = np.array([1.0, 3.0, -2.0])
    e = np.exp(logits - 3)
    np.testing.assert_allclose(rates_to_probabilities(logits), e / e.sum(), rtol=1e-6)


def test_cost_is_metered_every_n_steps_or_after_an_interval(monkeypatch):
    """A metered step runs the op counter; between them the last cost is carried. With
    ``cost_interval_s`` a step is also metered when that much wall time has passed."""
    import snnstudio.engine.runner as runner_mod

    from snnstudio.engine.models import load_model

    clock = [100.0]
    monkeypatch.setattr(runner_mod.time, "perf_counter", lambda: clock[0])
    module = load_model("tiny").module
    frames = [np.random.default_rng(i).poisson(0.3, (2, 128, 128)).astype(np.float32) for i in range(12)]

    def metered(runner, advance_s):
        hits = []
        real = runner.ops.report

        def report():
            hits.append(True)
            return real()

        runner.ops.report = report
        for k, f in enumerate(frames):
            before = len(hits)
            runner.step(f)
            clock[0] += advance_s
            yield len(hits) > before

    every4 = ModelRunner(module, cost_every=4)
    assert list(metered(every4, 0.001)) == [k % 4 == 0 for k in range(12)]
    slow = ModelRunner(module, cost_every=100, cost_interval_s=0.5)
    assert all(metered(slow, 0.6))  # stepping by hand: each step 0.6 s after the last, each metered
    fast = ModelRunner(module, cost_every=100, cost_interval_s=0.5)
    got = list(metered(fast, 0.01))  # playing at 100 steps/s: once, at the start (then 0.5 s later)
    assert got[0] and not any(got[1:])


def test_a_step_given_the_full_size_counts_pools_them_exactly_as_binning_its_events():
    """Sensor 128×96 into a 32×24 model input: the window's full-size count frame summed over 4×4
    blocks is the model input sub_bin makes from the events (the engine passes the frame it has
    counted for the Events panel instead of binning the events twice)."""
    from snnstudio.engine.windows import count_frame

    rec = random_recording(n=40_000, size=(128, 96), seed=5)
    runner = ModelRunner(SmallNet(hw=(24, 32)), sensor_hw=(96, 128), step_us=DT)
    assert runner.input_hw == (24, 32)
    t0 = int(rec.t_start_us) + 3 * DT
    ev = rec.time_slice(t0, t0 + DT)
    frame = count_frame(ev, rec.sensor_size)
    want = runner.sub_bin(ev, rec.sensor_size, t0)
    seen = []
    real = runner._advance
    runner._advance = lambda x: seen.append(x.numpy().copy()) or real(x)
    runner.step_events(ev, rec.sensor_size, t0, frame=frame)
    np.testing.assert_array_equal(seen[0], want)
    assert want.sum() == len(ev) > 0


def test_a_playing_window_runner_meters_aside_with_the_same_cost(monkeypatch):
    """Playing (steps < 1 s apart), a window model with a fused copy meters the model as built
    in a background thread: the step does not wait for it, and the cost that lands equals the one
    metered in line on the same window (the oracle: a runner metering every step in line)."""
    import time as _time

    import snnstudio.engine.runner as runner_mod
    from snnstudio.engine.models import load_model

    # every step counts as playing, however loaded the machine (the in-line runner's metering of
    # every step between two of ours took over a second with two trainings running beside it)
    monkeypatch.setattr(runner_mod, "PLAYING_GAP_S", 1e9)

    loaded, other = load_model("default"), load_model("default")  # a model each: hooks are per module
    rec = random_recording(n=200_000, duration_us=2_000_000, size=(128, 128), seed=2)
    steps = [(rec.time_slice(int(rec.t_start_us) + k * DT, int(rec.t_start_us) + (k + 1) * DT), int(rec.t_start_us) + k * DT)
             for k in range(40)]
    inline = ModelRunner(loaded.module, loaded.name, step_us=DT, cost_every=1)
    aside = ModelRunner(other.module, other.name, step_us=DT, cost_every=10**6, cost_interval_s=0.0, meter_aside=True,
                        meter_share=None)
    assert aside.mode == "window"
    for ev, t0 in steps[:-1]:
        inline.step_events(ev, rec.sensor_size, t0)
        aside.step_events(ev, rec.sensor_size, t0)
    ev, t0 = steps[-1]
    want = inline.step_events(ev, rec.sensor_size, t0)[3]
    aside.step_events(ev, rec.sensor_size, t0)  # hands this window to the meter
    deadline = _time.monotonic() + 30
    # the last window handed over is taken last: wait until it is taken and every taken one is done
    while (aside._meter_next is not None or aside.meter_windows[0] != aside.meter_windows[1]) and _time.monotonic() < deadline:
        _time.sleep(0.01)
    assert want[0] is not None and want[0] > 0
    assert aside._last_cost[0] == pytest.approx(want[0], rel=1e-3)
    assert aside._last_cost[1] == pytest.approx(want[1], rel=1e-3)
    # windows were metered aside (the thread itself ends after 2 s idle, which a loaded machine
    # can reach before this line: the count, not the thread, says it ran)
    assert aside.meter_windows[1] >= 1 and aside.meter_windows[0] == aside.meter_windows[1]


def test_skipped_steps_leave_the_window_as_stepping_through_them():
    """Load shedding: taking late steps' events in without evaluating, then evaluating the newest,
    gives exactly the read-out and spikes of stepping through every one of them."""
    rec = random_recording()
    T = 4
    sensor = (32, 24)
    wins = [(rec.time_slice(k * DT, (k + 1) * DT), k * DT, None) for k in range(9)]
    every = ModelRunner(AttentionNet(T=T), sensor_hw=(24, 32))
    every.set_step(DT)
    oracle = [every.step_events_many([w], sensor)[0] for w in wins][-1]
    shed = ModelRunner(AttentionNet(T=T), sensor_hw=(24, 32))
    shed.set_step(DT)
    shed.step_events_many(wins[:2], sensor)
    shed.skip_events_many(wins[2:8], sensor)
    layers, _, readout, _ = shed.step_events_many(wins[8:], sensor)[0]
    np.testing.assert_array_equal(readout, oracle[2])
    np.testing.assert_array_equal(layers[0].raster, oracle[0][0].raster)
    assert layers[0].spike_count == oracle[0][0].spike_count


def test_a_stateful_model_folds_skipped_steps_into_its_next_one():
    """Shedding a stateful model: the skipped steps' input is added to the next step's, so that
    step sees all their events at once — the same as one step on the summed counts."""
    rec = random_recording()
    steps = [(rec.time_slice(i * DT, (i + 1) * DT), i * DT, None) for i in range(4)]
    import copy

    torch.manual_seed(0)
    net = SmallNet()
    shed = ModelRunner(net, window_T=5, sensor_hw=(24, 32))
    oracle = ModelRunner(copy.deepcopy(net), window_T=5, sensor_hw=(24, 32))  # the same weights, its own state
    for r in (shed, oracle):
        r.set_step(DT)
        assert r.mode == "stateful"
        r.reset()
    first = shed.step_events_many(steps[:1], (32, 24))[0]
    np.testing.assert_array_equal(first[2], oracle.step_events_many(steps[:1], (32, 24))[0][2])
    shed.skip_events_many(steps[1:3], (32, 24))  # two late steps, not evaluated
    got = shed.step_events_many(steps[3:], (32, 24))[0]
    summed = np.sum(oracle._inputs(steps[1:], (32, 24)), axis=0, dtype=np.float32)
    want = oracle._advance(torch.from_numpy(summed))
    np.testing.assert_allclose(got[2], want[2], rtol=1e-6)
    for a, b in zip(got[0], want[0]):
        np.testing.assert_array_equal(a.raster, b.raster)
    assert shed._folded is None  # used once
    after = shed.step_events_many(steps[:1], (32, 24))[0]  # and not again
    np.testing.assert_allclose(after[2], oracle.step_events_many(steps[:1], (32, 24))[0][2], rtol=1e-6)


def test_a_spatial_layer_reads_out_where_its_channels_fired():
    """``spatial_rate [h, w]``: the share of all channels that fired at each position, newest step."""
    from snnstudio.engine.demo import rotating_bar_recording
    from snnstudio.engine.models import load_model

    runner = ModelRunner(load_model("default").module, sensor_hw=(128, 128), step_us=DT)  # trained: it fires
    frames = frames_of(rotating_bar_recording(duration_us=400_000, sensor_size=(128, 128)), DT, 12)
    for f in frames:
        layers, *_ = runner.step(f)
    neurons = dict(runner._net(False)[1])
    for la in layers:
        s = neurons[la.name].last_spikes
        if len(la.shape) == 3:
            last = (s.reshape(runner.window_T, 1, *la.shape)[-1, 0] > 0.5).float()
            np.testing.assert_allclose(la.spatial_rate, last.mean(0).numpy(), rtol=1e-6)
            assert la.spatial_rate.shape == la.shape[1:] and not la.spatial_rate.flags.writeable
        else:
            assert la.spatial_rate is None
    assert any(la.spatial_rate is not None and la.spatial_rate.max() > 0 for la in layers)


def test_a_layer_whose_spikes_are_not_0_or_1_is_read_in_full_between_detail_read_outs(read_out):
    """The one-pass read-out counts 0/1 spikes by summing them; values that are not (a graded or
    surrogate output: 0.3 is no spike, 0.9 one) send the layer to the full read-out (> 0.5 rule):
    the same counts, rates and raster as a runner reading everything every step."""
    frames = frames_of(random_recording(), DT, 6)
    every = ModelRunner(AttentionNet(T=4), sensor_hw=(24, 32))
    sparse = ModelRunner(AttentionNet(T=4), sensor_hw=(24, 32), detail_interval_s=3600.0)
    for r in (every, sparse):
        m = r.neurons[0][1]
        real = m._keep

        def graded(v, s, real=real):
            g = s.clone()
            g.view(-1)[::7] = 0.3  # no spike
            g.view(-1)[3::11] = 0.9  # a spike
            real(v, g)

        m._keep = graded
    sparse.step(frames[0]), every.step(frames[0])
    for f in frames[1:]:
        a, b = every.step(f)[0][0], sparse.step(f)[0][0]
        assert (b.spike_count, b.rate) == (a.spike_count, a.rate)
        np.testing.assert_array_equal(b.raster, a.raster)
        np.testing.assert_allclose(b.channel_rates, a.channel_rates, rtol=1e-6)


def test_the_background_meter_keeps_to_its_share_of_wall_time(monkeypatch):
    """After a metering aside that took d seconds, a playing runner meters again only d / share
    later (cost_interval_s alone would meter every 0.5 s); switching a module re-meters at once."""
    import snnstudio.engine.runner as runner_mod

    from snnstudio.engine.models import load_model

    loaded = load_model("default")
    runner = ModelRunner(loaded.module, loaded.name, step_us=DT, cost_every=10**6, cost_interval_s=0.5,
                         meter_aside=True, meter_share=0.01)
    handed = []
    monkeypatch.setattr(runner, "_meter_aside", lambda frames: handed.append(clock[0]))
    clock = [runner._last_measure + 10.0]  # the warm-up metered in line; a cost is known
    monkeypatch.setattr(runner_mod.time, "perf_counter", lambda: clock[0])
    runner._meter_gap_s = 0.02 / 0.01  # the last metering took 20 ms: 2 s between meterings
    frame = np.zeros((2, 128, 128), np.float32)
    for _ in range(500):  # 5 s of 10 ms steps; the first (not yet playing) is metered in line
        runner.step(frame)
        clock[0] += 0.01
    assert len(handed) == 2 and handed[1] - handed[0] == pytest.approx(2.0, abs=0.02)
    attn = runner.attention[0][0]
    runner.set_enabled(attn, False)
    runner.step(frame)
    assert len(handed) == 3  # the switched model is metered at once


def test_only_layers_with_a_followed_neuron_keep_their_membrane():
    """A layer nobody follows keeps its spikes only (its native kernel writes no membrane); following
    a neuron there brings the membrane back at the next step, with the same spikes."""
    from snnstudio.engine.models import load_model

    loaded = load_model("default")
    runner = ModelRunner(loaded.module, loaded.name, step_us=DT)
    frame = np.random.default_rng(0).poisson(0.5, (2, 128, 128)).astype(np.float32)
    first = runner.step(frame)[0]
    net, neurons, _ = runner._net()
    assert all(m.last_spikes is not None and m.last_v is None for _, m in neurons)
    name = neurons[1][0]
    runner.follow(name, 5)
    again = runner.step(frame)[0]  # a second step of the stream: the fused copy runs it
    kept = {n: m.last_v is not None for n, m in runner._net()[1]}
    assert kept == {n: n == name for n, _ in neurons}
    alone = ModelRunner(load_model("default").module, loaded.name, step_us=DT)  # nothing followed
    alone.step(frame)
    assert [la.spike_count for la in again] == [la.spike_count for la in alone.step(frame)[0]]
    assert first
    assert set(next(la for la in again if la.name == name).membrane) == {5}
    runner.follow(name, 5, on=False)
    runner.step(frame)
    assert all(m.last_v is None for _, m in runner._net()[1])


def test_the_native_read_out_is_taken_up_once_the_kernels_are_built(monkeypatch):
    """Before the session's background build finishes the runner reads the numpy way; it asks again
    once a second and takes the native read-out as soon as the kernels load."""
    import snnstudio.engine.runner as runner_mod
    from snnstudio.snn.functional import native

    lib = native.build()
    if lib is None:
        pytest.skip("no C compiler: the numpy read-out runs")
    built = [False]
    monkeypatch.setattr(native, "load", lambda: lib if built[0] else None)
    clock = [1000.0]
    monkeypatch.setattr(runner_mod.time, "perf_counter", lambda: clock[0])
    runner = ModelRunner(AttentionNet(T=4), sensor_hw=(24, 32))
    assert runner._readout_lib() is None
    built[0] = True
    clock[0] += 0.5
    assert runner._readout_lib() is None  # asked less than a second ago
    clock[0] += 0.6
    assert runner._readout_lib() is lib


def _same_layer(a, b):
    """Two read-outs of one layer hold the same values (arrays: same dtype, bit for bit, read-only)."""
    for f in ("name", "kind", "shape", "rate", "spike_count", "membrane", "spiked", "threshold", "window_rate",
              "window_steps", "sops", "energy_pj"):
        assert getattr(a, f) == getattr(b, f), f
    for f in ("channel_rates", "raster", "raster_index", "feature_map", "spatial_rate"):
        x, y = getattr(a, f), getattr(b, f)
        assert (x is None) == (y is None), f
        if x is not None:
            assert x.dtype == y.dtype and x.shape == y.shape, f
            np.testing.assert_array_equal(x, y, err_msg=f)
            assert not y.flags.writeable, f


@pytest.mark.parametrize("which", ["default", "attention_net"])
def test_the_native_read_out_equals_numpys_field_by_field_in_detail_and_per_step(which, monkeypatch):
    """The C read-out of every layer (:mod:`snnstudio.engine.native_readout`) against the numpy one
    (:meth:`ModelRunner._layer`, the oracle): counts, rates, channel rates, rasters, feature maps,
    spatial and window rates and followed membranes — every step, in detail and between detail
    read-outs, and per batch element when a late stream is caught up in one batch. Compared after
    the last step: a snapshot's arrays are cut from a pool shared by several steps (a few here), and
    no later step may write into them."""
    from snnstudio.engine import native_readout
    from snnstudio.engine.demo import rotating_bar_recording
    from snnstudio.engine.models import load_model
    from snnstudio.snn.functional import native

    if native.build() is None:
        pytest.skip("no C compiler: the numpy read-out runs")
    real_init = native_readout.BufferPool.__init__
    monkeypatch.setattr(native_readout.BufferPool, "__init__", lambda self, size=512: real_init(self, size))
    if which == "default":
        make = lambda: ModelRunner(load_model("default").module, sensor_hw=(128, 128), step_us=DT)  # noqa: E731
        rec = rotating_bar_recording(duration_us=400_000, sensor_size=(128, 128))
        sensor = (128, 128)
    else:
        make = lambda: ModelRunner(AttentionNet(T=4), sensor_hw=(24, 32), step_us=DT)  # noqa: E731
        rec, sensor = random_recording(), (32, 24)
    runners = {}
    for kind in ("native", "numpy", "native_sparse"):
        torch.manual_seed(0)
        r = runners[kind] = make()
        if kind == "numpy":
            r._readout_lib = lambda: None
        if kind == "native_sparse":
            r.detail_interval_s = 3600.0
        name = r.neurons[0][0]
        for i in (0, 5, 9):
            r.follow(name, i)
        r._layer_cost = {name: (12.0, 3.5)}
    frames = frames_of(rec, DT, 12)
    steps = [{k: r.step(f)[0] for k, r in runners.items()} for f in frames]
    for got in steps:
        for a, b in zip(got["numpy"], got["native"]):
            _same_layer(a, b)
        for a, b in zip(got["numpy"], got["native_sparse"]):
            for fld in ("rate", "spike_count", "membrane", "spiked"):
                assert getattr(a, fld) == getattr(b, fld)
            np.testing.assert_array_equal(a.channel_rates, b.channel_rates)
            np.testing.assert_array_equal(a.raster, b.raster)
    assert len({id(la.raster.base) for got in steps for la in got["native_sparse"]}) >= 3  # several pools served
    assert any(la.spike_count for la in got["native"]) and runners["native"]._plans  # it fired, and C read it
    plans = [p for r in (runners["native"], runners["native_sparse"]) for p in r._plans.values() if p is not None]
    assert {p.detail for p in plans} == {True, False}  # C read both the detail and the per-step series
    # a stream caught up in one batch [T, B, ...]: every element read at its own index
    windows = [(rec.time_slice(i * DT, (i + 1) * DT), i * DT, None) for i in range(12, 16)]
    batch = {k: runners[k].step_events_many(windows, sensor) for k in ("native", "numpy")}
    for res_n, res_p in zip(batch["native"], batch["numpy"]):
        for a, b in zip(res_p[0], res_n[0]):
            _same_layer(a, b)
    assert any((len(k[1]) == 2 and k[1][1] > 1) for k in runners["native"]._plans)  # the batch plan ran


def test_attention_read_outs_are_read_only_copies_of_the_modules_weights():
    """The default's attention maps in a snapshot equal the parts' own weights of that step, are
    read-only, and stay as they were when the modules write new weights (a copy, not a view)."""
    from snnstudio.engine.demo import rotating_bar_recording
    from snnstudio.engine.models import load_model

    runner = ModelRunner(load_model("default").module, sensor_hw=(128, 128), step_us=DT)
    frames = frames_of(rotating_bar_recording(duration_us=300_000, sensor_size=(128, 128)), DT, 6)
    for f in frames:
        _, attention, _, _ = runner.step(f)
    blocks = {name: parts for name, _, parts in runner._net()[2]}
    seen = 0
    for a in attention:
        for k, arr in (("ta", a.ta), ("ca", a.ca), ("sa", a.sa)):
            if arr is None:
                continue
            w = blocks[a.name][k].last_weights
            assert arr.dtype == np.float32 and not arr.flags.writeable
            want = w.detach().numpy().reshape(-1) if k != "sa" else w.detach().numpy()[0]
            np.testing.assert_array_equal(arr.reshape(-1), want.reshape(-1)[: arr.size])
            before = arr.copy()
            with torch.inference_mode():
                w.add_(1.0)  # the module's next weights, written in place
            np.testing.assert_array_equal(arr, before)
            seen += 1
    assert seen >= 6


def test_a_process_exiting_while_the_meter_runs_aside_exits_cleanly(tmp_path):
    """A process that ends while the background meter is inside a forward pass was aborted by the C++
    runtime ('terminate called without an active exception', status 134, 4 of 4 runs without the hook);
    the runner's exit hook now stops the meter first. And stop_meter() ends the thread and takes no
    window after."""
    import subprocess
    import sys
    import textwrap

    script = tmp_path / "exit_while_metering.py"
    script.write_text(textwrap.dedent('''
        import time
        import numpy as np, torch
        from snnstudio.engine.models import load_model
        from snnstudio.engine.runner import ModelRunner
        import snnstudio.engine.runner as runner_mod
        runner_mod.PLAYING_GAP_S = 1e9  # every step counts as playing, however loaded the machine
        model = load_model("default").module
        r = ModelRunner(model, sensor_hw=(128, 128), step_us=10_000, cost_every=10**6, cost_interval_s=0.0,
                        meter_aside=True, meter_share=None)

        def busy(mod, inp, out):  # the metered forward (the model as built) kept inside torch for a second
            t = time.perf_counter()
            while time.perf_counter() - t < 1.0:
                torch.ones(64).sum()

        model.register_forward_hook(busy)
        rng = np.random.default_rng(0)
        for i in range(3):
            r._advance(torch.from_numpy(rng.poisson(0.3, (2, 32, 32)).astype(np.float32)))
        time.sleep(0.2)
        assert r.meter_windows[0] > r.meter_windows[1] and r._meter_thread is not None, r.meter_windows
        print("exiting with the meter running")
    '''))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "exiting with the meter running" in done.stdout and "terminate called" not in done.stderr

    from snnstudio.engine.models import load_model

    loaded = load_model("default")
    r = ModelRunner(loaded.module, sensor_hw=(128, 128), step_us=DT, cost_every=10**6, cost_interval_s=0.0,
                    meter_aside=True, meter_share=None)
    frames = frames_of(random_recording(n=50_000, duration_us=200_000, size=(128, 128), seed=3), DT, 4)
    for f in frames:
        r.step(f)
    r.stop_meter()
    assert r._meter_thread is None or not r._meter_thread.is_alive()
    taken = r.meter_windows[0]
    r._meter_aside(torch.zeros(r.window_T, 1, 2, 32, 32))
    assert r.meter_windows[0] == taken and r._meter_thread is None  # nothing metered after a stop
