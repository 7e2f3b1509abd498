"""Regenerate the tiny test clips of this folder (``python tests/data/videos/make_clips.py``).

64×48 frames at 20 fps, 30 frames (1.5 s): a bright 12×12 square on a dark background, inside
the central 48×48 box that the default preprocessing keeps. ``labels.csv`` (the real-video
format) names them. Written with OpenCV's own encoders (mp4v in .mp4, XVID in .avi), a few KB each.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
W, H, FPS, N, SIDE = 64, 48, 20.0, 30, 12


def square_path(motion: str, k: int) -> tuple[int, int]:
    """Top-left corner of the square in frame ``k``."""
    u = k / (N - 1)
    lo, hi = 10, W - 10 - SIDE  # x range 10..42 (inside the 48-wide centre box at x0 = 8)
    if motion == "right":
        return int(round(lo + (hi - lo) * u)), (H - SIDE) // 2
    if motion == "left":
        return int(round(hi - (hi - lo) * u)), (H - SIDE) // 2
    if motion == "up":
        return (W - SIDE) // 2, int(round(H - 4 - SIDE - (H - 8 - SIDE) * u))
    return (W - SIDE) // 2, (H - SIDE) // 2  # still


def write(name: str, fourcc: str, motion: str) -> None:
    out = cv2.VideoWriter(str(HERE / name), cv2.VideoWriter_fourcc(*fourcc), FPS, (W, H))
    if not out.isOpened():
        raise SystemExit(f"OpenCV cannot write {fourcc}")
    for k in range(N):
        img = np.full((H, W, 3), 30, np.uint8)
        x, y = square_path(motion, k)
        img[y:y + SIDE, x:x + SIDE] = 230
        out.write(img)
    out.release()


CLIPS = [
    ("right.mp4", "mp4v", "right", "swipe_right", "", ""),
    ("left.mp4", "mp4v", "left", "swipe_left", "4", "25"),
    ("up.avi", "XVID", "up", "swipe_up", "0", "29"),
    ("still.mp4", "mp4v", "still", "other", "", ""),
]

if __name__ == "__main__":
    lines = ["file,label,start_frame,end_frame,fps,source,path_in_source"]
    for name, fourcc, motion, label, a, b in CLIPS:
        write(name, fourcc, motion)
        lines.append(f"{name},{label},{a},{b},{FPS},tests/data/videos/make_clips.py,{motion}")
    (HERE / "labels.csv").write_text("\n".join(lines) + "\n")
