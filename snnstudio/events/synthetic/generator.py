"""Labelled synthetic gesture recordings: a rendered hand scene at ≥ 500 fps, turned into events by
the emulator.

:class:`GestureStream` is one continuous scene (one hand, one background, one emulated sensor)
to which gestures are appended; between gestures the hand moves smoothly to where the next one
starts (unlabelled). :func:`generate_gesture` (one sample, one label covering it),
:func:`generate_sequence` (several labelled gestures with gaps) and :func:`make_demo_recording`
are built on it. Everything is drawn from one seeded generator: the same arguments give the same
events, bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from snnstudio.events.emulator import EmulatorConfig, EventEmulator, assemble_events
from snnstudio.events.synthetic.motion import GESTURES, gesture_id, gesture_poses, transition_poses
from snnstudio.events.synthetic.scene import Scene
from snnstudio.events.types import EVENT_DTYPE, EventRecording, Label

#: bump whenever the samples a seed gives change (motion ranges, scene, emulator settings):
#: framed-dataset caches are keyed on it, so a stale cache is never reused silently.
#: 1: the bundled models' training data; 2: random lead-in, wider amplitude/radius/position ranges.
GENERATOR_VERSION = 2
#: the generators :func:`generate_gesture` and :func:`dataset_sample` offer (``version=``): 2 = a hand
#: sprite at 500 fps (this module), 3 = a whole person filmed like a video (:mod:`.people`). Data
#: caches name the version they were made with (``SyntheticSpec.generator``), so the two never mix.
GENERATOR_VERSIONS = (2, 3)

DEFAULT_DURATION_US = 1_500_000
DEFAULT_FPS = 500
DEFAULT_SENSOR = (128, 128)
DEFAULT_GAP_US = (300_000, 800_000)


def random_emulator_config(rng: np.random.Generator, *, clean: bool = False) -> EmulatorConfig:
    """Sensor parameters drawn per sample (thresholds, mismatch, bandwidth, refractory, leak, noise).
    ``clean``: an ideal sensor with a 0.2 threshold, no noise and no leak."""
    seed = int(rng.integers(2**31))
    if clean:
        return EmulatorConfig.ideal(0.2, seed=seed)
    on = rng.uniform(0.15, 0.3)
    return EmulatorConfig(
        on_threshold=on,
        off_threshold=on * rng.uniform(0.85, 1.15),
        threshold_sigma=rng.uniform(0.01, 0.05),
        cutoff_hz=rng.uniform(80.0, 400.0),
        refractory_us=int(rng.uniform(0, 400)),
        leak_rate_hz=rng.uniform(0.0, 0.2),
        leak_jitter=0.1,
        shot_noise_rate_hz=rng.uniform(0.0, 0.3),
        seed=seed,
    )


class GestureStream:
    """A continuous synthetic scene rendered at ``fps`` and emulated into events.

    Frames fall on multiples of ``1e6 / fps`` µs from 0. An event of the frame interval
    ``(t_i−1, t_i]`` is stamped one µs earlier, so that a gesture whose frames span
    ``[t_a, t_b]`` has its events in ``[t_a, t_b)``, exactly the range of its :class:`Label`.
    """

    def __init__(self, seed: int | None = 0, sensor_size: tuple[int, int] = DEFAULT_SENSOR, *,
                 fps: float = DEFAULT_FPS, clean: bool = False):
        W, H = int(sensor_size[0]), int(sensor_size[1])
        if W < 16 or H < 16:
            raise ValueError(f"sensor must be at least 16x16 pixels, got {W}x{H}")
        if not fps or fps < 50:
            raise ValueError(f"fps must be >= 50 (gestures are rendered at >= 500 by default), got {fps}")
        self.rng = np.random.default_rng(seed)
        self.sensor_size = (W, H)
        self.scene = Scene.random(self.rng, self.sensor_size, clean=clean)
        self.emulator = EventEmulator(W, H, random_emulator_config(self.rng, clean=clean))
        self.dt_us = int(round(1e6 / fps))
        self.t_us = 0  # time of the last rendered frame
        self.pose: np.ndarray | None = None

    def _frames(self, poses: np.ndarray, first: int = 1) -> np.ndarray:
        """Render ``poses[first:]`` at the next frame times; return their events (shifted −1 µs)."""
        ts, pix, pol = [], [], []
        emu, scene = self.emulator, self.scene
        for i in range(first, len(poses)):
            self.t_us += self.dt_us
            raw = emu.step(scene.render(self.t_us * 1e-6, poses[i]), self.t_us)
            if raw is not None:
                ts.append(raw[0])
                pix.append(raw[1])
                pol.append(raw[2])
        if len(poses):
            self.pose = poses[-1]
        if not ts:
            return np.empty(0, EVENT_DTYPE)
        t = np.concatenate(ts)
        order = np.argsort(t, kind="stable")  # frames are in order; this sorts within each frame
        t = t[order]
        t -= 1
        return assemble_events(t, np.concatenate(pix)[order], np.concatenate(pol)[order], self.sensor_size[0])

    def gesture(self, name: str, duration_us: int = DEFAULT_DURATION_US, gap_us: int = 0) -> tuple[np.ndarray, Label]:
        """Append gesture ``name`` lasting ``duration_us``, preceded by a ``gap_us`` transition from the
        hand's current pose. Returns all new events (transition included) and the gesture's label."""
        cid = gesture_id(name)
        n = max(1, int(round(duration_us / self.dt_us)))
        t_s = np.arange(n + 1) * (self.dt_us * 1e-6)
        poses = gesture_poses(name, self.rng, t_s, self.sensor_size, self.scene.hand_px)
        parts = []
        if self.pose is None:  # the very first frame only initialises the sensor
            self.emulator.step(self.scene.render(self.t_us * 1e-6, poses[0]), self.t_us)
        else:
            m = int(round(gap_us / self.dt_us))
            if m > 0:
                trans = transition_poses(self.pose, poses[0], np.arange(m + 1) * (self.dt_us * 1e-6), self.rng,
                                         float(min(self.sensor_size)))
                parts.append(self._frames(trans))
            else:
                parts.append(self._frames(poses[:1], first=0))  # the hand jumps to the start pose
        start = self.t_us
        parts.append(self._frames(poses))
        events = np.concatenate(parts) if len(parts) > 1 else parts[0]
        return events, Label(cid, start, self.t_us, name)

    def idle(self, duration_us: int) -> np.ndarray:
        """Hold the hand perfectly still where it is for ``duration_us``; return the events (noise, distractors)."""
        if self.pose is None:
            raise ValueError("idle() needs a gesture first (nothing is on screen yet)")
        m = max(1, int(round(duration_us / self.dt_us)))
        return self._frames(np.repeat(self.pose[None, :], m + 1, axis=0))


def _resolve_name(name: str, seed) -> str:
    if name == "random":
        return GESTURES[int(np.random.default_rng([0 if seed is None else seed, 7]).integers(len(GESTURES)))]
    gesture_id(name)
    return name


def generate_gesture(
    name: str,
    *,
    seed: int | None = 0,
    duration_us: int = DEFAULT_DURATION_US,
    sensor_size: tuple[int, int] = DEFAULT_SENSOR,
    fps: float | None = None,
    clean: bool = False,
    version: int = 2,
    mode: str = "video",
    framing: str | None = None,
) -> EventRecording:
    """One labelled sample of gesture ``name`` (or ``"random"``): events in ``[0, duration_us)``
    and one :class:`Label` covering them. ``clean``: static plain scene, ideal sensor (for tests).

    ``version`` 2 (default): a hand sprite rendered at ``fps`` (default 500). ``version`` 3: a person
    (:func:`snnstudio.events.synthetic.people.generate_person_gesture`), ``mode`` ``"video"`` (a
    camera rate drawn per sample unless ``fps`` is given) or ``"dvs"``, ``framing`` drawn unless given.
    """
    name = _resolve_name(name, seed)
    if version == 3:
        from snnstudio.events.synthetic.people import generate_person_gesture

        return generate_person_gesture(name, seed=seed, duration_us=duration_us, sensor_size=sensor_size,
                                       mode=mode, fps=fps, framing=framing, clean=clean)
    if version != 2:
        raise ValueError(f"generator version must be one of {GENERATOR_VERSIONS}, got {version!r}")
    fps = DEFAULT_FPS if fps is None else fps
    stream = GestureStream(seed, sensor_size, fps=fps, clean=clean)
    events, label = stream.gesture(name, duration_us)
    return EventRecording(
        events, stream.sensor_size, labels=[label], sensor="snnstudio-synthetic",
        meta={"generator": "snnstudio.events.synthetic", "gesture": name, "seed": seed, "fps": fps,
              "class_names": list(GESTURES)},
    )


def _names_for(names_or_count, rng: np.random.Generator) -> list[str]:
    if isinstance(names_or_count, (int, np.integer)):
        count = int(names_or_count)
        if count < 1:
            raise ValueError(f"need at least one gesture, got count {count}")
        names: list[str] = []
        while len(names) < count:  # every class once per round, in random order
            names.extend(GESTURES[i] for i in rng.permutation(len(GESTURES)))
        return names[:count]
    names = list(names_or_count)
    if not names:
        raise ValueError("need at least one gesture name")
    return [GESTURES[int(rng.integers(len(GESTURES)))] if n == "random" else n for n in names]


def generate_sequence(
    names_or_count: int | Sequence[str],
    seed: int | None = 0,
    *,
    duration_us: int | tuple[int, int] = DEFAULT_DURATION_US,
    gap_us: int | tuple[int, int] = DEFAULT_GAP_US,
    sensor_size: tuple[int, int] = DEFAULT_SENSOR,
    fps: float = DEFAULT_FPS,
    clean: bool = False,
) -> EventRecording:
    """A recording of several labelled gestures in one continuous scene, separated by unlabelled
    gaps in which the hand moves to the next start. ``names_or_count``: gesture names (``"random"``
    allowed) or a count (each class once per ten, in random order). ``duration_us`` and ``gap_us``:
    a value or a ``(low, high)`` range drawn per gesture."""
    order_rng = np.random.default_rng([0 if seed is None else seed, 11])
    names = _names_for(names_or_count, order_rng)
    for n in names:
        gesture_id(n)
    stream = GestureStream(seed, sensor_size, fps=fps, clean=clean)
    chunks, labels = [], []
    for i, name in enumerate(names):
        dur = _draw(duration_us, order_rng)
        gap = 0 if i == 0 else _draw(gap_us, order_rng)
        ev, label = stream.gesture(name, dur, gap)
        chunks.append(ev)
        labels.append(label)
    chunks.append(stream.idle(_draw(gap_us, order_rng) // 2))
    events = np.concatenate(chunks)
    return EventRecording(
        events, stream.sensor_size, labels=labels, sensor="snnstudio-synthetic",
        meta={"generator": "snnstudio.events.synthetic", "seed": seed, "fps": fps, "class_names": list(GESTURES)},
    )


def _draw(value, rng: np.random.Generator) -> int:
    if isinstance(value, (tuple, list)):
        lo, hi = int(value[0]), int(value[1])
        return int(rng.integers(lo, hi + 1)) if hi > lo else lo
    return int(value)


def dataset_sample(
    index: int,
    *,
    seed: int = 0,
    duration_us: int = DEFAULT_DURATION_US,
    sensor_size: tuple[int, int] = DEFAULT_SENSOR,
    fps: float | None = None,
    version: int = 2,
    mode: str = "video",
) -> EventRecording:
    """Sample ``index`` of a balanced synthetic data set: class ``index % 10``, scene and sensor
    drawn from ``(seed, index)``. Distinct ``seed`` values (e.g. 0 train, 1 test) give disjoint sets;
    the same ``(index, seed)`` always gives the same sample. ``version``/``mode``: as
    :func:`generate_gesture` (v2 renders at ``fps``, default 500)."""
    if index < 0:
        raise ValueError(f"index must be >= 0, got {index}")
    sample_seed = int(np.random.SeedSequence([int(seed), int(index), 0x5E5]).generate_state(1)[0])
    rec = generate_gesture(GESTURES[index % len(GESTURES)], seed=sample_seed, duration_us=duration_us,
                           sensor_size=sensor_size, fps=fps, version=version, mode=mode)
    rec.meta.update(index=int(index), dataset_seed=int(seed))
    return rec


def make_demo_recording(seed: int = 0) -> EventRecording:
    """The bundled demo: every gesture once (random order), 1.8 s each with 0.4–0.7 s gaps
    (about 23 s, 128×128, ~0.5 M events, ~4 MB as AEDAT4), labelled."""
    return generate_sequence(len(GESTURES), seed, duration_us=1_800_000, gap_us=(400_000, 700_000))
