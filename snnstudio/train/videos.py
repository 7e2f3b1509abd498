"""Labelled video clips (``videos:DIR``): real people's gestures through the studio's video path.

A folder holds video files and a ``labels.csv`` (the format of the real-video development set)::

    file,label,start_frame,end_frame,fps[,source,path_in_source]
    nvgesture-ir/clip.mp4,swipe_left,170,263,35.0,...
    ivokersten/clip.avi,wave,,,20.0,...

``file`` is relative to the folder; ``label`` a class name of the model; ``start_frame`` /
``end_frame`` the frames (0-based, inclusive) where the gesture happens, both blank for the whole
clip; ``fps`` the clip's frame rate (checked against the video's own, which the studio stamps frames
with). Frame ``k`` is stamped ``round(k · 1e6 / fps)`` µs, as
:class:`~snnstudio.events.sources.video.VideoEventSource` stamps it, and its events lie in
``(stamp(k − 1), stamp(k)]``; a gesture therefore covers ``[stamp(start_frame),
stamp(end_frame) + 1)`` µs (a whole clip: ``[0, stamp(last frame) + 1)``, the end of the source's
last batch).

:func:`load_videos` turns every row into one :class:`~snnstudio.train.framed.FrameDataset` sample:
the clip's events (the same ``VideoEventSource`` and :class:`~snnstudio.events.preprocess.Preprocess`
the studio uses: square region of interest, resize to the model's sensor, flicker suppression),
framed as the model's ``T`` frames of ``dt_us`` *ending* at the gesture's end (frames before the
clip's start are empty), sum-pooled to the model's input size. Framed clips are cached under
``cache_dir/videos`` (key: the file's content hash and every parameter).
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from snnstudio.errors import SnnStudioError

LABELS_NAME = "labels.csv"
REQUIRED_COLUMNS = ("file", "label", "start_frame", "end_frame", "fps")
#: bump when the framing below changes (invalidates cached clips)
_VERSION = 2  # 2: the model box cut from the whole scaled picture


class VideoLabelsError(SnnStudioError, ValueError):
    """A ``labels.csv`` that cannot be read, or a row that names nothing usable."""


def frame_to_us(frame: int, fps: float) -> int:
    """The stamp (µs) of frame ``frame`` of a clip at ``fps``: ``round(frame · 1e6 / fps)``."""
    return int(round(int(frame) * 1e6 / float(fps)))


@dataclass(frozen=True)
class VideoClip:
    """One labelled row: ``path`` of the video, class ``label`` (a name), ``start_frame`` /
    ``end_frame`` (inclusive, ``None`` = the whole clip) and ``fps``; ``line`` its line in the CSV."""

    path: Path
    label: str
    start_frame: int | None
    end_frame: int | None
    fps: float
    line: int = 0

    @property
    def whole_clip(self) -> bool:
        return self.end_frame is None

    @property
    def start_us(self) -> int:
        """The gesture's start (µs): the stamp of its first frame (0 for a whole clip)."""
        return frame_to_us(self.start_frame or 0, self.fps)

    def end_us(self, clip_end_us: int | None = None) -> int:
        """The gesture's (exclusive) end, µs: just after its last frame's stamp; a whole clip ends
        at ``clip_end_us`` (the end of the source's last batch), which must then be given."""
        if self.end_frame is not None:
            return frame_to_us(self.end_frame, self.fps) + 1
        if clip_end_us is None:
            raise ValueError(f"{self.path.name}: a whole-clip label needs the clip's end")
        return int(clip_end_us)


def _int_or_none(text: str, what: str, where: str) -> int | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise VideoLabelsError(f"{where}: {what} must be a whole frame number or blank, got {text!r}") from None
    if value < 0:
        raise VideoLabelsError(f"{where}: {what} must be ≥ 0, got {value}")
    return value


def read_video_labels(path: str | Path, *, check_files: bool = True) -> list[VideoClip]:
    """The rows of a ``labels.csv`` (see the module docstring), files resolved against its folder.

    Raises :class:`VideoLabelsError` (naming the file and line) on a missing column, a blank
    ``file`` or ``label``, a frame that is not a whole number, only one of the two frames given,
    ``end_frame < start_frame``, an ``fps`` that is not a positive number, or (``check_files``) a
    file that does not exist."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise VideoLabelsError(f"{path}: cannot read video labels ({exc})") from None
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        raise VideoLabelsError(f"{path}: empty; expected the header {','.join(REQUIRED_COLUMNS)}")
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise VideoLabelsError(f"{path}: missing column(s) {', '.join(missing)}; expected the header "
                               f"{','.join(REQUIRED_COLUMNS)}[,source,path_in_source]")
    col = {name: header.index(name) for name in REQUIRED_COLUMNS}
    clips: list[VideoClip] = []
    for lineno, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        where = f"{path} line {lineno}"
        if len(row) < len(header):
            raise VideoLabelsError(f"{where}: {len(row)} columns, the header has {len(header)}")
        get = {name: row[i].strip() for name, i in col.items()}
        if not get["file"]:
            raise VideoLabelsError(f"{where}: blank file")
        if not get["label"]:
            raise VideoLabelsError(f"{where}: blank label")
        start = _int_or_none(get["start_frame"], "start_frame", where)
        end = _int_or_none(get["end_frame"], "end_frame", where)
        if (start is None) != (end is None):
            raise VideoLabelsError(f"{where}: give both start_frame and end_frame, or leave both blank (whole clip)")
        if start is not None and end < start:
            raise VideoLabelsError(f"{where}: end_frame {end} is before start_frame {start}")
        try:
            fps = float(get["fps"])
        except ValueError:
            raise VideoLabelsError(f"{where}: fps must be a number, got {get['fps']!r}") from None
        if not (fps > 0 and np.isfinite(fps)):
            raise VideoLabelsError(f"{where}: fps must be > 0, got {get['fps']!r}")
        file = (path.parent / get["file"]).resolve()
        if check_files and not file.is_file():
            raise VideoLabelsError(f"{where}: no such video {get['file']!r} (looked in {path.parent})")
        clips.append(VideoClip(file, get["label"], start, end, fps, lineno))
    if not clips:
        raise VideoLabelsError(f"{path}: no labelled clips")
    return clips


def labels_csv_of(root: str | Path) -> Path:
    """``DIR/labels.csv`` for a folder, or the CSV itself; a clear error when there is none."""
    p = Path(root)
    if p.is_dir():
        p = p / LABELS_NAME
    if not p.is_file():
        raise VideoLabelsError(f"{p}: no such labels file (a videos folder needs a {LABELS_NAME}: "
                               f"{','.join(REQUIRED_COLUMNS)})")
    return p


def labels_for_video(video: str | Path, levels: int = 2) -> list[VideoClip]:
    """The rows naming ``video`` in the nearest ``labels.csv`` of its folder or the ``levels``
    folders above it (the layout of a labelled videos folder: ``DIR/labels.csv`` with files in
    ``DIR/sub/``); ``[]`` when none names it. A labels file that cannot be read is skipped (the
    studio plays the video without ground truth; ``predict --labels`` reports the error)."""
    target = Path(video).resolve()
    folder = target.parent
    for _ in range(levels + 1):
        csv_path = folder / LABELS_NAME
        if csv_path.is_file():
            try:
                rows = read_video_labels(csv_path, check_files=False)
            except VideoLabelsError:
                rows = []
            mine = [c for c in rows if Path(c.path).resolve() == target]
            if mine:
                return mine
        if folder.parent == folder:
            break
        folder = folder.parent
    return []


def looks_like_video_labels(path: str | Path) -> bool:
    """Is ``path`` a CSV whose header has the video-label columns (file, label, start_frame ...)?"""
    p = Path(path)
    if p.suffix.lower() != ".csv" or not p.is_file():
        return False
    try:
        with p.open(encoding="utf-8-sig") as f:
            head = f.readline()
    except (OSError, UnicodeDecodeError):
        return False
    cols = {c.strip().lower() for c in head.split(",")}
    return all(c in cols for c in REQUIRED_COLUMNS)


def class_index(names: Sequence[str], label: str, where: str = "") -> int:
    """The index of class ``label`` among a model's class ``names`` (a clear error when absent)."""
    try:
        return list(names).index(label)
    except ValueError:
        raise VideoLabelsError(f"{where + ': ' if where else ''}label {label!r} is not a class of the model "
                               f"({', '.join(names)})") from None


# ---------------------------------------------------------------------------------------------
# events and frames


def video_preprocess(preprocess=None, trained_sensor: tuple[int, int] | None = None):
    """What the studio does to a ``video:`` file for a model trained on ``trained_sensor``
    (``(width, height)``; default the synthetic gestures' 128×128): ``preprocess`` (default
    :class:`~snnstudio.events.preprocess.Preprocess()`: the largest centred box of the sensor's
    aspect ratio, resized onto it, flicker suppression) with its output size resolved and the
    mirror default of a video file (off)."""
    from snnstudio.events.preprocess import Preprocess, default_preprocess
    from snnstudio.events.synthetic.generator import DEFAULT_SENSOR

    pre = (preprocess or Preprocess()).for_model(tuple(trained_sensor or DEFAULT_SENSOR))
    return default_preprocess("video", pre)


def open_video(path: str | Path, preprocess=None, fps: float | None = None):
    """A :class:`~snnstudio.events.sources.video.VideoEventSource` of ``path`` mapped by
    ``preprocess`` (resolved by :func:`video_preprocess`), frames stamped at ``fps``."""
    from snnstudio.events.sources.video import VideoEventSource

    return VideoEventSource(str(path), preprocess=video_preprocess(preprocess), fps=fps)


def video_events(path: str | Path, preprocess=None, fps: float | None = None
                 ) -> tuple[np.ndarray, tuple[int, int], int, float]:
    """``(events, sensor_size, end_us, fps)``: every event the model sees of the clip
    (``EVENT_DTYPE``, t in µs from frame 0; those inside the source's ``model_box``, shifted to
    its origin), the sensor they are on (``(width, height)``: the box, the model's sensor), the end
    (µs, exclusive) of the source's last batch and the frame rate its frames were stamped at."""
    from snnstudio.events.types import empty_events

    src = open_video(path, preprocess, fps)
    try:
        chunks, end = [], 0
        for batch in src.batches():
            if batch.events.size:
                chunks.append(batch.events)
            end = int(batch.t_end_us)
        events = np.concatenate(chunks) if chunks else empty_events()
        x0, y0, bw, bh = src.model_box
        x = events["x"].astype(np.int64) - x0
        y = events["y"].astype(np.int64) - y0
        keep = (x >= 0) & (x < bw) & (y >= 0) & (y < bh)
        events = events[keep]
        events["x"] = x[keep]
        events["y"] = y[keep]
        return events, (bw, bh), end, float(src.fps)
    finally:
        src.close()


def native_fps(path: str | Path) -> float | None:
    """The frame rate a video's container states (``None`` when it states none)."""
    from snnstudio.events.sources.video import _quiet_open

    import cv2

    cap = _quiet_open(cv2, str(path))
    try:
        fps = cap.get(cv2.CAP_PROP_FPS) if cap.isOpened() else 0.0
    finally:
        cap.release()
    return float(fps) if fps and np.isfinite(fps) and fps > 0 else None


def with_stamped_fps(clip: VideoClip, fps: float | None) -> VideoClip:
    """``clip`` with the frame rate its frames are actually stamped at (the video's own, as the
    studio plays it): when that differs from the CSV's ``fps`` by more than 0.5 %, a warning says
    so and the video's rate converts the frames (so labels and events stay aligned)."""
    import warnings
    from dataclasses import replace

    from snnstudio.errors import SnnStudioWarning

    if fps is None or abs(fps - clip.fps) <= 0.005 * clip.fps:
        return clip
    warnings.warn(f"{clip.path.name}: labels.csv says {clip.fps:g} fps but the video is stamped at {fps:g} fps; "
                  f"frames are converted at {fps:g} fps", SnnStudioWarning, stacklevel=2)
    return replace(clip, fps=float(fps))


def frame_window(events: np.ndarray, sensor_size: tuple[int, int], end_us: int, T: int, dt_us: int,
                 out_hw: tuple[int, int]) -> np.ndarray:
    """uint16 ``[T, 2, h, w]`` counts of the ``T`` windows of ``dt_us`` ending at ``end_us``
    (``[end − T·dt, end)``; windows before the first event are empty), pooled to ``out_hw``."""
    from snnstudio.events.frames import bin_events
    from snnstudio.train.framed import to_counts as _to_counts

    start = int(end_us) - int(T) * int(dt_us)
    t = events["t"]
    i0, i1 = np.searchsorted(t, [max(start, 0), end_us], side="left")
    frames = bin_events(events[i0:i1], tuple(sensor_size), dt_us=int(dt_us), t_start_us=start, n_frames=int(T),
                        out_size=(int(out_hw[1]), int(out_hw[0])))
    return _to_counts(frames)


def file_hash(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-1 of the file's content (the cache key: a renamed or touched clip is still the same clip)."""
    h = hashlib.sha1()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def frame_clip(clip: VideoClip, T: int, dt_us: int, out_hw: tuple[int, int], preprocess=None,
               cache_dir: Path | None = None) -> np.ndarray:
    """The sample of one clip: uint16 ``[T, 2, h, w]`` frames ending at its gesture's end (cached)."""
    from snnstudio.errors import SourceError
    from snnstudio.train.framed import cache_key as _key, save_npz as _save_npz

    pre = video_preprocess(preprocess)
    cpath = None
    if cache_dir is not None:
        key = _key({"content": file_hash(clip.path), "T": int(T), "dt": int(dt_us), "out": list(out_hw),
                    "pre": pre.to_dict(), "fps": clip.fps, "start": clip.start_frame, "end": clip.end_frame,
                    "v": _VERSION})
        cpath = Path(cache_dir) / "videos" / f"{clip.path.stem}-{key}.npz"
        if cpath.is_file():
            with np.load(cpath) as z:
                return z["frames"]
    try:
        events, sensor, clip_end, fps = video_events(clip.path, pre)
    except SourceError as exc:
        raise VideoLabelsError(f"line {clip.line}: {exc}") from None
    clip = with_stamped_fps(clip, fps)
    frames = frame_window(events, sensor, gesture_end_us(clip, clip_end), T, dt_us, out_hw)
    if cpath is not None:
        _save_npz(cpath, frames=frames)
    return frames


#: how many frames a label's end may lie past the clip's last frame (a re-encoded clip can lose
#: its last frame or two): its end is then the clip's, with a warning; further is an error
END_SLACK_FRAMES = 3


def gesture_end_us(clip: VideoClip, clip_end_us: int) -> int:
    """The end (µs, exclusive) of ``clip``'s gesture in a clip whose events end at ``clip_end_us``:
    :meth:`VideoClip.end_us`, clamped to the clip's end when it lies at most
    :data:`END_SLACK_FRAMES` frames past it (warning); more is a :class:`VideoLabelsError`."""
    import warnings

    from snnstudio.errors import SnnStudioWarning

    end = clip.end_us(clip_end_us)
    if end <= clip_end_us:
        return end
    frames_past = (end - clip_end_us) * clip.fps / 1e6
    if frames_past > END_SLACK_FRAMES:
        raise VideoLabelsError(f"{clip.path.name} (line {clip.line}): end_frame {clip.end_frame} is "
                               f"{frames_past:.0f} frames past the clip's last frame")
    warnings.warn(f"{clip.path.name} (line {clip.line}): end_frame {clip.end_frame} is past the clip's last frame; "
                  f"the gesture is taken to end with the clip", SnnStudioWarning, stacklevel=2)
    return int(clip_end_us)


def load_videos(root: str | Path, T: int, dt_us: int, out_hw: tuple[int, int], class_names: Sequence[str],
                preprocess=None, cache_dir: Path | None = None,
                progress: Callable[[int, int], None] | None = None):
    """Every row of ``root``'s ``labels.csv`` as one sample (see the module docstring): a
    :class:`~snnstudio.train.framed.FrameDataset` over the model's ``class_names`` (a label that
    is not one of them is an error). ``info["clips"]`` lists the files in sample order."""
    from snnstudio.train.framed import FrameDataset, synthetic_flip_map as _synthetic_flip_map

    csv_path = labels_csv_of(root)
    clips = read_video_labels(csv_path)
    names = list(class_names)
    labels = np.asarray([class_index(names, c.label, f"{csv_path} line {c.line}") for c in clips], np.int64)
    frames = []
    for i, clip in enumerate(clips):
        frames.append(frame_clip(clip, T, dt_us, out_hw, preprocess, cache_dir))
        if progress:
            progress(i + 1, len(clips))
    try:
        flip = _synthetic_flip_map(names)
    except ValueError:
        flip = None
    pre = video_preprocess(preprocess)
    return FrameDataset(np.stack(frames), labels, names, f"videos:{root}", int(dt_us), flip,
                        {"kind": "videos", "root": str(root), "clips": [str(c.path) for c in clips],
                         "preprocess": pre.to_dict()})
