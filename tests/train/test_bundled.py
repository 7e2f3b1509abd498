"""The bundled checkpoints in resources/models: small, loadable, trained by their recipe, and
``snnstudio eval`` reproduces their reported held-out accuracy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from snnstudio.snn.checkpoints import bundled_checkpoints, bundled_models_dir, load_checkpoint
from snnstudio.train.recipes import RECIPES
from snnstudio.train.evaluate import resolve_model

from .conftest import run_cli

BUNDLED = [c for c in bundled_checkpoints() if c["name"] in RECIPES]


def test_default_is_bundled_and_resolves():
    assert resolve_model("default") == bundled_models_dir() / "gesture-lif-tcsa.json"
    assert {"gesture-lif-tcsa", "gesture-lif-none"} <= {c["name"] for c in BUNDLED}


@pytest.mark.parametrize("ck", BUNDLED, ids=[c["name"] for c in BUNDLED])
def test_bundled_checkpoint(ck):
    from pathlib import Path

    assert Path(ck["weights"]).stat().st_size <= 5_000_000
    model, cfg, meta = load_checkpoint(ck["json"])
    assert 0.1 < meta["accuracy"] <= 1.0 and meta["test_samples"] == 200 and meta["data"] == "synthetic"
    recipe = RECIPES[ck["name"]]["model"]
    assert cfg.T == recipe["T"] and list(cfg.input_size) == recipe["input_size"]
    assert cfg.attention == recipe.get("attention", cfg.attention)
    from snnstudio.train.recipes import recipe as full_recipe
    from snnstudio.train.trainer import TrainConfig

    built = TrainConfig(**{k: v for k, v in full_recipe(ck["name"]).items() if k != "name"}).model_config()
    assert cfg.widths == built.widths and cfg.options == built.options  # e.g. the voting read-out
    assert cfg.num_classes == 10 and meta["train_command"].startswith(f"snnstudio train --bundled {ck['name']}")
    assert len(meta["log"]) == meta["epochs"]


@pytest.mark.slow
def test_eval_reproduces_default_accuracy(repo_root):
    """Generates the held-out split (200 samples) when ./cache lacks it: minutes on a small CPU."""
    r = run_cli("eval", "--model", "default", "--data", "synthetic:test", "--json", "--cache-dir",
                str(repo_root / "cache"), timeout=1800)
    assert r.returncode == 0, r.stderr
    row = json.loads(r.stdout)["rows"][0]
    assert abs(row["accuracy"] - row["reported_accuracy"]) <= 0.005


def test_bundled_ablation_page_is_rebuilt_from_the_checkpoints(tmp_path):
    """`snnstudio eval --bundled-ablation DIR` rewrites ABLATION.md/.csv from the checkpoints in
    DIR: one row per checkpoint plus the default's run-time switches, the hand-written notes kept,
    and the figures equal to evaluating the same checkpoints directly."""
    import csv
    import shutil

    from snnstudio.cli import main
    from snnstudio.train.evaluate import ablation_table

    src = bundled_models_dir()
    for name in ("gesture-lif-tcsa", "gesture-lif-none"):
        for ext in (".json", ".safetensors"):
            shutil.copy(src / f"{name}{ext}", tmp_path / f"{name}{ext}")
    (tmp_path / "ABLATION_NOTES.md").write_text("## Budget and recipe\n\nhand-written note\n")
    from snnstudio.train.bundled import write_bundled_ablation

    result = write_bundled_ablation(tmp_path, limit=20, cache_dir=tmp_path / "cache")
    rows = list(csv.DictReader((tmp_path / "ABLATION.csv").open()))
    assert [(r["model"], r["variant"]) for r in rows] == [
        ("gesture-lif-tcsa", "as trained"), ("gesture-lif-tcsa", "attention=off"), ("gesture-lif-tcsa", "ta=off"),
        ("gesture-lif-tcsa", "ca=off"), ("gesture-lif-tcsa", "sa=off"), ("gesture-lif-none", "as trained")]
    page = (tmp_path / "ABLATION.md").read_text()
    assert "hand-written note" in page and page.count("| gesture-lif-tcsa |") >= 5
    oracle = ablation_table([str(tmp_path / "gesture-lif-none.json")], "synthetic:test", limit=20, device="cpu",
                            cache_dir=tmp_path / "cache")["rows"][0]
    assert result["rows"][-1]["accuracy"] == oracle["accuracy"]
    assert result["rows"][-1]["spike_count"] == oracle["spike_count"]
    # per class: one line per model as trained, the figures of its confusion matrix
    per_class = page.split("## Accuracy per class (as trained)")[1]
    line = next(ln for ln in per_class.splitlines() if ln.startswith("| gesture-lif-none |"))
    cells = [c.strip() for c in line.strip("|").split("|")][1:]
    conf = oracle["confusion"]
    assert cells == [f"{100 * conf[c][c] / sum(conf[c]):.0f}" for c in range(len(conf))]
    assert "| gesture-lif-tcsa |" in per_class and "attention=off" not in per_class
    assert main(["eval", "--bundled-ablation", str(tmp_path / "nothing-here")]) == 1


def test_bundled_ablation_adds_the_real_clips_section(tmp_path):
    """With real clips (`--real videos:DIR`) the page gets a section with one row per model whose
    figures are those of evaluating it on the clips directly."""
    import shutil

    from snnstudio.cli import main
    from snnstudio.train.evaluate import ablation_table

    src = bundled_models_dir()
    for ext in (".json", ".safetensors"):
        shutil.copy(src / f"gesture-lif-none{ext}", tmp_path / f"gesture-lif-none{ext}")
    clips = Path(__file__).resolve().parents[1] / "data" / "videos"
    assert main(["eval", "--bundled-ablation", str(tmp_path), "--real", f"videos:{clips}", "--limit", "10",
                 "--cache-dir", str(tmp_path / "cache")]) == 0
    page = (tmp_path / "ABLATION.md").read_text()
    real = page.split("## On real clips of people")[1]
    line = next(ln for ln in real.splitlines() if ln.startswith("| gesture-lif-none |"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    oracle = ablation_table([str(tmp_path / "gesture-lif-none.json")], f"videos:{clips}", device="cpu",
                            cache_dir=tmp_path / "cache")["rows"][0]
    assert cells[1] == f"{100 * oracle['accuracy']:.1f}"
    present = [c for c, a in oracle["per_class_accuracy"].items() if a is not None]
    assert len(cells) == 6 + len(present)
    assert cells[6:] == [f"{100 * oracle['per_class_accuracy'][c]:.1f}" for c in present]
