"""How a synthetic person moves during one sample: the gesturing hand's path per class, the arm
that follows it (two-link IK), the idle arm, body sway, breathing and head motion.

Gesture strokes are defined in *camera axes* (x right and y down in the picture, z away from the
camera) and turned into person space through the camera, so the label's image motion holds for
every framing and camera angle: ``swipe_left`` moves the hand toward the picture's left edge,
``push`` brings it toward the camera. Timing is in fractions of the sample: an optional raise from
the rest pose, the stroke (minimum-jerk / bell-shaped speed), an optional lowering back to rest,
with random holds between; every class draws these from the same distributions, and the ``other``
class is made of real non-gestures (see :data:`OTHER_KINDS`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snnstudio.events.synthetic.body import (
    AN_L, AN_R, EL_L, EL_R, HEAD, HIP_L, HIP_R, KN_L, KN_R, NECK, SH_L, SH_R, WR_L, WR_R, BodyShape, Camera, neutral_pose, rot_y, two_link_ik,
)
from snnstudio.events.synthetic.motion import _sines, gesture_id, min_jerk

#: the non-gestures of class ``other``, drawn with equal probability
OTHER_KINDS: tuple[str, ...] = ("still", "fingers", "reach", "scratch", "raise_lower", "turn", "passer_by")

#: how long the stroke lasts (s), drawn uniformly: a wave, and every other stroke
STROKE_S = {"wave": (0.8, 1.3), "stroke": (0.4, 1.1)}
#: the classes whose stroke may begin with a wind-up (the hand going the other way first), how
#: often, and how long it takes (s)
WIND_UP_CLASSES = ("swipe_left", "swipe_right", "swipe_up", "swipe_down", "push", "pull")
WIND_UP_P = 0.6
WIND_UP_S = (0.25, 0.6)

_SWIPES = {"swipe_left": (-1.0, 0.0), "swipe_right": (1.0, 0.0), "swipe_up": (0.0, -1.0), "swipe_down": (0.0, 1.0)}


@dataclass
class Staging:
    """Where the action happens (person space, m): the gesturing side (−1 picture-left, +1 right),
    the stroke's centre, the hands' rest positions, and whether the person stands (legs shown)."""

    side: int
    centre: np.ndarray
    rest: np.ndarray  # [2, 3]: rest wrist of the picture-left and picture-right arm
    standing: bool
    #: whether torso, head and the idle arm are in the picture (a close-up may show the arm alone)
    trunk: bool = True
    #: range of the wave's hand travel (m): larger for a person seen whole
    wave_amp: tuple[float, float] = (0.03, 0.13)


@dataclass
class PersonTrack:
    """A person over ``N`` frames: joints ``[N, J, 3]``, hand roll ``[N, 2]`` (rad, counter-clockwise
    in the picture), grip ``[N, 2]`` (0 open … 1 fist); ``other_kind`` for class ``other``;
    ``stroke_s`` when the stroke starts and ends (s) and ``wind_up_s`` how long the wind-up
    before it lasts (0: none)."""

    joints: np.ndarray
    hand_roll: np.ndarray
    grip: np.ndarray
    other_kind: str | None = None
    stroke_s: tuple[float, float] = (0.0, 0.0)
    wind_up_s: float = 0.0


def _bump(t: np.ndarray, t0: float, dur: float) -> np.ndarray:
    """Minimum-jerk step from 0 (before ``t0``) to 1 (after ``t0 + dur``)."""
    return min_jerk((t - t0) / max(dur, 1e-9))


def _wind_up(u: np.ndarray, wind: float, start: float, end: float) -> np.ndarray:
    """Before the stroke (``u < 0``): the position (in stroke units) going from ``start`` to
    ``end`` over the last ``wind`` of progress before it (minimum jerk), ``start`` earlier."""
    return start + (end - start) * min_jerk((u + wind) / wind)


def _stroke(name: str, rng: np.random.Generator, u: np.ndarray, t: np.ndarray, t_stroke: tuple[float, float],
            cam_dist: float, wave_amp: tuple[float, float], wind: float = 0.0,
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, str | None]:
    """The gesture's hand displacement ``[N, 3]`` (camera axes, m), extra roll and grip, along
    progress ``u`` (clipped to [0, 1] outside the stroke). ``wind`` > 0 (in units of the
    stroke's duration): swipes, push and pull begin with a wind-up over that time before the
    stroke, the hand going the other way to where the stroke starts (as people do: the real clips
    show the hand moving back before a swipe, often further than the swipe itself)."""
    n = len(t)
    uc = np.clip(u, 0.0, 1.0)
    d = np.zeros((n, 3))
    roll = np.zeros(n)
    grip = np.zeros(n)
    kind = None
    inside = (u >= 0) & (u <= 1)
    env = min_jerk(u / 0.15) * min_jerk((1.0 - u) / 0.15)
    env[~inside] = 0.0
    if name in _SWIPES:
        dx, dy = _SWIPES[name]
        jit = np.deg2rad(rng.uniform(-12.0, 12.0))
        dx, dy = dx * np.cos(jit) - dy * np.sin(jit), dx * np.sin(jit) + dy * np.cos(jit)
        amp = rng.uniform(0.25, 0.5)
        bulge = rng.uniform(-0.05, 0.05)
        s = min_jerk(uc) - 0.5
        if wind > 0:  # from ahead of the start (up to the stroke's far end) back to its start
            pre = u < 0
            s[pre] = _wind_up(u[pre], wind, -0.5 + rng.uniform(0.3, 1.0), -0.5)
        arc = np.sin(np.pi * uc)
        d[:, 0] = s * amp * dx - arc * bulge * dy
        d[:, 1] = s * amp * dy + arc * bulge * dx
        d[:, 2] = -arc * rng.uniform(0.0, 0.06)
        roll = -np.sign(dx) * arc * rng.uniform(0.0, 0.35)
    elif name in ("circle_cw", "circle_ccw"):
        r = rng.uniform(0.06, 0.15)
        revs = rng.uniform(0.8, 1.4)
        phi0 = rng.uniform(0, 2 * np.pi)
        sign = 1.0 if name == "circle_cw" else -1.0  # y down: increasing angle turns clockwise in the picture
        phi = phi0 + sign * 2 * np.pi * revs * (uc - np.sin(2 * np.pi * uc) / (2 * np.pi))
        d[:, 0] = r * (np.cos(phi) - np.cos(phi0))
        d[:, 1] = r * (np.sin(phi) - np.sin(phi0))
    elif name == "wave":
        amp = rng.uniform(*wave_amp)
        roll_amp = rng.uniform(0.2, 0.6)
        freq = rng.uniform(1.5, 3.5)
        osc = np.sin(2 * np.pi * freq * (t - t_stroke[0])) * env
        d[:, 0] = amp * osc
        d[:, 1] = -np.abs(osc) * amp * rng.uniform(0.0, 0.3)  # the hand swings on an arc about the elbow
        roll = -roll_amp * osc  # moving right tilts the fingers right (clockwise)
    elif name in ("push", "pull"):
        depth = min(rng.uniform(0.15, 0.32), 0.45 * cam_dist)
        grow = min_jerk(uc) if name == "push" else 1.0 - min_jerk(uc)
        if wind > 0:  # a push draws the hand back first, a pull reaches out first
            pre = u < 0
            g0 = rng.uniform(0.3, 1.0)
            grow[pre] = _wind_up(u[pre], wind, g0, 0.0) if name == "push" else _wind_up(u[pre], wind, 1.0 - g0, 1.0)
        d[:, 2] = depth * (1.0 - grow)  # toward the camera as it grows, ending at the (reachable) centre
        d[:, 0] = rng.uniform(-0.04, 0.04) * grow
        d[:, 1] = rng.uniform(-0.04, 0.04) * grow
        grip = np.clip(rng.uniform(-0.3, 0.3) * grow, 0, 1)
    else:
        kind = OTHER_KINDS[int(rng.integers(len(OTHER_KINDS)))]
        if kind in ("still", "turn", "passer_by"):
            d[:, 0] = _sines(rng, t, 2, 0.1, 0.6, rng.uniform(0.005, 0.03))
            d[:, 1] = _sines(rng, t, 2, 0.1, 0.6, rng.uniform(0.005, 0.03))
        elif kind == "fingers":  # clicks, show fingers, thumbs, open/close: the hand stays put
            style = rng.integers(3)
            if style == 0:  # clicks: quick partial closures
                k = int(rng.integers(1, 4))
                centres = np.sort(rng.uniform(0.1, 0.9, k))
                for c in centres:
                    grip = np.maximum(grip, rng.uniform(0.4, 0.8) * np.exp(-(((u - c) / 0.06) ** 2)))
            elif style == 1:  # open ↔ fist (show fingers / grab)
                g0 = float(rng.integers(2))
                grip = np.abs(g0 - min_jerk(u / 0.4) * (1.0 - min_jerk((u - 0.7) / 0.3)))
            else:  # thumbs / OK: close and turn the hand a little
                grip = min_jerk(u / 0.3) * (1.0 - min_jerk((u - 0.8) / 0.2)) * rng.uniform(0.6, 1.0)
                roll = rng.uniform(-0.6, 0.6) * grip
            d[:, 0] = _sines(rng, t, 2, 0.3, 1.5, rng.uniform(0.003, 0.012))
            d[:, 1] = _sines(rng, t, 2, 0.3, 1.5, rng.uniform(0.003, 0.012))
        elif kind == "reach":  # a one-way move off the gesture axes, partly in depth (to the desk, a cup)
            a = np.deg2rad(rng.choice([45.0, 135.0, 225.0, 315.0]) + rng.uniform(-15.0, 15.0))
            amp = rng.uniform(0.1, 0.3)
            s = min_jerk(uc)
            d[:, 0] = s * amp * np.cos(a)
            d[:, 1] = s * amp * np.sin(a)
            d[:, 2] = s * rng.uniform(-0.15, 0.15)
        elif kind == "scratch":  # filled in by the caller (needs the head); small fast rubbing here
            d[:, 0] = 0.012 * np.sin(2 * np.pi * rng.uniform(3.0, 5.0) * t) * env
            d[:, 1] = 0.008 * np.sin(2 * np.pi * rng.uniform(3.0, 5.0) * t + 1.0) * env
        elif kind == "raise_lower":  # the arm goes up slowly and comes down again
            h = rng.uniform(0.15, 0.35)
            d[:, 1] = -h * np.sin(np.pi * uc) ** 2
            d[:, 0] = rng.uniform(-0.08, 0.08) * np.sin(np.pi * uc) ** 2
    return d, roll, grip, kind


def person_track(name: str, rng: np.random.Generator, t_s: np.ndarray, shape: BodyShape, stage: Staging,
                 cam: Camera, *, calm: bool = False) -> PersonTrack:
    """Joints and hand state of a person performing gesture ``name`` at times ``t_s`` (s, from 0).
    ``calm``: no raise/lower phases, no body sway (for tests: the stroke alone moves)."""
    gesture_id(name)
    t = np.asarray(t_s, dtype=np.float64)
    n = len(t)
    D = max(float(t[-1]) if n else 0.0, 1e-6)
    # ---- timing (the same draws for every class)
    raise_d = rng.uniform(0.1, 0.2) * D if (not calm and rng.random() < 0.3) else 0.0
    lower_d = rng.uniform(0.08, 0.15) * D if (not calm and rng.random() < 0.2) else 0.0
    free = D - raise_d - lower_d
    # strokes of real people take 0.4–1.1 s (a wave a little longer: two or more swings); the
    # rest of the sample is holds, so the stroke, not the raise or lowering, is the main motion
    lo, hi = STROKE_S["wave" if name == "wave" else "stroke"]
    active = min(rng.uniform(lo, hi), rng.uniform(0.6, 0.9) * free)
    gaps = rng.dirichlet([1.0, 1.0, 1.0, 1.0]) * (D - raise_d - lower_d - active)
    # a wind-up before swipes, push and pull (most people make one), taken from the time before
    # the stroke: the hold there shrinks, or the stroke starts later
    wind_d = 0.0
    if not calm and name in WIND_UP_CLASSES and rng.random() < WIND_UP_P:
        wind_d = min(rng.uniform(*WIND_UP_S), gaps[1] + gaps[3])
        if wind_d < 0.15:
            wind_d = 0.0
        shift = max(0.0, wind_d - gaps[1])  # take what the hold before the stroke lacks from the last hold
        gaps[1] += shift
        gaps[3] -= shift
    t_raise = gaps[0]
    t_s0 = t_raise + raise_d + gaps[1]
    t_s1 = t_s0 + active
    t_lower = t_s1 + gaps[2]
    u = (t - t_s0) / active
    # ---- the stroke in camera axes → person space
    cam_dist = float(np.linalg.norm(stage.centre - cam.pos))
    base_roll = rng.uniform(-0.3, 0.3)
    d_cam, roll, grip, kind = _stroke(name, rng, u, t, (t_s0, t_s1), cam_dist, stage.wave_amp, wind_d / active)
    d_cam[:, 0] += _sines(rng, t, 3, 2.0, 8.0, rng.uniform(0.001, 0.004))  # tremor
    d_cam[:, 1] += _sines(rng, t, 3, 2.0, 8.0, rng.uniform(0.001, 0.004))
    wrist = stage.centre[None, :] + cam.direction_to_person(d_cam)
    s = stage.side
    gi = 1 if s > 0 else 0  # gesturing arm index (0 picture-left, 1 right)
    rest_g = stage.rest[gi]
    base = neutral_pose(shape)
    if kind == "scratch":  # to the side of the head and back, rubbing there
        target = base[HEAD] + np.array([s * shape.head_h * 0.45, -0.02, -0.06])
        go = _bump(u, 0.0, 0.3) * (1.0 - _bump(u, 0.75, 0.25))
        wrist = wrist * (1 - go[:, None]) + (target[None, :] + d_cam) * go[:, None]
    up = _bump(t, t_raise, raise_d) if raise_d > 0 else np.ones(n)
    down = _bump(t, t_lower, lower_d) if lower_d > 0 else np.zeros(n)
    on = (up * (1.0 - down))[:, None]
    wrist = rest_g[None, :] + (wrist - rest_g[None, :]) * on
    # ---- body: breathing, sway, head, idle arm
    joints = np.repeat(base[None], n, axis=0)
    sway_amp = 0.0 if calm else rng.uniform(0.003, 0.015)
    breath = (0.0 if calm else rng.uniform(0.002, 0.006)) * np.sin(2 * np.pi * rng.uniform(0.2, 0.35) * t + rng.uniform(0, 6.3))
    joints[:, [SH_L, SH_R, NECK, HEAD], 1] -= breath[:, None]
    head_amp = 0.0 if calm else rng.uniform(0.003, 0.02)
    joints[:, HEAD, 0] += _sines(rng, t, 2, 0.1, 0.8, head_amp)
    joints[:, HEAD, 1] += _sines(rng, t, 2, 0.1, 0.8, head_amp * 0.4)
    idle = np.repeat(stage.rest[1 - gi][None], n, axis=0)
    idle_amp = 0.0 if calm else rng.uniform(0.0, 0.04)
    idle += np.stack([_sines(rng, t, 2, 0.1, 0.7, idle_amp), _sines(rng, t, 2, 0.1, 0.7, idle_amp),
                      _sines(rng, t, 2, 0.1, 0.7, idle_amp)], 1)
    wr = {gi: wrist, 1 - gi: idle}
    for i, (sh, el, wj) in enumerate(((SH_L, EL_L, WR_L), (SH_R, EL_R, WR_R))):
        side = -1.0 if i == 0 else 1.0
        pole = np.array([side * 0.6, 1.0, 0.35])
        joints[:, el], joints[:, wj] = two_link_ik(joints[:, sh], wr[i], shape.upper_arm, shape.forearm, pole)
    # ---- whole-body sway (and the turn of `other`): a yaw about the neck plus a translation
    yaw = _sines(rng, t, 2, 0.1, 0.5, 0.0 if calm else rng.uniform(0.0, 0.05))
    if kind == "turn":
        ang = rng.choice([-1.0, 1.0]) * rng.uniform(0.35, 0.9)
        back = rng.random() < 0.5
        yaw = yaw + ang * min_jerk(u / (0.5 if back else 1.0)) * (1.0 - (min_jerk((u - 0.5) / 0.5) if back else 0.0))
    Ry = rot_y(yaw)
    joints = np.einsum("nij,nkj->nki", Ry, joints)
    joints[:, :, 0] += _sines(rng, t, 2, 0.1, 0.6, sway_amp)[:, None]
    joints[:, :, 1] += _sines(rng, t, 2, 0.1, 0.6, sway_amp * 0.3)[:, None]
    hand_roll = np.zeros((n, 2))
    hand_roll[:, gi] = base_roll + roll
    hand_roll[:, 1 - gi] = rng.uniform(-0.3, 0.3)
    g = np.zeros((n, 2))
    g[:, gi] = grip
    g[:, 1 - gi] = rng.uniform(0.0, 1.0)
    return PersonTrack(joints, hand_roll, g, kind, (float(t_s0), float(t_s1)), float(wind_d))


def walker_track(rng: np.random.Generator, t_s: np.ndarray, shape: BodyShape, start_x: float, speed: float) -> np.ndarray:
    """Joints ``[N, J, 3]`` of a person walking along X (``speed`` m/s, signed) from ``start_x``:
    legs and arms swing in opposition at the step rate, the body bobs."""
    t = np.asarray(t_s, dtype=np.float64)
    base = neutral_pose(shape)
    step_hz = abs(speed) / 0.7
    ph = 2 * np.pi * step_hz * t + rng.uniform(0, 2 * np.pi)
    j = np.repeat(base[None], len(t), axis=0)
    for hip, knee, ank, sgn in ((HIP_L, KN_L, AN_L, 1.0), (HIP_R, KN_R, AN_R, -1.0)):
        a = 0.45 * sgn * np.sin(ph)  # leg swing (rad) in the walking direction
        dirn = np.sign(speed) or 1.0
        j[:, knee, 0] = j[:, hip, 0] + dirn * shape.thigh * np.sin(a)
        j[:, knee, 1] = j[:, hip, 1] + shape.thigh * np.cos(a)
        b = a - 0.3 * np.clip(np.sin(ph * sgn + 1.0), 0, 1)
        j[:, ank, 0] = j[:, knee, 0] + dirn * shape.shin * np.sin(b)
        j[:, ank, 1] = j[:, knee, 1] + shape.shin * np.cos(b)
    for sh, el, wr, sgn in ((SH_L, EL_L, WR_L, -1.0), (SH_R, EL_R, WR_R, 1.0)):
        a = 0.35 * sgn * np.sin(ph)
        dirn = np.sign(speed) or 1.0
        j[:, el, 0] = j[:, sh, 0] + dirn * shape.upper_arm * np.sin(a)
        j[:, el, 1] = j[:, sh, 1] + shape.upper_arm * np.cos(a)
        j[:, wr, 0] = j[:, el, 0] + dirn * shape.forearm * np.sin(a * 1.3)
        j[:, wr, 1] = j[:, el, 1] + shape.forearm * np.cos(a * 1.3)
    j[:, :, 0] += start_x + speed * t[:, None]
    j[:, :, 1] -= 0.015 * np.abs(np.sin(ph))[:, None]
    return j
