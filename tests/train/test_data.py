"""Datasets: framing oracle (bin_events), fixed disjoint splits, caches, DVS Gesture and folder layouts."""

from __future__ import annotations

import numpy as np
import pytest

from snnstudio.events.frames import bin_events
from snnstudio.events.io import write_events
from snnstudio.events.io.labels import write_labels
from snnstudio.events.synthetic import GESTURES, generate_gesture
from snnstudio.events.types import EventRecording, Label, make_events
from snnstudio.snn.zoo import ModelConfig
from snnstudio.train import data as D

from .conftest import TINY_DATA


def _random_events(n=5000, sensor=(32, 32), t_end=400_000, seed=0):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, t_end, n))
    return make_events(t, rng.integers(0, sensor[0], n), rng.integers(0, sensor[1], n), rng.integers(0, 2, n))


def test_group_and_pool_equal_framing_the_events_directly():
    ev = _random_events()
    fine = bin_events(ev, (32, 32), dt_us=50_000, t_start_us=0, n_frames=8, out_size=(16, 16))
    got = D.pool_frames(D.group_frames(D._to_counts(fine)[None], 4), 8)[0]
    want = bin_events(ev, (32, 32), dt_us=100_000, t_start_us=0, n_frames=4, out_size=(8, 8))
    np.testing.assert_array_equal(got, want)
    with pytest.raises(D.DatasetError, match="does not divide"):
        D.group_frames(D._to_counts(fine)[None], 3)


def test_synthetic_sample_is_the_generator_framed(tiny_cache):
    spec = D.SyntheticSpec.from_options(TINY_DATA)
    frames, labels = D.synthetic_base(spec, "test", tiny_cache)
    i = 3
    rec = generate_gesture(GESTURES[i], seed=D.SPLIT_SEED["test"] + i, duration_us=spec.duration_us,
                           sensor_size=(32, 32), fps=spec.fps)
    want = bin_events(rec, dt_us=spec.base_dt_us, t_start_us=0, n_frames=spec.base_bins, out_size=(8, 8))
    np.testing.assert_array_equal(frames[i], want)
    assert list(labels) == [k % 10 for k in range(10)]
    assert frames[i].sum() == len(rec)  # every event of the sample is in its frames


def test_splits_are_disjoint_and_cached(tiny_cache, monkeypatch):
    cfg = ModelConfig(T=4, dt_us=100_000, input_size=(2, 8, 8), num_classes=10, class_names=list(GESTURES))
    tr = D.load_dataset("synthetic:train", cfg, options=TINY_DATA, cache_dir=tiny_cache)
    te = D.load_dataset("synthetic:test", cfg, options=TINY_DATA, cache_dir=tiny_cache)
    assert len(tr) == 20 and len(te) == 10 and tr.frames.shape[1:] == (4, 2, 8, 8)
    flat_tr = {f.tobytes() for f in tr.frames}
    assert not any(f.tobytes() in flat_tr for f in te.frames)
    # second load comes from the cache: the generator is never called
    monkeypatch.setattr(D, "synthetic_sample", lambda *a: (_ for _ in ()).throw(AssertionError("regenerated")))
    again = D.load_dataset("synthetic:test", cfg, options=TINY_DATA, cache_dir=tiny_cache)
    np.testing.assert_array_equal(again.frames, te.frames)
    with pytest.raises(D.DatasetError, match="dt_us must be 50000"):
        D.load_dataset("synthetic:test", ModelConfig(T=8, dt_us=1, input_size=(2, 8, 8)), options=TINY_DATA,
                       cache_dir=tiny_cache)


def test_flip_map_swaps_mirror_classes():
    fm = D._synthetic_flip_map(GESTURES)
    name = dict(enumerate(GESTURES))
    assert name[fm[GESTURES.index("swipe_left")]] == "swipe_right"
    assert name[fm[GESTURES.index("circle_ccw")]] == "circle_cw"
    assert name[fm[GESTURES.index("swipe_up")]] == "swipe_up"
    assert sorted(fm) == list(range(len(GESTURES)))


def test_limit_is_class_balanced():
    ds = D.FrameDataset(np.zeros((30, 1, 2, 4, 4), np.uint16), np.arange(30) % 3, ["a", "b", "c"], "x", 1)
    assert np.bincount(ds.limit(7).labels).tolist() == [3, 2, 2]
    with pytest.raises(D.DatasetError):
        ds.limit(0)


@pytest.mark.parametrize("text,kind,split", [
    ("synthetic", "synthetic", "test"), ("digits:train", "digits", "train"),
    ("dvsgesture:/d/DvsGesture:val", "dvsgesture", "val"), ("/my/folder", "folder", "test"),
    ("/my/folder:train", "folder", "train"),
])
def test_parse_spec(text, kind, split):
    s = D.parse_spec(text)
    assert (s.kind, s.split) == (kind, split)


def test_parse_spec_errors():
    with pytest.raises(D.DatasetError, match="unknown split"):
        D.parse_spec("synthetic:holdout")
    with pytest.raises(D.DatasetError, match="needs a folder"):
        D.parse_spec("dvsgesture")


def _fake_gesture_file(folder, user, seed):
    rec = generate_gesture("wave", seed=seed, sensor_size=(128, 128), duration_us=300_000, fps=100)
    ev = rec.events.copy()
    labels = [Label(2, 0, 150_000), Label(11, 150_000, 300_000)]
    path = folder / f"user{user:02d}_fluorescent.aedat"
    write_events(path, EventRecording(ev, (128, 128)), format="aedat3")
    write_labels(folder / f"user{user:02d}_fluorescent_labels.csv", labels)
    return ev


def test_dvs_gesture_users_split_and_cache(tmp_path, monkeypatch):
    root = tmp_path / "DvsGesture"
    root.mkdir()
    ev1 = _fake_gesture_file(root, 1, 1)
    _fake_gesture_file(root, 24, 2)
    cfg = ModelConfig(T=3, dt_us=50_000, input_size=(2, 32, 32))
    test = D.load_dataset(f"dvsgesture:{root}:test", cfg, cache_dir=tmp_path / "c")
    train = D.load_dataset(f"dvsgesture:{root}:train", cfg, cache_dir=tmp_path / "c")
    assert len(test) == 2 and len(train) == 2
    assert train.labels.tolist() == [1, 10]  # ids 1–11 in the file, 0–10 here
    want = bin_events(ev1, (128, 128), dt_us=50_000, t_start_us=150_000, n_frames=3, out_size=(32, 32))
    np.testing.assert_array_equal(train.frames[1], want)
    import snnstudio.events.io as io

    monkeypatch.setattr(io, "read_events", lambda *a, **k: (_ for _ in ()).throw(AssertionError("decoded again")))
    again = D.load_dataset(f"dvsgesture:{root}:train", cfg, cache_dir=tmp_path / "c")
    np.testing.assert_array_equal(again.frames, train.frames)


def test_dvs_gesture_missing_folder_says_where(tmp_path):
    with pytest.raises(D.DatasetError, match="put the DVS128 Gesture files there"):
        D.load_dataset(f"dvsgesture:{tmp_path}/nope", ModelConfig())
    with pytest.raises(D.DatasetError, match="no userNN_"):
        D.load_dataset(f"dvsgesture:{tmp_path}", ModelConfig())


def test_folder_dataset_one_class_per_subfolder(tmp_path):
    for c in ("alpha", "beta"):
        (tmp_path / "train" / c).mkdir(parents=True)
        (tmp_path / "test" / c).mkdir(parents=True)
    evs = {}
    for split in ("train", "test"):
        for k, c in enumerate(("alpha", "beta")):
            ev = _random_events(2000, (64, 48), seed=k + 10 * (split == "test"))
            ev["t"] += 1000
            evs[(split, c)] = ev
            write_events(tmp_path / split / c / "rec.npz", EventRecording(ev, (64, 48)))
    cfg = ModelConfig(T=2, dt_us=100_000, input_size=(2, 16, 16), num_classes=2, class_names=["alpha", "beta"])
    ds = D.load_dataset(f"{tmp_path}:test", cfg, cache_dir=tmp_path / "c")
    assert ds.class_names == ["alpha", "beta"] and ds.labels.tolist() == [0, 1]
    want = bin_events(evs[("test", "beta")], (64, 48), dt_us=100_000, t_start_us=int(evs[("test", "beta")]["t"][0]),
                      n_frames=2, out_size=(16, 16))
    np.testing.assert_array_equal(ds.frames[1], want)
    flat = tmp_path / "flat"
    flat.mkdir()
    write_events(flat / "rec.npz", EventRecording(evs[("test", "beta")], (64, 48)))
    with pytest.raises(D.DatasetError, match="no class sub-folders"):
        D.load_dataset(f"{flat}:test", cfg)


def test_digits_saccades_follow_the_digit():
    pytest.importorskip("sklearn")
    images, targets = D._digits()
    idx = D.digits_split_indices(len(targets))
    allidx = np.concatenate(list(idx.values()))
    assert len(np.unique(allidx)) == len(targets) == len(allidx)  # disjoint and covering
    spec = D.DigitsSpec()
    rec = D.digit_events(images[0], spec, seed=0)
    assert len(rec) > 100 and rec.sensor_size == (34, 34)
    assert 0 < rec.events["t"].min() and rec.events["t"].max() <= spec.duration_us
    # the events sit where the digit strokes pass: the 24-px digit centred at 5 px moves by ≤ 3 px
    x, y = rec.events["x"].astype(int), rec.events["y"].astype(int)
    inside = (x >= 2) & (x < 32) & (y >= 2) & (y < 32)
    assert inside.mean() > 0.99
    # the first saccade moves right and down: ON/OFF edges appear on both sides of the strokes
    assert (rec.events["t"] < spec.saccade_us).sum() > 0.2 * len(rec)
    assert set(np.unique(rec.events["p"])) == {0, 1}
