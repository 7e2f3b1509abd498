"""Framed datasets in memory and on disk, shared by every loader (:mod:`snnstudio.train.data`,
:mod:`snnstudio.train.videos`): :class:`FrameDataset` (``[N, T, 2, H, W]`` uint16 counts and their
labels), the cache's key and atomic ``.npz`` writes, and the mirror map of the gesture classes.
A leaf module: the loaders use it, not each other's internals."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from snnstudio.errors import SnnStudioError

_MAX_COUNT = np.iinfo(np.uint16).max


class DatasetError(SnnStudioError):
    """A dataset cannot be found, read or framed as asked."""


@dataclass
class FrameDataset:
    """Framed samples in memory: ``frames`` uint16 ``[N, T, 2, H, W]``, ``labels`` int64 ``[N]``.

    ``flip_map`` (or ``None``) maps each class id to the class a horizontally mirrored sample
    belongs to (swipe_left ↔ swipe_right, circle_cw ↔ circle_ccw …); ``None`` means mirroring
    does not preserve classes (digits) and the flip augmentation is skipped.
    """

    frames: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    name: str
    dt_us: int
    flip_map: list[int] | None = None
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def subset(self, index) -> FrameDataset:
        index = np.asarray(index, dtype=np.int64)
        return FrameDataset(self.frames[index], self.labels[index], self.class_names, self.name, self.dt_us,
                            self.flip_map, dict(self.info))

    def limit(self, n: int | None) -> FrameDataset:
        """The first ``n`` samples, taken class-balanced (round robin over classes in index order)."""
        if n is None or n >= len(self):
            return self
        if n < 1:
            raise DatasetError(f"--limit must be ≥ 1, got {n}")
        per_class = [np.flatnonzero(self.labels == c) for c in range(self.num_classes)]
        order = [idx[k] for k in range(max((len(p) for p in per_class), default=0)) for idx in per_class if k < len(idx)]
        return self.subset(np.sort(np.asarray(order[:n])))

    def torch_dataset(self):
        """A ``torch.utils.data.TensorDataset`` of (uint16-as-int32 frames, labels)."""
        import torch
        from torch.utils.data import TensorDataset

        return TensorDataset(torch.from_numpy(self.frames.astype(np.int32)), torch.from_numpy(self.labels))


# ---------------------------------------------------------------------------------------------
# spec strings


def cache_key(params: dict) -> str:
    """A 12-hex-digit key of every parameter that changes the frames (the cache file's name)."""
    return hashlib.sha1(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:12]


def save_npz(path: Path, **arrays) -> None:
    """Write ``arrays`` to ``path`` through a temporary file and a rename (never half written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def to_counts(frames: np.ndarray) -> np.ndarray:
    """Counts saturated at 65 535 as uint16 (how frames are cached)."""
    return np.minimum(frames, _MAX_COUNT).astype(np.uint16)


def synthetic_flip_map(names: Sequence[str]) -> list[int]:
    """Class id → the class of the mirrored sample (swipe_left ↔ swipe_right, circle_cw ↔ circle_ccw)."""
    swap = {"swipe_left": "swipe_right", "swipe_right": "swipe_left", "circle_cw": "circle_ccw", "circle_ccw": "circle_cw"}
    return [list(names).index(swap.get(n, n)) for n in names]
