"""The bundled checkpoints' report: ``ABLATION.md`` / ``ABLATION.csv`` beside them
(``snnstudio eval --bundled-ablation``), from their recipes (:mod:`snnstudio.train.recipes`) and
an evaluation of each (:mod:`snnstudio.train.evaluate`)."""

from __future__ import annotations

from pathlib import Path

from snnstudio.errors import SnnStudioError
from snnstudio.train.recipes import RECIPES, recipe  # noqa: F401  (recipe re-exported: its old home)


def ablation_markdown(result: dict, budget_note: str = "", real: dict | None = None) -> str:
    """``ABLATION.md``: the ablation table of the bundled models plus how each was trained."""
    import json

    from snnstudio.train.evaluate import to_markdown

    lines = ["# Bundled models: ablation on the held-out synthetic test split", ""]
    lines += [f"Data: `{result['data']}` ({result['rows'][0]['samples'] if result['rows'] else 0} samples, never seen "
              "in training). Rows: each bundled model as trained, and the default with its attention "
              "switched off (whole or per part) at run time. Per sample (one 1.5 s gesture, T = 10 steps): spikes "
              "of all neuron layers, pooled firing rate, SOPs (accumulates driven by spikes), energy "
              "(4.6 pJ/MAC, 0.9 pJ/AC, 45 nm), latency of one step at batch 1 on the evaluating CPU.", ""]
    lines.append(to_markdown(result))
    lines += ["", "## How they were trained", "",
              "| model | epochs | best epoch | val acc | test acc (meta) | test acc when trained | train time | device |",
              "|---|---|---|---|---|---|---|---|"]
    seen = set()
    for r in result["rows"]:
        if r["model"] in seen:
            continue
        seen.add(r["model"])
        with open(r["checkpoint"], encoding="utf-8") as f:
            meta = json.load(f)["meta"]
        lines.append(f"| {r['model']} | {meta.get('epochs')} | {meta.get('best_epoch')} | "
                     f"{100 * meta.get('val_accuracy', 0):.1f} % | {100 * meta.get('accuracy', 0):.2f} % | "
                     f"{100 * meta.get('accuracy_at_training', meta.get('accuracy', 0)):.2f} % | "
                     f"{meta.get('train_seconds_total', 0) / 60:.1f} min | {meta.get('device')} |")
    lines += ["", "## Accuracy per class (as trained)", ""] + per_class_markdown(result)
    if real is not None:
        lines += ["", f"## On real clips of people (`{real['data']}`)", ""] + real_clips_markdown(real)
    if budget_note:
        lines += ["", budget_note]
    return "\n".join(lines) + "\n"


def per_class_markdown(result: dict) -> list[str]:
    """Rows = the models as trained, columns = the classes: where each model errs."""
    rows = [r for r in result["rows"] if r.get("variant") == "as trained" and r.get("per_class_accuracy")]
    if not rows:
        return []
    names = list(rows[0]["per_class_accuracy"])
    out = ["| model | " + " | ".join(n.replace("_", " ") for n in names) + " |", "|---|" + "---|" * len(names)]
    for r in rows:
        acc = r["per_class_accuracy"]
        out.append(f"| {r['model']} | " + " | ".join("–" if acc.get(n) is None else f"{100 * acc[n]:.0f}" for n in names) + " |")
    return out


def real_clips_markdown(result: dict) -> list[str]:
    """Rows = the models as trained on labelled real clips: accuracy over all clips, over the
    motion gestures and over ``other`` (the prediction at each gesture's end), spikes, energy,
    and accuracy per class present in the clips."""
    rows = [r for r in result["rows"] if r.get("variant") == "as trained"]
    if not rows:
        return []
    present = [n for n, a in (rows[0].get("per_class_accuracy") or {}).items() if a is not None]
    n = rows[0].get("samples", 0)
    out = [f"{n} clips; the prediction at each labelled gesture's end (T = 10 steps of 150 ms before it), "
           "through the studio's video path (centred square, 128×128, emulator defaults). A model that always "
           "answers `other` gets the `other` column right and every motion class wrong.", ""]
    head = ["model", "all", "motion", "other", "spikes / clip", "energy (µJ)"] + [c.replace("_", " ") for c in present]
    out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        acc = r.get("per_class_accuracy") or {}

        def pct(v):
            return "–" if v is None else f"{100 * v:.1f}"

        cells = [r["model"], pct(r["accuracy"]), pct(r.get("motion_accuracy")), pct(r.get("other_accuracy")),
                 f"{r['spike_count']:,.0f}", f"{r['energy_uj']:.1f}"] + [pct(acc.get(c)) for c in present]
        out.append("| " + " | ".join(cells) + " |")
    return out


#: Fields of a run's training config that do not change what is trained (where it ran, how it
#: printed): a run that differs from its recipe only in these is that recipe's model.
_RUN_ONLY = ("name", "out", "cache_dir", "workers", "progress", "device", "test")


def bundle_run(run_dir, models_dir=None) -> Path:
    """Copy the finished run in ``run_dir`` (``snnstudio train --bundled NAME --out run_dir``) into
    ``models_dir`` (default: the bundled ``resources/models``) as ``NAME.json`` + ``NAME.safetensors``,
    with ``train_command`` = ``snnstudio train --bundled NAME`` in its metadata. Refuses (one-line
    :class:`SnnStudioError`) a run that is not a recipe's, is unfinished (stopped, or no test
    score) or was trained with other settings than its recipe. Rebuild the ablation page after
    with ``snnstudio eval --bundled-ablation`` (:func:`write_bundled_ablation`). Returns the JSON path."""
    from snnstudio.snn.checkpoints import bundled_models_dir, load_checkpoint, save_checkpoint

    run = Path(run_dir)
    found = [p for p in sorted(run.glob("*.json")) if p.stem in RECIPES]
    if len(found) != 1:
        why = "none" if not found else ", ".join(p.name for p in found)
        raise SnnStudioError(f"{run}: needs exactly one finished checkpoint named after a bundled recipe (found {why})")
    name = found[0].stem
    model, cfg, meta = load_checkpoint(found[0])
    log = meta.get("log") or []
    if meta.get("test_samples") is None or "accuracy" not in meta or len(log) != meta.get("epochs"):
        raise SnnStudioError(f"{found[0]}: the run is unfinished (log {len(log)} of {meta.get('epochs')} epochs, "
                             "or no test score); resume it with --resume")
    from snnstudio.train.trainer import TrainConfig

    want, got = {**TrainConfig().to_dict(), **recipe(name)}, dict(meta.get("train_config") or {})
    differ = sorted(k for k in want if k not in _RUN_ONLY and got.get(k) != want[k])
    if differ:
        raise SnnStudioError(f"{found[0]}: trained with other settings than recipe {name} ({', '.join(differ)})")
    root = Path(models_dir) if models_dir is not None else bundled_models_dir()
    return save_checkpoint(root / name, model, cfg, {**meta, "train_command": f"snnstudio train --bundled {name}"})


#: Run-time switches of the default shown in the table beside the separately trained variants.
DEFAULT_SWITCHES = ("attention=off", "ta=off", "ca=off", "sa=off")


def write_bundled_ablation(models_dir=None, data: str = "synthetic:test", *, limit: int | None = None,
                           device: str = "cpu", cache_dir="cache", workers: int = 1, progress=None,
                           real_data: str | None = None) -> dict:
    """Evaluate every bundled checkpoint (plus the default's attention switched off at run time) on
    ``data`` and write ``ABLATION.md`` and ``ABLATION.csv`` into ``models_dir`` (default: the bundled
    ``resources/models``). The hand-written part of the page (recipe, budget, what it shows) is
    ``ABLATION_NOTES.md`` there. ``real_data`` (``videos:DIR``): also every model on those real
    clips, as a section of its own (``result["real"]``). Returns the table."""
    from snnstudio.snn.checkpoints import bundled_models_dir
    from snnstudio.train.evaluate import ablation_table, to_csv

    root = Path(models_dir) if models_dir is not None else bundled_models_dir()
    have = [n for n in RECIPES if (root / f"{n}.json").is_file()]
    if not have:
        raise SnnStudioError(f"no bundled checkpoint in {root}")
    paths = [str(root / f"{n}.json") for n in have]
    kw = dict(limit=limit, device=device, cache_dir=cache_dir, workers=workers, progress=progress)
    result = ablation_table(paths, data, **kw)
    default = str(root / "gesture-lif-tcsa.json")
    if default in paths:
        switched = ablation_table([default], data, list(DEFAULT_SWITCHES), include_base=False, **kw)
        result["rows"] = result["rows"][:1] + switched["rows"] + result["rows"][1:]
    for row in result["rows"]:
        row["model"] = Path(row["checkpoint"]).stem
    real = None
    if real_data:
        real = ablation_table(paths, real_data, **kw)
        for row in real["rows"]:
            row["model"] = Path(row["checkpoint"]).stem
        result["real"] = real
    notes = root / "ABLATION_NOTES.md"
    note = notes.read_text(encoding="utf-8") if notes.is_file() else ""
    from snnstudio.safe_files import atomic_write

    for name, text in (("ABLATION.md", ablation_markdown(result, note, real)), ("ABLATION.csv", to_csv(result))):
        with atomic_write(root / name, "w", encoding="utf-8") as (_, f):
            f.write(text)
    return result
