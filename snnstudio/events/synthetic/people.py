"""Generator v3: a synthetic *person* performing a gesture, filmed like the app's video path.

A :class:`PeopleScene` is one sample's world: a room, a person (shape, look, staging), the camera
of one of the :data:`FRAMINGS`, an optional passer-by (class ``other`` only), slow lighting
changes, camera shake and sensor noise. :func:`generate_person_gesture` renders it and turns the
frames into events with :class:`~snnstudio.events.emulator.EventEmulator`:

- ``mode="video"`` (default): a camera frame rate drawn per sample (15–60 fps), some samples with
  motion blur (sub-frames averaged over the exposure), uint8 luma frames with read noise, and an
  emulator configuration drawn around :class:`EmulatorConfig`'s defaults — what ``video:`` and
  ``webcam`` sources do to real footage;
- ``mode="dvs"``: float frames at ``fps`` (500 by default), as generator v2 renders.

Framings (drawn per sample unless given): ``closeup`` (seen from below/front, forearm and hand
large, hand 25–60 px), ``desk`` (webcam: head, shoulders and arm, hand 10–25 px) and ``full``
(standing at 2–3 m, person 50–120 px tall, hand 3–8 px). Sizes are for a 128×128 sensor and scale
with its shorter side.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from snnstudio.events.emulator import EmulatorConfig, EventEmulator, assemble_events
from snnstudio.events.synthetic.body import AN_L, HEAD, NECK, SH_L, SH_R, WR_L, WR_R, BodyShape, Camera, neutral_pose
from snnstudio.events.synthetic.motion import GESTURES, _sines, gesture_id
from snnstudio.events.synthetic.people_motion import PersonTrack, Staging, person_track, walker_track
from snnstudio.events.synthetic.person import Look, PersonSprites, PersonState, draw_person
from snnstudio.events.synthetic.room import random_room
from snnstudio.events.types import EVENT_DTYPE, EventRecording, Label

FRAMINGS: tuple[str, ...] = ("closeup", "desk", "full")
#: how often each framing is drawn: a person seen whole is small at the model's input (a hand is
#: a few of its 32×32 cells), so most samples are close-ups and people at a desk
FRAMING_WEIGHTS: tuple[float, ...] = (0.4, 0.4, 0.2)
#: camera frame rates drawn in video mode (fps)
VIDEO_FPS_RANGE = (15.0, 60.0)
DEFAULT_DVS_FPS = 500.0
#: bump whenever the samples a seed gives change (framed-data caches of v3 are keyed on it):
#: 1: first version; 2: read noise ≤ 0.4 grey levels (was 1), shot noise ≤ 0.3 Hz, DVS128-like dvs mode;
#: 3: strokes of 0.4–1.1 s (were 0.55–0.85 of the sample), fewer and shorter raises and lowerings,
#: longer swipes, framings drawn 0.4 / 0.4 / 0.2; 4: a wind-up before most swipes, pushes and pulls
#: (the hand going the other way first), strokes 0.6–0.9 of the free time at most; 5: a sample
#: whose stroke is not visible enough (:func:`stroke_visible`) is drawn again
REVISION = 5

#: how visible a gesture's stroke must be (:func:`stroke_visible`): the share of the stroke the
#: gesturing wrist is in the picture, and per class its travel (largest extent of its path over
#: the stroke, a fraction of the sensor's shorter side) or, for push and pull, how much its
#: distance to the camera changes (far / near). Measured on revision 4 (60 seeds per class, 128×128):
#: 13–18 % of swipes and circles left the picture for over a tenth of the stroke, 93 % of circles
#: seen whole spanned under 0.12 of the side (4 of the model's 32 cells), and a tenth of pushes and
#: pulls changed the hand's distance by under 10 %: windows whose label cannot be seen.
MIN_INSIDE = 0.85
MIN_TRAVEL: dict[str, float] = {"swipe_left": 0.2, "swipe_right": 0.2, "swipe_up": 0.2, "swipe_down": 0.2,
                                "circle_cw": 0.15, "circle_ccw": 0.15, "wave": 0.1}
MIN_DEPTH_RATIO: dict[str, float] = {"push": 1.25, "pull": 1.25}
#: draws of a sample (the first from the seed itself) before the last one is kept as it is
MAX_DRAWS = 8


def random_look(rng: np.random.Generator, infrared: bool) -> Look:
    """Material lumas: infrared (bright skin, dark room and clothes) or an ordinary webcam picture."""
    if infrared:
        return Look(skin=rng.uniform(0.4, 0.85), shirt=rng.uniform(0.08, 0.4), trousers=rng.uniform(0.05, 0.3),
                    hair=rng.uniform(0.05, 0.4), long_sleeves=bool(rng.random() < 0.4))
    return Look(skin=rng.uniform(0.25, 0.7), shirt=rng.uniform(0.05, 0.9), trousers=rng.uniform(0.05, 0.6),
                hair=rng.uniform(0.02, 0.35), long_sleeves=bool(rng.random() < 0.4))


def _drawn_config(rng: np.random.Generator, clean: bool, *, threshold, sigma, cutoff_hz, refractory_us,
                  leak_hz, shot_hz) -> EmulatorConfig:
    """An :class:`EmulatorConfig` with each parameter drawn uniformly from its ``(low, high)``
    range (OFF threshold within ±15 % of ON); ``clean``: the ideal sensor, 0.2 threshold."""
    seed = int(rng.integers(2**31))
    if clean:
        return EmulatorConfig.ideal(0.2, seed=seed)
    on = rng.uniform(*threshold)
    return EmulatorConfig(
        on_threshold=on, off_threshold=on * rng.uniform(0.85, 1.15), threshold_sigma=rng.uniform(*sigma),
        cutoff_hz=rng.uniform(*cutoff_hz), refractory_us=int(rng.uniform(*refractory_us)),
        leak_rate_hz=rng.uniform(*leak_hz), leak_jitter=0.1, shot_noise_rate_hz=rng.uniform(*shot_hz), seed=seed,
    )


def video_emulator_config(rng: np.random.Generator, *, clean: bool = False) -> EmulatorConfig:
    """An emulator configuration drawn around :class:`EmulatorConfig`'s defaults (the app's video
    path): thresholds 0.15–0.35 with mismatch, photoreceptor cutoff, refractory period, a little
    leak and shot noise. ``clean``: the ideal sensor with a 0.2 threshold."""
    return _drawn_config(rng, clean, threshold=(0.15, 0.35), sigma=(0.01, 0.05), cutoff_hz=(100.0, 400.0),
                         refractory_us=(0, 300), leak_hz=(0.0, 0.3), shot_hz=(0.0, 0.3))


@dataclass
class Walker:
    """A passer-by: their shape, sprites and joints ``[N, J, 3]`` (person space of the main person)."""

    shape: BodyShape
    sprites: PersonSprites
    joints: np.ndarray


@dataclass
class PeopleScene:
    """One sample's world, fixed before rendering; :meth:`render` draws frame ``i`` of ``track``."""

    sensor_size: tuple[int, int]
    framing: str
    room: np.ndarray  # [H + 2m, W + 2m] float32
    margin: int
    shape: BodyShape
    sprites: PersonSprites
    stage: Staging
    camera: Camera
    track: PersonTrack
    walker: Walker | None
    shake: np.ndarray  # [N, 2] px
    gain: np.ndarray  # [N] relative light level

    @property
    def _arms(self) -> tuple[bool, bool]:
        if self.stage.trunk:
            return (True, True)
        return (self.stage.side < 0, self.stage.side > 0)

    def render(self, i: int) -> np.ndarray:
        """Luma frame ``i`` (float32 ``[H, W]`` in [0, 1])."""
        W, H = self.sensor_size
        m = self.margin
        sx, sy = float(self.shake[i, 0]), float(self.shake[i, 1])
        if sx == 0.0 and sy == 0.0:
            frame = self.room[m : m + H, m : m + W].copy()
        else:
            frame = cv2.getRectSubPix(self.room, (W, H), (m - sx + (W - 1) / 2, m - sy + (H - 1) / 2))
        if self.walker is not None:
            draw_person(frame, self.walker.sprites, self.walker.shape, PersonState(self.walker.joints[i]),
                        self.camera, (sx, sy))
        tr = self.track
        state = PersonState(tr.joints[i], (float(tr.hand_roll[i, 0]), float(tr.hand_roll[i, 1])),
                            (float(tr.grip[i, 0]), float(tr.grip[i, 1])), legs=self.stage.standing,
                            trunk=self.stage.trunk, arms=self._arms)
        draw_person(frame, self.sprites, self.shape, state, self.camera, (sx, sy))
        g = float(self.gain[i])
        if g != 1.0:
            frame *= np.float32(g)
        return frame


def _stage_and_camera(rng: np.random.Generator, framing: str, shape: BodyShape, side_px: float,
                      sensor_size: tuple[int, int]) -> tuple[Staging, Camera]:
    W, H = sensor_size
    base = neutral_pose(shape)
    s = int(rng.choice([-1, 1]))
    S = base[SH_R] if s > 0 else base[SH_L]
    Si = base[SH_L] if s > 0 else base[SH_R]
    k = side_px / 128.0  # sizes below are for a 128-px sensor
    roll = rng.uniform(-0.14, 0.14)
    if framing == "full":
        centre = S + np.array([s * rng.uniform(0.1, 0.4), rng.uniform(-0.35, 0.05), -rng.uniform(0.05, 0.35)])
        rest = [S + np.array([s * 0.06, 0.5, -0.03]), Si + np.array([-s * 0.06, 0.5, -0.03])]
        dist = rng.uniform(2.0, 3.0)
        f = rng.uniform(50.0, 120.0) * k * dist / shape.height
        target = np.array([0.0, 0.5 * shape.torso_len + 0.2, 0.0])
        cam = Camera.look_at(target, dist, rng.uniform(-0.15, 0.1), rng.uniform(-0.4, 0.4), roll, f,
                             (W / 2 + rng.uniform(-0.25, 0.25) * W, H / 2 + rng.uniform(-0.1, 0.1) * H))
        standing, trunk, wave_amp = True, True, (0.08, 0.25)
    else:
        if framing == "closeup":
            centre = S + np.array([s * rng.uniform(-0.05, 0.15), rng.uniform(-0.2, 0.05), -rng.uniform(0.25, 0.45)])
        else:
            centre = S + np.array([s * rng.uniform(-0.05, 0.2), rng.uniform(-0.2, 0.1), -rng.uniform(0.2, 0.4)])
        rest = [S + np.array([s * rng.uniform(0.0, 0.12), rng.uniform(0.3, 0.45), -rng.uniform(0.2, 0.35)]),
                Si + np.array([-s * rng.uniform(0.0, 0.12), rng.uniform(0.3, 0.45), -rng.uniform(0.2, 0.35)])]
        if framing == "closeup":
            dist = rng.uniform(0.3, 0.55)
            f = rng.uniform(30.0, 70.0) * k * dist / shape.hand_len  # nominal; the drawn hand is ~0.8 of it
            cam = Camera.look_at(centre, dist, rng.uniform(0.5, 1.1), rng.uniform(-0.5, 0.5), roll, f,
                                 (W / 2 + rng.uniform(-0.15, 0.15) * W, H / 2 + rng.uniform(-0.2, 0.05) * H))
        else:
            target = 0.5 * (0.5 * (base[NECK] + base[HEAD])) + 0.5 * centre
            dist = rng.uniform(0.7, 1.3)
            hand_px = rng.uniform(10.0, 25.0) * k
            f = hand_px * (dist + 0.1) / shape.hand_len
            cam = Camera.look_at(target, dist, rng.uniform(-0.1, 0.2), rng.uniform(-0.35, 0.35), roll, f,
                                 (W / 2 + rng.uniform(-0.15, 0.15) * W, H / 2 + rng.uniform(-0.1, 0.1) * H))
        standing, wave_amp = False, (0.03, 0.13)
        trunk = framing != "closeup" or rng.random() < 0.4
    # rest[0] belongs to the gesturing arm: order them picture-left, picture-right
    rest_lr = np.stack(rest) if s < 0 else np.stack(rest[::-1])
    return Staging(s, centre, rest_lr, standing, trunk, wave_amp), cam


def build_scene(name: str, rng: np.random.Generator, render_t_s: np.ndarray, sensor_size: tuple[int, int], *,
                framing: str | None = None, clean: bool = False) -> PeopleScene:
    """Draw one sample's world and the person's motion at ``render_t_s`` (s). ``clean``: no raise or
    lowering, no sway, shake, light change, passer-by or read noise (for tests)."""
    gesture_id(name)
    W, H = sensor_size
    side_px = float(min(W, H))
    t = np.asarray(render_t_s, dtype=np.float64)
    if framing is None:
        framing = FRAMINGS[int(rng.choice(len(FRAMINGS), p=FRAMING_WEIGHTS))]
    elif framing not in FRAMINGS:
        raise ValueError(f"unknown framing {framing!r}; known: {', '.join(FRAMINGS)}")
    infrared = bool(rng.random() < {"closeup": 0.6, "desk": 0.3, "full": 0.15}[framing])
    shape = BodyShape.random(rng)
    look = random_look(rng, infrared)
    sprites = PersonSprites.draw(rng, look, texture=rng.uniform(0.6, 1.4))
    stage, cam = _stage_and_camera(rng, framing, shape, side_px, sensor_size)
    margin = int(math.ceil(0.03 * side_px)) + 2
    level = rng.uniform(0.02, 0.12) if infrared else rng.uniform(0.25, 0.8)
    if not infrared and abs(level - look.skin) < 0.1:
        level = min(0.9, look.skin + 0.15) if look.skin < 0.5 else look.skin - 0.15
    horizon = None
    if stage.standing:
        (u, v), _ = cam.project(neutral_pose(shape)[AN_L])
        horizon = float(v) + margin - rng.uniform(0.0, 0.05) * side_px
    room = random_room(rng, (W + 2 * margin, H + 2 * margin), level=level, dark=infrared, horizon=horizon)
    track = person_track(name, rng, t, shape, stage, cam, calm=clean)
    walker = None
    if track.other_kind == "passer_by":
        wshape = BodyShape.random(rng)
        wsprites = PersonSprites.draw(rng, random_look(rng, infrared), texture=rng.uniform(0.6, 1.4))
        depth = rng.uniform(0.8, 2.5)
        dist = float(np.linalg.norm(cam.pos)) + depth
        half = (W / 2) / cam.f * dist
        speed = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.6, 1.4))
        start = -np.sign(speed) * half * rng.uniform(0.3, 1.0)
        joints = walker_track(rng, t, wshape, float(start), speed)
        joints[:, :, 2] += depth
        joints[:, :, 1] += (shape.torso_len - wshape.torso_len) * 0.5 + rng.uniform(-0.1, 0.1)
        walker = Walker(wshape, wsprites, joints)
    n = len(t)
    if clean:
        shake, gain = np.zeros((n, 2)), np.ones(n)
    else:
        amp = rng.uniform(0.0, 1.0) * side_px / 128.0 if rng.random() < 0.6 else 0.0
        shake = np.stack([_sines(rng, t, 3, 0.5, 4.0, amp), _sines(rng, t, 3, 0.5, 4.0, amp)], 1)
        gain = 1.0 + _sines(rng, t, 2, 0.05, 0.5, rng.uniform(0.0, 0.05))
    return PeopleScene((W, H), framing, room, margin, shape, sprites, stage, cam, track, walker, shake, gain)


@dataclass(frozen=True)
class StrokeView:
    """How the gesturing wrist is seen during the stroke: ``inside`` (share of the stroke's render
    times in the picture), ``travel`` (largest extent of its path, fraction of the shorter side),
    ``depth_ratio`` (its farthest / nearest distance to the camera)."""

    inside: float
    travel: float
    depth_ratio: float


def stroke_view(scene: PeopleScene, render_t_s: np.ndarray) -> StrokeView:
    """The :class:`StrokeView` of ``scene``'s gesturing wrist over its stroke (``render_t_s``: the
    times, s, the track was built at)."""
    wj = WR_R if scene.stage.side > 0 else WR_L
    uv, z = scene.camera.project(scene.track.joints[:, wj])
    s0, s1 = scene.track.stroke_s
    t = np.asarray(render_t_s)
    m = (t >= s0) & (t <= s1)
    if not m.any():
        return StrokeView(0.0, 0.0, 1.0)
    W, H = scene.sensor_size
    p = uv[m]
    inside = float(((p[:, 0] >= 0) & (p[:, 0] < W) & (p[:, 1] >= 0) & (p[:, 1] < H)).mean())
    travel = float((p.max(0) - p.min(0)).max() / min(W, H))
    return StrokeView(inside, travel, float(z[m].max() / z[m].min()))


def stroke_visible(name: str, view: StrokeView, framing: str = "desk") -> bool:
    """Whether a gesture ``name`` seen as ``view`` in ``framing`` shows its label (always for
    ``other``; a person seen whole needs half the travel: a whole-body sample keeps its framing, so
    the framings keep their shares in every class and cannot tell a gesture from ``other``)."""
    if name not in MIN_TRAVEL and name not in MIN_DEPTH_RATIO:
        return True
    if view.inside < MIN_INSIDE:
        return False
    if name in MIN_DEPTH_RATIO:
        return view.depth_ratio >= MIN_DEPTH_RATIO[name]
    return view.travel >= MIN_TRAVEL[name] * (0.5 if framing == "full" else 1.0)


def generate_person_gesture(
    name: str,
    *,
    seed: int | None = 0,
    duration_us: int = 1_500_000,
    sensor_size: tuple[int, int] = (128, 128),
    mode: str = "video",
    fps: float | None = None,
    framing: str | None = None,
    clean: bool = False,
) -> EventRecording:
    """One labelled v3 sample of gesture ``name``: events in ``[0, duration_us)`` (µs) and one
    :class:`Label` covering them. ``mode``: ``"video"`` (camera rate drawn from 15–60 fps unless
    ``fps`` is given, uint8 frames) or ``"dvs"`` (float frames at ``fps``, default 500).
    ``framing``: one of :data:`FRAMINGS` (drawn when None). ``clean``: calm person, steady camera,
    ideal sensor, no noise (for tests)."""
    cid = gesture_id(name)
    if mode not in ("video", "dvs"):
        raise ValueError(f"mode must be 'video' or 'dvs', got {mode!r}")
    W, H = int(sensor_size[0]), int(sensor_size[1])
    if W < 16 or H < 16:
        raise ValueError(f"sensor must be at least 16x16 pixels, got {W}x{H}")
    for draw in range(MAX_DRAWS):  # the first draw from the seed alone: earlier samples stay as they were
        rng = np.random.default_rng(None if seed is None else ([int(seed), 3] if draw == 0 else [int(seed), 3, draw]))
        if mode == "video":
            rate = float(fps) if fps else float(rng.uniform(*VIDEO_FPS_RANGE))
            blur = 1 if clean or rng.random() < 0.7 else int(rng.integers(2, 5))
            exposure = rng.uniform(0.3, 0.9) / rate
            # read noise of a few tenths of a grey level: dark frames are linear in the emulator's
            # lin-log response, where one grey level is ~0.15 log units (a threshold): a full grey level
            # of noise filled every dark scene with noise events that real clips do not show
            noise = 0.0 if clean else rng.uniform(0.0, 0.4) / 255.0
        else:
            rate = float(fps) if fps else DEFAULT_DVS_FPS
            blur, exposure, noise = 1, 0.0, 0.0
        if not rate > 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        n_frames = int(math.floor(duration_us * rate / 1e6 + 1e-9)) + 1
        t_us = np.round(np.arange(n_frames) * (1e6 / rate)).astype(np.int64)
        # render times (s): each frame's sub-frames spread over its exposure, ending at the frame time
        sub = np.linspace(-exposure, 0.0, blur) if blur > 1 else np.zeros(1)
        render_t = np.maximum(t_us[:, None] * 1e-6 + sub[None, :], 0.0).reshape(-1)
        config = video_emulator_config(rng, clean=clean) if mode == "video" else _dvs_config(rng, clean)
        scene = build_scene(name, rng, render_t, (W, H), framing=framing, clean=clean)
        view = stroke_view(scene, render_t)
        if clean or stroke_visible(name, view, scene.framing):
            break
        framing = scene.framing  # drawn again in the same framing: the framings keep their shares per class
    noise_rng = np.random.default_rng(rng.integers(2**63))
    emu = EventEmulator(W, H, config)
    ts, pix, pol = [], [], []
    for i in range(n_frames):
        frame = scene.render(i * blur)
        for j in range(1, blur):
            frame += scene.render(i * blur + j)
        if blur > 1:
            frame *= np.float32(1.0 / blur)
        if mode == "video":
            if noise > 0:
                frame += noise_rng.standard_normal(frame.shape, dtype=np.float32) * np.float32(noise)
            frame = cv2.convertScaleAbs(frame, alpha=255.0)  # rounds and saturates to uint8
        else:
            np.clip(frame, 0.0, 1.0, out=frame)
        raw = emu.step(frame, int(t_us[i]))
        if raw is not None:
            ts.append(raw[0])
            pix.append(raw[1])
            pol.append(raw[2])
    if ts:
        t = np.concatenate(ts)
        order = np.argsort(t, kind="stable")
        events = assemble_events(t[order] - 1, np.concatenate(pix)[order], np.concatenate(pol)[order], W)
    else:
        events = np.empty(0, EVENT_DTYPE)
    meta = {"generator": "snnstudio.events.synthetic.people", "generator_version": 3, "gesture": name, "seed": seed,
            "mode": mode, "fps": rate, "framing": scene.framing, "class_names": list(GESTURES), "draw": draw,
            "stroke_view": asdict(view)}
    if scene.track.other_kind:
        meta["other_kind"] = scene.track.other_kind
    return EventRecording(events, (W, H), labels=[Label(cid, 0, int(duration_us), name)],
                          sensor="snnstudio-synthetic", meta=meta)


def _dvs_config(rng: np.random.Generator, clean: bool) -> EmulatorConfig:
    """A DVS128-like pixel (the ``dvs`` mode), drawn around what the real DVS128 recordings in
    ``shared/samples`` show: a quiet pixel fires 0.01–0.15 noise events a second (measured there:
    0.012 and 0.12 Hz per pixel in the quietest 10 ms bins; 88–91 % of their events fail a 2 ms
    background-activity filter), contrast thresholds higher than a webcam emulator's (0.25–0.5
    log units) and a slower photoreceptor. ``clean``: the ideal sensor."""
    return _drawn_config(rng, clean, threshold=(0.25, 0.5), sigma=(0.02, 0.06), cutoff_hz=(50.0, 300.0),
                         refractory_us=(200, 1500), leak_hz=(0.0, 0.05), shot_hz=(0.01, 0.12))
