"""The gesture classes and the hand trajectories that perform them.

A trajectory is a ``[N, 4]`` float array of poses at the frame times: palm centre ``cx, cy``
(sensor pixels, origin top-left, y down), ``scale`` (1 = the sample's base hand size) and
``angle`` (degrees, counter-clockwise on screen, OpenCV's convention; 0 = fingers up).

So that a classifier must learn the *motion*, every class draws from the same distributions of
hand size, tilt, centre position, active duration and idle lead-in; only the movement differs.
Each gesture has an idle lead-in, an active phase of random length and a tail; all of them
carry the same physiological tremor.
"""

from __future__ import annotations

import numpy as np

from snnstudio.events.synthetic.hand import WRIST_OFFSET

#: gesture class names; the class id is the index (fixed: models are trained on these ids)
GESTURES: tuple[str, ...] = (
    "swipe_left",
    "swipe_right",
    "swipe_up",
    "swipe_down",
    "circle_cw",
    "circle_ccw",
    "wave",
    "push",
    "pull",
    "other",
)
#: class id → name, the form :attr:`EventSource.class_names` takes
CLASS_NAMES: dict[int, str] = dict(enumerate(GESTURES))

_SWIPE_DIRS = {"swipe_left": (-1.0, 0.0), "swipe_right": (1.0, 0.0), "swipe_up": (0.0, -1.0), "swipe_down": (0.0, 1.0)}


def gesture_id(name: str) -> int:
    """The class id of gesture ``name`` (ValueError naming the known ones otherwise)."""
    try:
        return GESTURES.index(name)
    except ValueError:
        raise ValueError(f"unknown gesture {name!r}; known: {', '.join(GESTURES)}") from None


def min_jerk(u: np.ndarray) -> np.ndarray:
    """Minimum-jerk position profile 0→1 on u ∈ [0, 1] (zero velocity and acceleration at both ends)."""
    u = np.clip(u, 0.0, 1.0)
    return u * u * u * (10.0 - 15.0 * u + 6.0 * u * u)


def _ease(u: np.ndarray) -> np.ndarray:
    """0→1 with zero velocity at both ends but a long steady middle (for circles)."""
    u = np.clip(u, 0.0, 1.0)
    return u - np.sin(2.0 * np.pi * u) / (2.0 * np.pi)


def _envelope(u: np.ndarray, edge: float = 0.15) -> np.ndarray:
    """1 inside, smooth 0→1 ramps over the first and last ``edge`` of [0, 1]."""
    return min_jerk(u / edge) * min_jerk((1.0 - u) / edge)


def _sines(rng: np.random.Generator, t: np.ndarray, n: int, f_lo: float, f_hi: float, amp: float) -> np.ndarray:
    """A smooth random signal: ``n`` sinusoids of random frequency and phase, total amplitude ~``amp``."""
    f = rng.uniform(f_lo, f_hi, n)
    ph = rng.uniform(0, 2 * np.pi, n)
    a = rng.uniform(0.5, 1.0, n)
    a *= amp / a.sum()
    return (a[:, None] * np.sin(2 * np.pi * f[:, None] * t[None, :] + ph[:, None])).sum(0)


def gesture_poses(
    name: str,
    rng: np.random.Generator,
    t_s: np.ndarray,
    sensor_size: tuple[int, int],
    hand_px: float,
) -> np.ndarray:
    """Poses ``[N, 4]`` (cx, cy, scale, angle) of gesture ``name`` at times ``t_s`` (s, from 0).

    ``hand_px`` is the base hand height in sensor pixels (for the wave's wrist pivot).
    """
    gesture_id(name)
    W, H = sensor_size
    side = float(min(W, H))
    t = np.asarray(t_s, dtype=np.float64)
    D = float(t[-1]) if t.size else 0.0
    # shared by every class, drawn in the same order: timing, centre, tilt, size
    lead = rng.uniform(0.0, 0.15) * D
    active = rng.uniform(0.55, 0.85) * D
    u = (t - lead) / max(active, 1e-9)
    cx0 = W / 2 + rng.uniform(-0.15, 0.15) * W
    cy0 = H / 2 + rng.uniform(-0.10, 0.15) * H
    tilt = rng.uniform(-20.0, 20.0)
    size = 1.0
    cx = np.full_like(t, cx0)
    cy = np.full_like(t, cy0)
    scale = np.full_like(t, size)
    angle = np.full_like(t, tilt)
    # tremor (all classes alike)
    cx += _sines(rng, t, 3, 2.0, 8.0, rng.uniform(0.2, 0.8) * side / 128)
    cy += _sines(rng, t, 3, 2.0, 8.0, rng.uniform(0.2, 0.8) * side / 128)
    angle += _sines(rng, t, 2, 1.0, 5.0, rng.uniform(0.3, 1.5))

    if name in _SWIPE_DIRS:
        dx, dy = _SWIPE_DIRS[name]
        jit = np.deg2rad(rng.uniform(-12.0, 12.0))
        dx, dy = dx * np.cos(jit) - dy * np.sin(jit), dx * np.sin(jit) + dy * np.cos(jit)
        amp = rng.uniform(0.35, 0.7) * side
        bulge = rng.uniform(-0.06, 0.06) * side
        s = min_jerk(u) - 0.5
        arc = np.sin(np.pi * np.clip(u, 0, 1))
        cx += s * amp * dx - arc * bulge * dy
        cy += s * amp * dy + arc * bulge * dx
        angle += rng.uniform(-12.0, 12.0) * arc
    elif name in ("circle_cw", "circle_ccw"):
        r = rng.uniform(0.07, 0.14) * side
        revs = rng.uniform(0.75, 1.25)
        phi0 = rng.uniform(0, 2 * np.pi)
        sign = 1.0 if name == "circle_cw" else -1.0  # y points down: increasing phi is clockwise on screen
        phi = phi0 + sign * 2 * np.pi * revs * _ease(u)
        cx += r * np.cos(phi)
        cy += r * np.sin(phi)
    elif name == "wave":
        amp = rng.uniform(18.0, 35.0)
        freq = rng.uniform(1.5, 3.0)
        sway = rng.uniform(0.0, 0.04) * side
        osc = np.sin(2 * np.pi * freq * (t - lead)) * _envelope(u)
        osc[(u < 0) | (u > 1)] = 0.0
        theta = np.deg2rad(angle + amp * osc)
        # rotate about the wrist: keep the wrist where the tilt alone puts it, move the palm
        d = WRIST_OFFSET * hand_px
        th0 = np.deg2rad(angle)
        wx, wy = cx + np.sin(th0) * d, cy + np.cos(th0) * d
        wx += sway * osc
        cx = wx - np.sin(theta) * d
        cy = wy - np.cos(theta) * d
        angle = angle + amp * osc
    elif name in ("push", "pull"):
        k = rng.uniform(2.5, 4.0)
        grow = min_jerk(u) if name == "push" else 1.0 - min_jerk(u)
        scale = size * k ** (grow - 0.5)  # geometric mean of the sizes = the base size
        cy += rng.uniform(-0.12, 0.12) * side * grow
        cx += rng.uniform(-0.12, 0.12) * side * grow
    else:  # other: random wander, idle drift or an off-axis (diagonal) stroke
        kind = rng.choice(3, p=[0.55, 0.25, 0.2])
        env = _envelope(u, 0.2)
        env[(u < 0) | (u > 1)] = 0.0
        if kind == 0:
            cx += env * _sines(rng, t, 3, 0.3, 1.6, rng.uniform(0.08, 0.2) * side)
            cy += env * _sines(rng, t, 3, 0.3, 1.6, rng.uniform(0.08, 0.2) * side)
            angle += env * _sines(rng, t, 2, 0.3, 1.2, rng.uniform(3.0, 12.0))
            scale = scale * (1.0 + env * _sines(rng, t, 2, 0.2, 0.8, rng.uniform(0.0, 0.12)))
        elif kind == 1:
            cx += _sines(rng, t, 2, 0.1, 0.5, rng.uniform(0.01, 0.05) * side)
            cy += _sines(rng, t, 2, 0.1, 0.5, rng.uniform(0.01, 0.05) * side)
        else:
            a = np.deg2rad(rng.choice([45.0, 135.0, 225.0, 315.0]) + rng.uniform(-10, 10))
            amp = rng.uniform(0.3, 0.6) * side
            s = min_jerk(u) - 0.5
            cx += s * amp * np.cos(a)
            cy += s * amp * np.sin(a)
    return np.stack([cx, cy, np.broadcast_to(scale, t.shape), angle], axis=1).astype(np.float64)


def transition_poses(start: np.ndarray, end: np.ndarray, t_s: np.ndarray, rng: np.random.Generator, side: float) -> np.ndarray:
    """Poses moving smoothly from pose ``start`` to pose ``end`` over ``t_s`` (s, from 0), with tremor."""
    t = np.asarray(t_s, dtype=np.float64)
    D = max(float(t[-1]) if t.size else 0.0, 1e-9)
    s = min_jerk(t / D)[:, None]
    poses = start[None, :] * (1.0 - s) + end[None, :] * s
    env = _envelope(t / D, 0.2)  # tremor fades in and out: no jump at either end
    poses[:, 0] += env * _sines(rng, t, 3, 2.0, 8.0, 0.5 * side / 128)
    poses[:, 1] += env * _sines(rng, t, 3, 2.0, 8.0, 0.5 * side / 128)
    return poses
