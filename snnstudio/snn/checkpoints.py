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
#: ceilings of the config fields a checkpoint may declare (checked before anything is built)
LIMITS = {"T": 10_000, "num_classes": 10_000, "dt_us": 3_600_000_000, "channels": 1024, "side": 8192,
          "width": 65_536, "layers": 256, "option": 65_536}
#: a checkpoint's JSON and a safetensors header are read whole, up to these sizes
MAX_JSON_BYTES = 16 << 20
MAX_HEADER_BYTES = 100 << 20
#: most bytes of buffers (running statistics, masks, positions) a model may allocate
MAX_EXTRA_BYTES = 1 << 30


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
    from snnstudio.safe_files import write_by_name

    write_by_name(target, write, _checkpoint_error)


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
        with open(json_path, "rb") as f:
            raw = f.read(MAX_JSON_BYTES + 1)
    except OSError as exc:
        raise CheckpointError(f"{json_path}: cannot read ({exc.strerror or exc})") from None
    if len(raw) > MAX_JSON_BYTES:
        raise CheckpointError(f"{json_path}: checkpoint config is larger than {MAX_JSON_BYTES:,} bytes")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, too-long integers
        raise CheckpointError(f"{json_path}: not valid JSON ({_one_line(exc)})") from None
    except RecursionError:
        raise CheckpointError(f"{json_path}: not valid JSON (nested too deeply)") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CheckpointError(f"{json_path}: not a snnstudio checkpoint (no \"format\": \"{FORMAT}\")")
    if doc.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{json_path}: unsupported checkpoint format_version {doc.get('format_version')!r}")
    meta = doc.get("meta", {})
    if not isinstance(meta, dict):
        raise CheckpointError(f"{json_path}: \"meta\" must be an object")
    check_config_fields(doc.get("config"), json_path)
    try:
        cfg = ModelConfig.from_dict(doc.get("config")).validate()
    except ModelError as exc:
        raise CheckpointError(f"{json_path}: {exc}") from None
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        raise CheckpointError(f"{json_path}: bad model config ({_one_line(exc)})") from None
    return cfg, meta


def _one_line(exc: BaseException) -> str:
    return (" ".join(str(exc).split()) or type(exc).__name__)[:200]


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def check_config_fields(config: object, json_path: Path) -> None:
    """Types and sane ceilings of a checkpoint's ``config`` (before anything is built from it):
    :class:`CheckpointError` naming the field, e.g. ``config.T`` null or 10⁹."""

    def bad(field: str, problem: str) -> CheckpointError:
        return CheckpointError(f"{json_path}: config.{field} {problem}")

    def whole(field: str, v: object, lo: int, hi: int) -> None:
        if not _is_int(v):
            raise bad(field, f"must be an integer, got {json.dumps(v)[:40]}")
        if not lo <= v <= hi:
            raise bad(field, f"= {v} is outside {lo}..{hi:,}")

    if not isinstance(config, dict):
        return  # ModelConfig.from_dict says what is wrong
    for key in ("arch", "neuron", "attention", "residual"):
        if key in config and not isinstance(config[key], str):
            raise bad(key, "must be a string")
    for key in ("neuron_params", "options"):
        if key in config and not isinstance(config[key], dict):
            raise bad(key, "must be an object")
    if "T" in config:
        whole("T", config["T"], 1, LIMITS["T"])
    if "num_classes" in config:
        whole("num_classes", config["num_classes"], 1, LIMITS["num_classes"])
    if "dt_us" in config:
        whole("dt_us", config["dt_us"], 1, LIMITS["dt_us"])
    if "input_size" in config:
        v = config["input_size"]
        if not isinstance(v, list) or len(v) != 3:
            raise bad("input_size", "must be a list [C, H, W]")
        whole("input_size[0]", v[0], 1, LIMITS["channels"])
        whole("input_size[1]", v[1], 1, LIMITS["side"])
        whole("input_size[2]", v[2], 1, LIMITS["side"])
    if "widths" in config:
        v = config["widths"]
        if not isinstance(v, list) or not 1 <= len(v) <= LIMITS["layers"]:
            raise bad("widths", f"must be a list of 1..{LIMITS['layers']} integers")
        for i, w in enumerate(v):
            whole(f"widths[{i}]", w, 1, LIMITS["width"])
    if "class_names" in config:
        v = config["class_names"]
        if not isinstance(v, list) or len(v) > LIMITS["num_classes"]:
            raise bad("class_names", f"must be a list of at most {LIMITS['num_classes']:,} names")
        if not all(isinstance(n, str) and len(n) <= 1000 for n in v):
            raise bad("class_names", "must hold strings (at most 1000 characters each)")
    for key in ("options", "neuron_params"):
        for name, v in (config.get(key) or {}).items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) > LIMITS["option"]:
                raise bad(f"{key}.{name}", f"= {v} is larger than {LIMITS['option']:,}")


def _safetensors_shapes(st_path: Path) -> dict[str, tuple[int, ...]]:
    """The tensor shapes a safetensors file really holds, from its header, checked against the
    file size (every tensor's bytes inside the file, as many as its dtype and shape need)."""
    def bad(problem: str) -> CheckpointError:
        return CheckpointError(f"{st_path}: unreadable weights ({problem})")

    try:
        size = st_path.stat().st_size
        with open(st_path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise bad("shorter than its 8-byte header length")
            n = int.from_bytes(head, "little")
            if n > min(MAX_HEADER_BYTES, size - 8):
                raise bad(f"header of {n:,} bytes in a {size:,}-byte file")
            header = json.loads(f.read(n).decode("utf-8"))
    except OSError as exc:
        raise bad(exc.strerror or str(exc)) from None
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise bad(f"header is not JSON: {_one_line(exc)}") from None
    if not isinstance(header, dict):
        raise bad("header is not a JSON object")
    body = size - 8 - n
    shapes = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (start, end) = info["dtype"], info["shape"], info["data_offsets"]
            item = _DTYPE_BYTES[dtype]
            if not all(_is_int(d) and d >= 0 for d in shape) or not (_is_int(start) and _is_int(end)):
                raise ValueError
        except (KeyError, TypeError, ValueError):
            raise bad(f"tensor {name!r} has a bad header entry") from None
        numel = 1
        for d in shape:
            numel *= d
        if not 0 <= start <= end <= body or end - start != numel * item:
            raise bad(f"tensor {name!r} {tuple(shape)} {dtype} does not fit its {end - start:,} bytes "
                      f"in the file's {body:,}")
        shapes[name] = tuple(shape)
    return shapes


#: bytes per element of the safetensors dtypes
_DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
                "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu"):
    """``(model, cfg, meta)`` from ``NAME.json`` + ``NAME.safetensors`` (model in eval mode)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from snnstudio.snn.zoo import build_model

    json_path, st_path = checkpoint_paths(path)
    cfg, meta = read_checkpoint_json(json_path)
    if not st_path.is_file():
        raise CheckpointError(f"{st_path}: checkpoint weights not found")
    # the model built on the meta device first (no memory): its shapes must be the ones the file
    # really holds, so a config declaring a huge model fails here instead of allocating it
    shapes = _safetensors_shapes(st_path)
    try:
        with torch.device("meta"):
            skeleton = build_model(cfg)
    except ModelError as exc:
        raise CheckpointError(f"{json_path}: config cannot be built: {exc}") from None
    except (TypeError, ValueError, RuntimeError, OverflowError, RecursionError) as exc:
        raise CheckpointError(f"{json_path}: config cannot be built ({_one_line(exc)})") from None
    _compare(skeleton.state_dict(), shapes, st_path)
    extra = sum(b.numel() * b.element_size() for b in skeleton.buffers())
    if extra > MAX_EXTRA_BYTES:
        raise CheckpointError(f"{json_path}: config needs {extra:,} bytes of buffers (most {MAX_EXTRA_BYTES:,})")
    del skeleton
    try:
        model = build_model(cfg)
    except ModelError as exc:
        raise CheckpointError(f"{json_path}: config cannot be built: {exc}") from None
    except (TypeError, ValueError, RuntimeError, OverflowError, RecursionError) as exc:
        raise CheckpointError(f"{json_path}: config cannot be built ({_one_line(exc)})") from None
    try:
        weights = load_file(str(st_path), device=str(device))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{st_path}: unreadable weights ({_one_line(exc)})") from None
    _compare(model.state_dict(), {k: tuple(v.shape) for k, v in weights.items()}, st_path)
    model.load_state_dict(weights, strict=True)
    model.to(device)
    model.eval()
    return model, cfg, meta


def _compare(expected: dict, shapes: dict[str, tuple[int, ...]], st_path: Path) -> None:
    """Raise :class:`CheckpointError` listing missing, unexpected and mis-shaped weights."""
    weights = shapes
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    misshaped = sorted(
        f"{k} {tuple(weights[k])} vs {tuple(expected[k].shape)}"
        for k in set(expected) & set(weights)
        if tuple(weights[k]) != tuple(expected[k].shape)
    )
    if missing or unexpected or misshaped:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("mis-shaped (file vs config)", misshaped)):
            if keys:
                shown = ", ".join(keys[:8]) + (f" … (+{len(keys) - 8})" if len(keys) > 8 else "")
                parts.append(f"{label}: {shown}")
        raise CheckpointError(f"{st_path}: weights do not match the config — " + "; ".join(parts))


#: names that stand for a bundled checkpoint (``--model default``, the GUI's start-up model)
ALIASES: dict[str, str] = {"default": "gesture-lif-tcsa"}


def bundled_models_dir() -> Path:
    """The bundled checkpoints' folder (:func:`snnstudio.resources.bundled_models_dir`:
    ``$SNNSTUDIO_RESOURCES/models``, the checkout's ``resources/models`` or the wheel's copy)."""
    from snnstudio.resources import bundled_models_dir as folder

    return folder()


def user_models_dir() -> Path:
    """Where models the user teaches (``snnstudio train --finetune … --out NAME``) are saved:
    ``$SNNSTUDIO_USER_MODELS``, else ``$XDG_DATA_HOME/snnstudio/models``, else
    ``%LOCALAPPDATA%/snnstudio/models`` on Windows, else ``~/.local/share/snnstudio/models``."""
    env = os.environ.get("SNNSTUDIO_USER_MODELS")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    if xdg:
        return Path(xdg).expanduser() / "snnstudio" / "models"
    if os.name == "nt" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "snnstudio" / "models"
    return Path.home() / ".local" / "share" / "snnstudio" / "models"


def bundled_checkpoints(models_dir: str | os.PathLike | None = None, *, include_user: bool | None = None) -> list[dict]:
    """The checkpoints found as ``*.json`` in ``models_dir`` (default :func:`bundled_models_dir`),
    followed — for the default folder, or with ``include_user`` — by the user's taught models in
    :func:`user_models_dir` (``"user": True``; one named like a bundled model is left out).

    Each entry: ``{"name", "json", "weights", "config", "meta"}``. A JSON file that is not a
    valid checkpoint, or lacks its weights, is skipped with a :class:`SnnStudioWarning`.
    """
    found = _checkpoints_in(Path(models_dir) if models_dir is not None else bundled_models_dir())
    if include_user if include_user is not None else models_dir is None:
        names = {c["name"] for c in found}
        user = user_models_dir()
        if user.is_dir() and all(Path(c["json"]).parent != user for c in found):
            found += [dict(c, user=True) for c in _checkpoints_in(user) if c["name"] not in names]
    return found


def _checkpoints_in(folder: Path) -> list[dict]:
    import warnings

    from snnstudio.errors import SnnStudioWarning

    found: list[dict] = []
    if not folder.is_dir():
        return found
    for json_path in sorted(folder.glob("*.json")):
        _, st_path = checkpoint_paths(json_path)
        try:
            cfg, meta = read_checkpoint_json(json_path)
            if not st_path.is_file():
                raise CheckpointError(f"{st_path}: checkpoint weights not found")
        except CheckpointError as exc:
            warnings.warn(f"skipping checkpoint: {exc}", SnnStudioWarning, stacklevel=3)
            continue
        found.append(
            {"name": json_path.stem, "json": str(json_path), "weights": str(st_path), "config": cfg.to_dict(), "meta": meta}
        )
    return found
