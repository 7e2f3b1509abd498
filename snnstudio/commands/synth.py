"""``snnstudio synth``: write a synthetic, labelled hand-gesture recording.

One gesture (``--count 1``, the default) is one sample whose label covers it; a larger count
writes a sequence of labelled gestures with unlabelled gaps (``random``: every class once per
ten, in random order; ``all``: every class once). The file format follows the extension
(AEDAT4 for ``.aedat4``); labels go to the ``<stem>_labels.csv`` sidecar.
"""

from __future__ import annotations

import argparse

HELP = "write a synthetic labelled hand-gesture recording (emulated DVS events)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--gesture", default="random", metavar="NAME",
                   help="a gesture name, 'random' or 'all' (names: snnstudio synth --list)")
    p.add_argument("--out", metavar="FILE", help="output recording, e.g. swipe.aedat4")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same events)")
    p.add_argument("--duration", type=float, default=1.5, metavar="S", help="seconds per gesture (default 1.5)")
    p.add_argument("--count", type=int, default=1, metavar="N", help="number of gestures (default 1)")
    p.add_argument("--gap", type=float, nargs=2, default=(0.3, 0.8), metavar=("MIN", "MAX"),
                   help="seconds between gestures of a sequence (default 0.3 0.8)")
    p.add_argument("--sensor", default="128x128", metavar="WxH", help="sensor size (default 128x128)")
    p.add_argument("--fps", type=float, default=None,
                   help="render rate (default: 500 for generator 2 and v3 --mode dvs; v3 video: drawn 15-60)")
    p.add_argument("--generator", type=int, choices=(2, 3), default=2,
                   help="2: a hand sprite (default); 3: a whole person filmed like a video (one gesture only)")
    p.add_argument("--mode", choices=("video", "dvs"), default="video",
                   help="generator 3: emulate a video camera (default) or render at --fps like a DVS")
    p.add_argument("--framing", choices=("closeup", "desk", "full"), default=None,
                   help="generator 3: close-up arm, webcam at a desk or full body (default: drawn)")
    p.add_argument("--clean", action="store_true", help="plain static scene and ideal sensor (no noise)")
    p.add_argument("--demo", action="store_true",
                   help="write the bundled demo instead: every gesture once, ~23 s (seed from --seed)")
    p.add_argument("--list", action="store_true", help="print the gesture names and class ids, then exit")


def _sensor(text: str) -> tuple[int, int]:
    from snnstudio.errors import SnnStudioError

    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SnnStudioError(f"--sensor must look like 128x128, got {text!r}") from None
    if w < 16 or h < 16 or w > 4096 or h > 4096:
        raise SnnStudioError(f"--sensor must be between 16x16 and 4096x4096, got {text!r}")
    return w, h


def run(args: argparse.Namespace) -> int:
    from snnstudio.errors import SnnStudioError
    from snnstudio.events.synthetic import GESTURES, generate_gesture, generate_sequence, make_demo_recording

    if args.list:
        for i, name in enumerate(GESTURES):
            print(f"{i}\t{name}")
        return 0
    if not args.out:
        raise SnnStudioError("synth needs --out FILE (e.g. --out swipe.aedat4)")
    name = args.gesture
    if name not in (*GESTURES, "random", "all"):
        raise SnnStudioError(f"unknown gesture {name!r}; known: {', '.join(GESTURES)}, random, all")
    if args.count < 1:
        raise SnnStudioError(f"--count must be >= 1, got {args.count}")
    if not 0.05 <= args.duration <= 600:
        raise SnnStudioError(f"--duration must be between 0.05 and 600 s, got {args.duration}")
    gap_lo, gap_hi = sorted(args.gap)
    if gap_lo < 0:
        raise SnnStudioError(f"--gap must be >= 0 s, got {args.gap}")
    lo_fps = 50 if args.generator == 2 or args.mode == "dvs" else 5
    if args.fps is not None and not lo_fps <= args.fps <= 10_000:
        raise SnnStudioError(f"--fps must be between {lo_fps} and 10000, got {args.fps}")
    if args.generator == 3 and (args.demo or args.count != 1 or name == "all"):
        raise SnnStudioError("--generator 3 writes one gesture per file (no --count, --demo or 'all')")
    sensor = _sensor(args.sensor)
    duration_us = int(round(args.duration * 1e6))
    common = dict(sensor_size=sensor, fps=args.fps if args.fps is not None else 500.0, clean=args.clean)
    if args.generator == 3:
        rec = generate_gesture(name, seed=args.seed, duration_us=duration_us, sensor_size=sensor, fps=args.fps,
                               clean=args.clean, version=3, mode=args.mode, framing=args.framing)
    elif args.demo:
        rec = make_demo_recording(args.seed)
    elif name == "all":
        rec = generate_sequence(list(GESTURES) * args.count, args.seed, duration_us=duration_us,
                                gap_us=(int(gap_lo * 1e6), int(gap_hi * 1e6)), **common)
    elif args.count == 1:
        rec = generate_gesture(name, seed=args.seed, duration_us=duration_us, **common)
    else:
        names = args.count if name == "random" else [name] * args.count
        rec = generate_sequence(names, args.seed, duration_us=duration_us,
                                gap_us=(int(gap_lo * 1e6), int(gap_hi * 1e6)), **common)

    from snnstudio.events.io import write_events

    write_events(args.out, rec)
    labels = ", ".join(lab.name or str(lab.class_id) for lab in rec.labels)
    print(f"wrote {args.out}: {len(rec)} events, {rec.width}x{rec.height}, "
          f"{((rec.t_end_us or 0) + 1) / 1e6:.2f} s, labels: {labels}")
    return 0
