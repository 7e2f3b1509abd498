"""``snnstudio train``: train a zoo model on event data (progress bar, logs, checkpoints, resume).

Several GPUs: ``torchrun --nproc_per_node N -m snnstudio train ...`` (DistributedDataParallel);
the single-process run is the default.
"""

from __future__ import annotations

import argparse
import json

HELP = "train a model (BPTT, surrogate gradients; torchrun for several GPUs)"

_SCALARS = {
    "name": str, "out": str, "data": str, "epochs": int, "batch_size": int, "optimizer": str, "lr": float,
    "weight_decay": float, "momentum": float, "schedule": str, "warmup_epochs": int, "loss": str,
    "label_smoothing": float, "seed": int, "device": str, "amp": str, "grad_clip": float, "limit_train": int,
    "limit_val": int, "cache_dir": str, "workers": int, "init_from": str,
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="a training config JSON file (fields of TrainConfig); flags override it")
    p.add_argument("--bundled", metavar="NAME", help="the recipe of a bundled model (gesture-lif-tcsa …); flags override it")
    p.add_argument("--preset", help="start the model from a zoo preset (e.g. ma_snn_gesture_small)")
    p.add_argument("--model", action="append", default=[], metavar="KEY=VALUE",
                   help="a model config field (JSON value), e.g. neuron=plif, 'widths=[8,16,16,32]'; repeatable")
    p.add_argument("--data-option", action="append", default=[], metavar="KEY=VALUE",
                   help="synthetic/digits generator option, e.g. 'per_class={\"train\": 20}'; repeatable")
    p.add_argument("--augment", action="append", default=[], metavar="KEY=VALUE",
                   help="augmentation: flip=0.5, shift=2, drop=0.1, time_jitter_us=0; repeatable")
    for key, typ in _SCALARS.items():
        p.add_argument("--" + key.replace("_", "-"), type=typ, default=None)
    p.add_argument("--logit-scale", default=None, help="CE logits = scale × output ('auto' or a number)")
    p.add_argument("--no-test", action="store_true", help="do not evaluate the test split at the end")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (per-epoch lines only)")
    p.add_argument("--resume", action="store_true", help="continue the run saved in --out")
    p.add_argument("--print-config", action="store_true", help="print the resolved training config and exit")
    g = p.add_argument_group("teaching (fine-tuning a trained model from a few examples)")
    g.add_argument("--finetune", metavar="MODEL",
                   help="start from this checkpoint (default, a bundled or taught name, or a path) and learn --data's examples")
    g.add_argument("--classes", help="the new model's classes, comma-separated: NAME keeps or adds one, NEW=OLD renames; "
                                     "base classes not listed are removed (default: the base's + the examples' new labels)")
    g.add_argument("--adapt", default="auto", choices=["auto", "readout", "last", "all"],
                   help="what to train: read-out only, fc1+fc2, everything; auto by examples per class (≤5, ≤20, more)")
    g.add_argument("--test", metavar="SPEC", help="also score before/after on these labelled examples (e.g. videos:DIR)")
    g.add_argument("--holdout", default="auto", help="held-out measurement: auto, loo, none or a fraction (0.2)")
    g.add_argument("--copies", type=int, default=8, help="augmented copies of every example")
    g.add_argument("--replay", default="auto", metavar="N|auto|none",
                   help="N of the base's own synthetic samples per base class without examples, as negatives "
                        "(auto: 4 when some kept class has no examples)")


def _pairs(items: list[str], what: str) -> dict:
    from snnstudio.train.trainer import TrainError

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise TrainError(f"--{what} takes KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def build_config(args: argparse.Namespace):
    from snnstudio.train.trainer import TrainConfig

    cfg = TrainConfig.from_json_file(args.config) if args.config else TrainConfig()
    d = cfg.to_dict()
    if args.bundled:
        from snnstudio.train.recipes import recipe

        d.update(recipe(args.bundled))
    for key in _SCALARS:
        v = getattr(args, key)
        if v is not None:
            d[key] = v
    if args.logit_scale is not None:
        d["logit_scale"] = args.logit_scale if args.logit_scale == "auto" else float(args.logit_scale)
    model = dict(d["model"])
    if args.preset:
        model = {"preset": args.preset}
    model.update(_pairs(args.model, "model"))
    d["model"] = model
    d["data_options"] = {**d["data_options"], **_pairs(args.data_option, "data-option")}
    d["augment"] = {**d["augment"], **_pairs(args.augment, "augment")}
    if args.no_test:
        d["test"] = False
    if args.no_progress:
        d["progress"] = False
    if args.out is None and not args.config and not args.bundled:
        d["out"] = f"runs/{d['name']}"
    return TrainConfig.from_dict(d).validate()


def run(args: argparse.Namespace) -> int:
    from snnstudio.train.trainer import train

    if args.finetune:
        return run_finetune(args)

    cfg = build_config(args)
    if args.print_config:
        print(json.dumps(cfg.to_dict(), indent=2))
        return 0
    summary = train(cfg, resume=args.resume)
    return 0 if summary else 1


def run_finetune(args: argparse.Namespace) -> int:
    """``--finetune MODEL --data SPEC --out NAME``: teach, report before/after, save (see
    :mod:`snnstudio.train.finetune`). A bare ``--out`` name is saved in the user's models folder."""
    from rich.console import Console

    from snnstudio.snn.checkpoints import checkpoint_paths, check_checkpoint_output
    from snnstudio.train.evaluate import resolve_model
    from snnstudio.train.finetune import FinetuneError, finetune, load_examples, output_stem
    from snnstudio.train.trainer import _progress

    if not args.data:
        raise FinetuneError("--finetune needs --data with the examples (videos:DIR or a folder of recordings)")
    if not args.out:
        raise FinetuneError("--finetune needs --out NAME (saved in the user's models folder) or a path")
    base = resolve_model(args.finetune)
    classes = [c for c in args.classes.split(",") if c.strip()] if args.classes else None
    out = output_stem(args.out)
    if checkpoint_paths(out)[0].resolve() == base.resolve():
        raise FinetuneError(f"--out {out} would overwrite the base model; choose another name")
    check_checkpoint_output(out)
    cache = args.cache_dir or "cache"
    console = Console(stderr=True)
    say = console.print
    train_ds = load_examples(args.data, base, classes=classes, cache_dir=cache)
    test_ds = load_examples(args.test, base, classes=classes, cache_dir=cache) if args.test else None
    holdout = args.holdout
    try:
        holdout = float(holdout)
    except ValueError:
        pass
    replay = None
    if args.replay != "none":
        from snnstudio.train.finetune import replay_for_untaught

        per = 4 if args.replay == "auto" else int(args.replay)
        replay, missing = replay_for_untaught(base, train_ds, classes, per, cache)
        if missing and per > 0:
            say(f"replay: {len(replay) if replay is not None else 0} of the base's own samples of {', '.join(missing)}")
    bars: dict = {}

    def progress(p) -> None:
        if args.no_progress:
            if p.epoch == p.epochs:
                say(f"{p.stage}: epoch {p.epoch}/{p.epochs} loss {p.loss:.4f} acc {p.accuracy:.4f}")
            return
        bar = bars.get(p.stage)
        if bar is None:
            bar = bars[p.stage] = _progress(True, p.epochs, f"teach ({p.stage})")
        bar.advance(f"loss {p.loss:.3f} acc {p.accuracy:.3f}")
        if p.epoch == p.epochs:
            bar.close()

    aug = None
    if args.augment:
        from snnstudio.train.finetune import DEFAULT_AUGMENT

        aug = {**DEFAULT_AUGMENT.to_dict(), **_pairs(args.augment, "augment")}
    result = finetune(base, train_ds, classes=classes, adapt=args.adapt, epochs=args.epochs, augment=aug,
                      holdout=holdout, seed=args.seed or 0, progress=progress, replay=replay, test=test_ds,
                      copies=args.copies, lr=args.lr, name=out.name, log=say)
    report(result.meta, Console())
    path = result.save(out)
    say(f"saved {path} ({result.meta['seconds']:.1f} s)")
    return 0


def report(meta: dict, console) -> None:
    """Before/after per class on the held-out examples and the --test set."""
    from rich.table import Table

    def fmt(sc: dict | None, name: str) -> str:
        p = (sc or {}).get("per_class", {}).get(name)
        return f"{p['correct']}/{p['n']} ({p['accuracy']:.0%})" if p else "–"

    for title, pair in (("held-out examples (" + meta["holdout"]["method"] + ")", meta["holdout"]),
                        ("test " + str((meta.get("test") or {}).get("data", "")), meta.get("test"))):
        if not pair or not pair.get("after"):
            if title.startswith("held"):
                console.print(f"{title}: nothing held out (give more than one example per class, or --test)")
            continue
        t = Table(title=f"{title}: accuracy {pair['before']['accuracy']:.1%} → {pair['after']['accuracy']:.1%}")
        t.add_column("class")
        t.add_column("before")
        t.add_column("after")
        for name in meta["classes"]["names"]:
            if name in pair["after"]["per_class"]:
                t.add_row(name + (" (new)" if name in meta["classes"]["new"] else ""),
                          fmt(pair["before"], name), fmt(pair["after"], name))
        console.print(t)
