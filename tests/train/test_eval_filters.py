"""``--filter`` on evaluation data: a filtered synthetic sample is the generator's events through
the filter chain, framed; filtered frames are cached apart (unfiltered keys unchanged); ``snnstudio
eval --filter`` evaluates the filtered frames (oracle: ``evaluate_model`` on them directly)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from snnstudio.events.filters import FilterChain
from snnstudio.events.frames import bin_events
from snnstudio.events.synthetic import GESTURES, generate_gesture
from snnstudio.train import data as D

from .conftest import TINY_DATA, run_cli

SPEC = "polarity=on; refractory=20000"


def test_a_filtered_synthetic_sample_is_the_chain_framed(tiny_cache):
    spec = D.SyntheticSpec.from_options(TINY_DATA)
    frames, labels = D.synthetic_base(spec, "test", tiny_cache, filters=SPEC)
    plain, _ = D.synthetic_base(spec, "test", tiny_cache)
    i = 4
    rec = generate_gesture(GESTURES[i], seed=D.SPLIT_SEED["test"] + i, duration_us=spec.duration_us,
                           sensor_size=(32, 32), fps=spec.fps)
    ev = FilterChain(SPEC, rec.sensor_size)(rec.events)
    want = bin_events(ev, rec.sensor_size, dt_us=spec.base_dt_us, t_start_us=0, n_frames=spec.base_bins, out_size=(8, 8))
    np.testing.assert_array_equal(frames[i], want)
    assert frames[i].sum() == len(ev) < len(rec) and frames[i][:, 0].sum() == 0  # only ON events are left
    assert frames.sum() < plain.sum() and list(labels) == [k % 10 for k in range(10)]
    # apart in the cache; the unfiltered key is the one it always was
    cache = tiny_cache / "synthetic"
    assert D._synthetic_path(spec, "test", tiny_cache) == D._synthetic_path(spec, "test", tiny_cache, "")
    assert D._synthetic_path(spec, "test", tiny_cache, SPEC) != D._synthetic_path(spec, "test", tiny_cache)
    assert D._synthetic_path(spec, "test", tiny_cache, SPEC).is_file() and len(list(cache.glob("test-*.npz"))) >= 2


def test_eval_filter_evaluates_the_filtered_frames(tiny_run, tiny_cache, tmp_path):
    from snnstudio.snn.checkpoints import load_checkpoint
    from snnstudio.train.evaluate import data_for, evaluate_model

    ckpt = tiny_run / "tiny.json"
    r = run_cli("eval", "--model", str(ckpt), "--data", "synthetic:test", "--cache-dir", str(tiny_cache), "--json",
                "--filter", "polarity=on", "--filter", "refractory=20ms")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["filters"] == SPEC
    model, cfg, meta = load_checkpoint(ckpt)
    ds = data_for("synthetic:test", cfg, meta, None, tiny_cache, filters=SPEC)
    want = evaluate_model(model, cfg, ds)
    (row,) = res["rows"]
    assert row["accuracy"] == want["accuracy"] and row["spike_count"] == pytest.approx(want["spike_count"])
    plain = evaluate_model(model, cfg, data_for("synthetic:test", cfg, meta, None, tiny_cache))
    assert plain["sops"] != row["sops"]  # other input, other work
    r = run_cli("eval", "--model", str(ckpt), "--filter", "crop=1,2")
    assert r.returncode == 1 and r.stderr.startswith("error: crop=X0,Y0,W,H: expected 4 whole numbers")
