"""Procedural rooms behind a synthetic person: a lit wall with a floor or desk, furniture-like
blocks (sofa, shelves with rows, frames, door, window), plant-like blob clusters, lamps, all with
grain and lighting gradients; or a dark infrared-like scene (dim clutter, a few bright spots).

:func:`random_room` returns a float32 luma image ``[h, w]`` in [0, 1], drawn once per sample.
"""

from __future__ import annotations

import cv2
import numpy as np

from snnstudio.events.synthetic.scene import random_background


def _rect(img: np.ndarray, x0: float, y0: float, x1: float, y1: float, value: float) -> None:
    cv2.rectangle(img, (int(x0 * 4), int(y0 * 4)), (int(x1 * 4), int(y1 * 4)), float(value), -1, cv2.LINE_AA, 2)


def random_room(rng: np.random.Generator, size: tuple[int, int], *, level: float, dark: bool,
                horizon: float | None = None) -> np.ndarray:
    """A room ``size = (w, h)`` px of mean wall luma about ``level``. ``horizon``: the row (px) where
    the floor starts, if any. ``dark``: infrared-like (objects dimmer or brighter than the dark wall
    by small amounts, point-like bright lights)."""
    w, h = size
    side = min(w, h)
    base = random_background(rng, (w, h), level, clutter=True)  # grain, blotches, gradient, clutter
    layer = np.zeros((h, w), np.float32)  # relative luma multipliers, 0 = untouched
    if horizon is not None and horizon < h:
        _rect(layer, -1, horizon, w + 1, h + 1, rng.uniform(0.4, 1.5))
    for _ in range(int(rng.integers(2, 6))):
        kind = rng.choice(6)
        x, y = rng.uniform(-0.1, 1.0) * w, rng.uniform(0.0, 1.0) * h
        val = rng.uniform(0.3, 1.8) if not dark else rng.uniform(0.5, 3.0)
        if kind == 0:  # sofa / table: wide low block with a darker seat line
            bw, bh = rng.uniform(0.3, 0.8) * side, rng.uniform(0.1, 0.25) * side
            _rect(layer, x, y, x + bw, y + bh, val)
            _rect(layer, x, y + bh * 0.4, x + bw, y + bh * 0.45, val * 0.7)
        elif kind == 1:  # shelf: tall block with rows of small items
            bw, bh = rng.uniform(0.12, 0.3) * side, rng.uniform(0.3, 0.8) * side
            _rect(layer, x, y, x + bw, y + bh, val)
            for r in np.arange(y + 4, y + bh, rng.uniform(5, 10)):
                _rect(layer, x + 1, r, x + bw - 1, r + 1, val * 0.6)
                for bx in np.arange(x + 2, x + bw - 2, rng.uniform(2, 5)):
                    if rng.random() < 0.6:
                        _rect(layer, bx, r - rng.uniform(2, 5), bx + rng.uniform(1, 2.5), r, val * rng.uniform(0.5, 1.6))
        elif kind == 2:  # frame / picture on the wall
            bw, bh = rng.uniform(0.08, 0.25, 2) * side
            _rect(layer, x, y, x + bw, y + bh, val)
            _rect(layer, x + 1.5, y + 1.5, x + bw - 1.5, y + bh - 1.5, rng.uniform(0.4, 1.8))
        elif kind == 3:  # door or window: tall rectangle, window with bars
            bw, bh = rng.uniform(0.15, 0.35) * side, rng.uniform(0.4, 0.9) * side
            _rect(layer, x, y, x + bw, y + bh, val)
            if rng.random() < 0.5:
                _rect(layer, x + bw / 2 - 0.7, y, x + bw / 2 + 0.7, y + bh, val * 0.5)
                _rect(layer, x, y + bh / 2 - 0.7, x + bw, y + bh / 2 + 0.7, val * 0.5)
        elif kind == 4:  # plant: a cluster of leaf ellipses on a pot
            n = int(rng.integers(5, 14))
            r = rng.uniform(0.04, 0.12) * side
            for _ in range(n):
                cx, cy = x + rng.normal(0, r), y + rng.normal(0, r)
                cv2.ellipse(layer, (int(cx * 4), int(cy * 4)), (int(r * rng.uniform(0.3, 0.8) * 4), int(r * 0.25 * 4)),
                            rng.uniform(0, 180), 0, 360, float(val * rng.uniform(0.6, 1.2)), -1, cv2.LINE_AA, 2)
            _rect(layer, x - r * 0.4, y + r, x + r * 0.4, y + r * 2, val * 1.2)
        else:  # lamp: a pole and a bright shade
            _rect(layer, x, y, x + 1, y + rng.uniform(0.2, 0.5) * side, val * 0.8)
            cv2.ellipse(layer, (int(x * 4), int(y * 4)), (int(rng.uniform(3, 7) * 4), int(rng.uniform(2, 4) * 4)), 0, 0, 360,
                        float(val * 2.0), -1, cv2.LINE_AA, 2)
    mask = (layer > 0).astype(np.float32)
    mask = cv2.GaussianBlur(mask, (0, 0), 0.5)
    room = base * (1 - mask) + base * np.where(layer > 0, layer, 1.0) * mask
    if dark:
        for _ in range(int(rng.integers(0, 4))):  # small bright lights (LEDs, lamps)
            cx, cy = rng.uniform(0, w), rng.uniform(0, h * 0.7)
            cv2.circle(room, (int(cx * 4), int(cy * 4)), int(rng.uniform(1, 3) * 4), float(rng.uniform(0.6, 1.0)), -1,
                       cv2.LINE_AA, 2)
    room = cv2.GaussianBlur(room, (0, 0), rng.uniform(0.5, 1.2))
    return np.clip(room, 0.005, 1.0).astype(np.float32)
