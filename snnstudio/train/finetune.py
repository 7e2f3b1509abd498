"""Teach a trained gesture model new people, rooms and gestures from a few labelled examples.

:func:`finetune` starts from a checkpoint (an MA-SNN, ``ma_snn_gesture``) and a small
:class:`~snnstudio.train.data.FrameDataset` (frames uint16 ``[N, T, 2, H, W]``, the model's
``T``/``dt_us``/input size), and returns a :class:`FinetuneResult` holding the new model and the
metadata of a normal checkpoint (safetensors + JSON, :meth:`FinetuneResult.save`).

Classes: ``classes`` lists the new model's classes in order; an entry ``NAME`` keeps a class of
the base (or adds a new one when the base has no such class) and ``NEW=OLD`` renames base class
``OLD``. Base classes not listed are removed (their read-out rows dropped). Default: the base's
classes, then every label of the examples the base does not know. A new class gets ``vote`` fresh
read-out neurons (``fc2`` rows), *imprinted*: their weights point from the mean ``fc1`` rate of
all training examples to the mean rate of the class's examples, scaled like the base's rows, and
their batch-norm statistics are those of that weighted sum over the training examples, so they
start near the class instead of at random.

What is trained (``adapt``):

* ``readout`` — ``fc2`` only (weights and batch-norm scale/shift of the classes that have
  examples, and of new classes; the rows of every other class stay exactly as in the base).
  The frozen network's ``fc1`` spike trains (``[T, N, fc1]``, 0/1) are computed **once** per
  augmented copy of each example and only ``fc2`` runs in the training loop: seconds on a CPU.
* ``last`` — ``fc1`` and ``fc2`` (with their temporal attention); the frozen conv stack's output
  spikes (``[T, N, C·H/4·W/4]``) are computed once per augmented copy, likewise.
* ``all`` — every layer, BPTT through the whole network on freshly augmented copies each epoch.
* ``auto`` — ``readout`` when the class with the fewest examples has ≤ 5, ``last`` up to 20,
  ``all`` beyond.

Batch norm runs on its running statistics throughout (eval mode: a handful of examples cannot
give batch statistics); the surrogate gradients of the neurons make the spikes differentiable.
The loss is the base trainer's: cross-entropy with label smoothing on ``logit_scale ×`` the read-out
rate.

Augmentation (:func:`~snnstudio.train.augment.augment_batch`): ``copies`` augmented copies per
example (shift, drop, time jitter, gain, noise; mirroring only for classes whose mirror image is a
class of the model — swipe_left ↔ swipe_right … — never for new classes).

``replay``: examples of base classes that the user gave no examples of (e.g. a few of the base's
own synthetic training samples). They train only as negatives for the trained rows and are never
measured; without them, teaching one new class from its examples alone has nothing to tell it
apart from the others.

Measurement: ``holdout="auto"`` holds out one example per class in each of up to 3 folds
(leave-one-out, classes with a single example are never held out) when some class has ≤ 3
examples, and then trains the returned model on all examples; otherwise 20 % of each class is held
out and the returned model is the one trained on the rest (the one measured). Before (the base,
its predictions mapped to the new classes by name) and after accuracy per class and confusion
matrices (rows: true class, columns: predicted) go into the result and the checkpoint metadata,
and likewise for an optional ``test`` set. ``progress`` gets a :class:`FinetuneProgress` after
every epoch; ``cancel()`` returning true stops at the next batch with :class:`FinetuneCancelled`
(nothing written, the base checkpoint is only ever read).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from snnstudio.errors import SnnStudioError
from snnstudio.train.augment import AugmentConfig

ADAPT_MODES = ("auto", "readout", "last", "all")
#: default epochs of each adapt mode (over ``copies`` augmented copies of every example)
DEFAULT_EPOCHS = {"readout": 20, "last": 20, "all": 6}
DEFAULT_LR = {"readout": 5e-3, "last": 2e-3, "all": 1e-3}
#: the fine-tuning default: the base trainer's shift/drop, plus time jitter, gain and noise
DEFAULT_AUGMENT = AugmentConfig(flip=0.5, shift=2, drop=0.2, time_jitter_us=0.0, gain=0.5, noise=0.02)


class FinetuneError(SnnStudioError):
    """Fine-tuning cannot start: a bad class list, an unknown label, a class without examples …"""


class FinetuneCancelled(SnnStudioError):
    """``cancel()`` said stop: nothing was saved and the base model is untouched."""


@dataclass
class FinetuneProgress:
    """One progress report: ``stage`` ("fold 1/3" or "final"), ``epoch`` of ``epochs`` (1-based),
    the epoch's training ``loss`` and ``accuracy`` (on the augmented copies)."""

    stage: str
    epoch: int
    epochs: int
    loss: float
    accuracy: float


@dataclass
class FinetuneConfig:
    """How a fine-tuning run trains (stored in the checkpoint metadata)."""

    adapt: str = "auto"
    epochs: int | None = None
    copies: int = 8  #: augmented copies of every example (precomputed once for readout / last)
    replay_copies: int = 2  #: augmented copies of every replay example (negatives: fewer suffice)
    lr: float | None = None
    batch_size: int = 64
    augment: dict = field(default_factory=lambda: DEFAULT_AUGMENT.to_dict())
    holdout: str | float = "auto"  #: "auto", "loo", a fraction in (0, 1), or "none"
    seed: int = 0
    logit_scale: float = 8.0
    label_smoothing: float = 0.1
    weight_decay: float = 0.0

    def validate(self) -> FinetuneConfig:
        if self.adapt not in ADAPT_MODES:
            raise FinetuneError(f"adapt must be one of {', '.join(ADAPT_MODES)}, got {self.adapt!r}")
        if self.epochs is not None and self.epochs < 1:
            raise FinetuneError(f"epochs must be ≥ 1, got {self.epochs}")
        if self.copies < 1 or self.batch_size < 1:
            raise FinetuneError("copies and batch_size must be ≥ 1")
        if self.lr is not None and not self.lr > 0:
            raise FinetuneError(f"lr must be > 0, got {self.lr}")
        h = self.holdout
        if not (h in ("auto", "loo", "none") or (isinstance(h, (int, float)) and 0 < float(h) < 1)):
            raise FinetuneError(f"holdout must be auto, loo, none or a fraction in (0, 1), got {h!r}")
        try:
            AugmentConfig(**self.augment)
        except TypeError as exc:
            raise FinetuneError(f"augment: {exc}") from None
        return self


@dataclass
class FinetuneResult:
    """The fine-tuned ``model`` (eval mode), its ``config`` (ModelConfig) and checkpoint ``meta``
    (base, classes, provenance, adapt, epochs, before/after scores, seconds)."""

    model: object
    config: object
    meta: dict
    checkpoint: Path | None = None

    @property
    def class_names(self) -> list[str]:
        return list(self.config.class_names)

    def save(self, path: str | Path) -> Path:
        """Write ``path`` (a stem or ``.json``) as a normal checkpoint; returns the JSON path."""
        from snnstudio.snn.checkpoints import save_checkpoint

        self.checkpoint = save_checkpoint(path, self.model, self.config, self.meta)
        return self.checkpoint


# ---------------------------------------------------------------------------------------------
# classes


@dataclass(frozen=True)
class ClassPlan:
    """The new model's ``names`` and, per class, the base class index it starts from (``None``: new)."""

    names: list[str]
    source: list[int | None]
    base_names: list[str]

    @property
    def new(self) -> list[str]:
        return [n for n, s in zip(self.names, self.source) if s is None]

    @property
    def removed(self) -> list[str]:
        kept = {s for s in self.source if s is not None}
        return [n for i, n in enumerate(self.base_names) if i not in kept]

    @property
    def renamed(self) -> dict[str, str]:
        return {self.base_names[s]: n for n, s in zip(self.names, self.source) if s is not None and self.base_names[s] != n}

    def target_of(self, label: str) -> int | None:
        """The new class index of an example labelled ``label`` (a new name, or a renamed base name)."""
        if label in self.names:
            return self.names.index(label)
        if label in self.base_names:
            b = self.base_names.index(label)
            if b in self.source:
                return self.source.index(b)
        return None

    def base_to_target(self) -> np.ndarray:
        """int64 ``[base classes]``: the new index of each base class, −1 where removed."""
        m = np.full(len(self.base_names), -1, np.int64)
        for i, s in enumerate(self.source):
            if s is not None:
                m[s] = i
        return m


def plan_classes(base_names: Sequence[str], example_labels: Sequence[str], classes: Sequence[str] | None = None
                 ) -> ClassPlan:
    """Resolve ``classes`` (``NAME`` or ``NEW=OLD`` entries; ``None``: the base's classes plus the
    unknown example labels) against the base; :class:`FinetuneError` on a bad list."""
    base = list(base_names)
    if classes is None:
        extra = [lab for lab in dict.fromkeys(example_labels) if lab not in base]
        classes = base + extra
    names: list[str] = []
    source: list[int | None] = []
    for entry in classes:
        entry = str(entry).strip()
        new, sep, old = entry.partition("=")
        new, old = new.strip(), old.strip()
        if not new or (sep and not old):
            raise FinetuneError(f"bad class entry {entry!r}: use NAME or NEW=OLD (rename base class OLD)")
        if sep:
            if old not in base:
                raise FinetuneError(f"cannot rename {old!r}: not a class of the base model ({', '.join(base)})")
            src = base.index(old)
        else:
            src = base.index(new) if new in base else None
        if new in names:
            raise FinetuneError(f"class {new!r} is listed twice")
        if src is not None and src in source:
            raise FinetuneError(f"base class {base[src]!r} is used twice")
        names.append(new)
        source.append(src)
    if len(names) < 2:
        raise FinetuneError(f"a classifier needs at least 2 classes, got {names}")
    plan = ClassPlan(names, source, base)
    for lab in dict.fromkeys(example_labels):
        if plan.target_of(lab) is None:
            raise FinetuneError(f"examples are labelled {lab!r}, which is not a class of the new model "
                                f"({', '.join(names)}); add it to --classes")
    present = {plan.target_of(lab) for lab in example_labels}
    empty = [n for i, (n, s) in enumerate(zip(names, source)) if s is None and i not in present]
    if empty:
        raise FinetuneError(f"new class(es) {', '.join(empty)} have no examples: give at least one example of each")
    return plan


def _targets(ds, plan: ClassPlan, what: str) -> np.ndarray:
    """``ds``'s labels as new class indices (every label must map)."""
    names = list(ds.class_names)
    out = np.empty(len(ds), np.int64)
    for k, lab in enumerate(np.asarray(ds.labels)):
        t = plan.target_of(names[int(lab)])
        if t is None:
            raise FinetuneError(f"{what}: label {names[int(lab)]!r} is not a class of the new model ({', '.join(plan.names)})")
        out[k] = t
    return out


def _flip_safe(names: Sequence[str]) -> tuple[list[int], np.ndarray]:
    """(``flip_map`` over ``names``, bool mask of classes whose mirror image is a class of the model)."""
    from snnstudio.events.synthetic import GESTURES

    swap = {"swipe_left": "swipe_right", "swipe_right": "swipe_left", "circle_cw": "circle_ccw", "circle_ccw": "circle_cw"}
    fmap, safe = [], []
    for i, n in enumerate(names):
        m = swap.get(n, n)
        ok = n in GESTURES and m in names
        fmap.append(list(names).index(m) if ok else i)
        safe.append(ok)
    return fmap, np.asarray(safe, bool)


# ---------------------------------------------------------------------------------------------
# the model: surgery, trunk and head


def _vote(cfg) -> int:
    return int((cfg.options or {}).get("vote", 1))


def _check_arch(cfg, path) -> None:
    if cfg.arch != "ma_snn_gesture":
        raise FinetuneError(f"{path}: fine-tuning supports ma_snn_gesture models, this one is {cfg.arch!r}")


def _rows(classes: Sequence[int], vote: int):
    import torch

    return torch.as_tensor([c * vote + j for c in classes for j in range(vote)], dtype=torch.long)


def resize_readout(base, base_cfg, plan: ClassPlan):
    """A model for ``plan.names``: every weight of ``base`` copied, ``fc2`` rows of kept classes moved
    to their new places (new classes' rows left as built, see :func:`imprint`); returns ``(model, cfg)``."""
    import torch

    from snnstudio.snn.zoo import build_model

    cfg = replace(base_cfg, num_classes=len(plan.names), class_names=list(plan.names)).validate()
    model = build_model(cfg)
    vote = _vote(cfg)
    sd_base = base.state_dict()
    sd = model.state_dict()
    kept = [(i, s) for i, s in enumerate(plan.source) if s is not None]
    new_rows = _rows([i for i, _ in kept], vote)
    old_rows = _rows([s for _, s in kept], vote)
    for k, v in sd.items():
        b = sd_base[k]
        if k.startswith("fc2.fc.") or (k.startswith("fc2.bn.") and b.ndim == 1):
            v = v.clone()
            v[new_rows] = b[old_rows]
            sd[k] = v
        else:
            sd[k] = b.clone()
    model.load_state_dict(sd)
    model.eval()
    return model, cfg


def trunk(model, x, level: str):
    """The frozen part's output for input ``x`` ``[T, B, 2, H, W]``: ``fc1`` spikes ``[T, B, fc1]``
    (readout) or the conv stack's flattened spikes ``[T, B, C·h·w]`` (last); ``x`` itself for all."""
    from snnstudio.snn.layers import reset_states

    if level == "all":
        return x
    reset_states(model)
    h = model.conv3(model.conv2(model.conv1(x))).flatten(2)
    return model.fc1(h) if level == "readout" else h


def head(model, h, level: str):
    """The trained part on ``trunk``'s output → class scores ``[B, classes]`` (mean rates)."""
    from snnstudio.snn.layers import reset_states

    reset_states(model)
    if level == "all":
        return model(h)
    if level == "last":
        h = model.fc1(h)
    out = model.fc2(h).mean(0)
    return model.vote(out) if model.vote is not None else out


def imprint(model, feats, targets, classes: Sequence[int], vote: int, gen) -> None:
    """Initialise ``fc2`` rows of ``classes`` from ``fc1`` spike trains ``feats`` ``[T, N, F]`` with
    labels ``targets`` ``[N]``: weights along (class mean rate − mean rate of all), scaled to the
    mean norm of the other rows (small per-neuron noise so the ``vote`` neurons differ), batch-norm
    statistics those of the weighted sum over ``feats``, scale/shift the other rows' means."""
    import torch

    fc = model.fc2.fc.layer
    bn = model.fc2.bn.layer
    W = fc.weight.data
    new_rows = _rows(classes, vote)
    others = torch.ones(W.shape[0], dtype=torch.bool)
    others[new_rows] = False
    ref = W[others] if others.any() else W
    scale = float(ref.norm(dim=1).mean()) or 1.0
    rates = feats.float().mean(0)  # [N, F]
    mean_all = rates.mean(0)
    for c in classes:
        sel = torch.as_tensor(targets) == c
        d = rates[sel].mean(0) - mean_all
        if float(d.norm()) < 1e-6:  # only this class's examples: centre on its own mean rate
            d = rates[sel].mean(0) - rates[sel].mean()
        if float(d.norm()) < 1e-6:
            d = torch.randn(d.shape, generator=gen)
        d = d / d.norm()
        rows = _rows([c], vote)
        noise = torch.randn(len(rows), W.shape[1], generator=gen) / W.shape[1] ** 0.5
        w = d.unsqueeze(0) + 0.3 * noise
        W[rows] = scale * w / w.norm(dim=1, keepdim=True)
        z = feats.float().flatten(0, 1) @ W[rows].T  # [T·N, vote]
        bn.running_mean.data[rows] = z.mean(0)
        bn.running_var.data[rows] = z.var(0).clamp(min=1e-4)
        if others.any():
            bn.weight.data[rows] = bn.weight.data[others].mean()
            bn.bias.data[rows] = bn.bias.data[others].mean()


def _trainable(model, level: str, rows):
    """The parameters trained at ``level`` and (readout) the boolean row mask that may change."""
    import torch

    if level == "readout":
        params = [model.fc2.fc.layer.weight, model.fc2.bn.layer.weight, model.fc2.bn.layer.bias]
        mask = torch.zeros(model.fc2.fc.layer.weight.shape[0], dtype=torch.bool)
        mask[rows] = True
        return params, mask
    if level == "last":
        return list(model.fc1.parameters()) + list(model.fc2.parameters()), None
    return list(model.parameters()), None


# ---------------------------------------------------------------------------------------------
# scores


def score(pred: np.ndarray, true: np.ndarray, names: Sequence[str]) -> dict:
    """Accuracy, per-class accuracy and confusion matrix (rows: true, columns: predicted; a
    prediction of −1, a class the new model does not have, counts as wrong and appears in no column)."""
    pred, true = np.asarray(pred, np.int64), np.asarray(true, np.int64)
    C = len(names)
    conf = np.zeros((C, C), np.int64)
    ok = pred >= 0
    np.add.at(conf, (true[ok], pred[ok]), 1)
    per = {}
    for c, n in enumerate(names):
        m = true == c
        if m.any():
            per[n] = {"n": int(m.sum()), "correct": int((pred[m] == c).sum()), "accuracy": float((pred[m] == c).mean())}
    return {"n": int(len(true)), "accuracy": float((pred == true).mean()) if len(true) else None,
            "per_class": per, "confusion": conf.tolist(), "classes": list(names)}


def predict(model, frames: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """Class indices ``[N]`` of ``model`` on uint16 frames ``[N, T, 2, H, W]``."""
    import torch

    from snnstudio.snn.layers import reset_states

    out = []
    model.eval()
    with torch.no_grad():
        for i in range(0, len(frames), batch_size):
            x = torch.from_numpy(frames[i:i + batch_size].astype(np.float32)).transpose(0, 1).contiguous()
            reset_states(model)
            out.append(model(x).argmax(1).numpy())
    return np.concatenate(out) if out else np.zeros(0, np.int64)


# ---------------------------------------------------------------------------------------------
# folds


def holdout_folds(targets: np.ndarray, holdout: str | float, seed: int) -> tuple[str, list[tuple[np.ndarray, np.ndarray]]]:
    """``(method, [(train index, held-out index), ...])`` (see the module docstring); an empty list
    when nothing can be held out."""
    rng = np.random.default_rng(seed)
    classes = np.unique(targets)
    per = {int(c): rng.permutation(np.flatnonzero(targets == c)) for c in classes}
    counts = [len(v) for v in per.values()]
    if holdout == "none":
        return "none", []
    loo = holdout == "loo" or (holdout == "auto" and min(counts) <= 3)
    idx = np.arange(len(targets))
    if loo:
        k = min(3, max(counts))
        folds = []
        for j in range(k):
            held = np.asarray(sorted(int(v[j]) for v in per.values() if len(v) >= 2 and j < len(v)), np.int64)
            if len(held):
                folds.append((np.setdiff1d(idx, held), held))
        return ("leave-one-out" if folds else "none"), folds
    frac = 0.2 if holdout == "auto" else float(holdout)
    held = np.asarray(sorted(int(i) for v in per.values() if len(v) >= 2
                             for i in v[:max(1, int(round(frac * len(v))))]), np.int64)
    if not len(held):
        return "none", []
    return f"holdout {frac:g}", [(np.setdiff1d(idx, held), held)]


# ---------------------------------------------------------------------------------------------
# training


def _augmented(frames: np.ndarray, labels: np.ndarray, copies: int, aug: AugmentConfig, dt_us: int,
               fmap: list[int], safe: np.ndarray, gen, include_original: bool = True):
    """``copies`` augmented copies of every example (+ the originals): float ``[T, M, 2, H, W]``, labels
    ``[M]``, source example index ``[M]``. Mirroring only for flip-safe classes (never relabels others)."""
    import torch

    from snnstudio.train.augment import augment_batch

    x = torch.from_numpy(frames.astype(np.float32)).transpose(0, 1)
    y = torch.from_numpy(labels.astype(np.int64))
    xs, ys, src = ([x], [y], [np.arange(len(labels))]) if include_original else ([], [], [])
    flip_ok = torch.from_numpy(safe[labels])
    no_flip = replace(aug, flip=0.0)
    for _ in range(copies):
        xa, ya = x.clone(), y.clone()
        for mask, cfg in ((flip_ok, aug), (~flip_ok, no_flip)):
            if mask.any() and cfg.active:
                xa[:, mask], ya[mask] = augment_batch(x[:, mask], y[mask], cfg, dt_us, fmap, gen)
        xs.append(xa)
        ys.append(ya)
        src.append(np.arange(len(labels)))
    return torch.cat(xs, 1), torch.cat(ys), np.concatenate(src)


def _features(model, x, level: str, batch: int = 64):
    """``trunk`` over ``x`` ``[T, M, ...]`` in batches, no gradients; spikes stored as uint8."""
    import torch

    if level == "all":
        return x
    out = []
    with torch.no_grad():
        for i in range(0, x.shape[1], batch):
            out.append(trunk(model, x[:, i:i + batch].contiguous(), level).to(torch.uint8))
    return torch.cat(out, 1)


class _Run:
    """One training of the head on a fold's examples."""

    def __init__(self, cfg: FinetuneConfig, level: str, epochs: int, progress, cancel, stage: str):
        self.cfg, self.level, self.epochs = cfg, level, epochs
        self.progress, self.cancel, self.stage = progress, cancel, stage

    def train(self, model, feats, targets, rows, gen, fresh=None) -> list[dict]:
        """Train ``model`` on ``feats`` (``[T, M, ...]``, precomputed or, for ``all``, input counts)
        with labels ``targets`` ``[M]``; ``fresh()`` (for ``all``) gives new augmented copies each epoch."""
        import torch
        import torch.nn.functional as F

        params, mask = _trainable(model, self.level, rows)
        for p in model.parameters():
            p.requires_grad_(False)
        for p in params:
            p.requires_grad_(True)
        frozen = [p.detach().clone() for p in params] if mask is not None else None
        lr = self.cfg.lr or DEFAULT_LR[self.level]
        opt = torch.optim.Adam(params, lr=lr, weight_decay=self.cfg.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, self.epochs))
        model.eval()
        log = []
        for epoch in range(self.epochs):
            if fresh is not None and epoch:
                feats, targets = fresh()
            order = torch.randperm(len(targets), generator=gen)
            tot = np.zeros(3)
            for i in range(0, len(order), self.cfg.batch_size):
                if self.cancel is not None and self.cancel():
                    raise FinetuneCancelled("fine-tuning cancelled: nothing was saved")
                b = order[i:i + self.cfg.batch_size]
                x = feats[:, b].float()
                y = targets[b]
                out = head(model, x, self.level)
                loss = F.cross_entropy(out * self.cfg.logit_scale, y, label_smoothing=self.cfg.label_smoothing)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if mask is not None:  # rows of classes without examples stay exactly the base's
                    with torch.no_grad():
                        for p, p0 in zip(params, frozen):
                            p[~mask] = p0[~mask]
                tot += [float(loss.detach()) * len(b), float((out.argmax(1) == y).sum()), len(b)]
            sched.step()
            row = {"epoch": epoch + 1, "loss": tot[0] / tot[2], "accuracy": tot[1] / tot[2]}
            log.append(row)
            if self.progress is not None:
                self.progress(FinetuneProgress(self.stage, epoch + 1, self.epochs, row["loss"], row["accuracy"]))
        for p in model.parameters():
            p.requires_grad_(False)
        model.eval()
        return log


def _hash_frames(a: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]


def _file_sha1(path: str) -> str | None:
    try:
        h = hashlib.sha1()
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
        return h.hexdigest()
    except OSError:
        return None


def provenance(ds, targets: np.ndarray, names: Sequence[str]) -> list[dict]:
    """One entry per example: its label, frames hash and (video clips) file name and content SHA-1."""
    clips = list((ds.info or {}).get("clips") or [])
    out = []
    for k in range(len(ds)):
        e = {"label": names[int(targets[k])], "frames_sha1": _hash_frames(ds.frames[k])}
        if k < len(clips):
            e.update(file=Path(clips[k]).name, file_sha1=_file_sha1(clips[k]))
        out.append(e)
    return out


def _pick_level(adapt: str, targets: np.ndarray) -> str:
    if adapt != "auto":
        return adapt
    fewest = int(np.bincount(targets)[np.unique(targets)].min())
    return "readout" if fewest <= 5 else "last" if fewest <= 20 else "all"


def _check_frames(ds, cfg, what: str) -> None:
    if ds is None:
        return
    if len(ds) == 0:
        raise FinetuneError(f"{what}: no examples")
    want = (cfg.T, *cfg.input_size)
    if tuple(ds.frames.shape[1:]) != tuple(want):
        raise FinetuneError(f"{what}: frames {tuple(ds.frames.shape[1:])} do not fit the model's [T, 2, H, W] = {want}")
    if ds.dt_us != cfg.dt_us:
        raise FinetuneError(f"{what}: framed at {ds.dt_us} µs per step, the model takes {cfg.dt_us} µs")


def finetune(model_path: str | Path, train, *, classes: Sequence[str] | None = None, adapt: str = "auto",
             epochs: int | None = None, augment: AugmentConfig | dict | None = None, holdout: str | float = "auto",
             seed: int = 0, progress: Callable[[FinetuneProgress], None] | None = None,
             cancel: Callable[[], bool] | None = None, replay=None, test=None, copies: int = 8,
             lr: float | None = None, name: str | None = None, log: Callable[[str], None] | None = None
             ) -> FinetuneResult:
    """Fine-tune checkpoint ``model_path`` on the examples ``train`` (see the module docstring).

    ``train``/``replay``/``test`` are :class:`FrameDataset` s in the model's framing; their labels
    are matched to the new classes by name. Returns a :class:`FinetuneResult` (call ``save``)."""
    import torch

    from snnstudio.snn.checkpoints import checkpoint_paths, load_checkpoint

    t_start = time.perf_counter()
    say = log or (lambda *_: None)
    aug = augment if isinstance(augment, AugmentConfig) else AugmentConfig(**(augment or DEFAULT_AUGMENT.to_dict()))
    fcfg = FinetuneConfig(adapt=adapt, epochs=epochs, copies=copies, lr=lr, augment=aug.to_dict(), holdout=holdout,
                          seed=seed).validate()
    if train is None or len(train) == 0:
        raise FinetuneError("no examples to learn from")
    base, base_cfg, base_meta = load_checkpoint(model_path)
    _check_arch(base_cfg, model_path)
    for ds, what in ((train, "examples"), (replay, "replay"), (test, "test")):
        _check_frames(ds, base_cfg, what)
    names_in = list(train.class_names)
    labels_in = [names_in[int(i)] for i in train.labels]
    plan = plan_classes(base_cfg.class_names, labels_in, classes)
    y_all = _targets(train, plan, "examples")
    level = _pick_level(fcfg.adapt, y_all)
    n_epochs = fcfg.epochs or DEFAULT_EPOCHS[level]
    vote = _vote(base_cfg)
    fmap, safe = _flip_safe(plan.names)
    b2t = plan.base_to_target()
    rp = None
    if replay is not None and len(replay):
        keep = np.asarray([plan.target_of(replay.class_names[int(i)]) is not None for i in replay.labels])
        if keep.any():
            rp = replay.subset(np.flatnonzero(keep))
            rp_y = _targets(rp, plan, "replay")
    method, folds = holdout_folds(y_all, fcfg.holdout, fcfg.seed)
    say(f"fine-tuning {Path(model_path).name}: {len(train)} examples of {len(np.unique(y_all))} classes"
        f"{f' + {len(rp)} replay' if rp is not None else ''}; adapt {level}, {n_epochs} epochs × "
        f"{fcfg.copies + 1} copies; measured by {method}")

    gen = torch.Generator().manual_seed(fcfg.seed)

    def fit(idx: np.ndarray, stage: str):
        """Train a fresh copy (from the base) on examples ``idx`` (+ replay); returns (model, cfg, log)."""
        model, cfg = resize_readout(base, base_cfg, plan)
        frames, ys = train.frames[idx], y_all[idx]
        taught = sorted(set(int(c) for c in y_all[idx]) | {i for i, s in enumerate(plan.source) if s is None})
        new = [i for i, s in enumerate(plan.source) if s is None]

        def copies_now():
            x, y, _ = _augmented(frames, ys, fcfg.copies, aug, train.dt_us, fmap, safe, gen)
            if rp is not None:
                xr, yr, _ = _augmented(rp.frames, rp_y, fcfg.replay_copies, aug, train.dt_us, fmap, safe, gen)
                x, y = torch.cat([x, xr], 1), torch.cat([y, yr])
            return x, y

        x, y = copies_now()
        feats = _features(model, x, level)
        if new:
            imprint(model, feats if level == "readout" else _features(model, x, "readout"), y, new, vote, gen)
        run = _Run(fcfg, level, n_epochs, progress, cancel, stage)
        log_ = run.train(model, feats, y, _rows(taught, vote), gen,
                         fresh=(lambda: copies_now()) if level == "all" else None)
        return model, cfg, log_

    base_pred = b2t[predict(base, train.frames)]
    before = after = None
    fold_logs = []
    if folds:
        held_all = np.concatenate([h for _, h in folds])
        after_pred = np.full(len(y_all), -1, np.int64)
        for k, (tr, held) in enumerate(folds):
            model_k, _, lg = fit(tr, f"fold {k + 1}/{len(folds)}")
            after_pred[held] = predict(model_k, train.frames[held])
            fold_logs.append(lg[-1])
        before = score(base_pred[held_all], y_all[held_all], plan.names)
        after = score(after_pred[held_all], y_all[held_all], plan.names)
        say(f"held-out ({method}, {len(held_all)} examples): accuracy {before['accuracy']:.3f} → {after['accuracy']:.3f}")
    if folds and method.startswith("holdout"):
        model, cfg = model_k, replace(base_cfg, num_classes=len(plan.names), class_names=list(plan.names)).validate()
        final_log, trained_on = fold_logs, np.setdiff1d(np.arange(len(y_all)), folds[0][1])
    else:
        model, cfg, final_log = fit(np.arange(len(y_all)), "final")
        trained_on = np.arange(len(y_all))
    test_scores = None
    if test is not None:
        ty = _targets(test, plan, "test")
        test_scores = {"before": score(b2t[predict(base, test.frames)], ty, plan.names),
                       "after": score(predict(model, test.frames), ty, plan.names), "data": test.name}
        say(f"test ({test.name}, {len(ty)} examples): accuracy {test_scores['before']['accuracy']:.3f} → "
            f"{test_scores['after']['accuracy']:.3f}")
    seconds = time.perf_counter() - t_start
    base_json, base_st = checkpoint_paths(model_path)
    meta = {
        "name": name or f"{base_meta.get('name', base_json.stem)}-taught",
        "finetuned_from": {"name": base_meta.get("name", base_json.stem), "json": str(base_json),
                           "weights_sha1": _file_sha1(str(base_st)), "classes": list(base_cfg.class_names)},
        "classes": {"names": list(plan.names), "new": plan.new, "removed": plan.removed, "renamed": plan.renamed},
        "adapt": level, "adapt_asked": fcfg.adapt, "epochs": n_epochs,
        "finetune_config": asdict(fcfg),
        "examples": {"data": train.name, "n": len(train), "trained_on": [int(i) for i in trained_on],
                     "items": provenance(train, y_all, plan.names)},
        "replay": None if rp is None else {"data": rp.name, "n": len(rp)},
        "holdout": {"method": method, "folds": len(folds), "before": before, "after": after,
                    "final_model_trained_on": "the examples not held out" if method.startswith("holdout") else "all examples"},
        "test": test_scores,
        "accuracy_before": before["accuracy"] if before else None,
        "accuracy_after": after["accuracy"] if after else None,
        "log": final_log,
        "seconds": round(seconds, 2),
        "torch_threads": torch.get_num_threads(),
    }
    for k in ("sensor_size", "data", "data_options"):
        if k in base_meta:
            meta.setdefault(k if k != "data" else "base_data", base_meta[k])
    if "sensor_size" not in meta and str(base_meta.get("data", "")).split(":", 1)[0] == "synthetic":
        from snnstudio.events.synthetic.generator import DEFAULT_SENSOR  # what the studio shows the model

        meta["sensor_size"] = list(DEFAULT_SENSOR)
    return FinetuneResult(model, cfg, meta)


def replay_for(model_path: str | Path, names: Sequence[str], per_class: int = 4, cache_dir: str | Path | None = "cache",
               workers: int = 1):
    """``per_class`` samples of each class in ``names`` from the base's own synthetic data (its
    ``val`` split, generated with the options stored in its metadata, cached), or ``None`` when the
    base was not trained on synthetic data or none of ``names`` is a synthetic gesture."""
    from snnstudio.snn.checkpoints import read_checkpoint_json
    from snnstudio.train.data import load_dataset

    cfg, meta = read_checkpoint_json(model_path)
    if str(meta.get("data", "")).split(":", 1)[0] != "synthetic" or per_class < 1:
        return None
    opts = {**dict(meta.get("data_options") or {}), "per_class": {"val": int(per_class)}}
    ds = load_dataset("synthetic:val", cfg, options=opts, cache_dir=cache_dir, workers=workers, check_classes=False)
    want = [i for i, n in enumerate(ds.class_names) if n in set(names)]
    if not want:
        return None
    sub = ds.subset(np.flatnonzero(np.isin(ds.labels, want)))
    sub.name = f"synthetic:val (replay, {per_class} per class)"
    return sub


def replay_for_untaught(model_path: str | Path, examples, classes: Sequence[str] | None, per_class: int = 4,
                        cache_dir: str | Path | None = "cache", workers: int = 1):
    """:func:`replay_for` the classes the new model keeps from the base (``classes`` as
    :func:`plan_classes` reads them) that ``examples`` (a :class:`FrameDataset`) gives no example
    of: ``(replay or None, the names of those classes)``."""
    from snnstudio.snn.checkpoints import read_checkpoint_json

    cfg, _ = read_checkpoint_json(model_path)
    plan = plan_classes(cfg.class_names, [examples.class_names[int(i)] for i in examples.labels], classes)
    taught = {plan.names[plan.target_of(examples.class_names[int(i)])] for i in examples.labels}
    missing = [n for n, s in zip(plan.names, plan.source) if s is not None and n not in taught]
    if not missing or per_class < 1:
        return None, missing
    base_names = [cfg.class_names[plan.source[plan.names.index(n)]] for n in missing]
    return replay_for(model_path, base_names, per_class, cache_dir, workers), missing


def load_examples(spec: str, model_path: str | Path, *, classes: Sequence[str] | None = None,
                  cache_dir: str | Path | None = "cache", progress: Callable[[int, int], None] | None = None):
    """The examples of ``spec`` framed for the checkpoint ``model_path``: ``videos:DIR`` (every row of
    its labels.csv; labels may be classes the model does not have yet), a folder of recordings with
    one sub-folder per class (every file, whatever split it would hash to), or any other
    :func:`~snnstudio.train.data.load_dataset` spec."""
    from snnstudio.snn.checkpoints import read_checkpoint_json
    from snnstudio.train.data import DatasetError, FrameDataset, load_dataset, load_folder, parse_spec

    cfg, _ = read_checkpoint_json(model_path)
    ds = parse_spec(spec)
    c, h, w = cfg.input_size
    cache = Path(cache_dir) if cache_dir is not None else None
    if ds.kind == "videos":
        from snnstudio.train.videos import labels_csv_of, load_videos, read_video_labels

        labels = [clip.label for clip in read_video_labels(labels_csv_of(ds.path))]
        wanted = [str(e).partition("=")[0].strip() for e in (classes or [])]
        names = list(dict.fromkeys(list(cfg.class_names) + wanted + labels))
        return load_videos(ds.path, cfg.T, cfg.dt_us, (h, w), names, None, cache, progress)
    if ds.kind == "folder":
        if not ds.path.is_dir():
            raise DatasetError(f"{ds.path}: no such folder (expected videos:DIR or a folder with one sub-folder "
                               f"of recordings per class)")
        parts = []
        for split in ("train", "val", "test"):
            try:
                parts.append(load_folder(ds.path, split, cfg.T, cfg.dt_us, (h, w), cache, progress))
            except DatasetError as exc:
                if "no recordings in the" not in str(exc):
                    raise
        if not parts:
            raise DatasetError(f"{ds.path}: no recordings in its class sub-folders")
        first = parts[0]
        return FrameDataset(np.concatenate([p.frames for p in parts]), np.concatenate([p.labels for p in parts]),
                            first.class_names, str(ds.path), first.dt_us, None, {"kind": "folder", "root": str(ds.path)})
    return load_dataset(ds, cfg, cache_dir=cache, check_classes=False)


def output_stem(out: str, default_dir: Path | None = None) -> Path:
    """Where ``--out`` saves: a bare name (no folder, no suffix) goes into the user's models folder
    (:func:`~snnstudio.snn.checkpoints.user_models_dir`, made when missing); anything else is a path."""
    from snnstudio.snn.checkpoints import user_models_dir

    p = Path(out).expanduser()
    if p.parent == Path(".") and p.suffix not in (".json", ".safetensors") and not str(out).startswith("."):
        folder = default_dir or user_models_dir()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FinetuneError(f"{folder}: cannot make the models folder: {exc.strerror or exc}") from None
        return folder / p.name
    return p.with_suffix("") if p.suffix in (".json", ".safetensors") else p
