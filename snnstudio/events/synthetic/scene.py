"""The scene a synthetic gesture happens in: a cluttered, textured background (static or slowly
drifting as a hand-held camera would), small distractor objects moving across it, a flickering
light, and the hand sprite on top.

:meth:`Scene.render` composes one luma frame (float32 ``[H, W]`` in [0, 1]) for a time and a hand
pose. Everything is drawn once per sample; per frame only affine warps of small regions and a
few array operations run, so rendering costs tens of microseconds at 128×128.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import math

import cv2
import numpy as np

from snnstudio.events.synthetic.hand import HAND_HEIGHT, PALM_CENTER, HandSprite, draw_hand

_WARP = dict(flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


@dataclass(frozen=True)
class Sprite:
    """A premultiplied intensity image and its alpha, ``[h, w]`` float32."""

    premult: np.ndarray
    alpha: np.ndarray


@dataclass
class Distractor:
    """A small object bouncing across the sensor at constant speed (px, px/s)."""

    sprite: Sprite
    p0: tuple[float, float]
    velocity: tuple[float, float]

    def position(self, t_s: float, sensor_size: tuple[int, int]) -> tuple[float, float]:
        """Top-left corner (px) at time ``t_s`` (s), bouncing off the edges of ``sensor_size``."""
        W, H = sensor_size
        h, w = self.sprite.alpha.shape
        return (_bounce(self.p0[0] + self.velocity[0] * t_s, -w / 2, W - w / 2),
                _bounce(self.p0[1] + self.velocity[1] * t_s, -h / 2, H - h / 2))


def _bounce(x: float, lo: float, hi: float) -> float:
    """``x`` reflected into [lo, hi] (a triangle wave)."""
    span = hi - lo
    r = (x - lo) % (2 * span)
    return lo + (r if r <= span else 2 * span - r)


@dataclass
class Scene:
    """Background (with ``margin`` pixels around the sensor for drifting), hand and distractors."""

    sensor_size: tuple[int, int]
    background: np.ndarray
    margin: int
    hand: HandSprite
    #: base hand height, sensor pixels (fingertips to wrist at scale 1)
    hand_px: float
    #: background drift: amplitude x, y (px), period (s), phase (rad); zero amplitude = static
    drift: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 0.0)
    distractors: list[Distractor] = field(default_factory=list)
    #: light flicker: relative amplitude, frequency (Hz), phase (rad)
    flicker: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        W, H = self.sensor_size
        m = self.margin
        self._static = np.ascontiguousarray(self.background[m : m + H, m : m + W], dtype=np.float32)

    # ------------------------------------------------------------------ drawing
    @classmethod
    def random(cls, rng: np.random.Generator, sensor_size: tuple[int, int] = (128, 128), *, clean: bool = False) -> Scene:
        """A random scene. ``clean``: static background, no distractors, no flicker."""
        W, H = int(sensor_size[0]), int(sensor_size[1])
        side = min(W, H)
        dark_hand = (not clean) and rng.random() < 0.2
        if dark_hand:
            level = rng.uniform(0.5, 0.85)
            brightness = level * np.exp(-rng.uniform(0.7, 1.5))
        else:
            level = rng.uniform(0.04, 0.3)
            brightness = min(0.95, level * np.exp(rng.uniform(0.7, 1.9)))
            brightness = max(brightness, level * 1.8)
        margin = int(np.ceil(0.08 * side)) + 2
        background = random_background(rng, (W + 2 * margin, H + 2 * margin), level, clutter=not clean)
        hand = draw_hand(rng, brightness=float(brightness), texture=rng.uniform(0.6, 1.4))
        hand_px = rng.uniform(0.32, 0.5) * side
        drift = (0.0, 0.0, 1.0, 0.0)
        distractors: list[Distractor] = []
        flicker = (0.0, 0.0, 0.0)
        if not clean:
            if rng.random() < 0.5:
                amp = rng.uniform(0.5, 0.07 * side, 2)
                drift = (float(amp[0]), float(amp[1]), rng.uniform(3.0, 12.0), rng.uniform(0, 2 * np.pi))
            for _ in range(int(rng.choice(4, p=[0.3, 0.35, 0.25, 0.1]))):
                distractors.append(_random_distractor(rng, (W, H), level))
            if rng.random() < 0.3:
                flicker = (rng.uniform(0.005, 0.04), rng.uniform(0.2, 3.0), rng.uniform(0, 2 * np.pi))
        return cls((W, H), background, margin, hand, float(hand_px), drift, distractors, flicker)

    # ------------------------------------------------------------------ frames
    def background_at(self, t_s: float) -> np.ndarray:
        """The (drifted) background seen by the sensor at ``t_s``, a fresh float32 array."""
        ax, ay, period, phase = self.drift
        if ax == 0.0 and ay == 0.0:
            return self._static.copy()
        W, H = self.sensor_size
        s = math.sin(2 * math.pi * t_s / period + phase)
        c = math.cos(2 * math.pi * t_s / (1.7 * period) + phase)
        # a sub-pixel crop (bilinear): far cheaper than a general warp
        centre = (self.margin + ax * s + (W - 1) / 2, self.margin + ay * c + (H - 1) / 2)
        return cv2.getRectSubPix(self.background, (W, H), centre)

    def hand_matrix(self, pose) -> np.ndarray:
        """The 2×3 affine map from sprite pixels to sensor pixels for ``pose`` = (cx, cy, scale, angle°)."""
        cx, cy, scale, angle = (float(v) for v in pose)
        k = self.hand_px / HAND_HEIGHT * scale
        th = math.radians(angle)
        a, b = k * math.cos(th), k * math.sin(th)
        pu, pv = PALM_CENTER
        return np.array([[a, b, cx - a * pu - b * pv], [-b, a, cy + b * pu - a * pv]], np.float64)

    def render(self, t_s: float, pose) -> np.ndarray:
        """One luma frame (float32 ``[H, W]``, [0, 1]) at ``t_s`` seconds with the hand at ``pose``."""
        frame = self.background_at(t_s)
        for d in self.distractors:
            x, y = d.position(t_s, self.sensor_size)
            _paste_shifted(frame, d.sprite, x, y)
        _paste(frame, self.hand, self.hand_matrix(pose))
        amp, freq, phase = self.flicker
        if amp:  # (without flicker the frame is a convex mix of values in [0, 1] already)
            frame *= np.float32(1.0 + amp * math.sin(2 * math.pi * freq * t_s + phase))
            np.clip(frame, 0.0, 1.0, out=frame)
        return frame


def _paste(frame: np.ndarray, sprite, M: np.ndarray) -> None:
    """Alpha-composite ``sprite`` warped by ``M`` (sprite px → frame px) into ``frame``, in place,
    warping only the frame region the sprite covers."""
    H, W = frame.shape
    h, w = sprite.alpha.shape
    (a, b, tx), (c, d, ty) = M.tolist()
    xs = (tx, tx + a * w, tx + b * h, tx + a * w + b * h)
    ys = (ty, ty + c * w, ty + d * h, ty + c * w + d * h)
    x0 = max(math.floor(min(xs)) - 1, 0)
    y0 = max(math.floor(min(ys)) - 1, 0)
    x1 = min(math.ceil(max(xs)) + 2, W)
    y1 = min(math.ceil(max(ys)) + 2, H)
    if x1 <= x0 or y1 <= y0:
        return
    Mr = np.array([[a, b, tx - x0], [c, d, ty - y0]])
    size = (x1 - x0, y1 - y0)
    alpha = cv2.warpAffine(sprite.alpha, Mr, size, **_WARP)
    p = cv2.warpAffine(sprite.premult, Mr, size, **_WARP)
    roi = frame[y0:y1, x0:x1]
    alpha -= 1.0
    roi *= alpha
    np.subtract(p, roi, out=roi)  # roi·(1 − α) + premult


def _paste_shifted(frame: np.ndarray, sprite: Sprite, x: float, y: float) -> None:
    """Alpha-composite ``sprite`` with its top-left corner at sub-pixel position (x, y), in place."""
    H, W = frame.shape
    h, w = sprite.alpha.shape
    ix, iy = math.floor(x), math.floor(y)
    # shift by the fraction with a bilinear crop one pixel larger than the sprite
    centre = ((w - 1) / 2 - (x - ix) + 0.5, (h - 1) / 2 - (y - iy) + 0.5)
    a = cv2.getRectSubPix(sprite.alpha, (w + 1, h + 1), centre)
    p = cv2.getRectSubPix(sprite.premult, (w + 1, h + 1), centre)
    x0, y0 = max(ix, 0), max(iy, 0)
    x1, y1 = min(ix + w + 1, W), min(iy + h + 1, H)
    if x1 <= x0 or y1 <= y0:
        return
    a = a[y0 - iy : y1 - iy, x0 - ix : x1 - ix]
    p = p[y0 - iy : y1 - iy, x0 - ix : x1 - ix]
    roi = frame[y0:y1, x0:x1]
    roi *= 1.0 - a
    roi += p


def random_background(rng: np.random.Generator, size: tuple[int, int], level: float, *, clutter: bool = True) -> np.ndarray:
    """A textured background ``[h, w]`` float32 of mean luma about ``level``: smooth blotches, fine
    grain, a lighting gradient and (``clutter``) random rectangles, bars and discs as in a room."""
    w, h = size
    side = min(w, h)

    def noise(sigma: float) -> np.ndarray:
        n = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), sigma)
        return n / (n.std() + 1e-6)

    rel = 1.0 + rng.uniform(0.05, 0.25) * noise(rng.uniform(0.05, 0.12) * side)
    rel += rng.uniform(0.02, 0.08) * noise(rng.uniform(0.8, 2.0))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    g = rng.uniform(-0.3, 0.3, 2)
    rel *= 1.0 + g[0] * (xx / w - 0.5) + g[1] * (yy / h - 0.5)
    if clutter:
        shapes = np.zeros((h, w), np.float32)
        mask = np.zeros((h, w), np.float32)
        for _ in range(int(rng.integers(3, 12))):
            val = float(rng.uniform(0.4, 1.8))
            layer = np.zeros((h, w), np.float32)
            kind = rng.integers(3)
            cx, cy = rng.uniform(0, w), rng.uniform(0, h)
            if kind == 0:
                rw, rh = rng.uniform(0.05, 0.35, 2) * side
                box = ((cx, cy), (rw, rh), rng.uniform(-20, 20))
                pts = cv2.boxPoints(box).astype(np.int32)
                cv2.fillConvexPoly(layer, pts, 1.0, cv2.LINE_AA)
            elif kind == 1:
                ln = rng.uniform(0.2, 0.8) * side
                an = rng.uniform(0, np.pi)
                p1 = (int(cx - ln / 2 * np.cos(an)), int(cy - ln / 2 * np.sin(an)))
                p2 = (int(cx + ln / 2 * np.cos(an)), int(cy + ln / 2 * np.sin(an)))
                cv2.line(layer, p1, p2, 1.0, int(rng.integers(1, 4)), cv2.LINE_AA)
            else:
                cv2.circle(layer, (int(cx), int(cy)), int(rng.uniform(0.02, 0.12) * side), 1.0, -1, cv2.LINE_AA)
            shapes = shapes * (1 - layer) + val * layer
            mask = np.maximum(mask, layer)
        rel = rel * (1 - mask) + rel * shapes * mask
    bg = cv2.GaussianBlur(level * rel, (0, 0), 0.6)
    return np.clip(bg, 0.01, 1.0).astype(np.float32)


def _random_distractor(rng: np.random.Generator, sensor_size: tuple[int, int], level: float) -> Distractor:
    W, H = sensor_size
    side = min(W, H)
    d = int(max(4, rng.uniform(0.03, 0.1) * side))
    n = d + 4
    alpha = np.zeros((n, n), np.uint8)
    c = (n - 1) / 2
    kind = rng.integers(3)
    if kind == 0:
        cv2.circle(alpha, (int(c * 4), int(c * 4)), int(d / 2 * 4), 255, -1, cv2.LINE_AA, 2)
    elif kind == 1:
        pts = cv2.boxPoints(((c, c), (d, max(2, d / 3)), rng.uniform(0, 180))).astype(np.float32)
        cv2.fillConvexPoly(alpha, (pts * 4).astype(np.int32), 255, cv2.LINE_AA, 2)
    else:
        cv2.ellipse(alpha, (int(c * 4), int(c * 4)), (int(d / 2 * 4), int(d / 3 * 4)), rng.uniform(0, 180), 0, 360, 255, -1, cv2.LINE_AA, 2)
    a = alpha.astype(np.float32) / 255.0
    value = float(np.clip(level * np.exp(rng.choice([-1, 1]) * rng.uniform(0.5, 1.5)), 0.01, 1.0))
    tex = value * (1.0 + 0.1 * rng.standard_normal((n, n))).astype(np.float32)
    speed = rng.uniform(0.05, 0.5) * side  # px/s
    heading = rng.uniform(0, 2 * np.pi)
    return Distractor(
        Sprite(np.clip(tex, 0, 1).astype(np.float32) * a, a),
        (float(rng.uniform(0, W)), float(rng.uniform(0, H))),
        (float(speed * np.cos(heading)), float(speed * np.sin(heading))),
    )
