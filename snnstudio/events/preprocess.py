"""What a source's picture or events go through before a model sees them — one place for
training data, live input, recordings and ``video:`` files.

A model is trained on one sensor (the synthetic gestures: 128×128, square). A webcam is 4:3 or
16:9, a DVS camera 346×260 or 640×480, a person is anywhere in the picture. :class:`Preprocess`
says how to map any of them onto the trained sensor:

1. **Mirror** — a left-right flip of the whole picture (a front-facing "selfie" camera: the
   person's own "swipe left" moves to the left of the screen). ``None`` = the source kind's
   default: on for webcams, off for everything else (:func:`default_preprocess`).
2. **Region of interest** — on the (mirrored) picture, a box of the trained sensor's aspect
   ratio (square by default), given as its centre (fractions of the width and height) and its
   size (a fraction of the largest such box that fits); ``None`` = centred and as large as fits.
   Never squeezed.
3. **Resize** the box to ``out_size`` (``(width, height)`` pixels).
4. **Event rate** — a sensor with ``k`` times the pixels in the box emits ``k`` times the events
   for the same scene, so counts are scaled by ``out pixels / box pixels`` (``rate="area"``).

Two paths apply the same mapping:

* **Frames** (``video:`` / ``webcam``, before the DVS emulator): :class:`FramePreprocessor`
  mirrors the luma frame and scales the *whole* frame so that the box becomes ``out_size``
  (``cv2.INTER_AREA``), then :class:`FlickerSuppressor` takes out mains-light flicker. The
  emulator runs on that (the picture around the box costs little and lets the studio show it
  and the box be moved); the model sees ``model_box`` of it, one to one.
* **Events** (DVS recordings, cameras, network streams): the studio mirrors the events and its
  runner cuts the box out of each count frame, pools it to the input size and scales it by the
  rate factor (:meth:`Preprocess.input_map`). For data sets and exports,
  :class:`EventPreprocessor` does the same to the events themselves (thinning each event with
  the rate factor as probability, seeded).

Why hand-written: tonic's ``CenterCrop``/``Downsample`` work on whole recordings with fixed
pixel boxes and no rate normalisation, and no library suppresses flicker in emulated frames;
each piece here is a few array operations.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from snnstudio.errors import SnnStudioError
from snnstudio.events.emulator import EmulatorConfig
from snnstudio.events.sources.base import EventSource
from snnstudio.events.sources.kinds import MIRRORED_KINDS
from snnstudio.events.types import EVENT_DTYPE

#: the sensor the bundled gesture models were trained on (width, height)
TRAINED_SENSOR = (128, 128)


class PreprocessError(SnnStudioError, ValueError):
    """A region of interest or an output size that cannot be used."""


@dataclass(frozen=True)
class Preprocess:
    """How a source is mapped onto the model's sensor (see the module docstring).

    ``roi``: ``(cx, cy, size)`` — box centre as fractions of the source's width and height, box
    size as a fraction (0–1] of the largest box of ``out_size``'s aspect ratio that fits;
    ``None``: centred, largest. ``mirror``: left-right flip (``None``: the source's default).
    ``out_size``: ``(width, height)`` to map onto; ``"model"`` (default): the sensor the model
    was trained on, filled in by :meth:`for_model` (a model that declares none: as ``None``);
    ``None`` keeps the source as it is (no crop, no resize). ``flicker``: suppress mains-light flicker in emulated frames.
    ``rate``: ``"area"`` thins events by the pixel-area ratio of box to output, ``"none"`` keeps
    every event. ``emulator``: the DVS pixel model of sources emulated from frames (``video:``,
    ``webcam``; ``None``: :class:`~snnstudio.events.emulator.EmulatorConfig`'s defaults).
    """

    out_size: tuple[int, int] | str | None = "model"
    roi: tuple[float, float, float] | None = None
    mirror: bool | None = None
    flicker: bool = True
    rate: str = "area"
    seed: int = 0
    emulator: EmulatorConfig | None = None

    def __post_init__(self) -> None:
        if self.out_size == "model":
            pass
        elif isinstance(self.out_size, str):
            raise PreprocessError(f"out_size must be (width, height), 'model' or None, got {self.out_size!r}")
        elif self.out_size is not None:
            w, h = (int(v) for v in self.out_size)
            if w <= 0 or h <= 0:
                raise PreprocessError(f"out_size must be positive (width, height), got {self.out_size}")
            object.__setattr__(self, "out_size", (w, h))
        if self.roi is not None:
            cx, cy, size = (float(v) for v in self.roi)
            if not (0.0 <= cx <= 1.0 and 0.0 <= cy <= 1.0):
                raise PreprocessError(f"region of interest centre must be fractions in [0, 1], got ({cx}, {cy})")
            if not 0.0 < size <= 1.0:
                raise PreprocessError(f"region of interest size must be in (0, 1], got {size}")
            object.__setattr__(self, "roi", (cx, cy, size))
        if self.rate not in ("area", "none"):
            raise PreprocessError(f"rate must be 'area' or 'none', got {self.rate!r}")

    def for_model(self, trained_sensor: tuple[int, int] | None) -> Preprocess:
        """``out_size="model"`` resolved to ``trained_sensor`` (``None``: keep sources as they are)."""
        if self.out_size != "model":
            return self
        return replace(self, out_size=None if trained_sensor is None else tuple(trained_sensor))

    def _out(self) -> tuple[int, int] | None:
        if self.out_size == "model":
            raise PreprocessError("out_size 'model' must be resolved with for_model() before use")
        return self.out_size

    def box(self, sensor_size: tuple[int, int]) -> tuple[int, int, int, int]:
        """The region of interest on a ``(width, height)`` sensor: ``(x0, y0, width, height)``
        in pixels, inside the sensor, with ``out_size``'s aspect ratio (the whole sensor when
        ``out_size`` is ``None``)."""
        W, H = int(sensor_size[0]), int(sensor_size[1])
        if W <= 0 or H <= 0:
            raise PreprocessError(f"sensor size must be positive, got {sensor_size}")
        out = self._out()
        if out is None:
            return 0, 0, W, H
        ow, oh = out
        scale = min(W / ow, H / oh)  # the largest box of the output's aspect ratio
        size = self.roi[2] if self.roi is not None else 1.0
        bw = max(1, min(W, int(round(ow * scale * size))))
        bh = max(1, min(H, int(round(oh * scale * size))))
        cx, cy = (self.roi[0], self.roi[1]) if self.roi is not None else (0.5, 0.5)
        x0 = int(round(cx * W - bw / 2))
        y0 = int(round(cy * H - bh / 2))
        return min(max(x0, 0), W - bw), min(max(y0, 0), H - bh), bw, bh

    def input_map(self, sensor_size: tuple[int, int]) -> tuple[tuple[int, int, int, int], float]:
        """For an event sensor (already mirrored): the box the model sees and the factor its
        counts are scaled by (``out pixels / box pixels`` with ``rate="area"``, never above 1)."""
        box = self.box(sensor_size)
        ow, oh = self.output_size(sensor_size)
        gain = min(1.0, (ow * oh) / (box[2] * box[3])) if self.rate == "area" else 1.0
        return box, gain

    def frame_scale(self, frame_size: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int, int, int]]:
        """For a picture of ``frame_size`` ``(W, H)`` (mirrored first when asked): the size to
        scale the whole picture to so that the box becomes ``out_size``, and the box in it
        ``(x0, y0, out_w, out_h)``."""
        W, H = int(frame_size[0]), int(frame_size[1])
        x0, y0, bw, bh = self.box((W, H))
        ow, oh = self.output_size((W, H))
        s = ow / bw
        sw, sh = max(ow, int(round(W * s))), max(oh, int(round(H * oh / bh)))
        bx = min(max(0, int(round(x0 * s))), sw - ow)
        by = min(max(0, int(round(y0 * oh / bh))), sh - oh)
        return (sw, sh), (bx, by, ow, oh)

    def output_size(self, sensor_size: tuple[int, int]) -> tuple[int, int]:
        """The sensor the model sees after preprocessing ``(width, height)``."""
        out = self._out()
        return out if out is not None else (int(sensor_size[0]), int(sensor_size[1]))

    def is_identity(self, sensor_size: tuple[int, int]) -> bool:
        """True when nothing changes a source of this size (same size, whole sensor, no flip)."""
        return (not self.mirror) and self.box(sensor_size) == (0, 0, *self.output_size(sensor_size))

    def with_mirror_default(self, mirror: bool) -> Preprocess:
        """This preprocessing with ``mirror`` filled in where it was left to the source (None)."""
        return self if self.mirror is not None else replace(self, mirror=bool(mirror))

    def to_dict(self) -> dict:
        """The fields as a plain dict (JSON-able; :meth:`from_dict` reads it back)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> Preprocess:
        """A :class:`Preprocess` from :meth:`to_dict`'s output (JSON lists become tuples, the emulator's
        dict an :class:`EmulatorConfig`; ``None``: the default); unknown fields: :class:`PreprocessError`."""
        data = dict(data or {})
        for key in ("out_size", "roi"):
            if data.get(key) is not None and not isinstance(data[key], str):
                data[key] = tuple(data[key])
        if isinstance(data.get("emulator"), dict):
            data["emulator"] = EmulatorConfig(**data["emulator"])
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise PreprocessError(f"unknown preprocessing fields: {', '.join(sorted(unknown))}")
        return cls(**data)

    def describe(self, sensor_size: tuple[int, int]) -> str:
        """One line for a status bar: ``640×480 → ROI 480×480 at (80, 0) → 128×128, mirrored``."""
        W, H = int(sensor_size[0]), int(sensor_size[1])
        x0, y0, bw, bh = self.box(sensor_size)
        ow, oh = self.output_size(sensor_size)
        parts = [f"{W}×{H}"]
        if (x0, y0, bw, bh) != (0, 0, W, H):
            parts.append(f"ROI {bw}×{bh} at ({x0}, {y0})")
        if (ow, oh) != (bw, bh):
            parts.append(f"{ow}×{oh}")
        text = " → ".join(parts)
        return text + (", mirrored" if self.mirror else "")


#: source kinds whose picture is a front-facing camera: mirrored by default
def default_preprocess(kind: str, base: Preprocess | None = None) -> Preprocess:
    """``base`` (default :class:`Preprocess()`) with the mirror default of source ``kind``
    (:data:`~snnstudio.events.sources.kinds.MIRRORED_KINDS`: ``webcam`` on, every other kind off)."""
    return (base or Preprocess()).with_mirror_default(kind in MIRRORED_KINDS)


def crop_resize_frame(frame: np.ndarray, pre: Preprocess) -> np.ndarray:
    """A ``[H, W]`` luma frame flipped when mirrored, cropped to the region of interest and
    resized to ``out_size`` (area interpolation): what the model sees. Same dtype as the input."""
    import cv2

    H, W = frame.shape[:2]
    if pre.mirror:
        frame = frame[:, ::-1]
    x0, y0, bw, bh = pre.box((W, H))
    out = frame[y0:y0 + bh, x0:x0 + bw]
    ow, oh = pre.output_size((W, H))
    if (bw, bh) != (ow, oh):
        out = cv2.resize(np.ascontiguousarray(out), (ow, oh), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(out)


class FlickerSuppressor:
    """Takes mains-light flicker (50/60 Hz lamps: 100/120 Hz brightness and harmonics, aliased
    by a 15–60 fps camera into a slow pulsing, or rolling bands on a rolling shutter) out of
    luma frames before they reach the DVS emulator.

    Per frame and per horizontal band (``bands`` of them: a rolling shutter's flicker varies down
    the picture), the median log-brightness is compared with its slow running level (time
    constant ``tau_s``); the difference — a change of the whole band's lighting, which a moving
    hand or arm (less than half the band) does not move — is divided out. Real slow lighting
    changes pass at the pace of ``tau_s``. ``[H, W]`` uint8 in, uint8 out.
    """

    def __init__(self, bands: int = 8, tau_s: float = 0.5):
        if bands < 1:
            raise PreprocessError(f"bands must be >= 1, got {bands}")
        if not tau_s > 0:
            raise PreprocessError(f"tau_s must be > 0, got {tau_s}")
        self.bands = int(bands)
        self.tau_s = float(tau_s)
        self.reset()

    def reset(self) -> None:
        """Forget the running brightness levels (a new source or a seek)."""
        self._level: np.ndarray | None = None
        self._t_us: int | None = None

    def __call__(self, frame: np.ndarray, t_us: int) -> np.ndarray:
        if frame.dtype != np.uint8 or frame.ndim != 2:
            raise PreprocessError(f"flicker suppression takes [H, W] uint8 luma, got {frame.dtype} {frame.shape}")
        H = frame.shape[0]
        bands = min(self.bands, H)
        log = _LOG_TABLE[frame]
        edges = np.linspace(0, H, bands + 1).astype(int)
        med = np.array([np.median(log[a:b]) for a, b in zip(edges[:-1], edges[1:])], np.float32)
        if self._level is None or self._t_us is None:
            self._level, self._t_us = med, int(t_us)
            return frame
        dt_s = max(0.0, (int(t_us) - self._t_us) * 1e-6)
        self._t_us = int(t_us)
        a = 1.0 - np.exp(-dt_s / self.tau_s)
        self._level = self._level + np.float32(a) * (med - self._level)
        gain_log = self._level - med  # per band: what brings this frame back to the slow level
        if np.all(np.abs(gain_log) < 1e-3):
            return frame
        centres = (edges[:-1] + edges[1:] - 1) / 2.0
        per_row = np.interp(np.arange(H), centres, gain_log).astype(np.float32)
        out = np.exp(log + per_row[:, None]) - 1.0
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)


_LOG_TABLE = np.log1p(np.arange(256, dtype=np.float32))


class FramePreprocessor:
    """The frame path of :class:`Preprocess` for one source: mirror, scale the whole picture so
    the region of interest becomes ``out_size``, then flicker suppression (when on).
    ``sensor_size`` is the scaled picture's ``(width, height)``, ``model_box`` the region in it.
    ``__call__(frame, t_us)`` takes a ``[H, W]`` uint8 luma frame."""

    def __init__(self, pre: Preprocess, frame_size: tuple[int, int]):
        self.pre = pre
        self.in_size = (int(frame_size[0]), int(frame_size[1]))
        self.sensor_size, self.model_box = pre.frame_scale(self.in_size)
        self._scale = self.sensor_size != self.in_size
        self.flicker = FlickerSuppressor() if pre.flicker else None

    def reset(self) -> None:
        """Forget the state carried between frames (the flicker levels)."""
        if self.flicker is not None:
            self.flicker.reset()

    def __call__(self, frame: np.ndarray, t_us: int) -> np.ndarray:
        import cv2

        out = frame[:, ::-1] if self.pre.mirror else frame
        if self._scale:
            out = cv2.resize(np.ascontiguousarray(out), self.sensor_size, interpolation=cv2.INTER_AREA)
        out = np.ascontiguousarray(out)
        return self.flicker(out, t_us) if self.flicker is not None else out


class EventPreprocessor:
    """The event path of :class:`Preprocess` for one sensor: flip when mirrored, crop to the
    region of interest, map coordinates onto ``out_size`` (``x' = (x − x0)·out_w // box_w``)
    and, with ``rate="area"``, keep each event with probability ``out pixels / box pixels``
    (never above 1). Stateless but for its seeded generator: a stream processed batch by batch
    gives the same events as one call on the whole stream only up to the thinning's draws, which
    follow the order of calls (``reset()`` restarts them)."""

    def __init__(self, pre: Preprocess, sensor_size: tuple[int, int]):
        self.pre = pre
        self.in_size = (int(sensor_size[0]), int(sensor_size[1]))
        self.sensor_size = pre.output_size(self.in_size)
        self.box = pre.box(self.in_size)
        ow, oh = self.sensor_size
        bw, bh = self.box[2], self.box[3]
        self.keep = min(1.0, (ow * oh) / (bw * bh)) if pre.rate == "area" else 1.0
        self._identity = pre.is_identity(self.in_size)
        self.reset()

    def reset(self) -> None:
        """Restart the seeded random thinning (the same events are kept again)."""
        self._rng = np.random.default_rng(self.pre.seed)

    def __call__(self, events: np.ndarray) -> np.ndarray:
        if self._identity or events.size == 0:
            return events
        x0, y0, bw, bh = self.box
        x = events["x"].astype(np.int64)
        if self.pre.mirror:
            x = self.in_size[0] - 1 - x
        x -= x0
        y = events["y"].astype(np.int64) - y0
        inside = (x >= 0) & (x < bw) & (y >= 0) & (y < bh)
        if self.keep < 1.0:
            inside &= self._rng.random(events.size) < self.keep
        idx = np.flatnonzero(inside)
        ow, oh = self.sensor_size
        x, y = x[idx], y[idx]
        out = np.empty(idx.size, EVENT_DTYPE)
        out["t"] = events["t"][idx]
        out["x"] = x * ow // bw
        out["y"] = y * oh // bh
        out["p"] = events["p"][idx]
        return out


def preprocess_recording(recording, pre: Preprocess):
    """An :class:`~snnstudio.events.types.EventRecording` mapped onto ``pre``'s sensor (labels,
    path and metadata kept; ``meta["preprocess"]`` says what was done). The same object when
    nothing changes."""
    from dataclasses import replace as _replace

    mapper = EventPreprocessor(pre, recording.sensor_size)
    if mapper._identity:
        return recording
    meta = dict(recording.meta)
    meta["preprocess"] = pre.describe(recording.sensor_size)
    meta["source_sensor_size"] = list(recording.sensor_size)
    return _replace(recording, events=mapper(recording.events), sensor_size=mapper.sensor_size, meta=meta)


class PreprocessedSource(EventSource):
    """A live event source (DVS camera, network stream) whose batches go through
    :class:`EventPreprocessor`; every other attribute is the wrapped source's."""

    def __init__(self, source, pre: Preprocess):
        self.source = source
        self.mapper = EventPreprocessor(pre, source.sensor_size)
        self.sensor_size = self.mapper.sensor_size
        self.preprocess = pre
        self.live = source.live
        self.class_names = source.class_names

    def batches(self):
        """The wrapped source's batches, their events mapped by the preprocessing."""
        from dataclasses import replace as _replace

        for batch in self.source.batches():
            yield _replace(batch, events=self.mapper(batch.events))

    def close(self) -> None:
        """Close the wrapped source."""
        self.source.close()

    def __getattr__(self, name):
        return getattr(self.source, name)
