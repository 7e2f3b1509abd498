"""Export from the studio: a PNG of the window or of one panel, a video clip of either, the
per-step metrics (CSV / JSON) and the played stream (AEDAT4).

* Screenshots: ``QWidget.grab()`` saved as PNG to a temp file beside the target, then renamed.
* Clips: the widget is grabbed ``fps`` times a second on the GUI thread and written with
  OpenCV's ``VideoWriter`` — MP4 (``mp4v``); where this OpenCV build cannot open an MP4 writer
  the clip falls back to Motion-JPEG in an ``.avi`` beside it and says so. Frames keep the size of
  the first one (later frames are scaled to it). The file is written under a temp name and
  renamed when the clip ends (after ``seconds``, or on :meth:`Exporter.stop_clip`).
* Metrics: :class:`snnstudio.engine.history.MetricsHistory` (the session model's ``history``).
* Stream: :class:`snnstudio.engine.stream_record.StreamRecording` (the project's AEDAT4 recorder
  fed with the windows the session plays).

Every failure becomes a message in the window (``SessionModel.message``), never a traceback.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QWidget

from snnstudio.errors import SnnStudioError


def _temp_beside(path: Path, suffix: str) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".part{suffix}", dir=path.parent if str(path.parent) else ".")
    os.close(fd)
    return Path(tmp)


def save_png(widget: QWidget, path: str | os.PathLike) -> Path:
    """A PNG of ``widget`` as it is on screen now (temp file + rename)."""
    p = Path(path)
    if p.suffix.lower() != ".png":
        p = p.with_suffix(p.suffix + ".png") if p.suffix else p.with_suffix(".png")
    if not p.parent.is_dir():
        raise SnnStudioError(f"{p.parent}: no such folder")
    tmp = _temp_beside(p, ".png")
    try:
        if not widget.grab().save(str(tmp), "PNG"):
            raise SnnStudioError(f"{p}: could not write the PNG")
        os.replace(tmp, p)
    finally:
        if tmp.exists():
            tmp.unlink()
    return p


def qimage_to_bgr(img: QImage) -> np.ndarray:
    """``[H, W, 3]`` uint8 BGR copy of a QImage (what OpenCV writes)."""
    img = img.convertToFormat(QImage.Format_RGB888)
    w, h, bpl = img.width(), img.height(), img.bytesPerLine()
    arr = np.frombuffer(img.constBits(), np.uint8, count=bpl * h).reshape(h, bpl)[:, : 3 * w].reshape(h, w, 3)
    return np.ascontiguousarray(arr[:, :, ::-1])


class ClipWriter:
    """An OpenCV video file: MP4 (mp4v) where possible, else MJPG ``.avi`` (``fallback`` says so)."""

    def __init__(self, path: str | os.PathLike, size: tuple[int, int], fps: float):
        import cv2

        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise SnnStudioError(f"{self.path.parent}: no such folder")
        self.size = (int(size[0]) // 2 * 2, int(size[1]) // 2 * 2)  # even sides: what codecs like
        if min(self.size) < 2:
            raise SnnStudioError(f"cannot record a clip of a {size[0]}×{size[1]} widget")
        self.fallback: str | None = None
        self.frames = 0
        self.final = self.path if self.path.suffix.lower() in (".mp4", ".avi") else self.path.with_suffix(".mp4")
        fourcc = "mp4v" if self.final.suffix.lower() == ".mp4" else "MJPG"
        self.tmp = _temp_beside(self.final, self.final.suffix)
        self.writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*fourcc), float(fps), self.size)
        if not self.writer.isOpened() and fourcc == "mp4v":
            self.tmp.unlink(missing_ok=True)
            self.final = self.final.with_suffix(".avi")
            self.fallback = f"this OpenCV cannot write MP4 here; the clip is Motion-JPEG: {self.final.name}"
            self.tmp = _temp_beside(self.final, ".avi")
            self.writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*"MJPG"), float(fps), self.size)
        if not self.writer.isOpened():
            self.tmp.unlink(missing_ok=True)
            raise SnnStudioError(f"{self.final}: OpenCV could not open a video writer (mp4v or MJPG)")

    def write(self, bgr: np.ndarray) -> None:
        import cv2

        w, h = self.size
        if bgr.shape[1] != w or bgr.shape[0] != h:
            bgr = cv2.resize(bgr, (w, h), interpolation=cv2.INTER_AREA)
        self.writer.write(bgr)
        self.frames += 1

    def close(self) -> Path:
        self.writer.release()
        if self.frames == 0:
            self.tmp.unlink(missing_ok=True)
            raise SnnStudioError(f"{self.final.name}: no frame was recorded")
        os.replace(self.tmp, self.final)
        return self.final


class Exporter(QObject):
    """The export actions of a window over ``model`` (a :class:`SessionModel`). ``done(str)`` is
    emitted with a line describing each finished export; failures go to ``model.message``."""

    done = Signal(str)
    clip_changed = Signal(bool)
    recording_changed = Signal(bool)

    def __init__(self, model, parent=None):
        super().__init__(parent)
        self.model = model
        self.clip: ClipWriter | None = None
        self._clip_target: QWidget | None = None
        self._clip_end: float | None = None
        self._clip_timer = QTimer(self)
        self._clip_timer.timeout.connect(self._grab_frame)
        self.recording = None
        self.last_clip: Path | None = None
        self.last_recording = None
        # the recorder finishes on its own thread; a GUI-thread timer notices (no cross-thread Qt calls)
        self._rec_timer = QTimer(self)
        self._rec_timer.setInterval(100)
        self._rec_timer.timeout.connect(self._check_recording)

    def _fail(self, what: str, exc: Exception) -> None:
        self.model.message.emit(f"{what}: {exc}")

    # -------------------------------------------------------------- screenshots
    def screenshot(self, widget: QWidget, path) -> Path | None:
        try:
            p = save_png(widget, path)
        except Exception as exc:
            self._fail("screenshot failed", exc)
            return None
        self.done.emit(f"saved {p}")
        return p

    # -------------------------------------------------------------- clips
    @property
    def clip_running(self) -> bool:
        return self.clip is not None

    def start_clip(self, widget: QWidget, path, seconds: float | None = None, fps: float = 10.0) -> bool:
        """Record ``widget`` for ``seconds`` (``None``: until :meth:`stop_clip`)."""
        if self.clip is not None:
            self.stop_clip()
        try:
            first = qimage_to_bgr(widget.grab().toImage())
            self.clip = ClipWriter(path, (first.shape[1], first.shape[0]), fps)
            self.clip.write(first)
        except Exception as exc:
            self.clip = None
            self._fail("clip failed", exc)
            return False
        if self.clip.fallback:
            self.model.message.emit(self.clip.fallback)
        self._clip_target = widget
        self._clip_end = None if seconds is None else time.monotonic() + float(seconds)
        self._clip_timer.start(max(1, int(1000 / fps)))
        self.clip_changed.emit(True)
        return True

    def _grab_frame(self) -> None:
        if self.clip is None:
            return
        try:
            self.clip.write(qimage_to_bgr(self._clip_target.grab().toImage()))
        except Exception as exc:
            self._fail("clip failed", exc)
            self.stop_clip()
            return
        if self._clip_end is not None and time.monotonic() >= self._clip_end:
            self.stop_clip()

    def stop_clip(self) -> Path | None:
        self._clip_timer.stop()
        clip, self.clip = self.clip, None
        if clip is None:
            return None
        self.clip_changed.emit(False)
        try:
            p = clip.close()
        except Exception as exc:
            self._fail("clip failed", exc)
            return None
        self.last_clip = p
        self.done.emit(f"saved {p} ({clip.frames} frames)")
        return p

    # -------------------------------------------------------------- metrics
    def save_metrics(self, path) -> Path | None:
        try:
            if not len(self.model.history):
                raise SnnStudioError("no steps yet: play or step first")
            p = self.model.history.write(path)
        except Exception as exc:
            self._fail("metrics export failed", exc)
            return None
        self.done.emit(f"saved {p} ({len(self.model.history)} steps)")
        return p

    # -------------------------------------------------------------- AEDAT4 recording
    @property
    def recording_running(self) -> bool:
        return self.recording is not None and self.recording.running

    def start_recording(self, path, seconds: float | None = None) -> bool:
        from snnstudio.engine.stream_record import StreamRecording

        if self.recording_running:
            self.stop_recording()
        try:
            self.recording = StreamRecording(self.model.session, path, seconds).start()
        except Exception as exc:
            self.recording = None
            self._fail("recording failed", exc)
            return False
        self._rec_timer.start()
        self.recording_changed.emit(True)
        return True

    def stop_recording(self):
        rec = self.recording
        if rec is None:
            return None
        result = rec.stop()
        self._check_recording()
        return result

    def _check_recording(self) -> None:
        rec = self.recording
        if rec is None or rec.running:
            return
        self._rec_timer.stop()
        self.recording = None
        self._on_recorded(rec.result, rec.error)

    def _on_recorded(self, result, error) -> None:
        self.last_recording = result
        self.recording_changed.emit(False)
        if error:
            self.model.message.emit(error)
        elif result is not None:
            self.done.emit(f"recorded {result.events:,} events ({result.duration_s:.1f} s) to {result.path}")
