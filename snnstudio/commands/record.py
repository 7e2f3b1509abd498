"""``snnstudio record``: record a live source (or part of a file) to an AEDAT4 file."""

from __future__ import annotations

import argparse

from snnstudio.events.sources.kinds import SELF_PACED_KINDS, source_syntax

HELP = "record a DVS camera, webcam, DV network stream, synthetic gestures or a file to AEDAT4"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("out", metavar="OUT.aedat4", help="the file to write (AEDAT4, read by DV / dv-processing)")
    p.add_argument("--source", required=True, metavar="SPEC",
                   help=f"the source: {source_syntax()}")
    p.add_argument("--seconds", type=float, default=10.0, help="how much to record, in seconds (default 10)")


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from snnstudio.errors import SnnStudioError
    from snnstudio.events.sources import BufferedSource, open_source, parse_source_spec
    from snnstudio.events.sources.recorder import record

    out = Path(args.out)
    if out.suffix.lower() != ".aedat4":
        raise SnnStudioError(f"{out}: record writes AEDAT4; give the output a .aedat4 name")
    if not args.seconds > 0:
        raise SnnStudioError(f"--seconds must be > 0, got {args.seconds:g}")
    kind, _ = parse_source_spec(args.source)
    live = kind in SELF_PACED_KINDS  # a device: it does not wait for the writer
    if kind == "file":
        source = open_source(args.source, realtime=False)  # copy a segment as fast as it reads
    elif live:
        # a device does not wait for the writer: a bounded queue, overflow counted as dropped
        source = BufferedSource(open_source(args.source), max_batches=1024)
    else:
        source = open_source(args.source)  # synthetic / video file: un-paced, nothing dropped
    import signal

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        # an ignored Ctrl-C inherited from the parent (a job control shell, a process that ignores
        # it for its children): this command promises that Ctrl-C stops early with a complete file
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def started() -> None:
        print(f"recording {args.seconds:g} s from {args.source} to {out} (Ctrl-C stops early)", flush=True)

    try:
        result = record(source, out, args.seconds, live=live, stop_on_interrupt=True, on_start=started)
    except KeyboardInterrupt:
        source.close()
        print("interrupted before recording started", file=sys.stderr)
        return 130
    except BaseException:
        source.close()
        raise
    note = f", {result.dropped} dropped" if result.dropped else ""
    print(f"recorded {result.events} events ({result.duration_s:.3f} s{note}) from {args.source} to {out}")
    if result.stopped == "interrupted":
        print("interrupted: the file is complete up to the interruption", file=sys.stderr)
        return 130
    return 0
