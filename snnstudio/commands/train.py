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
    "limit_val": int, "cache_dir": str, "workers": int,
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
        from snnstudio.train.bundled import recipe

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

    cfg = build_config(args)
    if args.print_config:
        print(json.dumps(cfg.to_dict(), indent=2))
        return 0
    summary = train(cfg, resume=args.resume)
    return 0 if summary else 1
