"""A person's skeleton in 3-D, its two-link arm inverse kinematics, and the pinhole camera that
films it.

Coordinates (metres): the *person space* has its origin at the base of the neck, X to the right
of the picture, Y down, Z away from the camera the person faces (so a hand held out in front has
negative Z). A pose is an array ``[N, J, 3]`` of joint positions over ``N`` frames, joints indexed
by the constants below. "Left"/"right" joints are the ones on the picture's left/right when the
person faces the camera.

:class:`Camera` maps person-space points to sensor pixels (origin top-left, y down): a rotation
and position (look-at), a focal length in pixels and a principal point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# joint indices of a pose array [N, J, 3]
NECK, HEAD, SH_L, SH_R, EL_L, EL_R, WR_L, WR_R, HIP_L, HIP_R, KN_L, KN_R, AN_L, AN_R, PELVIS = range(15)
N_JOINTS = 15


@dataclass(frozen=True)
class BodyShape:
    """Segment lengths and widths of one person, metres."""

    shoulder_width: float
    hip_width: float
    torso_len: float  # neck base to hip line
    neck_len: float  # neck base to head centre
    head_h: float  # chin to crown
    upper_arm: float
    forearm: float
    hand_len: float  # wrist to fingertip
    arm_w: float
    forearm_w: float
    thigh: float
    shin: float
    leg_w: float
    neck_w: float

    @classmethod
    def random(cls, rng: np.random.Generator) -> BodyShape:
        """A plausible body (overall size and build drawn from ``rng``); lengths in metres."""
        s = rng.uniform(0.88, 1.1)  # overall size
        b = rng.uniform(0.85, 1.2)  # build (widths)
        return cls(
            shoulder_width=0.36 * s * b, hip_width=0.2 * s * b, torso_len=0.5 * s, neck_len=0.16 * s,
            head_h=0.23 * s, upper_arm=0.29 * s, forearm=0.26 * s, hand_len=0.185 * s,
            arm_w=0.095 * s * b, forearm_w=0.075 * s * b, thigh=0.44 * s, shin=0.43 * s,
            leg_w=0.16 * s * b, neck_w=0.11 * s * b,
        )

    @property
    def height(self) -> float:
        """Standing height, crown to sole (m)."""
        return self.neck_len + self.head_h / 2 + self.torso_len + self.thigh + self.shin + 0.05


def neutral_pose(shape: BodyShape) -> np.ndarray:
    """The joints ``[J, 3]`` of a person standing upright, arms hanging, facing the camera."""
    p = np.zeros((N_JOINTS, 3))
    sw, hw = shape.shoulder_width / 2, shape.hip_width / 2
    p[HEAD] = (0.0, -shape.neck_len, 0.0)
    p[SH_L], p[SH_R] = (-sw, 0.03, 0.0), (sw, 0.03, 0.0)
    p[EL_L], p[EL_R] = (-sw - 0.03, 0.03 + shape.upper_arm, 0.02), (sw + 0.03, 0.03 + shape.upper_arm, 0.02)
    p[WR_L] = p[EL_L] + (-0.01, shape.forearm, -0.02)
    p[WR_R] = p[EL_R] + (0.01, shape.forearm, -0.02)
    p[PELVIS] = (0.0, shape.torso_len, 0.0)
    p[HIP_L], p[HIP_R] = (-hw, shape.torso_len, 0.0), (hw, shape.torso_len, 0.0)
    p[KN_L], p[KN_R] = p[HIP_L] + (0.0, shape.thigh, 0.0), p[HIP_R] + (0.0, shape.thigh, 0.0)
    p[AN_L], p[AN_R] = p[KN_L] + (0.0, shape.shin, 0.0), p[KN_R] + (0.0, shape.shin, 0.0)
    return p


def two_link_ik(shoulder: np.ndarray, wrist: np.ndarray, a: float, b: float, pole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Elbow positions ``[N, 3]`` for upper arm ``a`` and forearm ``b`` (m) reaching from ``shoulder``
    to ``wrist`` (``[N, 3]`` each); the elbow bends toward ``pole`` (a direction, ``[3]`` or ``[N, 3]``).
    Returns ``(elbow, wrist)``: a target out of reach is pulled in to 99 % of the arm's length."""
    d_vec = wrist - shoulder
    d = np.linalg.norm(d_vec, axis=-1, keepdims=True)
    e = d_vec / np.maximum(d, 1e-9)
    dc = np.clip(d, abs(a - b) + 1e-3, 0.99 * (a + b))
    x = (a * a - b * b + dc * dc) / (2 * dc)
    h = np.sqrt(np.maximum(a * a - x * x, 0.0))
    pole = np.broadcast_to(np.asarray(pole, dtype=np.float64), d_vec.shape)
    n = pole - (pole * e).sum(-1, keepdims=True) * e
    n /= np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-9)
    return shoulder + e * x + n * h, shoulder + e * dc


def rot_y(angle: np.ndarray) -> np.ndarray:
    """Rotation matrices ``[..., 3, 3]`` about the vertical (Y) axis by ``angle`` (rad)."""
    c, s = np.cos(angle), np.sin(angle)
    z, o = np.zeros_like(c), np.ones_like(c)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


@dataclass(frozen=True)
class Camera:
    """A pinhole camera: ``R`` (person → camera axes, x right, y down, z forward), position ``pos``
    (person space, m), focal length ``f`` and principal point ``c`` (sensor px)."""

    R: np.ndarray
    pos: np.ndarray
    f: float
    c: tuple[float, float]

    @classmethod
    def look_at(cls, target: np.ndarray, distance: float, elevation: float, azimuth: float, roll: float,
                f: float, c: tuple[float, float]) -> Camera:
        """A camera ``distance`` m from ``target`` looking at it, ``elevation`` rad below it (negative:
        above), ``azimuth`` rad to the side, rolled by ``roll`` rad (clockwise in the picture)."""
        to_cam = np.array([np.sin(azimuth) * np.cos(elevation), np.sin(elevation), -np.cos(azimuth) * np.cos(elevation)])
        pos = np.asarray(target, dtype=np.float64) + distance * to_cam
        z = -to_cam
        x = np.cross(np.array([0.0, 1.0, 0.0]), z)
        x /= np.linalg.norm(x)
        y = np.cross(z, x)
        cr, sr = np.cos(roll), np.sin(roll)
        x, y = cr * x - sr * y, sr * x + cr * y
        return cls(np.stack([x, y, z]), pos, float(f), (float(c[0]), float(c[1])))

    def to_camera(self, p: np.ndarray) -> np.ndarray:
        """Person-space points ``[..., 3]`` in camera axes ``[..., 3]`` (z = depth, m)."""
        return (np.asarray(p) - self.pos) @ self.R.T

    def project(self, p: np.ndarray, shift: tuple[float, float] = (0.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
        """Pixel positions ``[..., 2]`` and depths ``[...]`` (m, at least 5 cm) of points ``[..., 3]``;
        ``shift`` (px) moves the picture (camera shake)."""
        q = self.to_camera(p)
        z = np.maximum(q[..., 2], 0.05)
        uv = np.stack([self.c[0] + shift[0] + self.f * q[..., 0] / z, self.c[1] + shift[1] + self.f * q[..., 1] / z], -1)
        return uv, z

    def direction_to_person(self, d_cam: np.ndarray) -> np.ndarray:
        """Camera-axes displacements ``[..., 3]`` (x right, y down, z away) as person-space ones."""
        return np.asarray(d_cam) @ self.R
