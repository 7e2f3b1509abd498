"""The synthetic gesture generator as a live source: labelled batches, generated gesture by gesture.

Each batch's ``label`` is the ground-truth class of the gesture that overlaps its window most
(``None`` in the unlabelled transitions between gestures); ``class_names`` maps ids to
:data:`~snnstudio.events.synthetic.GESTURES`. Generation is lazy (one gesture at a time) and
seeded: the same arguments give the same batches. Un-paced, like every source.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from snnstudio.events.sources.base import EventBatch, EventSource
from snnstudio.events.sources.video import rebatch
from snnstudio.events.synthetic import CLASS_NAMES, GESTURES, GestureStream, gesture_id
from snnstudio.events.synthetic.generator import DEFAULT_DURATION_US, DEFAULT_FPS, DEFAULT_GAP_US, DEFAULT_SENSOR
from snnstudio.events.types import Label


def _window_label(labels: list[Label], start: int, end: int) -> int | None:
    """Class id of the label overlapping ``[start, end)`` most (ties: the earlier), or None."""
    best, best_overlap = None, 0
    for lab in labels:
        overlap = min(lab.end_us, end) - max(lab.start_us, start)
        if overlap > best_overlap:
            best, best_overlap = lab.class_id, overlap
    return best


class SyntheticGestureSource(EventSource):
    """Synthetic hand gestures as event batches of ``batch_us`` µs.

    ``gesture``: ``None``/``"random"`` (a seeded random sequence, every class once per ten), a
    gesture name (repeated), or a list of names (played in order). ``count``: how many gestures
    before the source ends (default: endless, except a list, which plays once unless ``loop``).
    ``duration_us`` / ``gap_us``: per gesture, a value or a (low, high) range.
    """

    class_names = CLASS_NAMES

    def __init__(
        self,
        gesture: str | Sequence[str] | None = None,
        *,
        count: int | None = None,
        seed: int | None = 0,
        sensor_size: tuple[int, int] = DEFAULT_SENSOR,
        batch_us: int = 10_000,
        duration_us: int | tuple[int, int] = DEFAULT_DURATION_US,
        gap_us: int | tuple[int, int] = DEFAULT_GAP_US,
        fps: float = DEFAULT_FPS,
        clean: bool = False,
        loop: bool = False,
    ):
        if isinstance(gesture, str) or gesture is None:
            self._names: list[str] | None = None if gesture in (None, "random") else [gesture]
            self._repeat = True
        else:
            self._names = list(gesture)
            if not self._names:
                raise ValueError("need at least one gesture name")
            self._repeat = bool(loop)
        for n in self._names or []:
            if n != "random":
                gesture_id(n)
        if count is not None and int(count) < 1:
            raise ValueError(f"count must be >= 1, got {count}")
        if int(batch_us) <= 0:
            raise ValueError(f"batch_us must be > 0 µs, got {batch_us}")
        self.count = None if count is None else int(count)
        self.seed = seed
        self.sensor_size = (int(sensor_size[0]), int(sensor_size[1]))
        self.batch_us = int(batch_us)
        self.duration_us = duration_us
        self.gap_us = gap_us
        self.fps = fps
        self.clean = clean
        self._closed = False
        #: labels of the gestures generated so far (ground truth, µs)
        self.labels: list[Label] = []

    def _gesture_names(self, rng: np.random.Generator) -> Iterator[str]:
        produced = 0
        while self.count is None or produced < self.count:
            if self._names is None:
                round_ = [GESTURES[i] for i in rng.permutation(len(GESTURES))]
            else:
                round_ = [GESTURES[int(rng.integers(len(GESTURES)))] if n == "random" else n for n in self._names]
            for name in round_:
                if self.count is not None and produced >= self.count:
                    return
                yield name
                produced += 1
            if not self._repeat and self.count is None:
                return

    def _gesture_batches(self) -> Iterator[EventBatch]:
        rng = np.random.default_rng([0 if self.seed is None else self.seed, 13])
        stream = GestureStream(self.seed, self.sensor_size, fps=self.fps, clean=self.clean)
        self.labels = []
        t_prev = 0
        for i, name in enumerate(self._gesture_names(rng)):
            if self._closed:
                return
            dur = _draw(self.duration_us, rng)
            gap = 0 if i == 0 else _draw(self.gap_us, rng)
            events, label = stream.gesture(name, dur, gap)
            self.labels.append(label)
            yield EventBatch(events, t_prev, stream.t_us, label=label.class_id)
            t_prev = stream.t_us

    def batches(self) -> Iterator[EventBatch]:
        """Generate batches of ``batch_us`` µs until closed (un-paced: as fast as they are pulled)."""
        self._closed = False
        for batch in rebatch(self._gesture_batches(), self.batch_us, lambda s, e: _window_label(self.labels, s, e)):
            if self._closed:
                return
            yield batch

    def close(self) -> None:
        """End :meth:`batches`."""
        self._closed = True


def _draw(value, rng: np.random.Generator) -> int:
    if isinstance(value, (tuple, list)):
        lo, hi = int(value[0]), int(value[1])
        return int(rng.integers(lo, hi + 1)) if hi > lo else lo
    return int(value)
