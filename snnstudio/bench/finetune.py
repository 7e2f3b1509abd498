"""Few-shot fine-tuning speed and effect (:mod:`snnstudio.train.finetune`) on generated gestures.

* ``new_class`` — the default model learns a class it does not know, ``swipe_diag``: synthetic
  ``swipe_right`` samples (the base's generator, v2) with every event rotated 45° about the
  sensor centre, so the hand moves up and to the right. The base has only axis-aligned swipes,
  so this is a new motion, not a relabelled one. 1, 3 and 5 examples, read-out only, with the
  base's own synthetic samples of the other classes as replay negatives (4 per class, generated
  once and cached: that one-off time is reported apart). Measured on 20 new ``swipe_diag``
  samples (recall) and 2 unseen samples of each base class (do the old classes survive).
  Goal: ≤ 10 s per fine-tuning on a 2-core CPU.
* ``ten_by_five`` — 10 classes × 5 examples of the v3 generator (a person filmed like a video:
  another domain than the base's v2 training data), deeper adaptation (``last``: fc1 + fc2),
  tested on 5 other v3 samples per class. Goal: ≤ 2 min.

Times are wall seconds of :func:`~snnstudio.train.finetune.finetune` (data generation apart) with
the torch threads of the process (set ``OMP_NUM_THREADS`` to pin them).
"""

from __future__ import annotations

import time

import numpy as np

NEW_CLASS = "swipe_diag"


def _rotate(rec, degrees: float):
    """``rec`` with every event rotated by ``degrees`` (counter-clockwise on screen) about the sensor centre;
    events rotated off the sensor are dropped."""
    w, h = rec.sensor_size
    ev = rec.events
    a = np.deg2rad(degrees)
    cx, cy = (w - 1) / 2, (h - 1) / 2
    dx, dy = ev["x"].astype(np.float64) - cx, ev["y"].astype(np.float64) - cy
    # y grows downwards: counter-clockwise on screen is a clockwise rotation in (x, y)
    x2 = np.rint(cx + dx * np.cos(a) + dy * np.sin(a))
    y2 = np.rint(cy - dx * np.sin(a) + dy * np.cos(a))
    keep = (x2 >= 0) & (x2 < w) & (y2 >= 0) & (y2 < h)
    out = ev[keep].copy()
    out["x"], out["y"] = x2[keep], y2[keep]
    return out


def _frames(events, sensor, start_us: int, cfg) -> np.ndarray:
    from snnstudio.events.frames import bin_events
    from snnstudio.train.data import _to_counts

    c, h, w = cfg.input_size
    f = bin_events(events, tuple(sensor), dt_us=cfg.dt_us, t_start_us=start_us, n_frames=cfg.T, out_size=(w, h))
    return _to_counts(f)


def generated(cfg, classes: list[int], per_class: int, seed: int, version: int, rotate_to: str | None = None):
    """A FrameDataset of ``per_class`` samples of each synthetic class index (``dataset_sample``), framed
    for ``cfg``; ``rotate_to``: rotate by 45° and label every sample with that name."""
    from snnstudio.events.synthetic import GESTURES, dataset_sample
    from snnstudio.train.data import FrameDataset

    frames, labels = [], []
    names = list(GESTURES) + ([rotate_to] if rotate_to else [])
    for c in classes:
        for k in range(per_class):
            rec = dataset_sample(c + len(GESTURES) * k, seed=seed, version=version)
            lab = rec.labels[0]
            ev = _rotate(rec, 45.0) if rotate_to else rec.events
            frames.append(_frames(ev, rec.sensor_size, lab.start_us, cfg))
            labels.append(names.index(rotate_to) if rotate_to else c)
    return FrameDataset(np.stack(frames), np.asarray(labels, np.int64), names,
                        f"generated v{version} seed {seed}{' rotated 45°' if rotate_to else ''}", cfg.dt_us)


def _concat(a, b):
    from snnstudio.train.data import FrameDataset

    names = list(dict.fromkeys(a.class_names + b.class_names))
    lab = [names.index(a.class_names[i]) for i in a.labels] + [names.index(b.class_names[i]) for i in b.labels]
    return FrameDataset(np.concatenate([a.frames, b.frames]), np.asarray(lab, np.int64), names, f"{a.name} + {b.name}", a.dt_us)


def _acc(sc: dict, names) -> float | None:
    per = [sc["per_class"][n] for n in names if n in sc["per_class"]]
    n = sum(p["n"] for p in per)
    return sum(p["correct"] for p in per) / n if n else None


def run(quick: bool = False) -> dict:
    import tempfile

    import torch

    from snnstudio.snn.checkpoints import read_checkpoint_json
    from snnstudio.train.evaluate import resolve_model
    from snnstudio.train.finetune import finetune, replay_for

    base = resolve_model("default")
    cfg, _ = read_checkpoint_json(base)
    old = list(cfg.class_names)
    result: dict = {"torch_threads": torch.get_num_threads(), "base": base.stem}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="snnstudio-bench-ft-") as cache:
        replay = replay_for(base, old, per_class=4, cache_dir=cache, workers=1)
    result["replay_generation_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    diag_all = generated(cfg, [1], 5 + (10 if quick else 20), seed=77, version=2, rotate_to=NEW_CLASS)
    olds = generated(cfg, list(range(10)), 1 if quick else 2, seed=88, version=2)
    result["data_generation_s"] = round(time.perf_counter() - t0, 2)
    test = _concat(diag_all.subset(np.arange(5, len(diag_all))), olds)
    rows = []
    for n in ((1, 5) if quick else (1, 3, 5)):
        teach = diag_all.subset(np.arange(n))
        t0 = time.perf_counter()
        r = finetune(base, teach, adapt="readout", holdout="none", replay=replay, test=test, seed=0)
        secs = time.perf_counter() - t0
        t = r.meta["test"]
        rows.append({"examples": n, "seconds": round(secs, 2),
                     "new_class_recall": _acc(t["after"], [NEW_CLASS]),
                     "old_classes_before": _acc(t["before"], old), "old_classes_after": _acc(t["after"], old),
                     "goal_met": secs <= 10.0})
    result["new_class"] = rows
    t0 = time.perf_counter()
    per_test = 2 if quick else 5
    v3 = generated(cfg, list(range(10)), 5 + per_test, seed=99, version=3)
    result["data_generation_s"] += round(time.perf_counter() - t0, 2)
    k = np.tile(np.arange(5 + per_test), 10)  # samples are class-major: the k-th sample of each class
    train_idx, test_idx = np.flatnonzero(k < 5), np.flatnonzero(k >= 5)
    teach, held = v3.subset(train_idx), v3.subset(test_idx)
    rows = []
    for adapt in (("last",) if quick else ("readout", "last")):
        t0 = time.perf_counter()
        r = finetune(base, teach, adapt=adapt, holdout="none", test=held, seed=0, copies=8 if quick else 16)
        secs = time.perf_counter() - t0
        rows.append({"adapt": adapt, "examples": len(teach), "seconds": round(secs, 2),
                     "test_before": r.meta["test"]["before"]["accuracy"], "test_after": r.meta["test"]["after"]["accuracy"],
                     "goal_met": secs <= 120.0})
    result["ten_by_five"] = rows
    return result
