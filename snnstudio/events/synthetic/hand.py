"""A textured hand sprite — palm, four fingers, thumb and a fading wrist — drawn once per sample.

The sprite is a premultiplied intensity image plus an alpha mask on a square canvas of
``SPRITE_SIZE`` sprite pixels, fingers up, palm centre at :data:`PALM_CENTER`. Per frame the
scene only warps it (one affine map: position, scale, rotation), which is what makes rendering at
500+ fps cheap. Shapes are drawn with OpenCV (anti-aliased); the skin texture is smooth noise,
a lighting gradient, palm creases, finger joints and nails, so a moving hand produces events
inside its outline too, as a real one does.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SPRITE_SIZE = 128
#: palm centre on the sprite canvas (u, v), sprite pixels
PALM_CENTER = (64.0, 78.0)
#: fingertip-to-wrist height of the drawn hand, sprite pixels (the scale reference)
HAND_HEIGHT = 100.0
#: distance from the palm centre down to the wrist pivot, as a fraction of HAND_HEIGHT
WRIST_OFFSET = 0.3

_AA = cv2.LINE_AA
_SUB = 2  # sub-pixel bits for cv2 drawing (coordinates × 4)


@dataclass(frozen=True)
class HandSprite:
    """``premult`` = intensity × alpha and ``alpha``, both ``[S, S]`` float32 in [0, 1]."""

    premult: np.ndarray
    alpha: np.ndarray

    @property
    def size(self) -> int:
        """Side ``S`` of the square sprite, pixels."""
        return self.alpha.shape[0]


def _pt(u: float, v: float) -> tuple[int, int]:
    return (int(round(u * (1 << _SUB))), int(round(v * (1 << _SUB))))


def _capsule(img: np.ndarray, a, b, width: float, value: int) -> None:
    """A thick segment with round ends."""
    w = max(1, int(round(width)))
    cv2.line(img, _pt(*a), _pt(*b), value, w, _AA, _SUB)
    r = int(round(width / 2 * (1 << _SUB)))
    cv2.circle(img, _pt(*a), r, value, -1, _AA, _SUB)
    cv2.circle(img, _pt(*b), r, value, -1, _AA, _SUB)


def _smooth_noise(rng: np.random.Generator, shape, sigma: float) -> np.ndarray:
    """Zero-mean, unit-std Gaussian-blurred white noise."""
    n = cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), sigma)
    return (n - n.mean()) / (n.std() + 1e-6)


def draw_hand(
    rng: np.random.Generator,
    *,
    brightness: float = 0.75,
    texture: float = 1.0,
    spread: float | None = None,
    left: bool | None = None,
) -> HandSprite:
    """Draw one hand: ``brightness`` is the mean skin luma (0–1), ``texture`` scales the skin
    texture contrast, ``spread`` (0–1) how far the fingers fan out, ``left`` mirrors it. ``None``
    draws the value from ``rng``; the finger lengths, widths and creases always come from ``rng``.
    """
    S = SPRITE_SIZE
    if spread is None:
        spread = float(rng.uniform(0.0, 1.0))
    if left is None:
        left = bool(rng.random() < 0.5)
    mask = np.zeros((S, S), np.uint8)
    pu, pv = PALM_CENTER
    # palm
    pw, ph = 21.0 * rng.uniform(0.92, 1.08), 23.0 * rng.uniform(0.95, 1.05)
    cv2.ellipse(mask, _pt(pu, pv), _pt(pw, ph), 0.0, 0.0, 360.0, 255, -1, _AA, _SUB)
    # wrist: a slab below the palm (its alpha fades out below)
    wrist_w = pw * rng.uniform(1.2, 1.5)
    cv2.rectangle(mask, _pt(pu - wrist_w / 2, pv + 8), _pt(pu + wrist_w / 2, S - 1), 255, -1, _AA, _SUB)
    # four fingers: base on the palm's top arc, fanning by `spread`
    lengths = np.array([30.0, 34.0, 31.0, 24.0]) * rng.uniform(0.88, 1.12, 4)
    widths = np.array([8.6, 9.0, 8.6, 7.6]) * rng.uniform(0.9, 1.1, 4)
    base_u = pu + np.array([-14.5, -4.8, 4.8, 14.0]) * (pw / 21.0)
    fan = np.deg2rad(np.array([-9.0, -2.5, 5.0, 13.0]) * spread + rng.normal(0, 1.5, 4))
    tips = []
    for bu, ln, wd, an in zip(base_u, lengths, widths, fan):
        bv = pv - ph * np.sqrt(max(0.0, 1.0 - ((bu - pu) / (pw + 2)) ** 2)) + 6.0
        tip = (bu + ln * np.sin(an), bv - ln * np.cos(an))
        _capsule(mask, (bu, bv), tip, wd, 255)
        tips.append(((bu, bv), tip, wd, an))
    # thumb, from the palm's lower side, pointing up and out
    t_an = np.deg2rad(-rng.uniform(38.0, 62.0))
    t_base = (pu - pw * 0.72, pv + ph * 0.25)
    t_len = 24.0 * rng.uniform(0.9, 1.1)
    t_tip = (t_base[0] + t_len * np.sin(t_an), t_base[1] - t_len * np.cos(t_an))
    _capsule(mask, t_base, t_tip, 10.0 * rng.uniform(0.9, 1.1), 255)

    alpha = mask.astype(np.float32) / 255.0
    # fade the wrist out over its lower part so no hard cut edge moves with the hand
    v = np.arange(S, dtype=np.float32)[:, None]
    fade_start = pv + ph * 0.8
    alpha *= np.clip(1.0 - (v - fade_start) / (S - 1 - fade_start), 0.0, 1.0)

    # skin: lighting gradient × smooth noise, creases, joints, nails, darker rims
    uu, vv = np.meshgrid(np.arange(S, dtype=np.float32), np.arange(S, dtype=np.float32))
    gu, gv = rng.uniform(-0.25, 0.25, 2)
    skin = 1.0 + gu * (uu - pu) / S + gv * (vv - pv) / S
    skin += texture * (0.10 * _smooth_noise(rng, (S, S), 5.0) + 0.05 * _smooth_noise(rng, (S, S), 1.2))
    marks = np.zeros((S, S), np.uint8)
    for _ in range(int(rng.integers(2, 4))):  # palm creases: shallow arcs
        c = (pu + rng.uniform(-6, 6), pv + rng.uniform(-10, 12))
        cv2.ellipse(marks, _pt(*c), _pt(rng.uniform(10, 18), rng.uniform(3, 8)), rng.uniform(-30, 30),
                    rng.uniform(180, 220), rng.uniform(320, 360), 255, 1, _AA, _SUB)
    for (bu, bv), (tu, tv), wd, _an in tips:  # joints across each finger
        for f in (0.38, 0.68):
            ju, jv = bu + (tu - bu) * f, bv + (tv - bv) * f
            du, dv = (tv - bv), -(tu - bu)
            norm = np.hypot(du, dv) + 1e-6
            du, dv = du / norm * wd * 0.4, dv / norm * wd * 0.4
            cv2.line(marks, _pt(ju - du, jv - dv), _pt(ju + du, jv + dv), 255, 1, _AA, _SUB)
    skin -= texture * rng.uniform(0.15, 0.3) * cv2.GaussianBlur(marks.astype(np.float32) / 255.0, (0, 0), 0.6)
    nails = np.zeros((S, S), np.uint8)
    for (bu, bv), (tu, tv), wd, an in tips:
        nu, nv = tu - (tu - bu) * 0.1, tv - (tv - bv) * 0.1
        cv2.ellipse(nails, _pt(nu, nv), _pt(wd * 0.3, wd * 0.42), np.rad2deg(an), 0, 360, 255, -1, _AA, _SUB)
    skin += texture * 0.12 * nails.astype(np.float32) / 255.0
    # rims: darker where the outline is near (gives fingers some relief)
    inner = cv2.GaussianBlur(alpha, (0, 0), 2.0)
    skin *= 0.8 + 0.2 * np.clip(inner * 1.6 - 0.3, 0.0, 1.0)

    intensity = np.clip(brightness * skin, 0.0, 1.0).astype(np.float32)
    alpha = np.clip(alpha, 0.0, 1.0)
    if left:
        intensity = np.ascontiguousarray(intensity[:, ::-1])
        alpha = np.ascontiguousarray(alpha[:, ::-1])
    return HandSprite(premult=(intensity * alpha).astype(np.float32), alpha=alpha.astype(np.float32))
