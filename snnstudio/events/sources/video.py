"""A webcam or a video file turned into events: frames from ``cv2.VideoCapture`` through the
:class:`~snnstudio.events.emulator.EventEmulator`.

Frames are converted to luma, then either go through a
:class:`~snnstudio.events.preprocess.Preprocess` (region of interest, mirror, resize to the
model's sensor, flicker suppression — what the studio and ``predict`` use) or, without one, are
resized when ``size`` is given. A video file's frames are
stamped ``index · 1e6 / fps`` µs (its own frame rate, or ``fps``); a camera's frames with the
monotonic clock since it was opened. ``batches()`` yields one batch per frame interval
(``[t_prev + 1, t + 1)``: the emulator's events of ``(t_prev, t]``), or fixed ``batch_us``
windows when that is given. It is un-paced: a file is read as fast as it decodes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from snnstudio.errors import DeviceNotFoundError, SourceError
from snnstudio.events.emulator import EmulatorConfig, EventEmulator
from snnstudio.events.preprocess import FramePreprocessor, Preprocess, default_preprocess
from snnstudio.events.sources.base import EventBatch, EventSource
from snnstudio.events.types import EVENT_DTYPE


class VideoEventSource(EventSource):
    """Events emulated from a camera (``int`` index, or a string of digits) or a video file (path).

    ``size``: (width, height) to resize frames to (default: the video's own). ``config``: the
    emulator's pixel model. ``fps``: frame rate of a file whose container does not say (default
    30), or to override it. ``max_frames``: stop after that many frames. ``batch_us``: re-slice
    into fixed windows instead of one batch per frame. ``preprocess``: mirror the picture and scale
    it so its region of interest has the model's sensor size before emulation (its
    ``mirror=None`` means on for a webcam, off for a file); ``sensor_size`` is then the scaled
    picture's, ``model_box`` ``(x0, y0, w, h)`` the region the model sees in it, and
    ``frame_size`` the camera's own.
    """

    def __init__(
        self,
        source: int | str | Path = 0,
        *,
        size: tuple[int, int] | None = None,
        config: EmulatorConfig | None = None,
        fps: float | None = None,
        max_frames: int | None = None,
        batch_us: int | None = None,
        preprocess: Preprocess | None = None,
    ):
        import cv2

        self._cv2 = cv2
        self.is_camera = isinstance(source, (int, np.integer)) or (isinstance(source, str) and source.isdigit())
        if self.is_camera:
            self.name = f"webcam {int(source)}"
            cap = _quiet_open(cv2, int(source))
            if not cap.isOpened():
                raise DeviceNotFoundError(f"{self.name} could not be opened (no such camera, or it is in use)")
        else:
            path = Path(source)
            self.name = str(path)
            if not path.is_file():
                raise SourceError(f"{path}: no such video file")
            cap = _quiet_open(cv2, str(path))
            if not cap.isOpened():
                raise SourceError(f"{path}: cannot decode video (not a format OpenCV can read)")
        self._cap = cap
        ok, frame = cap.read()
        if not ok or frame is None:
            cap.release()
            what = f"{self.name}: delivers no frames" if self.is_camera else f"{self.name}: cannot decode video (no readable frame)"
            raise (DeviceNotFoundError if self.is_camera else SourceError)(what)
        if size is not None:
            size = (int(size[0]), int(size[1]))
            if size[0] <= 0 or size[1] <= 0:
                raise ValueError(f"size must be positive (width, height), got {size}")
        self._size = size
        self.frame_size = (int(frame.shape[1]), int(frame.shape[0]))
        self.preprocess: Preprocess | None = None
        self._pre: FramePreprocessor | None = None
        self.model_box: tuple[int, int, int, int] | None = None
        if preprocess is not None:
            self.preprocess = default_preprocess("webcam" if self.is_camera else "video", preprocess)
            self._pre = FramePreprocessor(self.preprocess, self.frame_size)
            self.model_box = self._pre.model_box
        native = cap.get(cv2.CAP_PROP_FPS)
        if fps is not None:
            if not fps > 0:
                raise ValueError(f"fps must be > 0, got {fps}")
            self.fps = float(fps)
        else:
            self.fps = float(native) if native and np.isfinite(native) and native > 0 else 30.0
        self._first = self._luma(frame, 0)
        h, w = self._first.shape
        self.sensor_size = (w, h)
        if config is None and self.preprocess is not None:
            config = self.preprocess.emulator
        self.emulator = EventEmulator(w, h, config)
        self.max_frames = max_frames
        if batch_us is not None and int(batch_us) <= 0:
            raise ValueError(f"batch_us must be > 0 µs, got {batch_us}")
        self.batch_us = int(batch_us) if batch_us is not None else None
        self._closed = False
        self._started = False
        self._reading = False
        self._lock = threading.Lock()
        self._t_open = time.monotonic_ns() // 1000
        self._spans: list[tuple[int, int, int]] = []

    def set_labels(self, spans: list[tuple[int, int, int]], class_names: dict[int, str]) -> None:
        """Ground truth for a file: ``(start_us, end_us, class_id)`` spans (µs on this source's
        clock, end exclusive); each batch then carries the class of the span its middle falls in
        (``None`` outside), and ``class_names`` names the ids."""
        self._spans = sorted((int(a), int(b), int(c)) for a, b, c in spans)
        self.class_names = dict(class_names)

    def _label_at(self, t0: int, t1: int) -> int | None:
        mid = (t0 + t1) // 2
        for a, b, c in self._spans:
            if a <= mid < b:
                return c
        return None

    def _luma(self, frame: np.ndarray, t_us: int) -> np.ndarray:
        cv2 = self._cv2
        if frame.ndim == 3:
            frame = cv2.cvtColor(frame, cv2.COLOR_BGRA2GRAY if frame.shape[2] == 4 else cv2.COLOR_BGR2GRAY)
        if frame.dtype != np.uint8:
            frame = cv2.normalize(frame, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
        if self._pre is not None:
            return self._pre(np.ascontiguousarray(frame), t_us)
        if self._size is not None and (frame.shape[1], frame.shape[0]) != self._size:
            frame = cv2.resize(frame, self._size, interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(frame)

    def _stamp(self, index: int) -> int:
        if self.is_camera:
            return time.monotonic_ns() // 1000 - self._t_open
        return int(round(index * 1e6 / self.fps))

    def _frame_batches(self) -> Iterator[EventBatch]:
        with self._lock:
            if self._cap is None:
                raise SourceError(f"{self.name}: source is closed")
            self._reading = True
        try:
            yield from self._read_frames()
        finally:
            with self._lock:
                self._reading = False
                if self._closed:
                    self._release()

    def _read_frames(self) -> Iterator[EventBatch]:
        if self._started and not self.is_camera:  # a second pass over a file starts again
            self._cap.set(self._cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self._cap.read()
            if not ok or frame is None:
                raise SourceError(f"{self.name}: cannot rewind the video")
            if self._pre is not None:
                self._pre.reset()
            self._first = self._luma(frame, 0)
        self._started = True
        emu = self.emulator
        emu.reset()
        t_prev = self._stamp(0) if self.is_camera else 0
        emu.feed(self._first, t_prev)
        index = 1
        while not self._closed and (self.max_frames is None or index < self.max_frames):
            ok, frame = self._cap.read()
            if self._closed:
                break
            if not ok or frame is None:
                if self.is_camera:
                    raise SourceError(f"{self.name} stopped delivering frames")
                break
            t = self._stamp(index)
            if t <= t_prev:  # a camera clock that did not advance: keep time strictly increasing
                t = t_prev + 1
            events = emu.feed(self._luma(frame, t), t)
            yield EventBatch(events, t_prev + 1, t + 1, label=self._label_at(t_prev + 1, t + 1) if self._spans else None)
            t_prev = t
            index += 1

    def batches(self) -> Iterator[EventBatch]:
        """The emulated events, one batch per frame (or re-cut to ``batch_us`` µs), until the video ends or the
        source is closed."""
        frames = self._frame_batches()
        if self.batch_us is None:
            yield from frames
        else:
            yield from rebatch(frames, self.batch_us)

    def close(self) -> None:
        """Stop ``batches()``; the capture is released now, or by the reading thread once its
        current ``read()`` returns (releasing under a blocked read can crash OpenCV)."""
        with self._lock:
            self._closed = True
            if not self._reading:
                self._release()

    def _release(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


def _quiet_open(cv2, what):
    """``cv2.VideoCapture(what)`` without OpenCV's own warnings on stderr (we raise a clear error)."""
    log = getattr(getattr(cv2, "utils", None), "logging", None)
    previous = None
    if log is not None:
        previous = log.getLogLevel()
        log.setLogLevel(log.LOG_LEVEL_SILENT)
    try:
        return cv2.VideoCapture(what)
    finally:
        if log is not None:
            log.setLogLevel(previous)


def rebatch(batches, batch_us: int, labeller=None) -> Iterator[EventBatch]:
    """Re-slice contiguous ``batches`` into windows ``[t0 + k·batch_us, t0 + (k+1)·batch_us)``,
    ``t0`` the first batch's start. ``labeller(start, end)`` gives each window's label (else the
    label of the batch that completes the window). The last, partial window is emitted too."""
    pending: list[np.ndarray] = []
    start = None
    label = None
    end_seen = None
    for b in batches:
        if start is None:
            start = b.t_start_us
        end_seen = b.t_end_us
        label = b.label
        if b.events.size:
            pending.append(b.events)
        while start + batch_us <= end_seen:
            end = start + batch_us
            ev = np.concatenate(pending) if len(pending) > 1 else (pending[0] if pending else np.empty(0, EVENT_DTYPE))
            cut = int(np.searchsorted(ev["t"], end, side="left"))
            lab = labeller(start, end) if labeller is not None else label
            yield EventBatch(ev[:cut], start, end, label=lab)
            pending = [ev[cut:]] if cut < ev.size else []
            start = end
    if start is not None and end_seen is not None and end_seen > start:
        ev = np.concatenate(pending) if pending else np.empty(0, EVENT_DTYPE)
        yield EventBatch(ev, start, end_seen, label=labeller(start, end_seen) if labeller is not None else label)
