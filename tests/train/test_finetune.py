"""Few-shot fine-tuning (snnstudio.train.finetune): a tiny MA-SNN and a tiny made-up problem, seconds."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from snnstudio.snn.checkpoints import load_checkpoint, save_checkpoint
from snnstudio.snn.zoo import ModelConfig, build_model
from snnstudio.train.data import FrameDataset
from snnstudio.train.finetune import (FinetuneCancelled, FinetuneError, finetune, head, plan_classes, resize_readout,
                                      trunk)

T, S, VOTE = 6, 8, 4
BASE_CLASSES = ["a", "b", "c"]
#: the default augmentation without shifts (2 cells of an 8×8 input would move a class's quadrant)
AUG = {"flip": 0.5, "shift": 0, "drop": 0.2, "time_jitter_us": 0.0, "gain": 0.5, "noise": 0.02}


def _cfg(names=BASE_CLASSES) -> ModelConfig:
    return ModelConfig(arch="ma_snn_gesture", neuron="lif", neuron_params={"v_threshold": 0.3}, attention="tcsa",
                       input_size=(2, S, S), T=T, dt_us=100_000, num_classes=len(names), class_names=list(names),
                       widths=(4, 8, 8, 32), options={"vote": VOTE}).validate()


def _data(names: list[str], per_class: int, seed: int) -> FrameDataset:
    """Class k: events in a 4×4 quadrant k (OFF for even, ON for odd), moving one cell per step
    (rightwards for k < 2, downwards otherwise), plus Poisson noise everywhere."""
    rng = np.random.default_rng(seed)
    frames, labels = [], []
    for k, _ in enumerate(names):
        for _ in range(per_class):
            f = rng.poisson(0.3, size=(T, 2, S, S)).astype(np.int64)
            y0, x0 = 4 * ((k // 2) % 2), 4 * (k % 2)
            for t in range(T):
                dy, dx = (0, t) if k < 2 else (t, 0)
                ys, xs = slice(y0 + dy % 3, y0 + dy % 3 + 2), slice(x0 + dx % 3, x0 + dx % 3 + 2)
                f[t, k % 2, ys, xs] += rng.poisson(6, size=(2, 2))
            frames.append(f)
            labels.append(k)
    return FrameDataset(np.stack(frames).astype(np.uint16), np.asarray(labels), list(names), "made-up", 100_000)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """An untrained tiny model saved as a checkpoint (its read-out knows nothing: near chance); its
    batch-norm statistics are those of the made-up data and its shifts +1, so that its neurons fire."""
    from snnstudio.snn.layers import reset_states

    torch.manual_seed(3)
    model = build_model(_cfg())
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for bn in bns:
        bn.momentum = None
        bn.reset_running_stats()
    d = _data(BASE_CLASSES, 4, seed=100)
    with torch.no_grad():
        reset_states(model)
        model.train()(torch.from_numpy(d.frames.astype(np.float32)).transpose(0, 1).contiguous())
        for bn in bns:
            bn.bias.fill_(1.0)
            bn.momentum = 0.1
    model.eval()
    path = save_checkpoint(tmp_path_factory.mktemp("base") / "tiny", model, _cfg(), {"name": "tiny", "data": "made-up"})
    return path


def _sha(path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def test_readout_finetuning_raises_heldout_accuracy(base):
    train = _data(BASE_CLASSES, 8, seed=1)
    r = finetune(base, train, adapt="readout", holdout=0.25, epochs=40, seed=0, augment=AUG)
    before, after = r.meta["holdout"]["before"], r.meta["holdout"]["after"]
    assert r.meta["adapt"] == "readout" and r.meta["holdout"]["method"] == "holdout 0.25"
    assert before["n"] == after["n"] == 6  # 2 of each class's 8 held out
    assert after["accuracy"] >= before["accuracy"] + 0.3, (before["accuracy"], after["accuracy"])
    # ... and on fresh examples the saved (returned) model is as good
    test = _data(BASE_CLASSES, 8, seed=9)
    r2 = finetune(base, train, adapt="readout", holdout="none", epochs=40, test=test, augment=AUG)
    assert r2.meta["test"]["after"]["accuracy"] >= 0.8 > r2.meta["test"]["before"]["accuracy"]
    assert np.asarray(r2.meta["test"]["after"]["confusion"]).sum() == len(test)


def test_auto_picks_the_depth_by_examples_per_class(base):
    assert finetune(base, _data(BASE_CLASSES, 2, 1), epochs=1, holdout="none").meta["adapt"] == "readout"
    assert finetune(base, _data(BASE_CLASSES, 6, 1), epochs=1, holdout="none", copies=1).meta["adapt"] == "last"


def test_new_class_gets_vote_rows_and_old_rows_stay(base):
    bm, _, _ = load_checkpoint(base)
    new = _data(["a", "b", "c", "d"], 3, seed=2)
    only_d = new.subset(np.flatnonzero(new.labels == 3))
    replay = _data(BASE_CLASSES, 2, seed=4)
    r = finetune(base, only_d, adapt="readout", replay=replay, holdout="none", epochs=20, augment=AUG)
    assert r.class_names == ["a", "b", "c", "d"] and r.meta["classes"]["new"] == ["d"]
    sd, bsd = r.model.state_dict(), bm.state_dict()
    W = sd["fc2.fc.layer.weight"]
    assert W.shape == (4 * VOTE, 32)
    for k in ("fc2.fc.layer.weight", "fc2.bn.layer.weight", "fc2.bn.layer.bias", "fc2.bn.layer.running_mean",
              "fc2.bn.layer.running_var"):
        assert torch.equal(sd[k][:3 * VOTE], bsd[k]), k  # a, b, c: no examples → exactly the base's
    for k in bsd:
        if not k.startswith("fc2.fc.") and not k.startswith("fc2.bn."):
            assert torch.equal(sd[k], bsd[k]), k  # nothing but the read-out is trained
    assert not torch.equal(W[3 * VOTE:], torch.zeros_like(W[3 * VOTE:]))
    assert len({tuple(row.tolist()) for row in W[3 * VOTE:]}) == VOTE  # the vote neurons differ
    # new examples of the new class mostly go to it (the base's untrained rows of a, b, c stay as
    # they were, random, and compete: chance is 1/4)
    fresh = _data(["a", "b", "c", "d"], 8, seed=7)
    from snnstudio.train.finetune import predict

    d_pred = predict(r.model, fresh.frames[fresh.labels == 3])
    assert (d_pred == 3).mean() >= 0.5


def test_remove_and_rename_classes(base):
    bm, bcfg, _ = load_checkpoint(base)
    plan = plan_classes(BASE_CLASSES, ["c"], ["c", "alpha=a"])
    assert plan.names == ["c", "alpha"] and plan.removed == ["b"] and plan.renamed == {"a": "alpha"}
    model, cfg = resize_readout(bm, bcfg, plan)
    W, Wb = model.state_dict()["fc2.fc.layer.weight"], bm.state_dict()["fc2.fc.layer.weight"]
    assert W.shape == (2 * VOTE, 32)
    assert torch.equal(W[:VOTE], Wb[2 * VOTE:]) and torch.equal(W[VOTE:], Wb[:VOTE])  # c, then a
    # examples may use the old name of a renamed class; the base's votes map by name
    train = _data(BASE_CLASSES, 4, seed=5)
    keep = train.subset(np.flatnonzero(train.labels != 1))
    r = finetune(base, keep, classes=["c", "alpha=a"], adapt="readout", epochs=5, holdout="loo")
    assert r.class_names == ["c", "alpha"]
    assert r.meta["classes"]["removed"] == ["b"] and r.meta["classes"]["renamed"] == {"a": "alpha"}
    assert {e["label"] for e in r.meta["examples"]["items"]} == {"c", "alpha"}
    assert r.meta["holdout"]["method"] == "leave-one-out" and r.meta["holdout"]["folds"] == 3


def test_cancel_stops_cleanly(base, tmp_path):
    before = (_sha(base), _sha(base.with_suffix(".safetensors")))
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(FinetuneCancelled):
        finetune(base, _data(BASE_CLASSES, 3, 1), adapt="readout", epochs=50, cancel=cancel)
    assert len(calls) == 3
    assert (_sha(base), _sha(base.with_suffix(".safetensors"))) == before
    assert list(tmp_path.iterdir()) == []


def test_saved_checkpoint_loads_with_provenance(base, tmp_path):
    train = _data(BASE_CLASSES, 3, 1)
    r = finetune(base, train, adapt="last", epochs=2, copies=2, name="mine")
    path = r.save(tmp_path / "mine")
    model, cfg, meta = load_checkpoint(path)
    x = torch.from_numpy(train.frames[:4].astype(np.float32)).transpose(0, 1).contiguous()
    from snnstudio.snn.layers import reset_states

    with torch.no_grad():
        reset_states(model)
        a = model(x)
        reset_states(r.model)
        b = r.model(x)
    assert torch.equal(a, b)
    assert meta["finetuned_from"]["name"] == "tiny" and meta["finetuned_from"]["weights_sha1"] == _sha(base.with_suffix(".safetensors"))
    assert meta["adapt"] == "last" and meta["epochs"] == 2 and meta["seconds"] > 0
    items = meta["examples"]["items"]
    assert [e["label"] for e in items] == [BASE_CLASSES[i] for i in train.labels]
    assert items[0]["frames_sha1"] == hashlib.sha1(np.ascontiguousarray(train.frames[0]).tobytes()).hexdigest()[:16]
    assert meta["holdout"]["method"] == "leave-one-out"
    assert 0 <= meta["accuracy_before"] <= 1 and 0 <= meta["accuracy_after"] <= 1
    assert cfg.class_names == BASE_CLASSES


@pytest.mark.parametrize("level", ["readout", "last"])
def test_precomputed_features_train_like_the_full_network(base, level):
    """Oracle: one step of the head on precomputed trunk spikes has the loss and gradients of the
    whole (frozen) network run on the same batch."""
    import torch.nn.functional as F

    bm, bcfg, _ = load_checkpoint(base)
    model, _ = resize_readout(bm, bcfg, plan_classes(BASE_CLASSES, [], None))
    data = _data(BASE_CLASSES, 3, 6)
    x = torch.from_numpy(data.frames.astype(np.float32)).transpose(0, 1).contiguous()
    y = torch.from_numpy(data.labels)
    params = [model.fc2.fc.layer.weight, model.fc2.bn.layer.bias] + (
        [model.fc1.fc.layer.weight] if level == "last" else [])
    for p in model.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    with torch.no_grad():
        feats = trunk(model, x, level).to(torch.uint8)  # stored as the fine-tuner stores them
    loss_a = F.cross_entropy(head(model, feats.float(), level) * 8, y)
    grads_a = torch.autograd.grad(loss_a, params)
    from snnstudio.snn.layers import reset_states

    reset_states(model)
    loss_b = F.cross_entropy(model(x) * 8, y)
    grads_b = torch.autograd.grad(loss_b, params)
    assert float(loss_a.detach()) == pytest.approx(float(loss_b.detach()), abs=1e-6)
    assert all(float(g.abs().sum()) > 0 for g in grads_b)
    for ga, gb in zip(grads_a, grads_b):
        torch.testing.assert_close(ga, gb, rtol=1e-5, atol=1e-7)


def test_bad_input_is_one_clear_error(base, tmp_path):
    data = _data(["a", "b", "c", "d"], 2, 1)
    with pytest.raises(FinetuneError, match="'d'.*not a class of the new model"):
        finetune(base, data, classes=["a", "b", "c"])
    with pytest.raises(FinetuneError, match="new class.*e have no examples"):
        finetune(base, data, classes=["a", "b", "c", "d", "e"])
    with pytest.raises(FinetuneError, match="cannot rename 'zz'"):
        plan_classes(BASE_CLASSES, ["a"], ["x=zz", "a"])
    with pytest.raises(FinetuneError, match="listed twice"):
        plan_classes(BASE_CLASSES, ["a"], ["a", "a"])
    with pytest.raises(FinetuneError, match="no examples"):
        finetune(base, data.subset([]))
    with pytest.raises(FinetuneError, match="adapt must be"):
        finetune(base, data, adapt="deep")
    from tests.train.conftest import run_cli

    r = run_cli("train", "--finetune", str(base), "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "m"))
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "nowhere" in lines[0], r.stderr
    r = run_cli("train", "--finetune", str(base), "--data", "videos:" + str(tmp_path), "--out", str(tmp_path / "m"))
    assert r.returncode == 1 and "labels.csv" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not any(tmp_path.iterdir())


SYN_DT = 1_500_000 // T


@pytest.fixture(scope="module")
def synthetic_base(tmp_path_factory):
    """A tiny untrained net saved as if trained on the synthetic gestures (so its own data can be replayed)."""
    from dataclasses import replace

    names = ["swipe_left", "swipe_right", "other"]
    cfg = replace(_cfg(names), dt_us=SYN_DT)  # the synthetic samples last 1.5 s: T · dt
    torch.manual_seed(5)
    model = build_model(cfg).eval()
    meta = {"name": "tiny-synthetic", "data": "synthetic", "data_options": {"per_class": {"train": 2, "val": 2}}}
    return save_checkpoint(tmp_path_factory.mktemp("sbase") / "tiny-synthetic", model, cfg, meta)


@pytest.fixture(scope="module")
def replay_cache(tmp_path_factory):
    """One cache for the replay tests: the base's synthetic samples are generated once."""
    return tmp_path_factory.mktemp("replay-cache")


def test_replay_brings_the_bases_own_samples_of_the_kept_classes_no_example_shows(synthetic_base, replay_cache):
    from snnstudio.train.finetune import replay_for_untaught

    ex = _data(["swipe_left", "diagonal"], 2, seed=1)  # one kept class shown, one new
    # one per class: the base's val split is generated whole (10 classes), then cut to the missing ones
    replay, missing = replay_for_untaught(synthetic_base, ex, None, per_class=1, cache_dir=replay_cache / "frames")
    assert missing == ["swipe_right", "other"]
    assert sorted(replay.class_names[int(i)] for i in replay.labels) == ["other", "swipe_right"]
    assert replay.frames.shape[1:] == (T, 2, S, S)
    none, missing = replay_for_untaught(synthetic_base, ex, ["swipe_left", "diagonal"], per_class=1,
                                        cache_dir=replay_cache / "frames")
    assert none is None and missing == []  # every kept class has examples: nothing to replay


def test_the_studios_fine_tune_replays_like_the_cli(synthetic_base, replay_cache, monkeypatch):
    import json

    from snnstudio.engine.teach import FinetuneRequest, run_finetune

    monkeypatch.setenv("SNNSTUDIO_CACHE", str(replay_cache))  # the studio's cache: <it>/frames
    ex = _data(["swipe_left", "diagonal"], 3, seed=2)
    ex.dt_us = SYN_DT
    labels = [ex.class_names[int(i)] for i in ex.labels]
    req = FinetuneRequest(str(synthetic_base), ex.frames, labels, ["swipe_left", "swipe_right", "other", "diagonal"],
                          ex.dt_us, out="taught-replay", epochs=2, copies=1, save_examples=False, replay_per_class=1)
    res = run_finetune(req)
    meta = json.loads(open(res["json"]).read())["meta"]
    assert meta["replay"]["n"] == 2  # one each of swipe_right and other
