"""`bundle_run`: a finished run of a bundled recipe goes into the models folder with its train
command; unfinished runs, runs trained otherwise than their recipe and folders without a recipe's
checkpoint are refused in one line."""

from __future__ import annotations

import json

import pytest
import torch

from snnstudio.errors import SnnStudioError
from snnstudio.snn.checkpoints import bundled_checkpoints, load_checkpoint, save_checkpoint
from snnstudio.snn.zoo import build_model
from snnstudio.train.bundled import bundle_run
from snnstudio.train.recipes import recipe
from snnstudio.train.trainer import TrainConfig

NAME = "gesture-syna_resnet"


def _run(tmp_path, epochs_done=None, **train_changes):
    """A run folder as `snnstudio train --bundled NAME --out DIR` leaves it (final checkpoint,
    best/last, logs), its weights moved off their initial values."""
    run = tmp_path / "run"
    run.mkdir()
    rc = recipe(NAME)
    cfg = TrainConfig(**{k: v for k, v in rc.items() if k != "name"}).model_config()
    torch.manual_seed(0)
    model = build_model(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    train_config = {**TrainConfig().to_dict(), **rc, "out": str(run), "cache_dir": "/elsewhere/cache",
                    "workers": 1, "progress": False, **train_changes}
    done = rc["epochs"] if epochs_done is None else epochs_done
    meta = {"name": NAME, "epochs": rc["epochs"], "log": [{"epoch": i + 1} for i in range(done)],
            "accuracy": 0.81, "test_samples": 200, "data": "synthetic", "train_config": train_config}
    for stem in ("best", "last", NAME):
        save_checkpoint(run / stem, model, cfg, meta)
    return run, model


def test_a_finished_run_is_bundled_with_its_train_command(tmp_path):
    run, model = _run(tmp_path)
    models = tmp_path / "models"
    models.mkdir()
    path = bundle_run(run, models)
    assert path == models / f"{NAME}.json" and (models / f"{NAME}.safetensors").is_file()
    loaded, cfg, meta = load_checkpoint(path)
    assert meta["train_command"] == f"snnstudio train --bundled {NAME}"
    assert meta["accuracy"] == 0.81 and meta["train_config"]["cache_dir"] == "/elsewhere/cache"
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k
    assert [c["name"] for c in bundled_checkpoints(models, include_user=False)] == [NAME]
    assert json.loads(path.read_text())["config"] == json.loads((run / f"{NAME}.json").read_text())["config"]


def test_an_unfinished_run_is_refused(tmp_path):
    run, _ = _run(tmp_path, epochs_done=12)
    with pytest.raises(SnnStudioError, match="unfinished.*12 of 50"):
        bundle_run(run, tmp_path)
    assert not (tmp_path / f"{NAME}.json").exists()


def test_a_run_trained_otherwise_than_its_recipe_is_refused(tmp_path):
    run, _ = _run(tmp_path, lr=1e-3, data_options={"generator": 3})
    with pytest.raises(SnnStudioError, match=r"other settings than recipe gesture-syna_resnet \(data_options, lr\)"):
        bundle_run(run, tmp_path)


def test_a_folder_without_a_recipes_checkpoint_is_refused(tmp_path):
    run, _ = _run(tmp_path)
    (run / f"{NAME}.json").rename(run / "mine.json")
    with pytest.raises(SnnStudioError, match="exactly one finished checkpoint.*found none"):
        bundle_run(run, tmp_path)
