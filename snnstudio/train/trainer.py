"""The trainer: multi-step BPTT with surrogate gradients, one process or several (torchrun + DDP).

A :class:`TrainConfig` (a dataclass that round-trips through JSON) says what to train on what;
:func:`train` runs it and writes into ``out``:

* ``last.json`` / ``last.safetensors`` — the latest weights (a normal checkpoint) and
  ``last.state.pt`` — optimizer, schedule, epoch and RNG states (tensors and plain values only,
  loaded with ``torch.load(weights_only=True)``: no code runs) for ``resume``;
* ``best.json`` / ``best.safetensors`` — the weights with the best validation accuracy;
* ``NAME.json`` / ``NAME.safetensors`` — the final model: the best weights, with the training
  config, a log summary and the held-out test accuracy in its metadata;
* ``log.csv`` and ``log.json`` — one row per epoch (loss, accuracy, mean firing rate, lr, time).

The whole sequence of ``T`` frames goes through the model at once (``[T, B, 2, H, W]``); the
neurons' surrogate gradients make the spikes differentiable and autograd unrolls time (BPTT).
The loss is cross-entropy with label smoothing on ``logit_scale ×`` the model output (the mean
over T of the read-out; for spiking read-outs a rate in [0, 1], hence the scale) or MSE against
one-hot targets (MA-SNN's). AdamW or SGD, cosine schedule with optional linear warm-up, event
augmentation (:mod:`snnstudio.train.augment`), a fixed seed, mixed precision (bf16 autocast) on
a GPU.

Several processes: launched by ``torchrun --nproc_per_node N -m snnstudio train ...``, each
process finds ``WORLD_SIZE``/``RANK``/``LOCAL_RANK`` in its environment, joins the process
group (NCCL on GPUs, gloo on CPUs), wraps the model in ``DistributedDataParallel`` and reads its
own shard of every epoch (``DistributedSampler``); validation counts are summed over processes;
only rank 0 prints, logs and writes checkpoints. The single-process path is the default.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from snnstudio.config import config_from_dict
from snnstudio.errors import SnnStudioError
from snnstudio.safe_files import atomic_write, check_output
from snnstudio.train.augment import AugmentConfig
from snnstudio.train.device import resolve_device, to_input  # noqa: F401  (to_input re-exported)


class TrainError(SnnStudioError):
    """A training run cannot start or resume (bad config, missing state, mismatched resume)."""


def _default_model() -> dict:
    from snnstudio.train.recipes import RECIPES

    return dict(RECIPES["gesture-lif-tcsa"]["model"])


@dataclass
class TrainConfig:
    """Everything a training run needs (saved in the final checkpoint's metadata)."""

    name: str = "model"
    #: a :class:`~snnstudio.snn.zoo.ModelConfig` as a dict, or ``{"preset": NAME, ...changes}``
    model: dict = field(default_factory=lambda: _default_model())
    data: str = "synthetic"
    #: generator options of synthetic / digits data (see :mod:`snnstudio.train.data`)
    data_options: dict = field(default_factory=dict)
    epochs: int = 30
    batch_size: int = 32
    optimizer: str = "adamw"
    lr: float = 2e-3
    weight_decay: float = 1e-2
    momentum: float = 0.9
    schedule: str = "cosine"
    warmup_epochs: int = 0
    loss: str = "ce"
    label_smoothing: float = 0.1
    #: CE logits = logit_scale × output ("auto": 8 for spiking read-outs (ma_snn_gesture), else 1)
    logit_scale: float | str = "auto"
    augment: dict = field(default_factory=lambda: AugmentConfig().to_dict())
    seed: int = 0
    device: str = "auto"
    #: bf16 autocast: "auto" (on CUDA only), "on", "off"
    amp: str = "auto"
    grad_clip: float = 0.0
    #: at most this many training samples (class-balanced); None = all
    limit_train: int | None = None
    limit_val: int | None = None
    #: evaluate the held-out test split at the end and store its accuracy
    test: bool = True
    out: str = "runs/model"
    cache_dir: str | None = "cache"
    #: processes generating synthetic / digits data when not cached (0: one per core, at most 4)
    workers: int = 0
    progress: bool = True
    #: a checkpoint (``.json`` path or bundled name) whose weights start the run instead of a
    #: random initialisation: the same architecture and classes (e.g. the model trained on
    #: generator v2, continued on v3); None = random
    init_from: str | None = None

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        return config_from_dict(cls, d, what="training config", error=TrainError)

    @classmethod
    def from_json_file(cls, path: str | os.PathLike) -> TrainConfig:
        p = Path(path)
        try:
            return cls.from_dict(json.loads(p.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as exc:
            raise TrainError(f"{p}: cannot read the training config ({exc})") from None

    def to_dict(self) -> dict:
        return asdict(self)

    def model_config(self):
        """The :class:`ModelConfig` this run trains."""
        from snnstudio.errors import ModelError
        from snnstudio.snn.zoo import ModelConfig, default_config

        m = dict(self.model)
        try:
            if "preset" in m:
                cfg = default_config(m.pop("preset"), **m)
            else:
                cfg = ModelConfig.from_dict(m)
            return cfg.validate()
        except ModelError as exc:
            raise TrainError(f"model: {exc}") from None

    def validate(self) -> TrainConfig:
        if self.optimizer not in ("adamw", "sgd"):
            raise TrainError(f"optimizer must be adamw or sgd, got {self.optimizer!r}")
        if self.schedule not in ("cosine", "none"):
            raise TrainError(f"schedule must be cosine or none, got {self.schedule!r}")
        if self.loss not in ("ce", "mse"):
            raise TrainError(f"loss must be ce or mse, got {self.loss!r}")
        if self.amp not in ("auto", "on", "off"):
            raise TrainError(f"amp must be auto, on or off, got {self.amp!r}")
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise TrainError("epochs and batch_size must be ≥ 1 and lr > 0")
        if not 0 <= self.label_smoothing < 1:
            raise TrainError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        try:
            AugmentConfig(**self.augment)
        except TypeError as exc:
            raise TrainError(f"augment: {exc}") from None
        self.model_config()
        return self


def output_scale(cfg_train: TrainConfig, model_cfg) -> float:
    if cfg_train.logit_scale == "auto":
        return 8.0 if model_cfg.arch == "ma_snn_gesture" else 1.0
    return float(cfg_train.logit_scale)


def _no_probes(model) -> None:
    """Training reads no probe (the spike meter hooks the outputs): the neurons keep no records, so
    the native kernels write no membrane and their backward recomputes it (a third less memory
    traffic a step; :func:`snnstudio.snn.functional.native.backward_from_x`)."""
    from snnstudio.snn.layers import spiking_neurons

    for _, m in spiking_neurons(model):
        m.record = False


class SpikeMeter:
    """Counts spikes of every spiking neuron during training (forward hooks, detached, cheap)."""

    def __init__(self, model):
        from snnstudio.snn.layers import spiking_neurons

        self.spikes = 0.0
        self.elements = 0.0
        self._handles = [m.register_forward_hook(self._hook) for _, m in spiking_neurons(model)]

    def _hook(self, module, args, out):
        s = out[0] if isinstance(out, tuple) else out
        self.spikes += float(s.detach().sum())
        self.elements += s.numel()

    def rate(self) -> float:
        return self.spikes / self.elements if self.elements else 0.0

    def reset(self) -> None:
        self.spikes = self.elements = 0.0

    def close(self) -> None:
        for h in self._handles:
            h.remove()


@dataclass
class _Dist:
    world: int = 1
    rank: int = 0
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def _dist_from_env() -> _Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Dist()
    return _Dist(world, int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0")))


def _lr_at(cfg: TrainConfig, epoch_float: float) -> float:
    if cfg.warmup_epochs and epoch_float < cfg.warmup_epochs:
        return cfg.lr * (epoch_float + 1e-3) / cfg.warmup_epochs
    if cfg.schedule == "none":
        return cfg.lr
    span = max(1e-9, cfg.epochs - cfg.warmup_epochs)
    u = min(1.0, (epoch_float - cfg.warmup_epochs) / span)
    return 0.5 * cfg.lr * (1 + math.cos(math.pi * u))


def _loss(cfg: TrainConfig, out, y, scale: float, n_classes: int):
    import torch.nn.functional as F

    if cfg.loss == "mse":
        target = F.one_hot(y, n_classes).to(out.dtype)
        if cfg.label_smoothing:
            target = target * (1 - cfg.label_smoothing) + cfg.label_smoothing / n_classes
        return F.mse_loss(out, target)
    return F.cross_entropy(out * scale, y, label_smoothing=cfg.label_smoothing)


def evaluate_loss_acc(model, ds, cfg: TrainConfig, device, scale: float, dist: _Dist | None = None,
                      batch_size: int | None = None) -> tuple[float, float, int]:
    """``(mean loss, accuracy, samples)`` of ``model`` on a :class:`FrameDataset` (summed over processes)."""
    import torch
    from torch.utils.data import DataLoader
    from torch.utils.data.distributed import DistributedSampler

    from snnstudio.snn.layers import reset_states

    dist = dist or _Dist()
    tds = ds.torch_dataset()
    sampler = DistributedSampler(tds, dist.world, dist.rank, shuffle=False) if dist.world > 1 else None
    loader = DataLoader(tds, batch_size=batch_size or cfg.batch_size, shuffle=False, sampler=sampler)
    model.eval()
    tot = torch.zeros(3, dtype=torch.float64)
    with torch.no_grad():
        for xb, yb in loader:
            x, y = to_input(xb, device), yb.to(device)
            reset_states(model)
            out = model(x).float()
            tot += torch.tensor([float(_loss(cfg, out, y, scale, ds.num_classes)) * len(y),
                                 float((out.argmax(1) == y).sum()), len(y)], dtype=torch.float64)
    if dist.world > 1:
        import torch.distributed as tdist

        tdist.all_reduce(tot)
    n = max(1.0, float(tot[2]))
    return float(tot[0]) / n, float(tot[1]) / n, int(tot[2])


def _state_path(out: Path) -> Path:
    return out / "last.state.pt"


def _init_from(model, mcfg, spec: str) -> None:
    """Copy the weights of checkpoint ``spec`` into ``model`` (built from ``mcfg``); a checkpoint
    of another architecture or other classes is refused with a :class:`TrainError`."""
    from snnstudio.errors import SnnStudioError
    from snnstudio.snn.checkpoints import load_checkpoint
    from snnstudio.train.evaluate import resolve_model  # bundled names, aliases, taught models, paths

    try:
        init, init_cfg, _ = load_checkpoint(resolve_model(spec), device="cpu")
    except (OSError, SnnStudioError) as exc:
        raise TrainError(f"--init-from {spec}: {exc}") from None
    mine, theirs = mcfg.to_dict(), init_cfg.to_dict()
    differ = sorted(k for k in set(mine) | set(theirs) if k not in ("name",) and mine.get(k) != theirs.get(k))
    if differ:
        raise TrainError(f"--init-from {spec}: another model ({', '.join(f'{k}: {theirs.get(k)!r} ≠ {mine.get(k)!r}' for k in differ[:4])})")
    model.load_state_dict(init.state_dict())


def train(cfg: TrainConfig, *, resume: bool = False, log: Callable[[str], None] = print) -> dict:
    """Run a training; return the summary stored in the final checkpoint's metadata."""
    import torch

    cfg.validate()
    dist = _dist_from_env()
    device = resolve_device(cfg.device)
    if dist.world > 1:
        import torch.distributed as tdist

        if device.type == "cuda":
            device = torch.device("cuda", dist.local_rank)
            torch.cuda.set_device(device)
        if not tdist.is_initialized():
            tdist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    done = False
    try:
        result = _train(cfg, resume, log, dist, device)
        done = True
        return result
    finally:
        if dist.world > 1:
            import torch.distributed as tdist

            if tdist.is_initialized():
                if done:  # every rank through its collectives before any tears gloo down (a rank exiting
                    try:  # while its peer's gloo threads still ran aborted once in CI); not after an
                        tdist.barrier()  # error, where the peer may never reach it
                    except Exception:  # noqa: BLE001 - a peer already gone: tear down regardless
                        pass
                tdist.destroy_process_group()


def _train(cfg: TrainConfig, resume: bool, log, dist: _Dist, device) -> dict:
    import torch
    from torch.utils.data import DataLoader, RandomSampler
    from torch.utils.data.distributed import DistributedSampler

    from snnstudio.snn.checkpoints import save_checkpoint
    from snnstudio.snn.layers import reset_states
    from snnstudio.snn.zoo import build_model
    from snnstudio.train.augment import augment_batch
    from snnstudio.train.data import load_dataset

    say = log if dist.main else (lambda *_: None)
    out = Path(cfg.out)
    if dist.main:
        check_train_outputs(out, cfg.name)
    mcfg = cfg.model_config()
    if resume and not _state_path(out).is_file():
        raise TrainError(f"{_state_path(out)}: nothing to resume (no saved training state in {out})")
    torch.manual_seed(cfg.seed)
    load_kw = dict(options=cfg.data_options, cache_dir=cfg.cache_dir, workers=cfg.workers, check_classes=False)
    say(f"data: {cfg.data} (train, val) for T={mcfg.T}, dt={mcfg.dt_us} µs, input {mcfg.input_size}")
    train_ds = load_dataset(cfg.data, mcfg, split="train", **load_kw).limit(cfg.limit_train)
    val_ds = load_dataset(cfg.data, mcfg, split="val", **load_kw).limit(cfg.limit_val)
    if train_ds.num_classes != mcfg.num_classes or list(train_ds.class_names) != list(mcfg.class_names):
        from dataclasses import replace

        mcfg = replace(mcfg, num_classes=train_ds.num_classes, class_names=list(train_ds.class_names)).validate()
    model = build_model(mcfg).to(device)
    _no_probes(model)
    scale = output_scale(cfg, mcfg)
    aug = AugmentConfig(**cfg.augment)
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "adamw":
        opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay, nesterov=True)
    use_amp = cfg.amp == "on" or (cfg.amp == "auto" and device.type == "cuda")
    gen = torch.Generator().manual_seed(cfg.seed + 1000 * dist.rank)
    start_epoch, best, history = 0, {"val_acc": -1.0, "val_loss": float("inf"), "epoch": -1}, []
    if cfg.init_from and not resume:
        _init_from(model, mcfg, cfg.init_from)
        say(f"init: weights of {cfg.init_from}")
    if resume:
        sp = _state_path(out)
        if not sp.is_file():
            raise TrainError(f"{sp}: nothing to resume (no saved training state in {out})")
        from snnstudio.snn.checkpoints import load_checkpoint

        last, last_cfg, _ = load_checkpoint(out / "last", device="cpu")
        if last_cfg.to_dict() != mcfg.to_dict():
            raise TrainError(f"{out}: the saved run trained another model config; use a fresh --out")
        model.load_state_dict(last.state_dict())
        state = torch.load(sp, map_location="cpu", weights_only=True)
        opt.load_state_dict(state["optimizer"])
        gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        start_epoch = int(state["epoch"]) + 1
        best = {k: float(v) if k != "epoch" else int(v) for k, v in state["best"].items()}
        history = json.loads(state["history"])
        say(f"resuming at epoch {start_epoch + 1} (best val acc so far {best['val_acc']:.4f})")
    net = model
    if dist.world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        net = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)
    tds = train_ds.torch_dataset()
    if dist.world > 1:
        sampler = DistributedSampler(tds, dist.world, dist.rank, shuffle=True, seed=cfg.seed, drop_last=False)
    else:
        sampler = RandomSampler(tds, generator=gen)
    loader = DataLoader(tds, batch_size=cfg.batch_size, sampler=sampler, drop_last=False)
    meter = SpikeMeter(model)
    steps_per_epoch = len(loader)
    say(f"model: {mcfg.arch} neuron={mcfg.neuron} attention={mcfg.attention} widths={mcfg.widths} "
        f"({sum(p.numel() for p in params)} parameters) on {device}{' ×' + str(dist.world) if dist.world > 1 else ''}"
        f"; {len(train_ds)} train / {len(val_ds)} val samples")
    t_run = time.perf_counter()
    for epoch in range(start_epoch, cfg.epochs):
        if dist.world > 1:
            sampler.set_epoch(epoch)
        net.train()
        meter.reset()
        t0 = time.perf_counter()
        sums = torch.zeros(3, dtype=torch.float64)
        bar = _progress(cfg.progress and dist.main, steps_per_epoch, f"epoch {epoch + 1}/{cfg.epochs}")
        for i, (xb, yb) in enumerate(loader):
            lr = _lr_at(cfg, epoch + i / steps_per_epoch)
            for group in opt.param_groups:
                group["lr"] = lr
            x = xb.float().transpose(0, 1)
            y = yb
            if aug.active:
                x, y = augment_batch(x, y, aug, train_ds.dt_us, train_ds.flip_map, gen)
            x, y = x.to(device).contiguous(), y.to(device)
            reset_states(model)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                outp = net(x)
            outp = outp.float()
            loss = _loss(cfg, outp, y, scale, mcfg.num_classes)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            opt.step()
            sums += torch.tensor([float(loss.detach()) * len(y), float((outp.argmax(1) == y).sum()), len(y)], dtype=torch.float64)
            bar.advance(f"loss {sums[0] / sums[2]:.3f} acc {sums[1] / sums[2]:.3f}")
        bar.close()
        rate = torch.tensor([meter.spikes, meter.elements], dtype=torch.float64)
        if dist.world > 1:
            import torch.distributed as tdist

            tdist.all_reduce(sums)
            tdist.all_reduce(rate)
        val_loss, val_acc, _ = evaluate_loss_acc(model, val_ds, cfg, device, scale, dist)
        row = {
            "epoch": epoch + 1,
            "train_loss": float(sums[0] / sums[2]),
            "train_acc": float(sums[1] / sums[2]),
            "val_loss": val_loss,
            "val_acc": val_acc,
            "firing_rate": float(rate[0] / rate[1]) if rate[1] else 0.0,
            "lr": lr,
            "seconds": time.perf_counter() - t0,
        }
        history.append(row)
        improved = val_acc > best["val_acc"] or (val_acc == best["val_acc"] and val_loss < best["val_loss"])
        if improved:
            best = {"val_acc": val_acc, "val_loss": val_loss, "epoch": epoch + 1}
        say(f"epoch {epoch + 1:3d}/{cfg.epochs}  loss {row['train_loss']:.4f}  acc {row['train_acc']:.4f}  "
            f"val_loss {val_loss:.4f}  val_acc {val_acc:.4f}  rate {row['firing_rate']:.4f}  "
            f"lr {lr:.2e}  {row['seconds']:.1f}s{'  *best' if improved else ''}")
        if dist.main:
            meta = {"name": cfg.name, "epoch": epoch + 1, "train_config": cfg.to_dict()}
            if improved:
                save_checkpoint(out / "best", model, mcfg, meta)
            save_checkpoint(out / "last", model, mcfg, meta)
            state = {"optimizer": opt.state_dict(), "generator": gen.get_state(), "torch_rng": torch.get_rng_state(),
                     "epoch": epoch, "best": best, "history": json.dumps(history)}
            with atomic_write(_state_path(out), error=_train_error) as (_, f):
                torch.save(state, f)
            _write_logs(out, history)
        if dist.world > 1:
            import torch.distributed as tdist

            tdist.barrier()
        stop = os.environ.get("SNNSTUDIO_TRAIN_STOP_AFTER")  # interrupt after N epochs (tests of resume)
        if stop and epoch + 1 >= int(stop) and epoch + 1 < cfg.epochs:
            say(f"stopping after epoch {epoch + 1} (SNNSTUDIO_TRAIN_STOP_AFTER); continue with --resume")
            meter.close()
            return {"stopped_after": epoch + 1}
    meter.close()
    train_seconds = time.perf_counter() - t_run
    if dist.world > 1:  # what each process did, for checking the distributed run
        import hashlib

        digest = hashlib.sha1()
        for k, v in sorted(model.named_parameters()):  # BN running stats stay per process (rank 0's are saved)
            digest.update(k.encode())
            digest.update(v.detach().cpu().contiguous().numpy().tobytes())
        seen = len(sampler) * (cfg.epochs - start_epoch)
        (out / f"rank-{dist.rank}.json").write_text(json.dumps(
            {"rank": dist.rank, "world": dist.world, "samples_seen": seen, "indices_epoch_last": list(iter(sampler)),
             "weights_sha1": digest.hexdigest()}) + "\n", encoding="utf-8")
    summary = _finish(cfg, mcfg, out, history, best, train_seconds, device, scale, dist, say)
    return summary


def _finish(cfg, mcfg, out: Path, history, best, train_seconds, device, scale, dist: _Dist, say) -> dict:
    import torch

    from snnstudio.snn.checkpoints import load_checkpoint, save_checkpoint
    from snnstudio.train.data import load_dataset

    if dist.world > 1:
        import torch.distributed as tdist

        tdist.barrier()
    model, _, _ = load_checkpoint(out / "best", device=device)
    summary = {
        "name": cfg.name,
        "data": cfg.data,
        "data_options": cfg.data_options,
        "epochs": cfg.epochs,
        "best_epoch": best["epoch"],
        "val_accuracy": best["val_acc"],
        "final": history[-1] if history else None,
        "train_seconds_this_run": round(train_seconds, 1),
        "train_seconds_total": round(sum(r["seconds"] for r in history), 1),
        "device": str(device),
        "processes": dist.world,
        "torch_threads": torch.get_num_threads(),
        "log": [{k: (round(v, 5) if isinstance(v, float) else v) for k, v in r.items()} for r in history],
        "train_config": cfg.to_dict(),
        "parameters": int(sum(p.numel() for p in model.parameters())),
    }
    if cfg.test:
        try:
            test_ds = load_dataset(cfg.data, mcfg, split="test", options=cfg.data_options, cache_dir=cfg.cache_dir,
                                   workers=cfg.workers, check_classes=False)
        except SnnStudioError as exc:
            say(f"no test split evaluated: {exc}")
        else:
            from snnstudio.train.evaluate import EVAL_BATCH, EVAL_SEED

            with torch.random.fork_rng(devices=[]):  # the same draws as `snnstudio eval` (stochastic neurons)
                torch.manual_seed(EVAL_SEED)
                loss, acc, n = evaluate_loss_acc(model, test_ds, cfg, device, scale, dist, batch_size=EVAL_BATCH)
            summary.update(accuracy=acc, test_loss=loss, test_samples=n, test_data=f"{cfg.data}:test")
            say(f"test ({cfg.data}:test, {n} samples): accuracy {acc:.4f}")
    if dist.main:
        summary["checkpoint"] = str(save_checkpoint(out / cfg.name, model, mcfg, summary))
        say(f"saved {summary['checkpoint']}")
    return summary


def _write_logs(out: Path, history: list[dict]) -> None:
    cols = list(history[0])
    with atomic_write(out / "log.csv", "w", error=_train_error, newline="", encoding="utf-8") as (_, f):
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        w.writerows(history)
    with atomic_write(out / "log.json", "w", error=_train_error, encoding="utf-8") as (_, f):
        f.write(json.dumps(history, indent=1) + "\n")


def _train_error(path: Path, problem: str) -> TrainError:
    return TrainError(f"{path}: {problem}")


def check_train_outputs(out: Path, name: str) -> None:
    """Make the run folder and check every file a run writes there can be written (before any
    data is loaded or an epoch runs): raise :class:`TrainError` naming the first that cannot."""
    from snnstudio.errors import CheckpointError
    from snnstudio.snn.checkpoints import check_checkpoint_output

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TrainError(f"{out}: cannot make the run folder: {exc.strerror or exc}") from None
    if not out.is_dir():
        raise TrainError(f"{out}: not a folder")
    try:
        for stem in ("best", "last", name):
            check_checkpoint_output(out / stem)
    except CheckpointError as exc:
        raise TrainError(str(exc)) from None
    for p in (_state_path(out), out / "log.csv", out / "log.json"):
        check_output(p, error=_train_error)


class _progress:
    """A rich progress bar for one epoch (a no-op when disabled or not on a terminal-less run)."""

    def __init__(self, enabled: bool, total: int, title: str):
        self.p = None
        if enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.p = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                              TextColumn("{task.fields[info]}"), TimeElapsedColumn(), transient=True)
            self.p.start()
            self.task = self.p.add_task(title, total=total, info="")

    def advance(self, info: str = "") -> None:
        if self.p is not None:
            self.p.update(self.task, advance=1, info=info)

    def close(self) -> None:
        if self.p is not None:
            self.p.stop()
