"""Datasets for training and evaluation: every sample becomes frames ``[T, 2, H, W]`` (time first).

Sources (:func:`load_dataset` takes a spec string):

* ``synthetic[:SPLIT]`` — the synthetic hand gestures (:mod:`snnstudio.events.synthetic`), fixed,
  seeded, disjoint splits: sample ``i`` of split ``s`` is gesture ``GESTURES[i % 10]`` generated
  with seed ``SPLIT_SEED[s] + i`` (train 0…, val 1 000 000…, test 2 000 000…), so the test split
  is never seen in training. Generated once (in worker processes) and cached.
* ``digits[:SPLIT]`` — scikit-learn's 1 797 handwritten 8×8 digits, upscaled and moved in three
  saccades (N-MNIST's isosceles triangle, 100 ms each) in front of the event emulator
  (:mod:`snnstudio.events.emulator`), the way N-MNIST was recorded; fixed split (a seeded
  permutation: 70 % train, 10 % val, 20 % test). Needs ``scikit-learn`` (optional).
* ``dvsgesture:DIR[:SPLIT]`` — DVS128 Gesture from a local folder (``userNN_*.aedat`` AEDAT 3.1 +
  ``_labels.csv``): users 1–23 train (every 10th labelled sample of them is held out as val),
  24–29 test; one sample per labelled range. No download is possible: a missing folder says
  where to put the files.
* ``videos:DIR`` — labelled video clips (``DIR/labels.csv``: file, label, start_frame, end_frame,
  fps) through the studio's video path, one sample per row ending at the gesture's end; no
  split (every clip is evaluated), see :mod:`snnstudio.train.videos`.
* ``DIR[:SPLIT]`` — any folder of labelled recordings in a readable format, one sub-folder per
  class (class names = sorted sub-folder names). With ``DIR/train`` and ``DIR/test`` those are
  the splits (val = every 10th train file); otherwise a stable hash of each file's relative path
  puts it in train (80 %), val (10 %) or test (10 %).

Framing uses :func:`snnstudio.events.frames.bin_events` (per-polarity counts, ``out_size``
sum-pooling). Generated data (synthetic, digits) is framed once at a fine time grid
(``base_bins`` windows over the sample) and a model's ``T`` frames are sums of consecutive
groups of them (MA-SNN's ``alpha`` grouping), so one cache serves every ``T`` dividing
``base_bins``. Recordings are framed with the model's ``dt_us`` and ``T`` from the start of each
labelled range. Frames are cached as uint16 counts in ``.npz`` files under ``cache_dir``
(default ``./cache``, git-ignored); the key holds every parameter that changes the frames.
"""

from __future__ import annotations

import os
import warnings
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from snnstudio.errors import SnnStudioWarning
from snnstudio.events.synthetic.generator import GENERATOR_VERSION
from snnstudio.train.framed import (  # noqa: F401  (DatasetError, FrameDataset re-exported: their old home)
    DatasetError,
    FrameDataset,
    cache_key as _key,
    save_npz as _save_npz,
    synthetic_flip_map as _synthetic_flip_map,
    to_counts as _to_counts,
)

SPLITS = ("train", "val", "test")
SPLIT_SEED = {"train": 0, "val": 1_000_000, "test": 2_000_000}
DEFAULT_CACHE = Path("cache")


@dataclass(frozen=True)
class DataSpec:
    """A parsed ``--data`` string: ``kind`` (synthetic, digits, dvsgesture, videos, folder), ``path``, ``split``."""

    kind: str
    split: str
    path: Path | None = None

    def __str__(self) -> str:
        where = f":{self.path}" if self.path is not None else ""
        head = "" if self.kind == "folder" else self.kind
        return f"{head}{where if head else str(self.path)}:{self.split}"


def parse_spec(text: str, default_split: str = "test") -> DataSpec:
    """``synthetic:test``, ``digits``, ``dvsgesture:/data/DvsGesture:test``, ``/my/folder:train`` …"""
    if not text:
        raise DatasetError("empty --data; use synthetic[:split], digits[:split], dvsgesture:DIR[:split] or a folder")
    head, _, rest = text.partition(":")
    if head in ("synthetic", "digits"):
        split = rest or default_split
        return DataSpec(head, _check_split(split))
    if head == "videos":
        if not rest:
            raise DatasetError("videos needs a folder with a labels.csv: videos:DIR")
        return DataSpec("videos", default_split, Path(rest))
    if head == "dvsgesture":
        if not rest:
            raise DatasetError("dvsgesture needs a folder: dvsgesture:DIR[:split]")
        path, split = _path_split(rest, default_split)
        return DataSpec("dvsgesture", split, path)
    path, split = _path_split(text, default_split)
    return DataSpec("folder", split, path)


def _path_split(text: str, default_split: str) -> tuple[Path, str]:
    base, sep, last = text.rpartition(":")
    if sep and last in SPLITS:
        return Path(base), last
    return Path(text), default_split


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}; known: {', '.join(SPLITS)}")
    return split


# ---------------------------------------------------------------------------------------------
# caching


def pool_frames(frames: np.ndarray, size: int) -> np.ndarray:
    """Sum-pool square ``[N, T, 2, S, S]`` counts to ``size × size`` (``size`` divides ``S``): the
    same counts as framing the events with ``out_size = (size, size)`` directly."""
    s = frames.shape[-1]
    if size == s:
        return frames
    if s % size:
        raise DatasetError(f"cannot pool {s}×{s} frames to {size}×{size} (not a divisor)")
    k = s // size
    pooled = frames.reshape(*frames.shape[:-2], size, k, size, k).sum((-3, -1), dtype=np.uint32)
    return _to_counts(pooled)


def group_frames(base: np.ndarray, T: int) -> np.ndarray:
    """Sum ``[N, B0, ...]`` fine frames into ``[N, T, ...]`` (``B0`` a multiple of ``T``)."""
    n, b0 = base.shape[:2]
    if b0 % T:
        raise DatasetError(f"T = {T} does not divide the {b0} cached base frames")
    g = base.reshape(n, T, b0 // T, *base.shape[2:]).sum(2, dtype=np.uint32)
    return _to_counts(g)


# ---------------------------------------------------------------------------------------------
# synthetic gestures


@dataclass(frozen=True)
class SyntheticSpec:
    """How the synthetic gesture splits are generated and framed (all stored with a model)."""

    per_class: dict = field(default_factory=lambda: {"train": 50, "val": 8, "test": 20})
    sensor: int = 128
    fps: float = 500.0
    duration_us: int = 1_500_000
    base_bins: int = 60
    out_size: int = 32
    #: generator version: 2 (hand sprite at ``fps``) or 3 (a person filmed like a video)
    generator: int = 2
    #: v3 only: "video" (camera rate drawn per sample; ``fps`` unused) or "dvs" (rendered at ``fps``)
    mode: str = "video"

    @classmethod
    def from_options(cls, options: dict | None) -> SyntheticSpec:
        options = dict(options or {})
        known = {f for f in cls.__dataclass_fields__}
        bad = sorted(set(options) - known)
        if bad:
            raise DatasetError(f"unknown synthetic option(s) {', '.join(bad)}; known: {', '.join(sorted(known))}")
        if "per_class" in options:
            pc = {"train": 50, "val": 8, "test": 20}
            pc.update({k: int(v) for k, v in dict(options["per_class"]).items()})
            if set(pc) - set(SPLITS) or min(pc.values()) < 0:
                raise DatasetError(f"per_class must map train/val/test to counts ≥ 0, got {options['per_class']}")
            options["per_class"] = pc
        spec = cls(**options)
        if spec.generator not in (2, 3):
            raise DatasetError(f"synthetic generator must be 2 or 3, got {spec.generator!r}")
        if spec.mode not in ("video", "dvs"):
            raise DatasetError(f"synthetic mode must be 'video' or 'dvs', got {spec.mode!r}")
        if spec.duration_us % spec.base_bins:
            raise DatasetError(f"duration_us {spec.duration_us} is not a multiple of base_bins {spec.base_bins}")
        return spec

    def to_dict(self) -> dict:
        """The options; a v2 spec leaves out the v3 fields, so its cache keys and stored options are
        those of before they existed."""
        d = asdict(self)
        if self.generator == 2:
            d.pop("generator")
            d.pop("mode")
        return d

    @property
    def base_dt_us(self) -> int:
        return self.duration_us // self.base_bins


def filtered(rec, filters: str = ""):
    """``rec`` through the event filters of ``filters`` (a spec of
    :func:`snnstudio.events.filters.parse_filters`; hot pixels learnt from the whole recording),
    its sensor the filtered one (crop / downsample); ``rec`` itself when ``filters`` is empty."""
    if not filters:
        return rec
    from dataclasses import replace

    from snnstudio.events.filters import FilterChain

    chain = FilterChain(filters, rec.sensor_size).fit(rec.events)
    return replace(rec, events=chain(rec.events), sensor_size=chain.output_size(rec.sensor_size))


def _with_filters(params: dict, filters: str) -> dict:
    """Cache-key parameters with the filters (left out when none: the keys of unfiltered data stay)."""
    return {**params, "filters": filters} if filters else params


def synthetic_sample(spec: SyntheticSpec, split: str, index: int, filters: str = "") -> tuple[np.ndarray, int]:
    """Base frames ``[base_bins, 2, out, out]`` (uint16) and the class id of one sample (its events
    through ``filters`` first, see :func:`filtered`)."""
    from snnstudio.events.frames import bin_events
    from snnstudio.events.synthetic import GESTURES, generate_gesture

    cid = index % len(GESTURES)
    fps = None if (spec.generator == 3 and spec.mode == "video") else spec.fps
    rec = generate_gesture(GESTURES[cid], seed=SPLIT_SEED[split] + index, duration_us=spec.duration_us,
                           sensor_size=(spec.sensor, spec.sensor), fps=fps, version=spec.generator, mode=spec.mode)
    label = rec.labels[0]
    rec = filtered(rec, filters)
    frames = bin_events(rec, dt_us=spec.base_dt_us, t_start_us=label.start_us, n_frames=spec.base_bins,
                        out_size=(spec.out_size, spec.out_size))
    return _to_counts(frames), label.class_id


def _synthetic_job(args):
    spec_dict, split, index, filters = args
    return synthetic_sample(SyntheticSpec(**spec_dict), split, index, filters)


def _run_jobs(fn, jobs: list, workers: int, progress: Callable[[int, int], None] | None) -> list:
    """Run the generation jobs; ``workers`` processes (0: one per CPU core, at most 4)."""
    if workers <= 0:
        workers = max(1, min(4, os.cpu_count() or 1))
    if workers <= 1 or len(jobs) < 4:
        out = []
        for i, job in enumerate(jobs):
            out.append(fn(job))
            if progress:
                progress(i + 1, len(jobs))
        return out
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        out = []
        for i, r in enumerate(pool.map(fn, jobs, chunksize=2)):
            out.append(r)
            if progress:
                progress(i + 1, len(jobs))
        return out


def _synthetic_path(spec: SyntheticSpec, split: str, cache_dir: Path, filters: str = "") -> Path:
    params = {"spec": spec.to_dict(), "split": split, "v": 1, "generator": GENERATOR_VERSION}
    if spec.generator == 3:  # v2 keys stay those of before v3 existed
        from snnstudio.events.synthetic.people import REVISION

        params["revision"] = REVISION
    key = _key(_with_filters(params, filters))
    return cache_dir / "synthetic" / f"{split}-{key}.npz"


def _synthetic_spec_for(options: dict | None, out_size: int | None) -> SyntheticSpec:
    """The generator spec of ``options`` for a model input of ``out_size`` (frames stored at the
    spec's size when it pools down to ``out_size``, else at ``out_size`` itself)."""
    spec = SyntheticSpec.from_options(options)
    if out_size is not None and (out_size > spec.out_size or spec.out_size % out_size):
        spec = SyntheticSpec.from_options({**dict(options or {}), "out_size": int(out_size)})
    return spec


def synthetic_split_cached(split: str, out_size: int | None, options: dict | None, cache_dir: Path | None,
                           filters: str = "") -> bool:
    """Whether :func:`load_synthetic` would find the whole split in ``cache_dir`` (no generating)."""
    if cache_dir is None:
        return False
    return _synthetic_path(_synthetic_spec_for(options, out_size), _check_split(split), Path(cache_dir),
                           filters).is_file()


def synthetic_base(spec: SyntheticSpec, split: str, cache_dir: Path | None, workers: int = 1,
                   progress: Callable[[int, int], None] | None = None,
                   filters: str = "") -> tuple[np.ndarray, np.ndarray]:
    """All base frames and labels of a synthetic split (its events through ``filters``), from the
    cache or generated (then cached)."""
    from snnstudio.events.synthetic import GESTURES

    n = spec.per_class[split] * len(GESTURES)
    if n == 0:
        raise DatasetError(f"synthetic split {split!r} is empty (per_class {split} = 0)")
    path = None
    if cache_dir is not None:
        path = _synthetic_path(spec, split, Path(cache_dir), filters)
        if path.is_file():
            with np.load(path) as z:
                return z["frames"], z["labels"]
    results = _run_jobs(_synthetic_job, [(spec.to_dict(), split, i, filters) for i in range(n)], workers, progress)
    frames = np.stack([r[0] for r in results])
    labels = np.asarray([r[1] for r in results], dtype=np.int64)
    if path is not None:
        _save_npz(path, frames=frames, labels=labels)
    return frames, labels


def load_synthetic(split: str, T: int, dt_us: int | None = None, out_size: int | None = None,
                   options: dict | None = None, cache_dir: Path | None = DEFAULT_CACHE, workers: int = 1,
                   progress=None, filters: str = "") -> FrameDataset:
    from snnstudio.events.synthetic import GESTURES

    spec = _synthetic_spec_for(options, out_size)
    if spec.base_bins % T:
        allowed = [t for t in range(1, spec.base_bins + 1) if spec.base_bins % t == 0]
        raise DatasetError(f"synthetic data is framed in {spec.base_bins} base bins; T must divide it: {allowed}")
    model_dt = spec.duration_us // T
    if dt_us is not None and dt_us != model_dt:
        raise DatasetError(f"synthetic samples last {spec.duration_us} µs: with T = {T} the model's dt_us must be "
                           f"{model_dt}, got {dt_us}")
    base, labels = synthetic_base(spec, _check_split(split), cache_dir, workers, progress, filters)
    frames = pool_frames(group_frames(base, T), out_size or spec.out_size)
    return FrameDataset(frames, labels, list(GESTURES), f"synthetic:{split}", model_dt,
                        _synthetic_flip_map(GESTURES), _with_filters({"kind": "synthetic", "options": spec.to_dict()},
                                                                     filters))


# ---------------------------------------------------------------------------------------------
# digits in saccades (N-MNIST style)


@dataclass(frozen=True)
class DigitsSpec:
    sensor: int = 34
    digit_px: int = 24
    saccade_us: int = 100_000
    fps: float = 1000.0
    amplitude_px: float = 3.0
    base_bins: int = 60
    out_size: int = 32

    @classmethod
    def from_options(cls, options: dict | None) -> DigitsSpec:
        options = dict(options or {})
        bad = sorted(set(options) - set(cls.__dataclass_fields__))
        if bad:
            raise DatasetError(f"unknown digits option(s) {', '.join(bad)}")
        return cls(**options)

    @property
    def duration_us(self) -> int:
        return 3 * self.saccade_us


def _digits():
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DatasetError("the digits dataset needs scikit-learn (pip install scikit-learn)") from None
    d = load_digits()
    return d.images.astype(np.float32), d.target.astype(np.int64)


def digits_split_indices(n: int) -> dict[str, np.ndarray]:
    perm = np.random.default_rng(12345).permutation(n)
    n_test, n_val = int(round(0.2 * n)), int(round(0.1 * n))
    return {"test": np.sort(perm[:n_test]), "val": np.sort(perm[n_test:n_test + n_val]),
            "train": np.sort(perm[n_test + n_val:])}


def digit_events(image: np.ndarray, spec: DigitsSpec, seed: int):
    """Events of one 8×8 digit image (values 0–16) moved along N-MNIST's three saccades."""
    import cv2

    from snnstudio.events.emulator import EmulatorConfig, emulate_frames

    rng = np.random.default_rng(seed)
    S, P = spec.sensor, spec.digit_px
    big = cv2.resize(image / 16.0, (P, P), interpolation=cv2.INTER_CUBIC).clip(0, 1)
    canvas = np.zeros((S, S), np.float32)
    o = (S - P) // 2
    canvas[o:o + P, o:o + P] = big
    a = spec.amplitude_px
    corners = np.array([[0.0, 0.0], [a, a], [-a, a], [0.0, 0.0]])  # isosceles triangle, back to start
    n_per = int(round(spec.saccade_us * spec.fps / 1e6))
    ts, frames = [], []
    for k in range(3):
        for j in range(n_per):
            u = j / n_per
            s = 0.5 - 0.5 * np.cos(np.pi * u)  # eased saccade
            dx, dy = corners[k] + s * (corners[k + 1] - corners[k])
            m = np.float32([[1, 0, dx], [0, 1, dy]])
            img = cv2.warpAffine(canvas, m, (S, S), flags=cv2.INTER_LINEAR, borderValue=0.0)
            frames.append(40 + 200 * img)  # luma: dark background, bright strokes
            ts.append(int(round((k * n_per + j) * 1e6 / spec.fps)))
    frames.append(frames[0])
    ts.append(spec.duration_us)
    cfg = EmulatorConfig(on_threshold=0.2 * rng.uniform(0.9, 1.1), off_threshold=0.2 * rng.uniform(0.9, 1.1),
                         seed=int(rng.integers(2**31)))
    return emulate_frames(np.stack(frames).astype(np.float32) / 255.0, np.asarray(ts), cfg, sensor="digits-saccade")


def _digits_job(args):
    spec_dict, image, index, filters = args
    from snnstudio.events.frames import bin_events

    spec = DigitsSpec(**spec_dict)
    rec = filtered(digit_events(image, spec, seed=index), filters)
    frames = bin_events(rec, dt_us=spec.duration_us // spec.base_bins, t_start_us=0, n_frames=spec.base_bins,
                        out_size=(spec.out_size, spec.out_size))
    return _to_counts(frames)


def load_digits_saccades(split: str, T: int, dt_us: int | None = None, out_size: int | None = None,
                         options: dict | None = None, cache_dir: Path | None = DEFAULT_CACHE, workers: int = 1,
                         progress=None, filters: str = "") -> FrameDataset:
    spec = DigitsSpec.from_options(options)
    if out_size is not None and (out_size > spec.out_size or spec.out_size % out_size):
        spec = DigitsSpec.from_options({**dict(options or {}), "out_size": int(out_size)})
    if spec.base_bins % T:
        raise DatasetError(f"digits are framed in {spec.base_bins} base bins; T must divide it")
    model_dt = spec.duration_us // T
    if dt_us is not None and dt_us != model_dt:
        raise DatasetError(f"digit samples last {spec.duration_us} µs: with T = {T} dt_us must be {model_dt}, got {dt_us}")
    images, targets = _digits()
    idx = digits_split_indices(len(targets))[_check_split(split)]
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / "digits" / f"{split}-{_key(_with_filters({'spec': asdict(spec), 'split': split, 'v': 1}, filters))}.npz"
    if path is not None and path.is_file():
        with np.load(path) as z:
            base = z["frames"]
    else:
        jobs = [(asdict(spec), images[i], int(i), filters) for i in idx]
        base = np.stack(_run_jobs(_digits_job, jobs, workers, progress))
        if path is not None:
            _save_npz(path, frames=base)
    return FrameDataset(pool_frames(group_frames(base, T), out_size or spec.out_size), targets[idx],
                        [str(d) for d in range(10)], f"digits:{split}",
                        model_dt, None, _with_filters({"kind": "digits", "options": asdict(spec)}, filters))


# ---------------------------------------------------------------------------------------------
# recordings: DVS128 Gesture and labelled folders

DVS_GESTURE_HINT = (
    "put the DVS128 Gesture files there: the DvsGesture folder of the IBM release "
    "(user01_fluorescent.aedat, user01_fluorescent_labels.csv, … user29_*.aedat and "
    "trials_to_train.txt / trials_to_test.txt are not needed); it cannot be downloaded here"
)


def _frame_range(events: np.ndarray, sensor, start: int, T: int, dt_us: int, out_hw: tuple[int, int]) -> np.ndarray:
    from snnstudio.events.frames import bin_events

    i0, i1 = np.searchsorted(events["t"], [start, start + T * dt_us])
    return _to_counts(bin_events(events[i0:i1], sensor, dt_us=dt_us, t_start_us=start, n_frames=T,
                                 out_size=(out_hw[1], out_hw[0])))


def _cached_file(path: Path, cache_dir: Path | None, params: dict, make: Callable[[], dict]) -> dict:
    st = path.stat()
    key = _key({"path": str(path.resolve()), "size": st.st_size, "mtime": st.st_mtime_ns, **params})
    cpath = Path(cache_dir) / "recordings" / f"{path.stem}-{key}.npz" if cache_dir is not None else None
    if cpath is not None and cpath.is_file():
        with np.load(cpath) as z:
            return {k: z[k] for k in z.files}
    out = make()
    if cpath is not None:
        _save_npz(cpath, **out)
    return out


def dvs_gesture_files(root: Path) -> list[tuple[int, Path]]:
    """``(user, path)`` of every ``userNN_*.aedat`` that has its ``_labels.csv`` beside it."""
    import re

    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder; {DVS_GESTURE_HINT}")
    found = []
    for p in sorted(root.rglob("*.aedat")):
        m = re.match(r"user(\d+)_", p.name)
        if m and p.with_name(p.stem + "_labels.csv").is_file():
            found.append((int(m.group(1)), p))
    if not found:
        raise DatasetError(f"{root}: no userNN_*.aedat files with _labels.csv found; {DVS_GESTURE_HINT}")
    return found


def load_dvs_gesture(root: Path, split: str, T: int, dt_us: int, out_hw: tuple[int, int],
                     cache_dir: Path | None = DEFAULT_CACHE, progress=None, filters: str = "") -> FrameDataset:
    """DVS128 Gesture: one sample per labelled range, framed from its start (``T`` windows of ``dt_us``)."""
    from snnstudio.events.io import read_events
    from snnstudio.snn.zoo import DVS_GESTURE_CLASSES

    split = _check_split(split)
    files = dvs_gesture_files(Path(root))
    users = range(1, 24) if split in ("train", "val") else range(24, 30)
    chosen = [p for u, p in files if u in users]
    frames, labels = [], []
    for i, p in enumerate(chosen):
        def make(p=p):
            rec = filtered(read_events(p), filters)
            fr = [_frame_range(rec.events, rec.sensor_size, lb.start_us, T, dt_us, out_hw) for lb in rec.labels]
            return {"frames": np.stack(fr) if fr else np.zeros((0, T, 2, *out_hw), np.uint16),
                    "labels": np.asarray([lb.class_id - 1 for lb in rec.labels], np.int64)}

        d = _cached_file(p, cache_dir, _with_filters({"T": T, "dt": dt_us, "out": list(out_hw), "v": 1}, filters), make)
        frames.append(d["frames"])
        labels.append(d["labels"])
        if progress:
            progress(i + 1, len(chosen))
    frames_a = np.concatenate(frames)
    labels_a = np.concatenate(labels)
    if labels_a.size and (labels_a.min() < 0 or labels_a.max() >= len(DVS_GESTURE_CLASSES)):
        raise DatasetError(f"{root}: DVS Gesture class ids must be 1–11, found {labels_a.min() + 1}–{labels_a.max() + 1}")
    if split != "test":
        val = np.arange(len(labels_a)) % 10 == 9
        keep = val if split == "val" else ~val
        frames_a, labels_a = frames_a[keep], labels_a[keep]
    names = list(DVS_GESTURE_CLASSES)
    # mirrored: a right-hand gesture becomes the left-hand one; a clockwise arm becomes a counter-clockwise one
    swap = {1: 2, 2: 1, 3: 6, 6: 3, 4: 5, 5: 4}
    flip = [swap.get(i, i) for i in range(len(names))]
    return FrameDataset(frames_a, labels_a, names, f"dvsgesture:{split}", dt_us, flip,
                        _with_filters({"kind": "dvsgesture", "root": str(root)}, filters))


def _hash_split(rel: str) -> str:
    h = zlib.crc32(rel.encode()) % 10
    return "test" if h == 0 else "val" if h == 1 else "train"


def load_folder(root: Path, split: str, T: int, dt_us: int, out_hw: tuple[int, int],
                cache_dir: Path | None = DEFAULT_CACHE, progress=None, filters: str = "") -> FrameDataset:
    """One sub-folder per class of recordings (any readable format); one sample per file (or per
    labelled range when the recording carries labels of its own class), framed from its first event."""
    from snnstudio.events.io import read_events

    root = Path(root)
    split = _check_split(split)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder (expected one sub-folder of recordings per class)")
    presplit = (root / "train").is_dir() and (root / "test").is_dir()
    base = root / ("test" if split == "test" else "train") if presplit else root
    classes = sorted(d.name for d in base.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise DatasetError(f"{base}: no class sub-folders (expected {base}/CLASS_NAME/recording files)")
    files = []
    for cid, c in enumerate(classes):
        for k, p in enumerate(sorted(f for f in (base / c).rglob("*") if f.is_file() and not f.name.endswith("_labels.csv"))):
            rel = str(p.relative_to(base))
            s = ("val" if k % 10 == 9 else "train") if presplit and split != "test" else (
                "test" if presplit else _hash_split(rel))
            if s == split:
                files.append((cid, p))
    if not files:
        raise DatasetError(f"{root}: no recordings in the {split} split")
    frames, labels = [], []
    for i, (cid, p) in enumerate(files):
        def make(p=p):
            rec = filtered(read_events(p), filters)
            if not len(rec):
                raise DatasetError(f"{p}: no events")
            start = int(rec.events["t"][0])
            return {"frames": _frame_range(rec.events, rec.sensor_size, start, T, dt_us, out_hw)[None]}

        params = _with_filters({"T": T, "dt": dt_us, "out": list(out_hw), "v": 1}, filters)
        frames.append(_cached_file(p, cache_dir, params, make)["frames"])
        labels.append(cid)
        if progress:
            progress(i + 1, len(files))
    return FrameDataset(np.concatenate(frames), np.asarray(labels, np.int64), classes, f"{root}:{split}", dt_us, None,
                        _with_filters({"kind": "folder", "root": str(root)}, filters))


# ---------------------------------------------------------------------------------------------


def load_dataset(spec: str | DataSpec, cfg, *, split: str | None = None, options: dict | None = None,
                 cache_dir: str | Path | None = DEFAULT_CACHE, workers: int = 1,
                 progress: Callable[[int, int], None] | None = None, check_classes: bool = True,
                 filters: str = "") -> FrameDataset:
    """Frames for model config ``cfg`` (:class:`~snnstudio.snn.zoo.ModelConfig`: ``T``, ``dt_us``,
    ``input_size``) from a spec string; ``split`` overrides the spec's; ``options`` are the
    generator options of synthetic / digits data (see :class:`SyntheticSpec`, :class:`DigitsSpec`);
    ``filters``: every sample's events go through these event filters before framing (a spec of
    :func:`snnstudio.events.filters.parse_filters`; cached apart)."""
    ds = parse_spec(spec) if isinstance(spec, str) else spec
    sp = _check_split(split or ds.split)
    c, h, w = cfg.input_size
    if c != 2:
        raise DatasetError(f"event frames have 2 channels (OFF, ON); the model takes {c}")
    cache = Path(cache_dir) if cache_dir is not None else None
    if ds.kind in ("synthetic", "digits"):
        if h != w:
            raise DatasetError(f"{ds.kind} frames are square; the model takes {h}×{w}")
        loader = load_synthetic if ds.kind == "synthetic" else load_digits_saccades
        out = loader(sp, cfg.T, cfg.dt_us, h, options, cache, workers, progress, filters)
    elif ds.kind == "videos":  # every labelled clip (no split), see snnstudio.train.videos
        from snnstudio.train.videos import load_videos

        if filters:
            raise DatasetError("event filters on videos:DIR are not supported yet (filter a recording, a folder, "
                               "dvsgesture or synthetic data)")
        out = load_videos(ds.path, cfg.T, cfg.dt_us, (h, w), cfg.class_names, None, cache, progress)
    elif ds.kind == "dvsgesture":
        out = load_dvs_gesture(ds.path, sp, cfg.T, cfg.dt_us, (h, w), cache, progress, filters)
    else:
        out = load_folder(ds.path, sp, cfg.T, cfg.dt_us, (h, w), cache, progress, filters)
    if len(out) == 0:
        raise DatasetError(f"{ds}: the {sp} split has no samples")
    if check_classes and cfg.num_classes != out.num_classes:
        warnings.warn(f"{out.name}: {out.num_classes} classes but the model has {cfg.num_classes} outputs",
                      SnnStudioWarning, stacklevel=2)
    return out
