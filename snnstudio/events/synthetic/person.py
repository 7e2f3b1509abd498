"""What a synthetic person looks like, and drawing a posed person into a frame.

Every body part is a textured sprite drawn once per sample (premultiplied intensity + alpha,
float32, kept as a small mip pyramid): tapered limbs with cylindrical shading and cloth folds, a
torso with a neckline and shirt texture, a head with hair and face marks, and hands (the v2 hand
sprite, open to closed in :data:`GRIP_LEVELS` steps). Per frame each part is placed by one affine
warp of the region it covers, far parts first (painter's order), so texture moves with the limb
and motion produces events inside the outlines as well as on them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from snnstudio.events.synthetic.body import (
    AN_L, AN_R, EL_L, EL_R, HEAD, HIP_L, HIP_R, KN_L, KN_R, NECK, PELVIS, SH_L, SH_R, WR_L, WR_R, BodyShape, Camera,
)
from snnstudio.events.synthetic.hand import HAND_HEIGHT, PALM_CENTER, WRIST_OFFSET, draw_hand

_WARP = dict(flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
#: hand closure levels pre-drawn (0 open, 1 fist)
GRIP_LEVELS = 5


@dataclass(frozen=True)
class MipSprite:
    """A sprite as a pyramid: ``levels[k] = (premult, alpha)`` at ``1 / 2**k`` of full size."""

    levels: tuple[tuple[np.ndarray, np.ndarray], ...]

    @classmethod
    def of(cls, intensity: np.ndarray, alpha: np.ndarray, n_levels: int = 4) -> MipSprite:
        """The pyramid of ``intensity`` and ``alpha`` (``[h, w]`` in [0, 1]): up to ``n_levels`` halvings,
        stopping below 8 pixels."""
        p, a = (intensity * alpha).astype(np.float32), alpha.astype(np.float32)
        levels = [(p, a)]
        for _ in range(n_levels - 1):
            if min(a.shape) < 8:
                break
            p, a = cv2.pyrDown(p), cv2.pyrDown(a)
            levels.append((p, a))
        return cls(tuple(levels))


def paste(frame: np.ndarray, sprite: MipSprite, M: np.ndarray) -> None:
    """Alpha-composite ``sprite`` warped by ``M`` (2×3, full-size sprite px → frame px) into
    ``frame`` in place, from the pyramid level that is not minified by more than 2×."""
    scale = math.sqrt(abs(M[0, 0] * M[1, 1] - M[0, 1] * M[1, 0]))
    k = 0
    while k + 1 < len(sprite.levels) and scale * 2 ** (k + 1) <= 1.0:
        k += 1
    p, a = sprite.levels[k]
    if k:
        s = 2.0**k
        # level-k pixel x_k sits at full-size x = s·x_k + (s − 1)/2
        L = M[:, :2] * s
        M = np.concatenate([L, (M[:, 2] + M[:, :2] @ np.array([(s - 1) / 2, (s - 1) / 2]))[:, None]], 1)
    H, W = frame.shape
    h, w = a.shape
    (m00, m01, tx), (m10, m11, ty) = M.tolist()
    xs = (tx, tx + m00 * w, tx + m01 * h, tx + m00 * w + m01 * h)
    ys = (ty, ty + m10 * w, ty + m11 * h, ty + m10 * w + m11 * h)
    x0, y0 = max(math.floor(min(xs)) - 1, 0), max(math.floor(min(ys)) - 1, 0)
    x1, y1 = min(math.ceil(max(xs)) + 2, W), min(math.ceil(max(ys)) + 2, H)
    if x1 <= x0 or y1 <= y0:
        return
    Mr = np.array([[m00, m01, tx - x0], [m10, m11, ty - y0]])
    size = (x1 - x0, y1 - y0)
    alpha = cv2.warpAffine(a, Mr, size, **_WARP)
    prem = cv2.warpAffine(p, Mr, size, **_WARP)
    roi = frame[y0:y1, x0:x1]
    alpha -= 1.0
    roi *= alpha
    np.subtract(prem, roi, out=roi)  # roi·(1 − α) + premult


def _noise(rng: np.random.Generator, shape, sigma: float) -> np.ndarray:
    n = cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), sigma)
    return (n - n.mean()) / (n.std() + 1e-6)


def _folds(rng: np.random.Generator, shape, count: int, strength: float) -> np.ndarray:
    """Soft light/dark streaks (cloth folds), zero mean-ish, ``[h, w]`` float32."""
    h, w = shape
    img = np.zeros((h * 4, w * 4), np.float32)
    for _ in range(count):
        x, y = rng.uniform(0, w * 4), rng.uniform(0, h * 4)
        ang = rng.uniform(0, np.pi)
        ln = rng.uniform(0.3, 0.9) * max(h, w) * 4
        d = np.array([np.cos(ang), np.sin(ang)]) * ln / 2
        v = float(rng.choice([-1.0, 1.0]))
        cv2.line(img, (int(x - d[0]), int(y - d[1])), (int(x + d[0]), int(y + d[1])), v, int(rng.integers(2, 7)), cv2.LINE_AA)
    img = cv2.resize(cv2.GaussianBlur(img, (0, 0), 3.0), (w, h), interpolation=cv2.INTER_AREA)
    return strength * img / (np.abs(img).max() + 1e-6)


# limb sprite geometry (sprite px): the axis runs along y = LIMB_W/2 + 2 from x = LIMB_X0 to LIMB_X0 + LIMB_LEN
LIMB_LEN, LIMB_W = 64.0, 24.0
LIMB_X0 = LIMB_W / 2 + 2
_LIMB_YC = LIMB_W / 2 + 2


def limb_sprite(rng: np.random.Generator, value: float, *, taper: float, texture: float, cloth: bool,
                cuff: tuple[float, float] | None = None) -> MipSprite:
    """A tapered, round-ended limb of mean luma ``value``; ``cuff = (x fraction, luma)`` makes the
    part beyond that fraction of the length another material (a sleeve ending on skin)."""
    h, w = int(LIMB_W + 4), int(LIMB_LEN + LIMB_W + 4)
    mask = np.zeros((h * 4, w * 4), np.uint8)
    r0, r1 = LIMB_W / 2, LIMB_W / 2 * taper
    x0, x1, yc = LIMB_X0, LIMB_X0 + LIMB_LEN, _LIMB_YC
    poly = np.array([[x0, yc - r0], [x1, yc - r1], [x1, yc + r1], [x0, yc + r0]]) * 4
    cv2.fillConvexPoly(mask, poly.astype(np.int32), 255, cv2.LINE_AA)
    cv2.circle(mask, (int(x0 * 4), int(yc * 4)), int(r0 * 4), 255, -1, cv2.LINE_AA)
    cv2.circle(mask, (int(x1 * 4), int(yc * 4)), int(r1 * 4), 255, -1, cv2.LINE_AA)
    alpha = cv2.resize(mask, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    across = (yy - yc) / r0
    shade = 0.72 + 0.28 * np.cos(np.clip(across, -1, 1) * np.pi / 2) + rng.uniform(-0.12, 0.12) * across
    tex = 1.0 + texture * (0.09 * _noise(rng, (h, w), 3.0) + 0.04 * _noise(rng, (h, w), 1.0))
    if cloth:
        tex += texture * _folds(rng, (h, w), int(rng.integers(3, 8)), 0.25)
    inten = value * shade * tex
    if cuff is not None:
        frac, skin = cuff
        edge = x0 + frac * LIMB_LEN
        k = np.clip((xx - edge) / 1.5 + 0.5, 0.0, 1.0)
        skin_tex = skin * shade * (1.0 + 0.06 * texture * _noise(rng, (h, w), 3.0))
        inten = inten * (1 - k) + skin_tex * k
    return MipSprite.of(np.clip(inten, 0, 1), alpha)


# torso sprite geometry: shoulder joints and pelvis centre on the canvas
TORSO_SIZE = (64, 84)  # w, h
TORSO_SH_L, TORSO_SH_R, TORSO_PELVIS = (10.0, 10.0), (54.0, 10.0), (32.0, 80.0)


def torso_sprite(rng: np.random.Generator, shirt: float, skin: float, *, texture: float) -> MipSprite:
    """A shirt-clad torso (shoulders, chest, waist), a neckline of skin at the top."""
    w, h = TORSO_SIZE
    S = 4
    mask = np.zeros((h * S, w * S), np.uint8)
    waist = rng.uniform(0.75, 0.95)
    half_w = 27.0
    poly = np.array([[32 - half_w, 14], [32 - half_w * waist, 84], [32 + half_w * waist, 84], [32 + half_w, 14],
                     [52, 4], [12, 4]]) * S
    cv2.fillPoly(mask, [poly.astype(np.int32)], 255, cv2.LINE_AA)
    for cx in (TORSO_SH_L[0] - 1, TORSO_SH_R[0] + 1):
        cv2.circle(mask, (int(cx * S), int(12 * S)), int(9 * S), 255, -1, cv2.LINE_AA)
    alpha = cv2.resize(mask, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    across = (xx - 32) / half_w
    shade = 0.75 + 0.25 * np.cos(np.clip(across, -1, 1) * np.pi / 2) + rng.uniform(-0.15, 0.15) * across
    tex = 1.0 + texture * (0.08 * _noise(rng, (h, w), 4.0) + 0.03 * _noise(rng, (h, w), 1.0))
    tex += texture * _folds(rng, (h, w), int(rng.integers(4, 10)), 0.3)
    pattern = rng.random()
    if pattern < 0.25:  # stripes
        period = rng.uniform(4, 10)
        ang = rng.choice([0.0, np.pi / 2]) + rng.uniform(-0.1, 0.1)
        tex += 0.15 * texture * np.sign(np.sin((xx * np.cos(ang) + yy * np.sin(ang)) * 2 * np.pi / period))
    elif pattern < 0.4:  # a print on the chest
        cv2.ellipse(tex, (32, int(rng.uniform(30, 50))), (int(rng.uniform(6, 14)), int(rng.uniform(4, 10))), 0, 0, 360,
                    float(1.0 + rng.choice([-0.4, 0.4])), -1, cv2.LINE_AA)
    inten = shirt * shade * tex
    neck = np.zeros((h, w), np.float32)  # the neckline: a skin half-disc under the neck
    cv2.ellipse(neck, (32, 4), (int(rng.uniform(6, 10)), int(rng.uniform(4, 12))), 0, 0, 180, 1.0, -1, cv2.LINE_AA)
    neck = cv2.GaussianBlur(neck, (0, 0), 0.7)
    inten = inten * (1 - neck) + skin * 0.9 * neck
    return MipSprite.of(np.clip(inten, 0, 1), alpha)


# head sprite: centre of the face and its height on the canvas
HEAD_SIZE = (48, 60)
HEAD_CENTRE = (24.0, 32.0)
HEAD_FACE_H = 44.0


def head_sprite(rng: np.random.Generator, skin: float, hair: float, *, texture: float) -> MipSprite:
    """A face-on head: skin oval, hair cap (length varies), ears, eye/brow/mouth marks, soft shading."""
    w, h = HEAD_SIZE
    cx, cy = HEAD_CENTRE
    S = 4
    face = np.zeros((h * S, w * S), np.uint8)
    fw, fh = rng.uniform(14, 17), HEAD_FACE_H / 2
    cv2.ellipse(face, (int(cx * S), int(cy * S)), (int(fw * S), int(fh * S)), 0, 0, 360, 255, -1, cv2.LINE_AA)
    for sx in (-1, 1):  # ears
        cv2.ellipse(face, (int((cx + sx * fw) * S), int(cy * S)), (int(3 * S), int(5 * S)), 0, 0, 360, 255, -1, cv2.LINE_AA)
    hair_m = np.zeros_like(face)
    top = cy - fh - rng.uniform(1, 4)
    length = rng.uniform(0.0, 1.0)  # 0 short, 1 long (to the shoulders)
    cv2.ellipse(hair_m, (int(cx * S), int((cy - 4) * S)), (int((fw + 2) * S), int((cy - 4 - top) * S)), 0, 180, 360,
                255, -1, cv2.LINE_AA)
    cv2.rectangle(hair_m, (int((cx - fw - 2) * S), int((cy - 5) * S)),
                  (int((cx + fw + 2) * S), int((cy - 5 + length * 30) * S)), 255, -1, cv2.LINE_AA)
    # the face stays uncovered below the fringe
    fringe = cy - fh * rng.uniform(0.35, 0.6)
    cv2.ellipse(hair_m, (int(cx * S), int((cy + 4) * S)), (int((fw - 3) * S), int((cy + 4 - fringe) * S)), 0, 0, 360, 0, -1,
                cv2.LINE_AA)
    face_a = cv2.resize(face, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    hair_a = cv2.resize(hair_m, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    alpha = np.maximum(face_a, hair_a)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.hypot((xx - cx) / fw, (yy - cy) / fh)
    shade = 0.7 + 0.3 * np.clip(1.0 - r * r, 0, 1) + rng.uniform(-0.12, 0.12) * (xx - cx) / fw
    face_i = skin * shade * (1.0 + 0.05 * texture * _noise(rng, (h, w), 2.0))
    marks = np.zeros((h, w), np.float32)
    ey = cy - fh * 0.1
    for sx in (-1, 1):
        cv2.ellipse(marks, (int(cx + sx * fw * 0.42), int(ey)), (3, 1), 0, 0, 360, 1.0, -1, cv2.LINE_AA)
        cv2.line(marks, (int(cx + sx * fw * 0.2), int(ey - 4)), (int(cx + sx * fw * 0.7), int(ey - 5)), 0.6, 1, cv2.LINE_AA)
    cv2.line(marks, (int(cx - 4), int(cy + fh * 0.5)), (int(cx + 4), int(cy + fh * 0.5)), 0.7, 1, cv2.LINE_AA)
    cv2.line(marks, (int(cx), int(ey + 2)), (int(cx + 1), int(cy + fh * 0.3)), 0.3, 1, cv2.LINE_AA)
    face_i *= 1.0 - 0.45 * cv2.GaussianBlur(marks, (0, 0), 0.6)
    hair_i = hair * (0.8 + 0.4 * (0.5 + 0.5 * _folds(rng, (h, w), 12, 1.0))) * (1.0 + 0.1 * _noise(rng, (h, w), 1.0))
    inten = face_i * (1 - hair_a) + hair_i * hair_a
    return MipSprite.of(np.clip(inten, 0, 1), alpha)


def hand_sprites(rng: np.random.Generator, skin: float, *, texture: float, left: bool) -> tuple[MipSprite, ...]:
    """One hand in :data:`GRIP_LEVELS` closures, open (index 0) to a fist (last): the v2 hand
    sprite with its fingers progressively folded away above the knuckles."""
    spread = float(rng.uniform(0.1, 0.9))
    hand = draw_hand(rng, brightness=skin, texture=texture, spread=spread, left=left)
    alpha = hand.alpha
    inten = hand.premult / np.maximum(alpha, 1e-4)
    pv = PALM_CENTER[1]
    vv = np.arange(alpha.shape[0], dtype=np.float32)[:, None]
    out = []
    for g in np.linspace(0.0, 1.0, GRIP_LEVELS):
        cut = pv - 30.0 - (1.0 - g) * 60.0  # fingers shorten toward the knuckle line at pv − 30
        keep = np.clip((vv - cut) / 3.0, 0.0, 1.0)
        a = alpha * keep
        knuckles = 1.0 - 0.25 * g * np.exp(-(((vv - (cut + 3.0)) / 3.0) ** 2))
        out.append(MipSprite.of(np.clip(inten * knuckles, 0, 1), a))
    return tuple(out)


@dataclass(frozen=True)
class Look:
    """Lumas (0–1) of a person's materials and the sprites drawn from them."""

    skin: float
    shirt: float
    trousers: float
    hair: float
    long_sleeves: bool


@dataclass
class PersonSprites:
    """All sprites of one person (index 0 = picture-left side, 1 = right)."""

    look: Look
    torso: MipSprite
    head: MipSprite
    neck: MipSprite
    upper_arm: tuple[MipSprite, MipSprite]
    forearm: tuple[MipSprite, MipSprite]
    thigh: tuple[MipSprite, MipSprite]
    shin: tuple[MipSprite, MipSprite]
    hands: tuple[tuple[MipSprite, ...], tuple[MipSprite, ...]]

    @classmethod
    def draw(cls, rng: np.random.Generator, look: Look, texture: float = 1.0) -> PersonSprites:
        """A person's limb and hand sprites for ``look`` (sleeves, skin, shirt), drawn from ``rng``."""
        sleeve_end = None if look.long_sleeves else (rng.uniform(0.3, 0.8), look.skin)
        ua = tuple(limb_sprite(rng, look.shirt, taper=0.8, texture=texture, cloth=True, cuff=sleeve_end) for _ in range(2))
        fa_value = look.shirt if look.long_sleeves else look.skin
        fa = tuple(limb_sprite(rng, fa_value, taper=0.72, texture=texture, cloth=look.long_sleeves,
                               cuff=(rng.uniform(0.85, 0.95), look.skin) if look.long_sleeves else None) for _ in range(2))
        th = tuple(limb_sprite(rng, look.trousers, taper=0.8, texture=texture, cloth=True) for _ in range(2))
        sh = tuple(limb_sprite(rng, look.trousers, taper=0.75, texture=texture, cloth=True) for _ in range(2))
        left_first = bool(rng.random() < 0.5)
        hands = (hand_sprites(rng, look.skin, texture=texture, left=left_first),
                 hand_sprites(rng, look.skin, texture=texture, left=not left_first))
        return cls(look, torso_sprite(rng, look.shirt, look.skin, texture=texture),
                   head_sprite(rng, look.skin, look.hair, texture=texture),
                   limb_sprite(rng, look.skin * 0.9, taper=0.95, texture=texture, cloth=False),
                   ua, fa, th, sh, hands)  # type: ignore[arg-type]


def limb_matrix(p0: np.ndarray, p1: np.ndarray, width_px: float) -> np.ndarray:
    """Affine map placing a :func:`limb_sprite` from pixel ``p0`` to ``p1``, ``width_px`` wide."""
    d = p1 - p0
    ln = math.hypot(d[0], d[1])
    u = d / ln if ln > 1e-6 else np.array([0.0, 1.0])
    ln = max(ln, 0.35 * width_px)  # a limb pointing at the camera still shows its cross-section
    eu = u * (ln / LIMB_LEN)
    ev = np.array([-u[1], u[0]]) * (width_px / LIMB_W)
    t = p0 - LIMB_X0 * eu - _LIMB_YC * ev
    return np.array([[eu[0], ev[0], t[0]], [eu[1], ev[1], t[1]]])


def three_point_matrix(src: tuple, dst: np.ndarray) -> np.ndarray:
    """The affine map taking three sprite points ``src`` to pixels ``dst`` ``[3, 2]``."""
    A = np.array([[x, y, 1.0] for x, y in src])
    return np.linalg.solve(A, np.asarray(dst, dtype=np.float64)).T


def similarity_matrix(centre_src: tuple[float, float], centre_dst: np.ndarray, scale: float, up: np.ndarray) -> np.ndarray:
    """Affine map: sprite point ``centre_src`` → pixel ``centre_dst``, sprite up (−v) → direction ``up``."""
    n = math.hypot(up[0], up[1])
    ux, uy = (up[0] / n, up[1] / n) if n > 1e-9 else (0.0, -1.0)
    # sprite (0, −1) maps to (ux, uy); sprite (1, 0) maps to (−uy, ux)
    L = scale * np.array([[-uy, -ux], [ux, -uy]])
    t = np.asarray(centre_dst) - L @ np.asarray(centre_src)
    return np.concatenate([L, t[:, None]], 1)


@dataclass
class PersonState:
    """One frame of a person: joints ``[J, 3]`` (person space, m), per hand (picture-left, right)
    the hand's extra roll (rad, counter-clockwise in the picture) and grip (0 open … 1 fist)."""

    joints: np.ndarray
    hand_roll: tuple[float, float] = (0.0, 0.0)
    grip: tuple[float, float] = (0.0, 0.0)
    legs: bool = True
    #: draw the torso, neck and head (a close-up may show only the arm)
    trunk: bool = True
    #: draw the picture-left / picture-right arm
    arms: tuple[bool, bool] = (True, True)


def draw_person(frame: np.ndarray, sprites: PersonSprites, shape: BodyShape, state: PersonState, cam: Camera,
                shift: tuple[float, float] = (0.0, 0.0)) -> None:
    """Composite the person of ``state`` seen by ``cam`` into ``frame`` (float32 ``[H, W]``) in place."""
    uv, z = cam.project(state.joints, shift)
    f = cam.f
    parts: list[tuple[float, MipSprite, np.ndarray]] = []

    def limb(a: int, b: int, sprite: MipSprite, width_m: float) -> None:
        zm = 0.5 * (z[a] + z[b])
        parts.append((zm, sprite, limb_matrix(uv[a], uv[b], f * width_m / zm)))

    zt = float(z[[SH_L, SH_R, PELVIS]].mean())
    if state.trunk:  # torso on shoulders and pelvis, neck, head
        parts.append((zt + 0.05, sprites.torso, three_point_matrix((TORSO_SH_L, TORSO_SH_R, TORSO_PELVIS),
                                                                   uv[[SH_L, SH_R, PELVIS]])))
        limb(NECK, HEAD, sprites.neck, shape.neck_w)
        parts[-1] = (zt + 0.04, parts[-1][1], parts[-1][2])
        head_scale = f * shape.head_h / z[HEAD] / HEAD_FACE_H
        parts.append((float(z[HEAD]) - 0.02, sprites.head, similarity_matrix(HEAD_CENTRE, uv[HEAD], head_scale,
                                                                             uv[HEAD] - uv[NECK])))
    if state.legs:
        for i, (h, k, a) in enumerate(((HIP_L, KN_L, AN_L), (HIP_R, KN_R, AN_R))):
            limb(h, k, sprites.thigh[i], shape.leg_w)
            limb(k, a, sprites.shin[i], shape.leg_w * 0.8)
    for i, (s, e, w) in enumerate(((SH_L, EL_L, WR_L), (SH_R, EL_R, WR_R))):
        if not state.arms[i]:
            continue
        limb(s, e, sprites.upper_arm[i], shape.arm_w)
        limb(e, w, sprites.forearm[i], shape.forearm_w)
        # hand: along the forearm as seen, leaning upright when the forearm points at the camera
        d = uv[w] - uv[e]
        hand_px = f * shape.hand_len / z[w]
        ln = math.hypot(d[0], d[1])
        fore_len_px = f * shape.forearm / z[w]
        k = min(1.0, ln / max(0.6 * fore_len_px, 1e-6))
        up = (d / max(ln, 1e-9)) * k + np.array([0.0, -1.0]) * (1.0 - k)
        r = state.hand_roll[i]
        c, sn = math.cos(r), math.sin(r)
        up = np.array([c * up[0] + sn * up[1], -sn * up[0] + c * up[1]])
        scale = hand_px / HAND_HEIGHT
        centre = uv[w] + up / max(math.hypot(up[0], up[1]), 1e-9) * (WRIST_OFFSET * hand_px)
        g = int(round(float(np.clip(state.grip[i], 0, 1)) * (GRIP_LEVELS - 1)))
        parts.append((float(z[w]) - 0.03, sprites.hands[i][g], similarity_matrix(PALM_CENTER, centre, scale, up)))
    parts.sort(key=lambda p: -p[0])
    for _, sprite, M in parts:
        paste(frame, sprite, M)
