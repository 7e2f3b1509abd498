"""The contract every event source implements.

A source yields :class:`EventBatch` objects in time order. ``batches()`` is *un-paced*: it
produces as fast as the consumer pulls (a file) or as fast as the device delivers (a camera).
Real-time pacing, pause/seek/speed and back-pressure are wrappers around a source
(``snnstudio.events.sources.player`` / ``pacing``), so every source gets them for free.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EventBatch:
    """Events with ``t_start_us <= t < t_end_us`` (µs), sorted by ``t``.

    ``label`` is the ground-truth class id at this time where the source knows it (a labelled
    recording, the synthetic generator), else ``None``. ``dropped`` counts events the source
    had to discard before this batch because the consumer was too slow.
    """

    events: np.ndarray
    t_start_us: int
    t_end_us: int
    label: int | None = None
    dropped: int = 0


class EventSource(ABC):
    """A producer of event batches for one sensor of size ``sensor_size`` = (width, height)."""

    sensor_size: tuple[int, int]
    #: class names indexed by class id, where the source knows them
    class_names: dict[int, str] | None = None
    #: a live device (camera, network, webcam) delivers in real time by itself: it is never paced,
    #: and a slow consumer makes it drop rather than wait
    live: bool = False

    @abstractmethod
    def batches(self) -> Iterator[EventBatch]:
        """Yield batches in time order until the source ends or :meth:`close` is called."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the device/file; ``batches()`` then ends cleanly."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
