"""Checkpoints: weights in ``NAME.safetensors`` beside their config and metadata in ``NAME.json``.

Loading never unpickles or executes anything: the JSON gives a :class:`ModelConfig`, the zoo
builds the model, and the safetensors weights are checked against it key by key. Every
problem (a missing file, broken JSON, a config the zoo cannot build, missing / unexpected /
mis-shaped weights) is a :class:`~snnstudio.errors.CheckpointError` naming the file.
Writes go to a temporary file in the same folder, then ``os.replace`` — a crash never leaves
a half-written checkpoint under the real name.

JSON layout::

    {"format": "snnstudio-checkpoint", "format_version": 1,
     "config": {...ModelConfig...},
     "meta": {"date": "...", "snnstudio_version": "...", "training_data": ..., "accuracy": ..., ...}}
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path

import torch

from snnstudio.errors import CheckpointError, ModelError

FORMAT = "snnstudio-checkpoint"
FORMAT_VERSION = 1


def checkpoint_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """``(NAME.json, NAME.safetensors)`` for a stem, a ``.json`` or a ``.safetensors`` path."""
    p = Path(path)
    if p.suffix in (".json", ".safetensors"):
        p = p.with_suffix("")
    return p.with_name(p.name + ".json"), p.with_name(p.name + ".safetensors")


def _checkpoint_error(path: Path, problem: str) -> CheckpointError:
    return CheckpointError(f"{path}: {problem}")


def _atomic_write(target: Path, write) -> None:
    """``write(tmp_path)`` into a temp file beside ``target`` (its link target), then rename it over."""
    from snnstudio.safe_files import TempFile

    tmp = TempFile(target, error=_checkpoint_error)
    try:
        write(str(tmp.path))
    except OSError as exc:
        tmp.discard()
        raise CheckpointError(f"{target}: cannot write: {exc.strerror or exc}") from None
    except BaseException:
        tmp.discard()
        raise
    tmp.commit()


def check_checkpoint_output(dir_or_stem: str | os.PathLike, name: str | None = None) -> tuple[Path, Path]:
    """Raise :class:`CheckpointError` unless :func:`save_checkpoint` can write there (checked before
    training starts): the folder exists and is writable, neither file is a special file."""
    from snnstudio.safe_files import check_output

    target = Path(dir_or_stem)
    if target.is_dir() and name:
        target = target / name
    json_path, st_path = checkpoint_paths(target)
    if not json_path.parent.is_dir():
        raise CheckpointError(f"{json_path.parent}: no such folder to save the checkpoint in")
    for p in (st_path, json_path):
        check_output(p, error=_checkpoint_error)
    return json_path, st_path


def save_checkpoint(dir_or_stem: str | os.PathLike, model, cfg, meta: dict | None = None) -> Path:
    """Write ``NAME.safetensors`` and ``NAME.json``; return the JSON path.

    ``dir_or_stem`` is an existing folder (the name is then ``meta["name"]`` or ``cfg.arch``)
    or a path stem (``models/gesture`` → ``models/gesture.json`` + ``.safetensors``).
    ``meta`` is any JSON-able dict (training data, accuracy, epochs ...); the date and the
    snnstudio version are added.
    """
    from safetensors.torch import save_file

    from snnstudio import __version__

    meta = dict(meta or {})
    target = Path(dir_or_stem)
    if target.is_dir():
        target = target / str(meta.get("name") or cfg.arch)
    json_path, st_path = checkpoint_paths(target)
    if not json_path.parent.is_dir():
        raise CheckpointError(f"{json_path.parent}: no such folder to save the checkpoint in")
    meta.setdefault("date", _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    meta.setdefault("snnstudio_version", __version__)
    doc = {"format": FORMAT, "format_version": FORMAT_VERSION, "config": cfg.to_dict(), "meta": meta}
    try:
        text = json.dumps(doc, indent=2, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{json_path}: metadata is not JSON-able: {exc}") from None
    for p in (st_path, json_path):  # before any of them is written: never one without the other
        from snnstudio.safe_files import resolve_output

        resolve_output(p, error=_checkpoint_error)
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    _atomic_write(st_path, lambda tmp: save_file(tensors, tmp, metadata={"format": FORMAT}))
    _atomic_write(json_path, lambda tmp: Path(tmp).write_text(text + "\n", encoding="utf-8"))
    return json_path


def read_checkpoint_json(path: str | os.PathLike) -> tuple[object, dict]:
    """Read and check ``NAME.json`` only: ``(ModelConfig, meta)`` (no weights touched)."""
    from snnstudio.snn.zoo import ModelConfig

    json_path, _ = checkpoint_paths(path)
    if not json_path.is_file():
        raise CheckpointError(f"{json_path}: checkpoint config not found")
    try:
        doc = json.loads(json_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{json_path}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CheckpointError(f"{json_path}: not a snnstudio checkpoint (no \"format\": \"{FORMAT}\")")
    if doc.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{json_path}: unsupported checkpoint format_version {doc.get('format_version')!r}")
    meta = doc.get("meta", {})
    if not isinstance(meta, dict):
        raise CheckpointError(f"{json_path}: \"meta\" must be an object")
    try:
        cfg = ModelConfig.from_dict(doc.get("config")).validate()
    except ModelError as exc:
        raise CheckpointError(f"{json_path}: {exc}") from None
    return cfg, meta


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu"):
    """``(model, cfg, meta)`` from ``NAME.json`` + ``NAME.safetensors`` (model in eval mode)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from snnstudio.snn.zoo import build_model

    json_path, st_path = checkpoint_paths(path)
    cfg, meta = read_checkpoint_json(json_path)
    if not st_path.is_file():
        raise CheckpointError(f"{st_path}: checkpoint weights not found")
    try:
        model = build_model(cfg)
    except ModelError as exc:
        raise CheckpointError(f"{json_path}: config cannot be built: {exc}") from None
    try:
        weights = load_file(str(st_path), device=str(device))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{st_path}: unreadable weights ({exc})") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    misshaped = sorted(
        f"{k} {tuple(weights[k].shape)} vs {tuple(expected[k].shape)}"
        for k in set(expected) & set(weights)
        if weights[k].shape != expected[k].shape
    )
    if missing or unexpected or misshaped:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("mis-shaped (file vs config)", misshaped)):
            if keys:
                shown = ", ".join(keys[:8]) + (f" … (+{len(keys) - 8})" if len(keys) > 8 else "")
                parts.append(f"{label}: {shown}")
        raise CheckpointError(f"{st_path}: weights do not match the config — " + "; ".join(parts))
    model.load_state_dict(weights, strict=True)
    model.to(device)
    model.eval()
    return model, cfg, meta


#: names that stand for a bundled checkpoint (``--model default``, the GUI's start-up model)
ALIASES: dict[str, str] = {"default": "gesture-lif-tcsa"}


def bundled_models_dir() -> Path:
    """``resources/models`` beside the package (the repository layout), or
    ``$SNNSTUDIO_RESOURCES/models`` when that variable is set."""
    env = os.environ.get("SNNSTUDIO_RESOURCES")
    if env:
        return Path(env) / "models"
    return Path(__file__).resolve().parents[2] / "resources" / "models"


def bundled_checkpoints(models_dir: str | os.PathLike | None = None) -> list[dict]:
    """The checkpoints found as ``*.json`` in ``models_dir`` (default :func:`bundled_models_dir`).

    Each entry: ``{"name", "json", "weights", "config", "meta"}``. A JSON file that is not a
    valid checkpoint, or lacks its weights, is skipped with a :class:`SnnStudioWarning`.
    """
    import warnings

    from snnstudio.errors import SnnStudioWarning

    folder = Path(models_dir) if models_dir is not None else bundled_models_dir()
    found = []
    if not folder.is_dir():
        return found
    for json_path in sorted(folder.glob("*.json")):
        _, st_path = checkpoint_paths(json_path)
        try:
            cfg, meta = read_checkpoint_json(json_path)
            if not st_path.is_file():
                raise CheckpointError(f"{st_path}: checkpoint weights not found")
        except CheckpointError as exc:
            warnings.warn(f"skipping checkpoint: {exc}", SnnStudioWarning, stacklevel=2)
            continue
        found.append(
            {"name": json_path.stem, "json": str(json_path), "weights": str(st_path), "config": cfg.to_dict(), "meta": meta}
        )
    return found
