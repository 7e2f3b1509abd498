"""``snnstudio train`` + ``snnstudio eval`` end to end on tiny synthetic data (the CLI, subprocesses)."""

from __future__ import annotations

import csv
import json

import pytest
from safetensors.torch import load_file

from .conftest import TINY_MODEL, data_args, run_cli


def test_train_writes_logs_checkpoints_and_test_accuracy(tiny_run):
    rows = list(csv.DictReader(open(tiny_run / "log.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    for r in rows:
        assert 0.0 <= float(r["train_acc"]) <= 1.0 and 0.0 <= float(r["firing_rate"]) <= 1.0
        assert float(r["train_loss"]) > 0
    assert json.load(open(tiny_run / "log.json"))[1]["epoch"] == 2
    meta = json.load(open(tiny_run / "tiny.json"))["meta"]
    assert meta["test_samples"] == 10  # one per class, the held-out split
    assert 0.0 <= meta["accuracy"] <= 1.0
    assert meta["train_config"]["data_options"]["out_size"] == 8
    assert len(meta["log"]) == 2 and meta["best_epoch"] in (1, 2)
    for stem in ("best", "last", "tiny"):
        assert (tiny_run / f"{stem}.safetensors").stat().st_size < 5_000_000


def test_eval_reproduces_the_reported_accuracy(tiny_run, tiny_cache):
    r = run_cli("eval", "--model", str(tiny_run / "tiny.json"), "--data", "synthetic:test", "--cache-dir",
                str(tiny_cache), "--set", "attention=off", "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    meta = json.load(open(tiny_run / "tiny.json"))["meta"]
    base, off = res["rows"]
    assert base["variant"] == "as trained" and off["variant"] == "attention=off"
    assert base["accuracy"] == pytest.approx(meta["accuracy"], abs=1e-9)
    for row in res["rows"]:
        for key in ("accuracy", "spike_count", "firing_rate", "sops", "energy_uj", "latency_ms_per_step", "layers"):
            assert key in row
        assert sum(map(sum, row["confusion"])) == 10
        assert [lay["name"] for lay in row["layers"]] == ["conv1.neuron", "conv2.neuron", "conv3.neuron",
                                                          "fc1.neuron", "fc2.neuron"]
        # the pooled count is the sum of the layers' counts
        assert row["spike_count"] == pytest.approx(sum(lay["spikes_per_sample"] for lay in row["layers"]))


def test_resume_continues_exactly(tiny_run, tiny_cache, tmp_path):
    """One epoch, then --resume to two, equals the straight two-epoch run bit for bit."""
    common = ["train", "--name", "tiny", "--cache-dir", str(tiny_cache), *TINY_MODEL, *data_args(),
              "--batch-size", "8", "--no-progress", "--lr", "0.01", "--no-test"]
    r = run_cli(*common, "--out", str(tmp_path), "--epochs", "2", "--limit-train", "20")
    assert r.returncode == 0, r.stderr
    straight = load_file(str(tmp_path / "last.safetensors"))
    # now a run that stops after epoch 1 (state saved), resumed to epoch 2
    part = tmp_path / "part"
    env = {"SNNSTUDIO_TRAIN_STOP_AFTER": "1"}
    r1 = run_cli(*common, "--out", str(part), "--epochs", "2", "--limit-train", "20", env=env)
    assert r1.returncode == 0, r1.stderr
    assert len(json.load(open(part / "log.json"))) == 1
    r2 = run_cli(*common, "--out", str(part), "--epochs", "2", "--limit-train", "20", "--resume")
    assert r2.returncode == 0, r2.stderr
    assert "resuming at epoch 2" in r2.stdout
    resumed = load_file(str(part / "last.safetensors"))
    assert straight.keys() == resumed.keys()
    for k in straight:
        assert (straight[k] == resumed[k]).all(), k


def test_init_from_starts_at_the_checkpoints_weights(tiny_run, tiny_cache, tmp_path):
    """--init-from: with a vanishing learning rate the run's weights are the checkpoint's (an oracle:
    the file it started from); another architecture is refused in one line."""
    common = ["train", "--name", "tiny", "--cache-dir", str(tiny_cache), *TINY_MODEL, *data_args(),
              "--batch-size", "8", "--no-progress", "--no-test", "--epochs", "1", "--limit-train", "10"]
    r = run_cli(*common, "--out", str(tmp_path / "a"), "--lr", "1e-30", "--weight-decay", "0",
                "--init-from", str(tiny_run / "tiny.json"))
    assert r.returncode == 0, r.stderr
    assert "init: weights of" in r.stdout
    start, after = load_file(str(tiny_run / "tiny.safetensors")), load_file(str(tmp_path / "a" / "last.safetensors"))
    params = [k for k in start if "running_" not in k and "num_batches" not in k]
    assert params and start.keys() == after.keys()
    for k in params:
        assert (start[k] - after[k]).abs().max() < 1e-20, k
    # a random start differs from the checkpoint
    r = run_cli(*common, "--out", str(tmp_path / "b"), "--lr", "1e-30", "--weight-decay", "0")
    fresh = load_file(str(tmp_path / "b" / "last.safetensors"))
    assert any((start[k] - fresh[k]).abs().max() > 1e-3 for k in params)
    r = run_cli(*common[:-4], "--model", "widths=[4,8,8,8]", "--epochs", "1", "--out", str(tmp_path / "c"),
                "--init-from", str(tiny_run / "tiny.json"))
    assert r.returncode == 1 and "another model" in r.stderr and "widths" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_bad_input_gives_one_line_errors(tiny_run, tmp_path):
    r = run_cli("eval", "--model", str(tiny_run / "tiny.json"), "--set", "nosuchmodule=off", "--data", "synthetic:test",
                "--cache-dir", str(tmp_path))
    assert r.returncode == 1 and "no switchable module matches 'nosuchmodule'" in r.stderr
    r = run_cli("eval", "--model", "no-such-model")
    assert r.returncode == 1 and r.stderr.startswith("error: no model 'no-such-model'")
    r = run_cli("train", "--out", str(tmp_path / "x"), "--resume", "--no-progress")
    assert r.returncode == 1 and "nothing to resume" in r.stderr
    r = run_cli("train", "--optimizer", "lamb", "--print-config")
    assert r.returncode == 1 and "optimizer must be adamw or sgd" in r.stderr
    r = run_cli("eval", "--model", str(tiny_run / "tiny.json"), "--data", "dvsgesture:/nonexistent/DvsGesture")
    assert r.returncode == 1 and "put the DVS128 Gesture files there" in r.stderr
