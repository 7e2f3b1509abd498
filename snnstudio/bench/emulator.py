"""Emulator throughput: a 640×480, 30 fps webcam-like video of a moving textured scene turned into
events (``realtime_factor`` = seconds of video emulated per wall second; > 1 keeps up live), and
the synthetic gesture generator (128×128 rendered at 500 fps, seconds per 1.5 s sample).

v2e, the reference emulator, is a torch application rather than a library; it is measured side
by side only when importable (``peers``), otherwise reported as absent.
"""

from __future__ import annotations

import importlib.util
import time

import numpy as np

from snnstudio.bench import best_time


def moving_scene(n_frames: int, width: int = 640, height: int = 480, seed: int = 0) -> np.ndarray:
    """``[N, H, W]`` uint8 frames: a textured, cluttered scene panning and slowly rotating (~3 px/frame)."""
    import cv2

    rng = np.random.default_rng(seed)
    big = (width + 400, height + 400)
    tex = cv2.GaussianBlur(rng.random(big[::-1]).astype(np.float32), (0, 0), 4.0)
    tex += 0.5 * cv2.GaussianBlur(rng.random(big[::-1]).astype(np.float32), (0, 0), 1.0)
    for _ in range(60):
        c = (int(rng.integers(0, big[0])), int(rng.integers(0, big[1])))
        cv2.circle(tex, c, int(rng.integers(5, 40)), float(rng.uniform(0, 2)), -1, cv2.LINE_AA)
    tex = (tex - tex.min()) / (tex.max() - tex.min())
    tex = (20 + 215 * tex).astype(np.uint8)
    frames = np.empty((n_frames, height, width), np.uint8)
    centre = (big[0] / 2, big[1] / 2)
    for i in range(n_frames):
        M = cv2.getRotationMatrix2D(centre, 0.15 * i, 1.0)
        M[:, 2] += (-200 + 3.0 * i, -200 + 1.5 * i)
        frames[i] = cv2.warpAffine(tex, M, (width, height), flags=cv2.INTER_LINEAR)
    return frames


def run(quick: bool = False) -> dict:
    from snnstudio.events.emulator import EmulatorConfig, EventEmulator
    from snnstudio.events.synthetic import generate_gesture

    fps = 30.0
    n = 31 if quick else 91
    frames = moving_scene(n)
    stamps = (np.arange(n) * (1e6 / fps)).astype(np.int64)
    video_s = (n - 1) / fps
    result: dict = {"video": {"width": 640, "height": 480, "fps": fps, "seconds": video_s}}
    for name, cfg in (("default", EmulatorConfig()), ("ideal", EmulatorConfig.ideal())):
        count = [0]

        def emulate(cfg=cfg, count=count):
            emu = EventEmulator(640, 480, cfg)
            total = 0
            for f, t in zip(frames, stamps):
                total += len(emu.feed(f, t))
            count[0] = total

        wall = best_time(emulate, repeat=2 if quick else 3)
        result[name] = {
            "seconds": wall,
            "realtime_factor": video_s / wall,
            "events": count[0],
            "events_per_s": count[0] / wall,
            "events_per_video_s": count[0] / video_s,
        }
    result["realtime_factor"] = result["default"]["realtime_factor"]
    result["events_per_s"] = result["default"]["events_per_s"]

    # synthetic gestures: wall and CPU time of one 1.5 s, 128×128 sample rendered at 500 fps
    walls, cpus, sizes = [], [], []
    for seed in range(2 if quick else 6):
        c0, w0 = time.process_time(), time.perf_counter()
        rec = generate_gesture(("swipe_right", "circle_cw", "wave", "push", "other", "swipe_up")[seed % 6], seed=seed)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
        sizes.append(len(rec))
    result["synthetic"] = {
        "sample_duration_s": 1.5,
        "sensor": [128, 128],
        "render_fps": 500,
        "seconds_per_sample_median": float(np.median(walls)),
        "cpu_seconds_per_sample_median": float(np.median(cpus)),
        "samples_per_s": float(1.0 / np.median(walls)),
        "events_per_sample_median": float(np.median(sizes)),
    }
    result["peers"] = {"v2e": "installed but not benchmarked here" if importlib.util.find_spec("v2e") else "not installed"}
    return result
