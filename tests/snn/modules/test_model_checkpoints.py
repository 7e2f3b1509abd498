"""Checkpoints: round trip (same outputs), every bad case is a CheckpointError, no unpickling,
atomic writes; and `snnstudio models`."""

import json
import pickle

import pytest
import torch
from safetensors.torch import load_file, save_file

import snnstudio
from snnstudio.cli import main
from snnstudio.errors import CheckpointError
from snnstudio.snn.checkpoints import bundled_checkpoints, bundled_models_dir, load_checkpoint, save_checkpoint
from snnstudio.snn.zoo import build_model, default_config


def _cfg(**kw):
    return default_config("ma_snn_gesture_small", **{"T": 4, "widths": (4, 8, 8, 16), **kw})


def _trained_ish(cfg):
    torch.manual_seed(0)
    model = build_model(cfg)
    model(torch.rand(cfg.T, 3, *cfg.input_size))  # train-mode pass: BN running stats move off init
    return model.eval()


@pytest.fixture
def saved(tmp_path):
    cfg = _cfg()
    model = _trained_ish(cfg)
    path = save_checkpoint(tmp_path / "gesture", model, cfg, {"training_data": "synthetic", "accuracy": 0.5})
    return path, model, cfg


def test_round_trip_gives_the_same_outputs(saved, tmp_path):
    path, model, cfg = saved
    assert path == tmp_path / "gesture.json" and (tmp_path / "gesture.safetensors").is_file()
    x = (torch.rand(cfg.T, 2, *cfg.input_size) < 0.3).float() * 2
    with torch.no_grad():
        expect = model(x)
    for p in (tmp_path / "gesture", path, tmp_path / "gesture.safetensors"):
        loaded, cfg2, meta = load_checkpoint(p)
        assert cfg2 == cfg and not loaded.training
        assert meta["training_data"] == "synthetic" and meta["accuracy"] == 0.5
        assert meta["snnstudio_version"] == snnstudio.__version__ and meta["date"][:2] == "20"
        with torch.no_grad():
            assert torch.equal(loaded(x), expect)
    doc = json.loads(path.read_text())
    assert doc["format"] == "snnstudio-checkpoint" and doc["config"]["arch"] == "ma_snn_gesture"
    assert not list(tmp_path.glob("*.tmp"))


def test_save_into_a_folder_names_it(tmp_path):
    cfg = _cfg()
    p = save_checkpoint(tmp_path, build_model(cfg), cfg, {"name": "demo"})
    assert p.name == "demo.json"
    p2 = save_checkpoint(tmp_path, build_model(cfg), cfg)
    assert p2.name == "ma_snn_gesture.json"
    with pytest.raises(CheckpointError, match="no such folder"):
        save_checkpoint(tmp_path / "nope" / "x", build_model(cfg), cfg)


def test_missing_files(saved, tmp_path):
    with pytest.raises(CheckpointError, match="config not found"):
        load_checkpoint(tmp_path / "other")
    (tmp_path / "gesture.safetensors").unlink()
    with pytest.raises(CheckpointError, match="weights not found"):
        load_checkpoint(saved[0])


@pytest.mark.parametrize(
    "text,match",
    [
        ("{not json", "not valid JSON"),
        ('{"config": {}}', "not a snnstudio checkpoint"),
        ('{"format": "snnstudio-checkpoint", "format_version": 99, "config": {}}', "format_version"),
        ('{"format": "snnstudio-checkpoint", "format_version": 1, "config": {"arch": "vgg"}}', "unknown architecture"),
        ('{"format": "snnstudio-checkpoint", "format_version": 1, "config": {"colour": 1}}', "unknown model config field"),
        ('{"format": "snnstudio-checkpoint", "format_version": 1, "config": {}, "meta": 3}', "meta"),
        ('[1, 2]', "not a snnstudio checkpoint"),
    ],
)
def test_broken_json(saved, text, match):
    saved[0].write_text(text)
    with pytest.raises(CheckpointError, match=match) as exc:
        load_checkpoint(saved[0])
    assert "gesture.json" in str(exc.value)


def test_config_weights_mismatch_names_the_keys(saved, tmp_path):
    path, model, cfg = saved
    # a config with other widths: every conv/fc weight is mis-shaped
    doc = json.loads(path.read_text())
    doc["config"]["widths"] = [4, 8, 8, 32]
    path.write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match=r"mis-shaped.*fc1\.fc\.layer\.weight \(16, 512\) vs \(32, 512\)"):
        load_checkpoint(path)
    # a config with another attention: attention weights are unexpected / missing
    doc["config"]["widths"] = [4, 8, 8, 16]
    doc["config"]["attention"] = "none"
    path.write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match=r"unexpected: conv1\.attention\.ca\.fc1\.weight"):
        load_checkpoint(path)
    doc["config"]["attention"] = "tcsa"
    path.write_text(json.dumps(doc))
    weights = load_file(str(tmp_path / "gesture.safetensors"))
    del weights["conv2.bn.layer.running_var"]
    save_file(weights, str(tmp_path / "gesture.safetensors"))
    with pytest.raises(CheckpointError, match=r"missing: conv2\.bn\.layer\.running_var"):
        load_checkpoint(path)


def test_corrupt_weights_and_no_unpickling(saved, tmp_path, monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("checkpoints must never unpickle")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    model, _, _ = load_checkpoint(saved[0])  # the normal path does not touch pickle
    (tmp_path / "gesture.safetensors").write_bytes(b"\x80\x04garbage, perhaps a pickle")
    with pytest.raises(CheckpointError, match="unreadable weights"):
        load_checkpoint(saved[0])


def test_failed_save_leaves_the_old_checkpoint_intact(saved, tmp_path):
    path, model, cfg = saved
    with pytest.raises(CheckpointError, match="not JSON-able"):
        save_checkpoint(path, model, cfg, {"accuracy": object()})
    with pytest.raises(CheckpointError, match="not JSON-able"):
        save_checkpoint(path, model, cfg, {"accuracy": float("nan")})
    loaded, _, meta = load_checkpoint(path)
    assert meta["accuracy"] == 0.5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gesture.json", "gesture.safetensors"]


def test_bundled_checkpoints_listing(saved, tmp_path):
    found = bundled_checkpoints(tmp_path)
    assert [c["name"] for c in found] == ["gesture"] and found[0]["meta"]["accuracy"] == 0.5
    (tmp_path / "broken.json").write_text("{")
    with pytest.warns(snnstudio.errors.SnnStudioWarning, match="broken.json"):
        found = bundled_checkpoints(tmp_path)
    assert [c["name"] for c in found] == ["gesture"]
    assert bundled_checkpoints(tmp_path / "absent") == []


def test_models_command_json(capsys, saved, tmp_path):
    assert main(["models", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= {"neurons", "modules", "models", "checkpoints"}
    lif = next(n for n in data["neurons"] if n["name"] == "lif")
    assert lif["defaults"]["tau"] == 2.0 and lif["defaults"]["v_threshold"] == 1.0
    assert "ssa" in {m["name"] for m in data["modules"]}
    models = {m["name"]: m["config"] for m in data["models"]}
    assert models["ma_snn_gesture"]["attention"] == "tcsa" and models["ma_snn_gesture"]["input_size"] == [2, 32, 32]
    bundled = sorted(p.stem for p in bundled_models_dir().glob("*.json")) if bundled_models_dir().is_dir() else []
    assert [c["name"] for c in data["checkpoints"]] == bundled  # what resources/models holds (none yet)
    assert main(["models", "--json", "--models-dir", str(tmp_path)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in data["checkpoints"]] == ["gesture"]
    assert main(["models"]) == 0
    assert "tcsa" in capsys.readouterr().out


def test_saved_checkpoints_have_ordinary_permissions_and_links_are_written_through(tmp_path):
    import os
    import stat

    cfg = _cfg()
    mask = os.umask(0o022)
    try:
        p = save_checkpoint(tmp_path / "plain", build_model(cfg), cfg)
    finally:
        os.umask(mask)
    for f in (p, p.with_suffix(".safetensors")):
        assert stat.S_IMODE(f.stat().st_mode) == 0o644  # not mkstemp's 0o600
    real = tmp_path / "store"
    real.mkdir()
    (tmp_path / "linked.json").symlink_to(real / "target.json")
    (tmp_path / "linked.safetensors").symlink_to(real / "target.safetensors")
    save_checkpoint(tmp_path / "linked", build_model(cfg), cfg)
    assert (tmp_path / "linked.json").is_symlink() and (real / "target.json").is_file()
    load_checkpoint(tmp_path / "linked")
    assert not [q for q in list(tmp_path.iterdir()) + list(real.iterdir()) if q.name.startswith(".")]


def test_saving_over_a_fifo_is_refused_before_anything_is_written(tmp_path):
    import os

    cfg = _cfg()
    os.mkfifo(tmp_path / "m.json")
    with pytest.raises(CheckpointError, match=r"m\.json: exists and is a FIFO"):
        save_checkpoint(tmp_path / "m", build_model(cfg), cfg)
    assert not (tmp_path / "m.safetensors").exists()  # never weights without their config


def test_train_checks_its_outputs_before_loading_data(tmp_path):
    from snnstudio.train.trainer import TrainError, check_train_outputs

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "log.csv").mkdir()
    with pytest.raises(TrainError, match=r"log\.csv: exists and is a folder"):
        check_train_outputs(tmp_path / "run", "demo")
    (tmp_path / "file").write_text("x")
    with pytest.raises(TrainError, match="cannot make the run folder"):
        check_train_outputs(tmp_path / "file" / "run", "demo")
