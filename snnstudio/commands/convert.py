"""``snnstudio convert IN OUT``: any readable event file to any writable one, exactly.

The output format comes from OUT's extension (``--format`` overrides): .aedat4, .aedat (AEDAT
3.1), .raw (EVT3), .dat, .npz, .npy, .h5/.hdf5, .csv/.txt. Labels travel as the
``<stem>_labels.csv`` sidecar. Writing AEDAT4 streams (bounded memory, any input size); other
outputs read the input whole. ``--filter`` runs the events through a
:class:`~snnstudio.events.filters.FilterChain` on the way (streaming; hot pixels are learnt from the
whole input, so that reads it whole), the written sensor is the filtered one (crop / downsample). The output is written to a temp file and renamed when complete;
an OUT that is a device, FIFO or folder is refused, a symbolic link is written through.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from snnstudio.commands._options import add_filter_option, add_input_options, filter_spec, input_sensor

HELP = "convert an event file to another format (exact round trip: events, order, sensor size, labels)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", type=Path, help="event file to read (format detected from its content; --in-format and "
                                            "--sensor say what a headerless one is)")
    p.add_argument("output", type=Path, help="file to write (format from its extension)")
    p.add_argument("--format", default=None, help="the OUTPUT format name (aedat4, aedat3, aedat2, evt2, evt3, dat, "
                                                  "npz, npy, hdf5, csv; default: from OUT's extension)")
    add_input_options(p, format_flag="--in-format")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    p.add_argument("--sort", action="store_true",
                   help="repair timestamps that go backwards (out-of-order packets) by sorting, with a warning")
    add_filter_option(p, "the events")


def run(args: argparse.Namespace) -> int:
    from snnstudio.errors import EventFileError
    from snnstudio.events.io import (
        Aedat4Writer,
        format_for_extension,
        iter_event_chunks,
        read_events,
        write_events,
    )
    from snnstudio.events.io._common import check_output

    from dataclasses import replace

    from snnstudio.events.filters import FilterChain

    spec = filter_spec(args)
    sensor = input_sensor(args)
    src, dst = args.input, args.output
    if dst.exists() and not args.force:
        raise EventFileError(dst, "exists already (use --force to overwrite)")
    if src.resolve() == dst.resolve():
        raise EventFileError(dst, "input and output are the same file")
    out_format = args.format or format_for_extension(dst)
    check_output(dst)  # a device, a folder, a missing or read-only folder: said now, not after reading
    if out_format == "aedat4" and not args.sort and "hot" not in spec:
        chunks = iter_event_chunks(src, format=args.in_format, sensor_size=sensor)
        if chunks.sensor_size is not None:
            chain = FilterChain(spec, chunks.sensor_size)
            writer = Aedat4Writer(dst, chain.output_size(chunks.sensor_size), sensor=chunks.sensor, labels=chunks.labels)
            try:
                for ev in chunks:
                    writer.write(chain(ev))
            except BaseException:
                writer.abort()
                raise
            if writer.events_written == 0:
                writer.abort()
                raise EventFileError(src, "file holds no events")
            writer.close()
            print(f"wrote {dst} ({writer.events_written:,} events, aedat4)", file=sys.stderr)
            return 0
    rec = read_events(src, format=args.in_format, sort=args.sort, sensor_size=sensor)
    if spec:
        chain = FilterChain(spec, rec.sensor_size).fit(rec.events)
        rec = replace(rec, events=chain(rec.events), sensor_size=chain.output_size(rec.sensor_size))
    write_events(dst, rec, format=out_format)
    print(f"wrote {dst} ({len(rec):,} events, {out_format})", file=sys.stderr)
    return 0
